//! The `xanes` stage end to end: simulated FXI stack → maps scored against
//! truth; 3-D per-voxel maps from a 4-D array; bad inputs.

use chemomech_core::{DynArray, NoProgress};
use chemomech_io::Dataset;
use chemomech_pipeline::stages::{simulate, xanes};
use ndarray::{ArrayD, IxDyn};

fn read_f32(p: &std::path::Path) -> ArrayD<f32> {
    match chemomech_io::open(p).unwrap() {
        Dataset::Raster(r) => r.data.to_f32(),
        _ => panic!("not a raster"),
    }
}

#[test]
fn simulated_fxi_stack_to_maps_and_particle_chemistry() {
    let Some(d) = chemomech_core::testdata::shared_data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let cfg = tmp.path().join("x.toml");
    std::fs::write(&cfg, "[tomography]\nenabled = false\n[xanes]\nslab_um = 16.0\nphotons = 50000.0\n").unwrap();
    simulate::run(&simulate::Params { config: Some(cfg), preset: "tiny".into(), seed: None }, &sim, &NoProgress)
        .unwrap();
    // `--input od` reads the counts as optical density even though the
    // file holds reference frames; the default (auto) divides by them.
    let od = xanes::run(
        &xanes::Params {
            stack: sim.join("xanes.h5"),
            input: xanes::InputKind::OpticalDensity,
            max_clusters: 0,
            ..Default::default()
        }
        .plan(),
        &tmp.path().join("od"),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(od.optical_density["from"], "optical density as given");
    let auto = xanes::run(
        &xanes::Params { stack: sim.join("xanes.h5"), max_clusters: 0, ..Default::default() }.plan(),
        &tmp.path().join("auto"),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(auto.optical_density["from"], "counts with reference frames");
    let mut p = xanes::Plan::new(sim.join("xanes.h5"));
    p.refs = vec![d.join("xas/ref_NiO.txt").display().to_string(), d.join("xas/ref_LiNiO2.txt").display().to_string()];
    p.labels = Some(sim.join("truth/xanes_labels.tiff"));
    let out = tmp.path().join("maps");
    let s = xanes::run(&p, &out, &NoProgress).unwrap();
    for f in [
        "e0_half.tiff",
        "e0_derivative.tiff",
        "white_line_energy.tiff",
        "white_line_height.tiff",
        "edge_jump.tiff",
        "mask.tiff",
        "fraction_LiNiO2.tiff",
        "fraction_NiO.tiff",
        "soc.tiff",
        "cluster.tiff",
        "r_factor.tiff",
        "particle_chemistry.csv",
        "core_shell.csv",
        "registration.csv",
        "spectra.csv",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // The fraction map against truth, on the reference frame's grid: the
    // summary's reference frame drift is in truth/xanes_drift.csv; compare
    // where the particle is thick (shifts of a few pixels matter little
    // for the mean over thick pixels, which we compare).
    let f = read_f32(&out.join("fraction_LiNiO2.tiff"));
    let t = read_f32(&sim.join("truth/xanes_fraction_LiNiO2.tiff"));
    let (mut a, mut b, mut n) = (0.0, 0.0, 0);
    for (x, y) in f.iter().zip(t.iter()) {
        if x.is_finite() && y.is_finite() {
            a += *x as f64;
            b += *y as f64;
            n += 1;
        }
    }
    let (mf, mt) = (a / n as f64, b / n as f64);
    eprintln!(
        "mean LiNiO2 fraction: maps {mf:.4}, truth {mt:.4} over {n} pixels; {} particles",
        s.particles.as_ref().unwrap().with_chemistry
    );
    assert!((mf - mt).abs() < 0.02);
    assert!(s.particles.as_ref().unwrap().with_chemistry >= 5);
    let m = read_f32(&out.join("mask.tiff"));
    assert_eq!(m.shape(), t.shape());
}

#[test]
fn four_d_stack_gives_per_voxel_maps() {
    let tmp = tempfile::tempdir().unwrap();
    let e: Vec<f64> = (0..70).map(|i| 8250.0 + 5.0 * i as f64).collect();
    // (energy, z, y, x): a cube of material whose edge shifts with z.
    let od = ArrayD::from_shape_fn(IxDyn(&[70, 4, 6, 6]), |ix| {
        let (k, z, y, x) = (ix[0], ix[1], ix[2], ix[3]);
        let inside = (1..5).contains(&y) && (1..5).contains(&x);
        let e0 = 8340.0 + z as f64;
        0.2 + if inside { 1.0 / (1.0 + (-(e[k] - e0) / 2.0).exp()) } else { 0.0 }
    })
    .mapv(|v| v as f32);
    let sp = tmp.path().join("stack.npy");
    chemomech_io::npy::write_npy(&sp, &DynArray::F32(od)).unwrap();
    let ef = tmp.path().join("energies.txt");
    std::fs::write(&ef, e.iter().map(|v| format!("{v}\n")).collect::<String>()).unwrap();
    let mut p = xanes::Plan::new(sp.clone());
    p.energies = Some(ef.clone());
    p.maps.clusters = None;
    let out = tmp.path().join("o");
    let s = xanes::run(&p, &out, &NoProgress).unwrap();
    assert_eq!(s.pixel_shape, [4, 6, 6]);
    let e0 = read_f32(&out.join("e0_half.tiff"));
    assert_eq!(e0.shape(), &[4, 6, 6]);
    for z in 0..4 {
        assert!((e0[[z, 2, 2]] as f64 - (8340.0 + z as f64)).abs() < 0.3, "z {z}: {}", e0[[z, 2, 2]]);
    }
    assert!(e0[[0, 0, 0]].is_nan());

    // Bad inputs: one line each, nothing written.
    let bad = |p: &xanes::Plan, want: &str| {
        let o = tmp.path().join("bad");
        let err = xanes::run(p, &o, &NoProgress).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
        assert!(!err.contains('\n'));
        assert!(!o.exists());
    };
    let mut rev = e.clone();
    rev.swap(10, 11);
    std::fs::write(&ef, rev.iter().map(|v| format!("{v}\n")).collect::<String>()).unwrap();
    bad(&p, "increasing");
    std::fs::write(&ef, e[..69].iter().map(|v| format!("{v}\n")).collect::<String>()).unwrap();
    bad(&p, "70 frames but 69 energies");
    std::fs::write(&ef, e.iter().map(|v| format!("{v}\n")).collect::<String>()).unwrap();
    chemomech_io::npy::write_npy(&sp, &DynArray::F32(ArrayD::from_elem(IxDyn(&[70, 2, 3, 3]), f32::NAN))).unwrap();
    bad(&p, "NaN");
    let mut q = xanes::Plan::new(tmp.path().join("missing.h5"));
    q.energies = Some(ef);
    bad(&q, "missing.h5");
}

/// An ALS STXM stack (`.hdr` + `.xim`) holds detector counts with no I0:
/// `xanes` refuses to read them as optical density unless told how.
#[test]
fn stxm_counts_without_i0_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let hdr = tmp.path().join("s.hdr");
    let e = [8330.0, 8340.0, 8350.0, 8360.0];
    let pts = |v: &[f64]| format!("({}, {})", v.len(), v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "));
    let grid: Vec<f64> = (0..10).map(|i| i as f64 * 0.1).collect();
    std::fs::write(
        &hdr,
        format!(
            "ScanDefinition = {{ Type = \"NEXAFS Image Scan\"; Regions = (1, {{ PAxis = {{ Points = {}; }}; QAxis = {{ Points = {}; }}; }}); StackAxis = {{ Points = {}; }}; }};\n",
            pts(&grid),
            pts(&grid),
            pts(&e)
        ),
    )
    .unwrap();
    for k in 0..e.len() {
        let rows: Vec<String> = (0..10)
            .map(|r| (0..10).map(|c| (5000 - 40 * k - r - c).to_string()).collect::<Vec<_>>().join(" "))
            .collect();
        std::fs::write(tmp.path().join(format!("s_a{k:03}.xim")), rows.join("\n")).unwrap();
    }
    let err = xanes::run(
        &xanes::Params { stack: hdr.clone(), max_clusters: 0, ..Default::default() }.plan(),
        &tmp.path().join("o"),
        &NoProgress,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("s.hdr") && err.contains("counts without reference (I0)"), "{err}");
    assert!(!tmp.path().join("o").exists(), "no half-written output");
}
