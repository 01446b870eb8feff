//! Reconstructing the simulator's absorption scan of the electrode gives
//! each phase's tabulated μ (1/cm) back, with both algorithms.

use chemomech_core::NoProgress;
use chemomech_sim::{config::preset, simulate};
use chemomech_tomo::recon::{Algorithm, ReconParams, preprocess, reconstruct};
use ndarray::Array3;

/// Voxels whose whole (2r+1)³ neighbourhood is pure in `frac` (≥ 0.999).
fn interior(frac: &Array3<f32>, r: usize) -> Array3<bool> {
    let (nz, ny, nx) = frac.dim();
    Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
        if z < r || y < r || x < r || z + r >= nz || y + r >= ny || x + r >= nx {
            return false;
        }
        (z - r..=z + r).all(|a| (y - r..=y + r).all(|b| (x - r..=x + r).all(|c| frac[[a, b, c]] >= 0.999)))
    })
}

#[test]
fn per_phase_mu_within_two_percent_of_the_tables() {
    let mut cfg = preset("small").unwrap();
    cfg.xanes.enabled = false;
    cfg.phase_contrast.enabled = false;
    let sim = simulate(&cfg, None, &NoProgress).unwrap();
    let el = &sim.electrode;
    let scan = sim.absorption.as_ref().unwrap();
    let p = &scan.projections;
    let center = p.meta["rotation_center"].as_f64().unwrap();
    let (_, ny, nx) = el.shape;
    assert_eq!(ny, nx);
    // The carbon-binder domain is too thin for pure interior voxels at this
    // voxel size (and its μ is 1/45 of the active material's): it is fitted
    // from its partial-volume fractions away from active material below,
    // and the volume's mean, which reconstruction preserves, is checked.
    let active = interior(&el.frac_active, 2);
    let far = interior(&el.frac_active.mapv(|v| if v == 0.0 { 1.0 } else { 0.0 }), 2);
    let truth_mean = scan.mu.iter().map(|&v| v as f64).sum::<f64>() / scan.mu.len() as f64;
    for algorithm in [Algorithm::Fbp, Algorithm::Fourier] {
        let params = ReconParams { algorithm, size: Some(nx), ..Default::default() };
        let (lines, _) = preprocess(p, &params).unwrap();
        let vol = reconstruct(lines.view(), &p.angles_deg, center, &params, Some(el.voxel_um)).unwrap();
        assert_eq!(vol.dim(), el.shape);
        let (s, n) = vol
            .iter()
            .zip(active.iter())
            .filter(|(_, m)| **m)
            .fold((0.0, 0usize), |(s, n), (&v, _)| (s + v as f64, n + 1));
        let mean = s / n as f64;
        let want = scan.phase_mu[2];
        eprintln!("{algorithm:?} active: {mean:.2} vs {want:.2} 1/cm over {n} voxels");
        assert!(n > 1000, "too few interior voxels of the active phase: {n}");
        assert!(((mean - want) / want).abs() <= 0.02, "{algorithm:?} active: {mean:.2} vs tabulated {want:.2} 1/cm");
        {
            // Away from active material (none within 2 voxels): μ = μ_cbd·f_cbd + μ_pore·(1 − f_cbd), fitted.
            let (mut sx, mut sy, mut sxx, mut sxy, mut n) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for ((&v, &f), _) in vol.iter().zip(el.frac_cbd.iter()).zip(far.iter()).filter(|(_, m)| **m) {
                let (x, y) = (f as f64, v as f64);
                sx += x;
                sy += y;
                sxx += x * x;
                sxy += x * y;
                n += 1.0;
            }
            let slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
            let icpt = (sy - slope * sx) / n;
            let cbd = slope + icpt;
            eprintln!(
                "{algorithm:?} far from active: {n} voxels, cbd {cbd:.2} (pore {icpt:.2}) vs {:.2} ({:.2})",
                scan.phase_mu[1], scan.phase_mu[0]
            );
            // Measured: FBP 8.22 (−13 %: its linear interpolation blurs the
            // thin domains, which biases the fit), Fourier 9.58 (+1 %), vs 9.48.
            assert!(
                ((cbd - scan.phase_mu[1]) / scan.phase_mu[1]).abs() <= 0.15,
                "{algorithm:?}: carbon-binder {cbd:.2} vs {:.2} 1/cm",
                scan.phase_mu[1]
            );
            assert!(icpt.abs() <= 0.05 * scan.phase_mu[1], "{algorithm:?}: pore {icpt:.2} 1/cm");
        }
        let m = vol.iter().map(|&v| v as f64).sum::<f64>() / vol.len() as f64;
        eprintln!("{algorithm:?} volume mean {m:.3} vs {truth_mean:.3} 1/cm");
        assert!(((m - truth_mean) / truth_mean).abs() <= 0.01, "{algorithm:?}: volume mean {m} vs {truth_mean}");
    }
}

/// Issue 28: a TXM-like scan of the simulated electrode with ±5 px jitter
/// per projection (and a PSF of 0.7 px) is aligned by `--align joint` to
/// within 0.3 px RMS of the simulator's jitter, with photon noise (2·10⁴
/// photons) and without; without noise (so that the comparison measures
/// the alignment, not two noise patterns) its reconstruction matches the
/// jitter-free one.
#[test]
fn jittered_txm_scan_is_aligned_to_the_simulated_jitter() {
    for photons in [2e4, 0.0] {
        aligns_jitter(photons);
    }
}

fn aligns_jitter(photons: f64) {
    use chemomech_tomo::align::{AlignMethod, AlignParams, align_projections, apply_shifts};
    let mut cfg = preset("tiny").unwrap();
    cfg.xanes.enabled = false;
    cfg.phase_contrast.enabled = false;
    cfg.tomography.psf_px = 0.7;
    cfg.tomography.photons = photons;
    let clean = simulate(&cfg, None, &NoProgress).unwrap();
    cfg.tomography.jitter_px = 5.0;
    let shaken = simulate(&cfg, None, &NoProgress).unwrap();
    let params = ReconParams::default();
    let lines_of =
        |s: &chemomech_sim::Simulation| preprocess(&s.absorption.as_ref().unwrap().projections, &params).unwrap().0;
    let p = &shaken.absorption.as_ref().unwrap().projections;
    let center = p.meta["rotation_center"].as_f64().unwrap();
    let lines = lines_of(&shaken);
    let jitter = &shaken.absorption.as_ref().unwrap().jitter_px;
    assert!(jitter.iter().any(|j| j.0.abs() > 4.0) && jitter.iter().all(|j| j.0.abs() <= 5.0 && j.1.abs() <= 5.0));
    let a = align_projections(
        lines.view(),
        &p.angles_deg,
        center,
        &AlignParams { method: AlignMethod::Joint, ..Default::default() },
    )
    .unwrap();
    let err: Vec<(f64, f64)> = a.shifts_px.iter().zip(jitter).map(|(s, j)| (s.0 + j.0, s.1 + j.1)).collect();
    let n = err.len() as f64;
    let m = err.iter().fold((0.0, 0.0), |a, e| (a.0 + e.0 / n, a.1 + e.1 / n));
    let rms = (err.iter().map(|e| (e.0 - m.0).powi(2) + (e.1 - m.1).powi(2)).sum::<f64>() / n).sqrt();
    // Across the axis, a + b cos θ + c sin θ in the shifts only moves the
    // reconstructed object (no data tells it from jitter): without it.
    let across: Vec<f64> = err.iter().map(|e| e.1).collect();
    let residual = chemomech_tomo::align::without_rotation_sinusoid(&across, &p.angles_deg).unwrap();
    let rms_gauge = (err.iter().zip(&residual).map(|(e, r)| (e.0 - m.0).powi(2) + r * r).sum::<f64>() / n).sqrt();
    eprintln!("  without the object's own translation: {rms_gauge:.3} px RMS");
    assert!(rms_gauge <= 0.15, "shift error without the translation {rms_gauge} px RMS");
    eprintln!(
        "±5 px jitter, {} projections: shift error {rms:.3} px RMS (offset {m:?}), rounds {:?}",
        p.angles_deg.len(),
        a.rounds_rms_px
    );
    assert!(rms <= 0.3, "shift error {rms} px RMS");
    let shifts: Vec<(f64, f64)> = a.shifts_px.iter().map(|s| (s.0 - m.0, s.1 - m.1)).collect();
    let nx = clean.electrode.shape.2;
    let recon = |l: ndarray::ArrayView3<f32>| {
        reconstruct(l, &p.angles_deg, center, &ReconParams { size: Some(nx), ..Default::default() }, None).unwrap()
    };
    let fixed = recon(apply_shifts(lines.view(), &shifts).view());
    let truth = recon(lines_of(&clean).view());
    let nz = fixed.dim().0;
    // Away from the rows the jitter moves out of the frame.
    let (a, b) = (fixed.slice(ndarray::s![6..nz - 6, .., ..]), truth.slice(ndarray::s![6..nz - 6, .., ..]));
    let v: Vec<(f64, f64)> = a.iter().zip(b.iter()).map(|(&x, &y)| (x as f64, y as f64)).collect();
    let k = v.len() as f64;
    let (mx, my) = v.iter().fold((0.0, 0.0), |s, p| (s.0 + p.0 / k, s.1 + p.1 / k));
    let (sxy, sxx, syy) = v.iter().fold((0.0, 0.0, 0.0), |s, p| {
        (s.0 + (p.0 - mx) * (p.1 - my), s.1 + (p.0 - mx).powi(2), s.2 + (p.1 - my).powi(2))
    });
    let r = sxy / (sxx * syy).sqrt();
    eprintln!("  aligned reconstruction against the jitter-free one: Pearson {r:.4}");
    assert!(photons > 0.0 || r >= 0.99, "Pearson {r}");
}
