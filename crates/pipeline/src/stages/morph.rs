//! `morph`: the image-analysis primitives that `segment` and `particles`
//! are built from, one at a time on a whole volume — connected components,
//! the exact distance transform, the median filter and the distance-map
//! watershed. For scripting, for cross-checks against cc3d / scipy /
//! scikit-image, and for `bench/particles.py`, which times each step.

use super::segment::read_volume_or;
use chemomech_core::{DynArray, Error, Progress, Provenance, Result};
use chemomech_io::tiffio::{write_tiff, TiffOptions};
use chemomech_particles::label::{label, label_compact, CompactLabels, Connectivity};
use chemomech_particles::{edt, morph::h_maxima, watershed::watershed_from_peaks};
use chemomech_segment::filters::median;
use ndarray::{Array3, ArrayView3};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One primitive.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Op {
    /// Connected components of the mask → u32 labels (cc3d's numbering).
    Label(Connectivity),
    /// Euclidean distance (µm) of each mask voxel to the nearest non-mask voxel → f32.
    Edt,
    /// Median over a (2r+1)³ cube → f32.
    Median(usize),
    /// Distance-map watershed of the mask from h-maxima markers (h in µm) → u32 labels.
    Watershed { h_um: f64 },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Params {
    pub input: PathBuf,
    pub dataset: Option<String>,
    pub voxel_um: Option<f64>,
    pub op: Op,
    /// The mask is the voxels equal to this value; default: the non-zero voxels.
    pub phase: Option<f64>,
    /// Runs the computation this many times in the one process and reports
    /// the fastest (`seconds_compute`) and every run (`seconds_runs`), as
    /// the Python peers are timed in `bench/`: repeated calls in one process
    /// reuse memory the process already holds, where a fresh process's
    /// first touch of a large output is at the mercy of the (virtual)
    /// machine's page allocation (0.23–0.88 s for the same 512³ labelling).
    pub repeat: usize,
}

/// Runs `f` `n` times (at least once); its last result and each run's seconds.
fn timed<T>(n: usize, mut f: impl FnMut() -> T) -> (T, Vec<f64>) {
    let mut times = Vec::new();
    let mut out = None;
    for _ in 0..n.max(1) {
        // The previous result is freed first, as a caller's loop would.
        drop(out.take());
        let t = Instant::now();
        out = Some(f());
        times.push(t.elapsed().as_secs_f64());
    }
    (out.expect("ran at least once"), times)
}

fn best(times: &[f64]) -> f64 {
    times.iter().cloned().fold(f64::INFINITY, f64::min)
}

/// `seconds_compute` (the fastest run) and `seconds_runs` (every run).
fn record(summary: &mut serde_json::Map<String, serde_json::Value>, times: Vec<f64>) {
    summary.insert("seconds_compute".into(), best(&times).into());
    summary.insert("seconds_runs".into(), times.into());
}

fn mask_of(v: ArrayView3<f32>, phase: Option<f64>) -> Array3<bool> {
    match phase {
        Some(p) => v.mapv(|x| x as f64 == p),
        None => v.mapv(|x| x != 0.0),
    }
}

pub fn run(p: &Params, out: &Path, progress: &dyn Progress) -> Result<serde_json::Value> {
    chemomech_io::atomic::ensure_not_input(out, &[&p.input])?;
    let mut prov = Provenance::start("morph", serde_json::to_value(p)?);
    prov.add_input(&p.input)?;
    // Files without a voxel size are taken as 1 µm voxels: label and median
    // do not use it, and distances are then in voxels.
    let v = read_volume_or(&p.input, p.dataset.clone(), p.voxel_um, Some(1.0))?;
    if v.data.is_empty() {
        return Err(Error::shape("the volume is empty").at(&p.input));
    }
    let sp = v.voxel_um;
    progress.start("morph", 1);
    let t0 = Instant::now();
    let mut summary = serde_json::Map::new();
    let result = match p.op {
        Op::Label(conn) => {
            let m = mask_of(v.data.view(), p.phase);
            // 16-bit labels up to 65 535 components (as cc3d), which Fiji opens as integers.
            let ((lab, n), times) = timed(p.repeat, || label_compact(m.view(), conn));
            record(&mut summary, times);
            summary.insert("n_components".into(), n.into());
            match lab {
                CompactLabels::U16(a) => DynArray::U16(a.into_dyn()),
                CompactLabels::U32(a) => DynArray::U32(a.into_dyn()),
            }
        }
        Op::Edt => {
            let m = mask_of(v.data.view(), p.phase);
            let (d, times) = timed(p.repeat, || edt(m.view(), sp));
            record(&mut summary, times);
            DynArray::F32(d.into_dyn())
        }
        Op::Median(r) => {
            if r == 0 || r > 10 {
                return Err(Error::param(format!("median radius must be 1–10 voxels, got {r}")));
            }
            let (m, times) = timed(p.repeat, || median(v.data.view(), r));
            record(&mut summary, times);
            DynArray::F32(m.into_dyn())
        }
        Op::Watershed { h_um } => {
            if !(h_um >= 0.0 && h_um.is_finite()) {
                return Err(Error::param(format!("--h-um must be ≥ 0, got {h_um}")));
            }
            let m = mask_of(v.data.view(), p.phase);
            // Each step's seconds, per run.
            let (mut t_edt, mut t_markers, mut t_flood) = (Vec::new(), Vec::new(), Vec::new());
            let ((lab, nm), times) = timed(p.repeat, || {
                let t = Instant::now();
                let dist = edt(m.view(), sp);
                t_edt.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                let (markers, nm) = label(h_maxima(dist.view(), h_um as f32).view(), Connectivity::C26);
                t_markers.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                let lab = watershed_from_peaks(dist.view(), markers.view(), m.view(), Connectivity::C26);
                t_flood.push(t.elapsed().as_secs_f64());
                (lab, nm)
            });
            summary.insert("seconds_edt".into(), best(&t_edt).into());
            summary.insert("seconds_markers".into(), best(&t_markers).into());
            summary.insert("seconds_flood".into(), best(&t_flood).into());
            record(&mut summary, times);
            summary.insert("n_regions".into(), nm.into());
            DynArray::U32(lab.into_dyn())
        }
    };
    progress.finish();
    prov.finish();
    write_tiff(out, &result, Some(&sp), Some(&prov), TiffOptions::default())?;
    let mut s = serde_json::json!({
        "stage": "morph",
        "op": p.op,
        "output": out.display().to_string(),
        "shape": v.data.shape(),
        "voxel_um": sp,
        "seconds": t0.elapsed().as_secs_f64(),
        "provenance": prov.to_json(),
    });
    s.as_object_mut().unwrap().extend(summary);
    Ok(s)
}
