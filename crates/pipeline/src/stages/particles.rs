//! `particles`: phases (or a grey volume, segmented first) → labelled
//! particle envelopes, per-particle metrics (CSV and Parquet) and a summary.

use super::segment::{read_volume, segment_volume, Denoise, Method};
use crate::outdir::OutDir;
use chemomech_core::{DynArray, Error, Progress, Provenance, Result, Table};
use chemomech_io::tiffio::{write_tiff, TiffOptions};
use chemomech_io::{open, table, Dataset};
use chemomech_particles::compare::match_labels;
use chemomech_particles::label::Connectivity;
use chemomech_particles::metrics::{particle_metrics, DamageThresholds, PhaseCodes};
use chemomech_particles::separate::{separate, SeparateParams};
use ndarray::{Array3, Ix3};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Params {
    /// A grey-level volume (segmented with multi-Otsu) …
    pub volume: Option<PathBuf>,
    /// … or a phase volume.
    pub phases: Option<PathBuf>,
    pub codes: PhaseCodes,
    pub voxel_um: Option<f64>,
    pub connectivity: Connectivity,
    pub split: bool,
    /// Crack-closing radius and marker depth (µm); defaults scale with the voxel.
    pub crack_close_um: Option<f64>,
    pub h_um: Option<f64>,
    pub thresholds: DamageThresholds,
    /// Extra volumes to average per particle: (column name, path).
    pub extra: Vec<(String, PathBuf)>,
    /// Ground-truth labels to score against (simulated input).
    pub truth: Option<PathBuf>,
}

fn read_u8_volume(path: &Path, what: &str) -> Result<(Array3<u8>, Option<[f64; 3]>)> {
    match open(path)? {
        Dataset::Raster(r) => {
            let sp = r.spacing_um.as_ref().map(|_| r.voxel3());
            let a = match r.data {
                DynArray::U8(a) => a,
                other => other.to_f32().mapv(|x| x as u8),
            };
            Ok((a.into_dimensionality::<Ix3>().map_err(|e| Error::from(e).at(path))?, sp))
        }
        other => Err(Error::data(format!("expected a {what} volume, found a {}", other.kind())).at(path)),
    }
}

fn read_labels(path: &Path) -> Result<Array3<u32>> {
    match open(path)? {
        Dataset::Raster(r) => Ok(match r.data {
            DynArray::U32(a) => a,
            other => other.to_f64().mapv(|x| x as u32),
        }
        .into_dimensionality::<Ix3>()
        .map_err(|e| Error::from(e).at(path))?),
        other => Err(Error::data(format!("expected a label volume, found a {}", other.kind())).at(path)),
    }
}

pub fn run(p: &Params, out: &Path, progress: &dyn Progress) -> Result<serde_json::Value> {
    let t0 = std::time::Instant::now();
    let input = p.phases.as_ref().or(p.volume.as_ref()).ok_or_else(|| Error::param("give a grey volume or --phases"))?;
    chemomech_io::atomic::ensure_not_input(out, &[input])?;
    let mut prov = Provenance::start("particles", serde_json::to_value(p)?);
    prov.add_input(input)?;
    progress.start("particles", 4);
    // Phases in the canonical codes 0/1/2.
    let (phases, spacing) = match (&p.phases, &p.volume) {
        (Some(ph), _) => {
            let (a, sp) = read_u8_volume(ph, "phase")?;
            let c = p.codes;
            let known = |v: u8| v == c.pore || v == c.cbd || v == c.active;
            if let Some(bad) = a.iter().find(|&&v| !known(v)) {
                return Err(Error::data(format!("value {bad} is none of the phase codes pore={}, cbd={}, active={}", c.pore, c.cbd, c.active)).at(ph));
            }
            let canon = a.mapv(|v| if v == c.active { 2 } else if v == c.cbd { 1 } else { 0 });
            let sp = match (p.voxel_um, sp) {
                (Some(v), _) => [v; 3],
                (None, Some(s)) => s,
                (None, None) => return Err(Error::param("the phase file states no voxel size; give --voxel-um").at(ph)),
            };
            (canon, sp)
        }
        (None, Some(vol)) => {
            let v = read_volume(vol, None, p.voxel_um)?;
            let (ph, _) = segment_volume(&v, &Method::MultiOtsu, Denoise::Gaussian(0.5 * v.voxel_um[0]))?;
            (ph, v.voxel_um)
        }
        (None, None) => unreachable!("checked above"),
    };
    progress.inc(1);
    let solid = phases.mapv(|v| v == 2);
    if !solid.iter().any(|&b| b) {
        return Err(Error::data("no active-material voxels: nothing to label").at(input));
    }
    let mut sp = SeparateParams::for_voxel(spacing);
    sp.connectivity = p.connectivity;
    sp.split = p.split;
    if let Some(c) = p.crack_close_um {
        sp.crack_close_um = c;
    }
    if let Some(h) = p.h_um {
        sp.h_um = h;
    }
    let (labels, rep) = separate(solid.view(), &sp);
    progress.inc(1);
    let extras: Vec<(String, Array3<f32>)> = p
        .extra
        .iter()
        .map(|(name, path)| -> Result<(String, Array3<f32>)> {
            let v = read_volume(path, None, Some(spacing[0]))?;
            if v.data.dim() != phases.dim() {
                return Err(Error::shape(format!("{:?} does not match the phases {:?}", v.data.dim(), phases.dim())).at(path));
            }
            Ok((name.clone(), v.data))
        })
        .collect::<Result<_>>()?;
    let ev: Vec<(&str, ndarray::ArrayView3<f32>)> = extras.iter().map(|(n, a)| (n.as_str(), a.view())).collect();
    let t = particle_metrics(labels.view(), phases.view(), PhaseCodes::default(), spacing, p.thresholds, &ev)?;
    progress.inc(1);
    let truth = match &p.truth {
        Some(tp) => {
            prov.add_input(tp)?;
            let tl = read_labels(tp)?;
            if tl.dim() != labels.dim() {
                return Err(Error::shape(format!("truth labels {:?} do not match {:?}", tl.dim(), labels.dim())).at(tp));
            }
            Some(match_labels(tl.view(), labels.view(), 0.5).1)
        }
        None => None,
    };
    prov.finish();
    let dir = OutDir::create(out)?;
    write_tiff(&dir.path("labels.tiff"), &DynArray::U32(labels.into_dyn()), Some(&spacing), Some(&prov), TiffOptions::default())?;
    write_tiff(&dir.path("phases.tiff"), &DynArray::U8(phases.clone().into_dyn()), Some(&spacing), Some(&prov), TiffOptions::default())?;
    table::write_csv(&dir.path("particles.csv"), &t, Some(&prov))?;
    table::write_parquet(&dir.path("particles.parquet"), &t, Some(&prov))?;
    progress.inc(1);
    progress.finish();
    let shape = phases.shape().to_vec();
    let summary = serde_json::json!({
        "stage": "particles",
        "n_particles": t.rows(),
        "separation": rep,
        "voxel_um": spacing,
        "shape": shape,
        "extent_um": [shape[0] as f64 * spacing[0], shape[1] as f64 * spacing[1], shape[2] as f64 * spacing[2]],
        "damage_classes": class_counts(&t)?,
        "thresholds": p.thresholds,
        "truth_match": truth,
        "outputs": ["labels.tiff", "phases.tiff", "particles.csv", "particles.parquet"],
        "seconds": t0.elapsed().as_secs_f64(),
        "provenance": prov.to_json(),
    });
    dir.commit(&summary)?;
    Ok(summary)
}

fn class_counts(t: &Table) -> Result<serde_json::Value> {
    let c = t.str("damage_class")?;
    let n = |k: &str| c.iter().filter(|x| *x == k).count();
    Ok(serde_json::json!({"least": n("least"), "mild": n("mild"), "severe": n("severe")}))
}
