//! Holotomography of the simulated electrode: multi-distance CTF retrieval
//! against the true projected δ, and against single-distance Paganin.

use chemomech_core::NoProgress;
use chemomech_sim::{config::preset, simulate};
use chemomech_tomo::phase::{Ctf, Paganin, paganin_phase};
use chemomech_tomo::preprocess::Combine;
use chemomech_tomo::recon::{normalize_set, retrieve_holo};
use ndarray::{Array2, Array3, ArrayView2, Axis};

fn pearson(a: ArrayView2<f32>, b: ArrayView2<f32>) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().map(|&v| v as f64).sum::<f64>() / n, b.iter().map(|&v| v as f64).sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b.iter()) {
        let (x, y) = (x as f64 - ma, y as f64 - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    sab / (saa * sbb).sqrt()
}

/// 10–90 % width (pixels) of the edges of `img`, from the truth's edges:
/// for an error-function edge of height h and steepest slope g the 10–90 %
/// width is 1.0226·h/g. Median over the strongest horizontal edges.
fn edge_width(img: ArrayView2<f32>, truth: ArrayView2<f32>) -> f64 {
    let (h, w) = truth.dim();
    let mut ws = Vec::new();
    for r in 4..h - 4 {
        for c in 4..w - 4 {
            let step = truth[[r, c + 1]] - truth[[r, c]];
            let big = (truth[[r, c + 3]] - truth[[r, c - 2]]).abs();
            if step.abs() < 0.6 * big || big < 0.1 * truth.iter().cloned().fold(0.0, f32::max) {
                continue;
            }
            let hgt = (truth[[r, c + 3]] - truth[[r, c - 2]]) as f64;
            let g = (c - 2..c + 3).map(|k| (img[[r, k + 1]] - img[[r, k]]) as f64 * hgt.signum()).fold(0.0, f64::max);
            if g > 0.0 {
                ws.push(1.0226 * hgt.abs() / g);
            }
        }
    }
    ws.sort_by(|a, b| a.total_cmp(b));
    if ws.is_empty() { f64::NAN } else { ws[ws.len() / 2] }
}

/// (CTF Pearson, Paganin Pearson, CTF edge width, Paganin edge width, true edge width)
fn run(distances: &[f64], shift_tol: f64) -> (f64, f64, f64, f64, f64) {
    let mut cfg = preset("tiny,holo").unwrap();
    cfg.phase_contrast.angles = 6;
    cfg.phase_contrast.distances_m = distances.to_vec();
    cfg.tomography.enabled = false;
    cfg.xanes.enabled = false;
    let sim = simulate(&cfg, None, &NoProgress).unwrap();
    let h = sim.holo.as_ref().unwrap();
    let norm: Vec<Array3<f32>> = h.scans.iter().map(|s| normalize_set(s, Combine::Mean).unwrap()).collect();
    let pixels: Vec<f64> = h.scans.iter().map(|s| s.pixel_um.unwrap()).collect();
    let e = cfg.phase_contrast.energy_kev;
    let db = h.delta_beta[2].0 / h.delta_beta[2].1;
    let ctf = Ctf {
        energy_kev: e,
        distances_m: distances.to_vec(),
        pixel_um: pixels[0],
        delta_beta: db,
        alpha_low: 1e-6,
        alpha_high: 1e-4,
        zoom: Vec::new(),
    };
    let (phi, rep) = retrieve_holo(&norm, &pixels, &ctf).unwrap();
    // Misalignment is found to ≤ 0.02 px in the near field, ~0.2 px in the
    // holographic regime (applied shifts are in detector pixels of each
    // distance; the correction is on the reference grid).
    for (k, d) in h.distances.iter().enumerate() {
        let (sy, sx) = rep.shifts_px[k];
        assert!(
            (sy + d.shift_px.0 * rep.zoom[k]).abs() < shift_tol && (sx + d.shift_px.1 * rep.zoom[k]).abs() < shift_tol,
            "distance {k}: {:?} vs ({sy}, {sx})",
            d.shift_px
        );
    }
    let pg = Paganin { energy_kev: e, distance_m: distances[0], pixel_um: pixels[0], delta_beta: db };
    let (mut rc, mut rp, mut wc, mut wp, mut wt) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let na = phi.shape()[0];
    for a in 0..na {
        let truth = h.phase_rad.index_axis(Axis(0), a);
        let got = phi.index_axis(Axis(0), a);
        let pag: Array2<f32> = paganin_phase(norm[0].index_axis(Axis(0), a), &pg);
        rc += pearson(got, truth) / na as f64;
        rp += pearson(pag.view(), truth) / na as f64;
        wc += edge_width(got, truth) / na as f64;
        wp += edge_width(pag.view(), truth) / na as f64;
        wt += edge_width(truth, truth) / na as f64;
    }
    let slope = {
        let (t, g) = (h.phase_rad.view(), phi.view());
        t.iter().zip(g.iter()).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>()
            / t.iter().map(|a| (*a as f64).powi(2)).sum::<f64>()
    };
    eprintln!(
        "distances {distances:?} m: slope retrieved/true {slope:.3}; Pearson with true k∫δ: CTF {rc:.4}, Paganin {rp:.4}; 10–90% edge width (px): CTF {wc:.2}, Paganin {wp:.2}, truth {wt:.2}"
    );
    (rc, rp, wc, wp, wt)
}

/// Near field (the simulator's default distances, Fresnel numbers 0.4–1.1):
/// the CTF (fitted to ln I) recovers the projected δ (measured: Pearson
/// 0.985, slope 0.95; Paganin 0.986).
#[test]
fn ctf_recovers_projected_delta_in_the_near_field() {
    let (rc, _, _, _, _) = run(&[0.0020, 0.0024, 0.0034, 0.0050], 0.1);
    assert!(rc >= 0.98, "CTF correlation {rc}");
}

/// Holographic regime (Fresnel numbers 0.09–0.22, as at ESRF ID16A): single-
/// distance Paganin blurs and multi-distance CTF resolves edges more sharply
/// (measured: 1.38 vs 2.07 px, truth 1.32). Its correlation is then lower
/// (0.908, slope 1.24), the weak-phase linearisation failing on ~3 rad of
/// phase: a non-linear refinement is still to be written.
#[test]
fn ctf_resolves_edges_more_sharply_than_paganin_in_the_holographic_regime() {
    let (rc, _, wc, wp, _) = run(&[0.010, 0.012, 0.017, 0.025], 0.35);
    assert!(wc < wp, "CTF edges ({wc:.2} px) are not sharper than Paganin's ({wp:.2} px)");
    assert!(rc > 0.9, "CTF correlation {rc}");
}
