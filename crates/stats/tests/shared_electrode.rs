//! The 256³ three-phase NMC electrode from TauFactor's repository
//! (../shared/data/electrode), against the values measured on it with
//! scikit-image/scipy/cc3d (see the README there).

use chemomech_core::DynArray;
use chemomech_core::testdata::shared;
use chemomech_imgproc::{Connectivity, label};
use chemomech_io::{Dataset, open};
use chemomech_stats::volume::{phase_face_counts, volume_fractions};
use ndarray::Ix3;

fn electrode() -> ndarray::Array3<u8> {
    let Dataset::Raster(r) = open(&shared("electrode/taufactor_electrode_256.tiff")).unwrap() else { panic!() };
    let DynArray::U8(a) = r.data else { panic!() };
    a.into_dimensionality::<Ix3>().unwrap()
}

#[test]
fn nmc_has_81_components_with_26_connectivity() {
    let e = electrode();
    let nmc = e.mapv(|v| v == 85);
    assert_eq!(label(nmc.view(), Connectivity::C26).1, 81);
}

#[test]
fn nmc_faces_touch_pore_and_carbon_binder_as_measured() {
    let e = electrode();
    let f = phase_face_counts(e.view(), 85);
    let (pore, cbd) = (f[&0] as f64, f[&170] as f64);
    let p = pore / (pore + cbd);
    assert!((p - 0.379).abs() < 0.0005, "pore share of NMC faces {p}");
    assert!(((1.0 - p) - 0.621).abs() < 0.0005);
    let vf = volume_fractions(e.view());
    // The README's 45.0 / 40.1 / 15.0 % are rounded (they sum to 100.1 %): measured 44.99 / 40.05 / 14.96 %.
    assert!((vf[&0] - 0.450).abs() < 0.001 && (vf[&85] - 0.401).abs() < 0.001 && (vf[&170] - 0.150).abs() < 0.001);
}

/// TauFactor 1.2.1 (PyPI, CPU, torch 2.5.1, default `Solver(pore).solve()`)
/// on the pore phase (value 0) of the same volume, along axis 0:
/// τ = 2.0776296, D_eff = 0.21655321, VF = 0.44991738.
const TAUFACTOR_TAU: f64 = 2.0776296;

#[test]
fn pore_tortuosity_matches_taufactor() {
    let e = electrode();
    let pore = e.mapv(|v| v == 0);
    let t0 = std::time::Instant::now();
    let t = chemomech_stats::tortuosity::tortuosity(pore.view(), [1.0; 3], 0, 1e-8, 20_000, 1e-4).unwrap();
    eprintln!(
        "tau {:.6} (TauFactor {TAUFACTOR_TAU}), {} iterations, {:.1} s",
        t.tau,
        t.iterations,
        t0.elapsed().as_secs_f64()
    );
    assert!(((t.tau - TAUFACTOR_TAU) / TAUFACTOR_TAU).abs() < 0.01, "{t:?}");
    assert!((t.volume_fraction - 0.44991738).abs() < 1e-7);
}
