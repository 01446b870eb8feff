//! The real SSRL 6-2c TXM frames of NCA particles (../shared/data/txm):
//! optical density from sample/reference pairs, registration of the two
//! energies, and particles separated from background by the edge-jump mask.

use chemomech_io::Dataset;
use chemomech_xas::maps::two_energy_jump;
use chemomech_xas::stack::{RegistrationMode, RegistrationParams, apply_registration, optical_density, register_stack};
use ndarray::{Axis, Ix3};

#[test]
fn ssrl_frames_optical_density_and_edge_jump_mask() {
    let Some(dir) = chemomech_core::testdata::shared_data_dir().map(|d| d.join("txm")) else {
        eprintln!("skipped: ../shared/data/txm not found");
        return;
    };
    let Dataset::Energy(st) = chemomech_io::open(&dir).unwrap() else { panic!("not an energy stack") };
    assert_eq!(st.energies_ev, vec![8324.0, 8354.0]);
    let data = st.data.to_f32().into_dimensionality::<Ix3>().unwrap();
    let flats = st.flats.as_ref().unwrap().to_f32().into_dimensionality::<Ix3>().unwrap();
    let (od, rep) = optical_density(data.view(), Some(flats.view()), None).unwrap();
    let (ne, ny, nx) = od.dim();
    let mean = |e: usize| {
        let f = od.index_axis(Axis(0), e);
        let v: Vec<f64> = f.iter().filter(|v| v.is_finite()).map(|&v| v as f64).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let (below, above) = (mean(0), mean(1));
    eprintln!(
        "SSRL: {ne} frames {ny}×{nx}, {} invalid pixels; field-of-view mean OD {below:.4} at 8324 eV, {above:.4} at 8354 eV",
        rep.invalid_pixels
    );
    // −ln(sample/reference) as the data's README defines it (the sample
    // frames were exposed 0.5 s, the references 0.3 s; no dark frames).
    assert!(above > below + 0.05, "{below} {above}");
    assert!(rep.invalid_pixels < ny * nx / 1000);
    // Register the below-edge frame to the above-edge one.
    let reg = register_stack(
        od.view(),
        &st.energies_ev,
        &RegistrationParams { mode: RegistrationMode::Reference(Some(1)), ..Default::default() },
    )
    .unwrap();
    let f0 = &reg.frames[0];
    eprintln!(
        "SSRL: shift of the 8324-eV frame ({:.2}, {:.2}) px, feature correlation {:.3} → {:.3}",
        f0.dy, f0.dx, f0.quality_before, f0.quality_after
    );
    assert!(f0.quality_after >= f0.quality_before - 1e-9);
    let (al, fov) = apply_registration(od.view(), &reg).unwrap();
    let (jump, mask, sigma) = two_energy_jump(al.index_axis(Axis(0), 0), al.index_axis(Axis(0), 1), 5.0).unwrap();
    let n_fov = fov.iter().filter(|&&b| b).count();
    let n = mask.iter().filter(|&&b| b).count();
    let px = st.pixel_um.unwrap_or(f64::NAN);
    eprintln!(
        "SSRL: edge-jump noise σ {sigma:.4} OD; mask (jump > 5σ) {n} of {n_fov} pixels = {:.1} % of the field of view, {:.0} µm² at {:.4} µm pixels",
        100.0 * n as f64 / n_fov as f64,
        n as f64 * px * px,
        px
    );
    // Particles: a minority of the view, with a jump far above the background's.
    let frac = n as f64 / n_fov as f64;
    assert!(frac > 0.05 && frac < 0.8, "masked fraction {frac}");
    let mj: f64 = jump.iter().zip(mask.iter()).filter(|&(_, &m)| m).map(|(&j, _)| j as f64).sum::<f64>() / n as f64;
    let bj: Vec<f64> = jump
        .iter()
        .zip(mask.iter())
        .zip(fov.iter())
        .filter(|&((_, &m), &f)| !m && f)
        .map(|((&j, _), _)| j as f64)
        .collect();
    let bj = bj.iter().sum::<f64>() / bj.len() as f64;
    eprintln!("SSRL: mean edge jump {mj:.3} OD in the mask, {bj:.3} outside");
    assert!(mj > 10.0 * sigma && mj > 5.0 * bj.abs().max(sigma));
}

/// The field's average spectrum of these particles (NCA_xanes.csv): xanespy's
/// `direct_whitelines` puts its white line at 8350 eV; Larch-style
/// normalisation puts E0 on the rising edge below it.
#[test]
fn nca_average_spectrum_white_line() {
    let Some(d) = chemomech_core::testdata::shared_data_dir() else { return };
    let Dataset::Spectrum(s) = chemomech_io::open(&d.join("txm/NCA_xanes.csv")).unwrap() else {
        panic!("not a spectrum")
    };
    let mu = s.mu.unwrap();
    let pe = chemomech_xas::pre_edge(&s.energy_ev, &mu, &Default::default()).unwrap();
    let imax = (0..mu.len())
        .filter(|&i| s.energy_ev[i] > pe.e0 && s.energy_ev[i] < pe.e0 + 30.0)
        .max_by(|&a, &b| mu[a].total_cmp(&mu[b]))
        .unwrap();
    eprintln!("NCA average: e0 {} eV, edge step {:.4}, white line {} eV", pe.e0, pe.edge_step, s.energy_ev[imax]);
    assert_eq!(s.energy_ev[imax], 8350.0);
    assert!(pe.e0 > 8338.0 && pe.e0 < 8350.0);
}
