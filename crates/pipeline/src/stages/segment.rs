//! `segment`: a grey-level volume → phases (0 pore, 1 carbon-binder, 2 active).

use chemomech_core::{DynArray, Error, Progress, Provenance, Result, Volume};
use chemomech_io::tiffio::{write_tiff, TiffOptions};
use chemomech_io::{open_with, Dataset, OpenOptions};
use chemomech_segment::classify::{train, FeatureBank, VoxelClassifier};
use chemomech_segment::{filters, iso50_3, multi_otsu};
use ndarray::Array3;
use std::path::{Path, PathBuf};

/// Denoising before thresholding.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Denoise {
    None,
    /// Gaussian σ in µm.
    Gaussian(f64),
    /// Median over a (2r+1)³ cube.
    Median(usize),
    /// Bilateral (σ spatial µm, σ range as a fraction of the data's spread).
    Bilateral(f64, f64),
}

/// How phases are assigned.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Method {
    /// Otsu: two phases (pore, active).
    Otsu,
    /// Multi-Otsu: three phases by increasing grey value.
    MultiOtsu,
    /// Three phases at ISO-50 % edges between class medians
    /// ([`chemomech_segment::iso50_3`]): the active phase's extent is
    /// right on blurred data, where multi-Otsu shrinks it.
    Iso50,
    /// Random forest trained on a sparse label volume (0 unlabelled, 1 pore, 2 carbon-binder, 3 active),
    /// or a saved model.
    Forest { train: Option<PathBuf>, model: Option<PathBuf>, save_model: Option<PathBuf> },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Params {
    pub input: PathBuf,
    pub dataset: Option<String>,
    /// Voxel size (µm) when the file does not state it (or to override).
    pub voxel_um: Option<f64>,
    pub method: Method,
    pub denoise: Denoise,
}

/// Reads a volume as `f32` with its voxel size.
pub fn read_volume(path: &Path, dataset: Option<String>, voxel_um: Option<f64>) -> Result<Volume<f32>> {
    read_volume_or(path, dataset, voxel_um, None)
}

/// [`read_volume`], taking `unstated` µm voxels (when given) for a file
/// that states no voxel size instead of refusing it.
pub fn read_volume_or(path: &Path, dataset: Option<String>, voxel_um: Option<f64>, unstated: Option<f64>) -> Result<Volume<f32>> {
    match open_with(path, &OpenOptions { dataset, ..Default::default() })? {
        Dataset::Raster(r) => {
            let mut v = r.to_volume_f32().map_err(|e| e.at(path))?;
            match (voxel_um, r.spacing_um.is_some(), unstated) {
                (Some(s), _, _) | (None, false, Some(s)) => v.voxel_um = [s; 3],
                (None, false, None) => return Err(Error::param("the file states no voxel size; give --voxel-um").at(path)),
                (None, true, _) => {}
            }
            if v.voxel_um.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
                return Err(Error::param("voxel size must be positive").at(path));
            }
            Ok(v)
        }
        other => Err(Error::data(format!("expected a volume, found a {}", other.kind())).at(path)),
    }
}

/// Segments a volume in memory (the library entry point of this stage).
pub fn segment_volume(v: &Volume<f32>, method: &Method, denoise: Denoise) -> Result<(Array3<u8>, serde_json::Value)> {
    let sp = v.voxel_um;
    let nonfinite = v.data.iter().filter(|x| !x.is_finite()).count();
    if nonfinite == v.data.len() {
        return Err(Error::data("the volume holds no finite value"));
    }
    let data = match denoise {
        Denoise::None => v.data.clone(),
        Denoise::Gaussian(s) => filters::gaussian(v.data.view(), s, sp),
        Denoise::Median(r) => filters::median(v.data.view(), r),
        Denoise::Bilateral(s, r) => {
            let vals: Vec<f32> = v.data.iter().cloned().filter(|x| x.is_finite()).collect();
            let (lo, hi) = vals.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            filters::bilateral(v.data.view(), s, r * (hi - lo) as f64, sp, 2)
        }
    };
    let (phases, info) = match method {
        Method::Otsu | Method::MultiOtsu | Method::Iso50 => {
            let classes = if matches!(method, Method::Otsu) { 2 } else { 3 };
            let vals: Vec<f32> = data.iter().cloned().filter(|x| x.is_finite()).collect();
            let t = if matches!(method, Method::Iso50) { iso50_3(&vals)?.to_vec() } else { multi_otsu(&vals, classes)? };
            let ph = data.mapv(|x| {
                if !x.is_finite() || (x as f64) <= t[0] {
                    0u8
                } else if classes == 2 || (x as f64) > t[1] {
                    2
                } else {
                    1
                }
            });
            (ph, serde_json::json!({"thresholds": t}))
        }
        Method::Forest { train: tr, model, save_model } => {
            let clf = match (tr, model) {
                (_, Some(m)) => VoxelClassifier::from_json(&std::fs::read_to_string(m).map_err(|e| Error::io(e).at(m))?).map_err(|e| e.at(m))?,
                (Some(t), None) => {
                    let lab = match chemomech_io::open(t)? {
                        Dataset::Raster(r) => r.data.to_f32().mapv(|x| x as u8).into_dimensionality::<ndarray::Ix3>().map_err(|e| chemomech_core::Error::from(e).at(t))?,
                        other => return Err(Error::data(format!("expected a label volume, found a {}", other.kind())).at(t)),
                    };
                    train(data.view(), lab.view(), sp, FeatureBank::for_voxel(sp[0]), 50, 1, 20_000).map_err(|e| e.at(t))?
                }
                (None, None) => return Err(Error::param("--method rf needs --train LABELS.tiff or --model MODEL.json")),
            };
            if let Some(s) = save_model {
                chemomech_io::atomic::write_bytes(s, clf.to_json()?.as_bytes())?;
            }
            // Training labels 1/2/3 (pore/carbon-binder/active) → phases 0/1/2.
            let pred = clf.predict(data.view())?;
            (pred.mapv(|c| c.saturating_sub(1).min(2)), serde_json::json!({"classes": clf.classes}))
        }
    };
    Ok((phases, info))
}

pub fn run(p: &Params, out: &Path, progress: &dyn Progress) -> Result<serde_json::Value> {
    chemomech_io::atomic::ensure_not_input(out, &[&p.input])?;
    let t0 = std::time::Instant::now();
    let mut prov = Provenance::start("segment", serde_json::to_value(p)?);
    prov.add_input(&p.input)?;
    progress.start("segmenting", 1);
    let v = read_volume(&p.input, p.dataset.clone(), p.voxel_um)?;
    let (phases, info) = segment_volume(&v, &p.method, p.denoise)?;
    progress.finish();
    prov.finish();
    write_tiff(out, &DynArray::U8(phases.clone().into_dyn()), Some(&v.voxel_um), Some(&prov), TiffOptions::default())?;
    let n = phases.len() as f64;
    let frac = |c: u8| phases.iter().filter(|&&x| x == c).count() as f64 / n;
    Ok(serde_json::json!({
        "stage": "segment",
        "output": out.display().to_string(),
        "shape": phases.shape(),
        "voxel_um": v.voxel_um,
        "volume_fractions": {"pore": frac(0), "carbon_binder": frac(1), "active": frac(2)},
        "method": info,
        "seconds": t0.elapsed().as_secs_f64(),
        "provenance": prov.to_json(),
    }))
}
