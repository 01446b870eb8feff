//! Per-pixel XANES maps of simulated 2-D TXM-XANES stacks scored against the
//! simulator's ground truth (Ni-weighted LiNiO2 fraction per pixel and the
//! drift applied to each frame), with the real NiO/LiNiO2 references of
//! ../shared/data/xas as both the simulator's end members and the LCF
//! references. Counts → optical density → registration → maps, as a user
//! runs them.

use chemomech_core::NoProgress;
use chemomech_io::Dataset;
use chemomech_sim::references::Reference;
use chemomech_xas::maps::{MapParams, RefSpectrum, xanes_maps};
use chemomech_xas::stack::{RegistrationMode, RegistrationParams, apply_registration, optical_density, register_stack};
use ndarray::{Array3, Ix2, Ix3};

fn refs() -> Option<Vec<RefSpectrum>> {
    let d = chemomech_core::testdata::shared_data_dir()?;
    let read = |f: &str, n: &str| match chemomech_io::open(&d.join("xas").join(f)).unwrap() {
        Dataset::Spectrum(s) => RefSpectrum { name: n.into(), energy_ev: s.energy_ev, mu: s.mu.unwrap() },
        _ => panic!("not a spectrum"),
    };
    Some(vec![read("ref_NiO.txt", "NiO"), read("ref_LiNiO2.txt", "LiNiO2")])
}

#[derive(Debug)]
#[allow(dead_code)] // all fields are printed
struct Score {
    /// Largest registration error over frames (pixels).
    reg_err_max: f64,
    rmse: f64,
    p95: f64,
    max_err: f64,
    n: usize,
}

struct Case {
    photons: f64,
    drift_px: f64,
    slab_um: f64,
    register: bool,
    /// Energies (eV); empty: the simulator's default grid.
    energies: Vec<f64>,
    /// Register with the simulator's own drift (perfect registration) instead.
    perfect: bool,
    /// Pixels "inside particles": at least this much active material along the beam.
    min_thickness_um: f64,
}

fn run(c: &Case) -> Option<Score> {
    let r = refs()?;
    let mut cfg = chemomech_sim::config::preset("tiny").unwrap();
    cfg.tomography.enabled = false;
    cfg.phase_contrast.enabled = false;
    cfg.xanes.photons = c.photons;
    cfg.xanes.drift_px = c.drift_px;
    cfg.xanes.slab_um = c.slab_um;
    cfg.xanes.energies_ev = c.energies.clone();
    let sim_refs = (
        Reference::new("NiO", r[0].energy_ev.clone(), r[0].mu.clone()).unwrap(),
        Reference::new("LiNiO2", r[1].energy_ev.clone(), r[1].mu.clone()).unwrap(),
    );
    let sim = chemomech_sim::simulate(&cfg, Some(sim_refs), &NoProgress).unwrap();
    let x = sim.xanes.unwrap();
    let to3 = |a: &chemomech_core::DynArray| a.to_f32().into_dimensionality::<Ix3>().unwrap();
    let data: Array3<f32> = to3(&x.stack.data);
    let (flats, darks) = (to3(x.stack.flats.as_ref().unwrap()), to3(x.stack.darks.as_ref().unwrap()));
    let e = &x.stack.energies_ev;
    let (od, rep) = optical_density(data.view(), Some(flats.view()), Some(darks.view())).unwrap();
    assert_eq!(rep.invalid_pixels, 0);
    let mode = if c.register { RegistrationMode::Reference(None) } else { RegistrationMode::None };
    let mut reg = register_stack(od.view(), e, &RegistrationParams { mode, ..Default::default() }).unwrap();
    if c.perfect {
        for f in &mut reg.frames {
            let (d, d0) = (x.drift_px[f.index], x.drift_px[reg.reference]);
            (f.dy, f.dx) = (d0.0 - d.0, d0.1 - d.1);
        }
    }
    let rf = reg.reference;
    let d0 = x.drift_px[rf];
    let mut reg_err_max: f64 = 0.0;
    for f in &mut reg.frames {
        // Aligning must undo each frame's drift relative to the reference frame.
        let d = x.drift_px[f.index];
        reg_err_max = reg_err_max.max((f.dy + d.0 - d0.0).hypot(f.dx + d.1 - d0.1));
        // Then move everything onto the simulator's undrifted grid to compare with truth.
        f.dy -= d0.0;
        f.dx -= d0.1;
    }
    let (al, _fov) = apply_registration(od.view(), &reg).unwrap();
    let m = xanes_maps(al.view().into_dyn(), e, &r, &MapParams { clusters: None, ..Default::default() }, &NoProgress)
        .unwrap();
    let f = m.fractions[1].1.view().into_dimensionality::<Ix2>().unwrap();
    let mut errs: Vec<f64> = x
        .fraction_ni3
        .indexed_iter()
        .filter(|&((i, j), t)| {
            t.is_finite() && x.active_thickness_um[[i, j]] as f64 >= c.min_thickness_um && f[[i, j]].is_finite()
        })
        .map(|((i, j), &t)| (f[[i, j]] - t) as f64)
        .collect();
    let n = errs.len();
    assert!(n > 300, "only {n} pixels inside particles");
    let rmse = (errs.iter().map(|d| d * d).sum::<f64>() / n as f64).sqrt();
    errs.iter_mut().for_each(|d| *d = d.abs());
    errs.sort_by(f64::total_cmp);
    Some(Score { reg_err_max, rmse, p95: errs[n * 95 / 100], max_err: errs[n - 1], n })
}

#[test]
fn noisy_drifting_stack_registers_and_fractions_match_truth() {
    // A 16-µm section at 5·10⁴ photons per pixel (edge jump ≈ 0.33 OD, σ ≈ 0.0066 per energy).
    let Some(s) = run(&Case {
        photons: 5e4,
        drift_px: 1.5,
        slab_um: 16.0,
        register: true,
        energies: vec![],
        perfect: false,
        min_thickness_um: 2.0,
    }) else {
        eprintln!("skipped: ../shared/data not found");
        return;
    };
    eprintln!("16-µm section, 5e4 photons, drift σ 1.5 px: {s:?}");
    assert!(s.reg_err_max <= 0.2, "registration error {}", s.reg_err_max);
    assert!(s.rmse <= 0.03, "fraction RMSE {}", s.rmse);
}

#[test]
fn simulator_default_stack_is_photon_limited() {
    // The simulator's default: a 6-µm slab at 2·10⁴ photons (edge jump ≈ 0.15
    // OD, σ ≈ 0.0097): per-pixel fractions are limited by photon noise.
    let Some(s) = run(&Case {
        photons: 2e4,
        drift_px: 1.5,
        slab_um: 6.0,
        register: true,
        energies: vec![],
        perfect: false,
        min_thickness_um: 2.0,
    }) else {
        return;
    };
    eprintln!("6-µm slab, 2e4 photons: {s:?}");
    assert!(s.reg_err_max <= 0.2, "registration error {}", s.reg_err_max);
    assert!(s.rmse <= 0.09, "fraction RMSE {}", s.rmse);
}

#[test]
fn noise_free_mixtures_are_recovered() {
    let Some(s) = run(&Case {
        photons: 0.0,
        drift_px: 0.0,
        slab_um: 6.0,
        register: false,
        energies: vec![],
        perfect: false,
        min_thickness_um: 1.0,
    }) else {
        return;
    };
    eprintln!("noise-free, no drift: {s:?}");
    assert!(s.max_err <= 0.01, "max fraction error {}", s.max_err);
    // With drift, registration and sub-pixel re-sampling of sharp particle edges.
    let s = run(&Case {
        photons: 0.0,
        drift_px: 1.5,
        slab_um: 6.0,
        register: true,
        energies: vec![],
        perfect: false,
        min_thickness_um: 2.0,
    })
    .unwrap();
    eprintln!("noise-free, drift σ 1.5 px: {s:?}");
    assert!(s.reg_err_max <= 0.05, "registration error {}", s.reg_err_max);
    assert!(s.rmse <= 0.01 && s.p95 <= 0.012, "fraction RMSE {} p95 {}", s.rmse, s.p95);
}

/// An FXI-like scan: 60 eV below the Ni edge to 300 eV above on an irregular
/// grid, low-contrast pre-edge frames, photon noise and drift of up to ±3 px.
fn fxi_energies() -> Vec<f64> {
    let mut e: Vec<f64> = (0..8).map(|i| 8273.0 + 7.3 * i as f64).collect();
    e.extend((0..30).map(|i| 8330.0 + 1.1 * i as f64 + 0.2 * ((i * 7) % 3) as f64));
    e.extend((0..12).map(|i| 8366.0 + 22.0 * i as f64 + 3.0 * (i % 2) as f64));
    e.push(8633.0);
    e
}

#[test]
fn fxi_like_stack_registers_as_well_as_the_true_drift() {
    // 51 energies from 60 eV below the edge, 3·10³ photons, drift σ 1.5 px
    // (up to ±4 px): the maps from the registered stack are within 10 % of
    // those from the simulator's own drift.
    let c = Case {
        photons: 3e3,
        drift_px: 1.5,
        slab_um: 6.0,
        register: true,
        energies: fxi_energies(),
        perfect: false,
        min_thickness_um: 2.0,
    };
    let Some(s) = run(&c) else { return };
    let p = run(&Case { perfect: true, energies: fxi_energies(), ..c }).unwrap();
    eprintln!("FXI-like, registered: {s:?}\nwith the true drift: {p:?}");
    assert!(s.reg_err_max <= 0.5, "registration error {}", s.reg_err_max);
    assert!(s.rmse <= 1.1 * p.rmse, "fraction RMSE {} against {} with the true drift", s.rmse, p.rmse);
}
