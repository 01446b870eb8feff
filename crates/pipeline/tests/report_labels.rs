//! The report's labelled slices and the stats stage's measurement-error
//! flag, on small synthetic electrodes run through `particles`, `stats` and
//! `report`: a 3-D volume (xy and z–x slices) and a 2-D one (one slice).

use chemomech_core::{DynArray, NoProgress};
use chemomech_io::tiffio::{TiffOptions, write_tiff};
use chemomech_pipeline::stages::particles::{self, CrackMeasure};
use chemomech_pipeline::stages::{report, stats};
use ndarray::Array3;
use std::path::Path;

/// Phases (0 pore, 1 carbon-binder, 2 active) of spheres of radius `r`
/// centred at `centres` (z, y, x), with a carbon-binder shell, and the grey
/// levels of a tomogram of them (pore 0.1, binder 0.4, active 1.0).
fn electrode(shape: (usize, usize, usize), centres: &[[f64; 3]], r: f64) -> (Array3<u8>, Array3<f32>) {
    let phases = Array3::from_shape_fn(shape, |(z, y, x)| {
        let d = centres
            .iter()
            .map(|c| ((z as f64 - c[0]).powi(2) + (y as f64 - c[1]).powi(2) + (x as f64 - c[2]).powi(2)).sqrt())
            .fold(f64::INFINITY, f64::min);
        if d <= r {
            2
        } else if d <= r + 1.5 {
            1
        } else {
            0
        }
    });
    let grey = phases.mapv(|p| [0.1f32, 0.4, 1.0][p as usize]);
    (phases, grey)
}

/// Runs particles, stats (when `with_stats`) and report on the electrode in
/// `root`; returns the report's HTML, the report summary and the stats
/// summary. The report gets the grey volume when it is 3-D (its tomography
/// section reads volumes only); the labels of a 2-D one are drawn over the
/// phases.
fn run_all(
    root: &Path,
    (phases, grey): (Array3<u8>, Array3<f32>),
    measure: CrackMeasure,
    with_stats: bool,
) -> (String, report::Summary, Option<stats::Summary>) {
    let is_3d = phases.dim().0 > 1;
    let sp = Some(&[1.0, 1.0, 1.0][..]);
    let (pp, vp) = (root.join("phases.tiff"), root.join("volume.tiff"));
    write_tiff(&pp, &DynArray::U8(phases.into_dyn()), sp, None, TiffOptions::default()).unwrap();
    write_tiff(&vp, &DynArray::F32(grey.into_dyn()), sp, None, TiffOptions::default()).unwrap();
    let pd = root.join("particles");
    let pp =
        particles::Params { phases: Some(pp), volume: Some(vp.clone()), crack_measure: measure, ..Default::default() };
    particles::run(&pp, &pd, &NoProgress).unwrap();
    let sd = root.join("stats");
    let st = with_stats.then(|| {
        let sp = stats::Params { dir: pd.clone(), bootstrap: 200, no_tortuosity: true, ..Default::default() };
        stats::run(&sp, Some(&sd), &NoProgress).unwrap()
    });
    let stats = if with_stats { vec![sd] } else { Vec::new() };
    let rd = root.join("report");
    let rp = report::Params { volume: is_3d.then_some(vp), particles: vec![pd], stats, ..Default::default() };
    let rs = report::run(&rp, &rd, &NoProgress).unwrap();
    (std::fs::read_to_string(rd.join("report.html")).unwrap(), rs, st)
}

#[test]
fn a_3d_report_shows_the_labels_on_two_slices() {
    let dir = tempfile::tempdir().unwrap();
    let centres = [[10.0, 12.0, 12.0], [10.0, 12.0, 36.0], [10.0, 36.0, 12.0], [10.0, 36.0, 36.0], [10.0, 24.0, 46.0]];
    let (html, rs, st) = run_all(dir.path(), electrode((20, 48, 48), &centres, 7.0), CrackMeasure::Deficit, true);
    for id in ["labels-xy", "labels-zx"] {
        assert!(html.contains(&format!("data-figure=\"{id}\"")), "{id} missing");
        let f = rs.figures.iter().find(|f| f.id == id).unwrap();
        assert_eq!(f.section, "particles");
        assert!(dir.path().join("report").join(f.csv.as_ref().unwrap()).is_file());
    }
    assert!(html.contains("alt=\"particle labels by damage class\""));
    assert!(html.contains("Left: the reconstructed grey levels"));
    // The deficit measure gives each particle an sd, which stats propagates.
    assert!(st.unwrap().measurement_sd_propagated);
    assert!(html.contains("crack-fraction measurement error (crack_fraction_sd)"));
}

#[test]
fn a_2d_report_shows_the_labels_on_its_one_slice() {
    let dir = tempfile::tempdir().unwrap();
    let centres = [[0.0, 12.0, 12.0], [0.0, 12.0, 36.0], [0.0, 36.0, 24.0]];
    // Without stats: its RVE test needs particle volumes, which 2-D tables lack.
    let (html, rs, _) = run_all(dir.path(), electrode((1, 48, 48), &centres, 8.0), CrackMeasure::Threshold, false);
    assert!(html.contains("data-figure=\"labels-xy\""));
    assert!(!html.contains("data-figure=\"labels-zx\""));
    assert!(rs.figures.iter().any(|f| f.id == "labels-xy"));
    assert!(html.contains("Left: the phases"));
}
