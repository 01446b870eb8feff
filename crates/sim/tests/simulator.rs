//! The simulator against analytic answers and its own configuration.

use chemomech_core::NoProgress;
use chemomech_sim::absorption::{self, Materials};
use chemomech_sim::config::{SimConfig, preset};
use chemomech_sim::references::{NiSpectra, Reference};
use chemomech_sim::{Electrode, simulate, xanes};
use ndarray::{Array3, Axis};

/// An electrode whose only solid is given by `frac_active` (no particles).
fn bare_electrode(frac_active: Array3<f32>, soc: f32, voxel: f64) -> Electrode {
    let shape = frac_active.dim();
    Electrode {
        shape,
        voxel_um: voxel,
        particles: Vec::new(),
        labels: Array3::zeros(shape),
        phases: frac_active.mapv(|f| if f >= 0.5 { 2 } else { 0 }),
        soc: Array3::from_elem(shape, soc),
        frac_active,
        frac_cbd: Array3::zeros(shape),
    }
}

/// ∫ 2√(R² − t²) dt: the chord-length antiderivative.
fn chord_integral(t: f64, r: f64) -> f64 {
    let t = t.clamp(-r, r);
    t * (r * r - t * t).max(0.0).sqrt() + r * r * (t / r).asin()
}

/// Counts → line integrals must equal μ × chord length of a homogeneous
/// cylinder (axis along the rotation axis), averaged over each detector bin.
/// The cylinder is rendered with exact area fractions; what remains is the
/// pixelisation of its edge, which shrinks with the radius (measured at
/// R = 150 px: 3.5e-4 on central chords, 7e-4 to 0.6 R, 2.2e-3 on the
/// grazing chords beyond 0.9 R) and vanishes where bins align with pixel
/// columns (θ = 0).
#[test]
fn beer_lambert_homogeneous_cylinder() {
    let (worst_all, worst_0deg) = beer_lambert_errors(330, 150.0, 0.6);
    assert!(worst_all <= 1e-3, "worst relative error {worst_all:.2e} (chords to 0.6 R)");
    assert!(worst_0deg <= 2e-4, "worst relative error at 0° {worst_0deg:.2e}");
}

/// (worst relative error over all angles for |t| ≤ frac·R, worst at 0° for |t| ≤ 0.98 R)
fn beer_lambert_errors(n: usize, r: f64, frac: f64) -> (f64, f64) {
    let c = (n / 2) as f64; // the projector's image centre
    // Exact area fractions of the disk per pixel (32 x 32 sub-samples).
    let disk = ndarray::Array2::from_shape_fn((n, n), |(y, x)| {
        let mut k = 0;
        for a in 0..32 {
            for b in 0..32 {
                let (yy, xx) = (y as f64 - 0.5 + (a as f64 + 0.5) / 32.0, x as f64 - 0.5 + (b as f64 + 0.5) / 32.0);
                if (yy - c).powi(2) + (xx - c).powi(2) <= r * r {
                    k += 1;
                }
            }
        }
        k as f32 / 1024.0
    });
    let vol = Array3::from_shape_fn((2, n, n), |(_, y, x)| disk[[y, x]]);
    let el = bare_electrode(vol, 0.5, 0.1);
    let mut cfg = SimConfig::default();
    cfg.tomography.photons = 0.0;
    cfg.tomography.flat_variation = 0.0;
    cfg.tomography.angles = 12;
    let scan = absorption::scan(&el, &cfg, &NoProgress).unwrap();
    let p = &scan.projections;
    let (data, flat, dark) = (p.data.to_f32(), p.flats.as_ref().unwrap().to_f32(), p.darks.as_ref().unwrap().to_f32());
    let mu_vox = scan.phase_mu[2] * 0.1e-4; // per voxel
    let center = p.meta["rotation_center"].as_f64().unwrap();
    let (mut worst, mut worst0): (f64, f64) = (0.0, 0.0);
    for a in 0..12 {
        for u in 0..data.shape()[2] {
            let t = u as f64 - center;
            let ana = mu_vox * (chord_integral(t + 0.5, r) - chord_integral(t - 0.5, r));
            let (i, f, d) = (data[[a, 1, u]] as f64, flat[[0, 1, u]] as f64, dark[[0, 1, u]] as f64);
            let meas = -((i - d) / (f - d)).ln();
            let e = ((meas - ana) / ana).abs();
            if t.abs() <= frac * r {
                worst = worst.max(e);
            }
            if a == 0 && t.abs() <= 0.98 * r {
                worst0 = worst0.max(e);
            }
        }
    }
    (worst, worst0)
}

#[test]
fn xanes_spectra_are_the_references_and_mix_linearly() {
    let refs = NiSpectra::new(Reference::model_nio(), Reference::model_linio2());
    let mut cfg = SimConfig::default();
    cfg.xanes.photons = 0.0;
    cfg.xanes.drift_px = 0.0;
    cfg.xanes.flat_variation = 0.0;
    cfg.xanes.slab_um = 3.2;
    let mats = Materials::from_config(&cfg).unwrap();
    let norm_at = |od: f64, e: f64, thickness_vox: f64| -> f64 {
        let bg = mats.active.mu_without_edge(e, "Ni").unwrap();
        let ej = e.max(8334.0);
        let jump = mats.active.mu(ej).unwrap() - mats.active.mu_without_edge(ej, "Ni").unwrap();
        (od / (thickness_vox * 0.4e-4) - bg) / jump
    };
    let mut spectra = Vec::new();
    for soc in [0.0f32, 1.0, 0.3] {
        let el = bare_electrode(Array3::from_elem((4, 4, 8), 1.0), soc, 0.4);
        let x = xanes::scan(&el, &cfg, &refs, &NoProgress).unwrap();
        let e = &x.stack.energies_ev;
        let s: Vec<f64> = (0..e.len()).map(|k| norm_at(x.od_clean[k][[1, 1]] as f64, e[k], 8.0)).collect();
        assert!((x.fraction_ni3[[1, 1]] - soc).abs() < 1e-6);
        spectra.push((e.clone(), s));
    }
    let (e, nio) = &spectra[0];
    for (k, &en) in e.iter().enumerate() {
        assert!((nio[k] - refs.ni2.at(en)).abs() < 1e-5, "NiO at {en}: {} vs {}", nio[k], refs.ni2.at(en));
        assert!((spectra[1].1[k] - refs.ni3.at(en)).abs() < 1e-5, "LiNiO2 at {en}");
        let mix = 0.7 * refs.ni2.at(en) + 0.3 * refs.ni3.at(en);
        assert!((spectra[2].1[k] - mix).abs() < 1e-5, "mixture at {en}");
    }
}

#[test]
fn truth_table_agrees_with_the_label_volume() {
    let cfg = preset("tiny").unwrap();
    let sim = simulate(&cfg, None, &NoProgress).unwrap();
    let el = &sim.electrode;
    let ids = sim.truth.f64("id").unwrap();
    let voxels = sim.truth.f64("voxels").unwrap();
    let cz = sim.truth.f64("centroid_z_um").unwrap();
    let cx = sim.truth.f64("centroid_x_um").unwrap();
    let cf = sim.truth.f64("crack_fraction").unwrap();
    let maxid = el.labels.iter().cloned().max().unwrap() as usize;
    let mut n = vec![0u64; maxid + 1];
    let mut sz = vec![0u64; maxid + 1];
    let mut sx = vec![0u64; maxid + 1];
    let mut cr = vec![0u64; maxid + 1];
    for ((k, _j, i), &l) in el.labels.indexed_iter() {
        n[l as usize] += 1;
        sz[l as usize] += k as u64;
        sx[l as usize] += i as u64;
        if l > 0 && el.phases[[k, _j, i]] == 0 {
            cr[l as usize] += 1;
        }
    }
    let present = n.iter().skip(1).filter(|&&c| c > 0).count();
    assert_eq!(present, ids.len(), "every labelled particle has one row");
    for (r, &id) in ids.iter().enumerate() {
        let id = id as usize;
        assert_eq!(voxels[r] as u64, n[id]);
        assert!((cz[r] - (sz[id] as f64 / n[id] as f64 + 0.5) * 0.4).abs() < 1e-9);
        assert!((cx[r] - (sx[id] as f64 / n[id] as f64 + 0.5) * 0.4).abs() < 1e-9);
        assert!((cf[r] - cr[id] as f64 / n[id] as f64).abs() < 1e-12);
    }
    // Phases: active voxels carry a SoC, others none.
    for (p, s) in el.phases.iter().zip(el.soc.iter()) {
        assert_eq!(*p == 2, s.is_finite());
    }
}

fn window_fractions(sim: &chemomech_sim::Simulation) -> Vec<(usize, f64, f64)> {
    sim.summary["depth_profile"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["particles"].as_u64().unwrap() as usize,
                w["fraction_severe"].as_f64().unwrap(),
                w["configured_probability"]["severe"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn damage_follows_the_configured_depth_profiles() {
    // Fast charge: severe damage concentrated at the separator, following the profile.
    let sim = simulate(&preset("small").unwrap(), None, &NoProgress).unwrap();
    let w = window_fractions(&sim);
    for (n, got, want) in &w {
        let se = (want * (1.0 - want) / *n as f64).sqrt();
        assert!((got - want).abs() <= 3.0 * se + 0.02, "severe fraction {got} vs configured {want} (n = {n})");
    }
    assert!(w[0].1 > w[w.len() - 1].1 + 0.2, "no separator-to-collector gradient: {w:?}");
    // 50 cycles: heavier and even through the depth.
    let sim = simulate(&preset("small,cycles_50").unwrap(), None, &NoProgress).unwrap();
    let w = window_fractions(&sim);
    for (n, got, want) in &w {
        let se = (want * (1.0 - want) / *n as f64).sqrt();
        assert!((got - want).abs() <= 3.0 * se + 0.02, "cycles_50: {got} vs {want} (n = {n})");
    }
    // Severely damaged particles lost carbon-binder contact.
    let cls = sim.truth.str("damage_class").unwrap();
    let cbd = sim.truth.f64("cbd_contact_fraction").unwrap();
    let mean = |c: &str| {
        let v: Vec<f64> = cls.iter().zip(&cbd).filter(|(k, _)| *k == c).map(|(_, x)| *x).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean("severe") < mean("least") - 0.1, "severe {} vs least {}", mean("severe"), mean("least"));
}

#[test]
fn same_seed_same_arrays_with_one_and_two_threads() {
    let mut cfg = preset("tiny,holo").unwrap();
    cfg.phase_contrast.angles = 12;
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| simulate(&cfg, None, &NoProgress).unwrap())
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a.electrode.labels, b.electrode.labels);
    assert_eq!(a.electrode.phases, b.electrode.phases);
    assert_eq!(a.electrode.frac_active, b.electrode.frac_active);
    assert!(a.electrode.soc.iter().zip(b.electrode.soc.iter()).all(|(x, y)| x.to_bits() == y.to_bits()));
    assert_eq!(a.truth, b.truth);
    assert_eq!(a.absorption.as_ref().unwrap().projections, b.absorption.as_ref().unwrap().projections);
    assert_eq!(a.xanes.as_ref().unwrap().stack, b.xanes.as_ref().unwrap().stack);
    assert_eq!(a.holo.as_ref().unwrap().scans, b.holo.as_ref().unwrap().scans);
    // A different seed gives a different electrode.
    let mut c2 = cfg.clone();
    c2.seed += 1;
    let c = simulate(&c2, None, &NoProgress).unwrap();
    assert_ne!(a.electrode.labels, c.electrode.labels);
}

#[test]
fn holography_keeps_mean_intensity() {
    let mut cfg = preset("tiny,holo").unwrap();
    cfg.phase_contrast.angles = 4;
    cfg.phase_contrast.photons = 0.0;
    cfg.tomography.flat_variation = 0.0;
    cfg.xanes.enabled = false;
    cfg.tomography.enabled = false;
    let sim = simulate(&cfg, None, &NoProgress).unwrap();
    let h = sim.holo.unwrap();
    assert_eq!(h.scans.len(), 4);
    for s in &h.scans {
        let d = s.data.to_f32();
        let f = s.flats.as_ref().unwrap().to_f32();
        let dk = cfg.tomography.dark_counts as f32;
        // Pure phase objects redistribute intensity; absorption removes a little.
        let t: f64 = d
            .index_axis(Axis(0), 0)
            .iter()
            .zip(f.index_axis(Axis(0), 0).iter())
            .map(|(a, b)| ((a - dk) / (b - dk)) as f64)
            .sum::<f64>()
            / f.index_axis(Axis(0), 0).len() as f64;
        assert!(t > 0.7 && t < 1.0, "mean transmission {t}");
        assert!(s.distance_m.unwrap() > 0.0 && s.pixel_um.unwrap() >= 0.4);
    }
}

#[test]
fn absurd_parameters_are_refused() {
    for (toml, key) in [
        ("[electrode]\nactive_fraction = 0.9\n", "active_fraction"),
        ("[electrode]\nmin_esd_um = 0.1\n", "min_esd_um"),
        ("[tomography]\nenergy_kev = 100.0\n", "energy_kev"),
        (
            "[xanes]\nenergies_ev = [8300.0, 8200.0, 8400.0, 8500.0, 8600.0, 8700.0, 8800.0, 8900.0]\n",
            "not strictly increasing",
        ),
        ("[damage]\nprofile = \"gentle\"\n", "profile"),
        ("[chemistry]\nvalence_soc0 = 3.5\nvalence_soc1 = 3.0\n", "valence"),
    ] {
        let e = SimConfig::from_toml(toml).unwrap_err().to_string();
        assert!(e.contains(key), "{toml}: {e}");
    }
}
