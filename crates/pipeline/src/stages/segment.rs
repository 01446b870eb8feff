//! `segment`: a grey-level volume → phases (0 pore, 1 carbon-binder, 2 active).

use crate::stage::PhaseFractions;
use chemomech_core::{DynArray, Error, Progress, Provenance, Result, Volume};
use chemomech_imgproc::filters;
use chemomech_io::tiffio::{TiffOptions, write_tiff};
use chemomech_segment::classify::{FeatureBank, VoxelClassifier, train};
use chemomech_segment::{iso50_3, multi_otsu};
use ndarray::Array3;
use std::path::{Path, PathBuf};

/// Denoising before thresholding.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub enum Denoise {
    /// No denoising.
    #[default]
    None,
    /// Gaussian σ in µm.
    Gaussian(f64),
    /// Median over a (2r+1)³ cube.
    Median(usize),
    /// Bilateral (σ spatial µm, σ range as a fraction of the data's spread).
    Bilateral(f64, f64),
}

/// How phases are assigned.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    Forest {
        /// Sparse training label volume.
        train: Option<PathBuf>,
        /// A saved model to apply instead of training.
        model: Option<PathBuf>,
        /// Where to save the trained model (JSON).
        save_model: Option<PathBuf>,
    },
}

impl std::fmt::Display for Denoise {
    /// `none`, `gaussian:S`, `median:R`, `bilateral:S:R`: what [`str::parse`] reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denoise::None => f.write_str("none"),
            Denoise::Gaussian(s) => write!(f, "gaussian:{s}"),
            Denoise::Median(r) => write!(f, "median:{r}"),
            Denoise::Bilateral(s, r) => write!(f, "bilateral:{s}:{r}"),
        }
    }
}

impl std::str::FromStr for Denoise {
    type Err = Error;
    /// `none`, `gaussian:SIGMA_UM`, `median:R`, `bilateral:SIGMA_UM:RANGE_FRACTION`.
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let num = |i: usize| -> Result<f64> {
            parts.get(i).and_then(|v| v.parse().ok()).ok_or_else(|| Error::param(format!("bad denoising '{s}'")))
        };
        Ok(match parts[0] {
            "none" => Denoise::None,
            "gaussian" => Denoise::Gaussian(num(1)?),
            "median" => Denoise::Median(num(1)? as usize),
            "bilateral" => Denoise::Bilateral(num(1)?, num(2)?),
            o => {
                return Err(Error::param(format!(
                    "denoising must be none, gaussian:S, median:R or bilateral:S:R, got '{o}'"
                )));
            }
        })
    }
}

/// How phases are assigned, as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MethodName {
    /// 3 phases at half-way grey levels between class medians (right extent of blurred particles).
    #[default]
    Iso50,
    /// 3 phases, variance split.
    #[value(alias = "multi-otsu")]
    Multiotsu,
    /// 2 phases (pore, active).
    Otsu,
    /// Random forest on an ilastik-style feature bank (needs --train or --model).
    #[value(alias = "forest")]
    Rf,
}

/// What `segment` does: a grey-level volume → phases (0 pore, 1 carbon-binder, 2 active).
#[derive(Debug, Clone, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Grey-level volume (TIFF, Zarr, HDF5, npy).
    pub volume: PathBuf,
    /// Voxel size in µm (required when the file states none).
    #[arg(long)]
    pub voxel_um: Option<f64>,
    /// Segmentation method.
    #[arg(long, value_enum, default_value_t = MethodName::Iso50)]
    pub method: MethodName,
    /// Sparse training labels for rf (0 unlabelled, 1 pore, 2 carbon-binder, 3 active).
    #[arg(long)]
    pub train: Option<PathBuf>,
    /// A trained rf model to apply.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Save the trained rf model here (JSON).
    #[arg(long)]
    pub save_model: Option<PathBuf>,
    /// Denoising: none, gaussian:SIGMA_UM, median:R, bilateral:SIGMA_UM:RANGE_FRACTION.
    #[arg(long, default_value = "none")]
    #[serde(with = "crate::params::text")]
    pub denoise: Denoise,
    /// Dataset inside a container file.
    #[arg(long)]
    pub dataset: Option<String>,
}

impl Params {
    /// The method with its files.
    pub fn method(&self) -> Method {
        match self.method {
            MethodName::Otsu => Method::Otsu,
            MethodName::Multiotsu => Method::MultiOtsu,
            MethodName::Iso50 => Method::Iso50,
            MethodName::Rf => Method::Forest {
                train: self.train.clone(),
                model: self.model.clone(),
                save_model: self.save_model.clone(),
            },
        }
    }
}

/// What `segment` reports.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// The stage that wrote it (`segment`).
    pub stage: String,
    /// The phase volume written.
    pub output: String,
    /// Shape of the phase volume (z, y, x) in voxels.
    pub shape: Vec<usize>,
    /// Voxel size (z, y, x) in µm.
    pub voxel_um: [f64; 3],
    /// Volume fractions of the three phases.
    pub volume_fractions: PhaseFractions,
    /// The method's details (thresholds, or the forest's classes).
    pub method: serde_json::Value,
    /// Wall-clock seconds of the stage.
    pub seconds: f64,
    /// Provenance of the run (tool, version, command, parameters, inputs).
    pub provenance: serde_json::Value,
}

/// The `segment` stage.
pub struct Segment;

impl crate::stage::Stage for Segment {
    const NAME: &'static str = "segment";
    const OUTPUT: crate::runner::Output = crate::runner::Output::File("phases.tiff");
    type Params = Params;
    type Summary = Summary;
    fn run(params: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
        run(params, out, progress)
    }
    fn headline(s: &Summary) -> String {
        let f = &s.volume_fractions;
        format!("pore {:.3}, carbon-binder {:.3}, active {:.3}", f.pore, f.carbon_binder, f.active)
    }
}

/// Reads a volume as `f32` with its voxel size.
pub fn read_volume(path: &Path, dataset: Option<String>, voxel_um: Option<f64>) -> Result<Volume<f32>> {
    read_volume_or(path, dataset, voxel_um, None)
}

/// [`read_volume`], taking `unstated` µm voxels (when given) for a file
/// that states no voxel size instead of refusing it.
pub fn read_volume_or(
    path: &Path,
    dataset: Option<String>,
    voxel_um: Option<f64>,
    unstated: Option<f64>,
) -> Result<Volume<f32>> {
    let r = chemomech_io::read::read_raster(path, dataset)?;
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
            let t =
                if matches!(method, Method::Iso50) { iso50_3(&vals)?.to_vec() } else { multi_otsu(&vals, classes)? };
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
                (_, Some(m)) => {
                    VoxelClassifier::from_json(&std::fs::read_to_string(m).map_err(|e| Error::io(e).at(m))?)
                        .map_err(|e| e.at(m))?
                }
                (Some(t), None) => {
                    let lab = chemomech_io::read::read_volume::<u8>(t, None)?.0;
                    train(data.view(), lab.view(), sp, FeatureBank::for_voxel(sp[0]), 50, 1, 20_000)
                        .map_err(|e| e.at(t))?
                }
                (None, None) => {
                    return Err(Error::param("--method rf needs --train LABELS.tiff or --model MODEL.json"));
                }
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

/// Segments `p.volume` into the phase volume `out` (TIFF). See [`Params`].
pub fn run(p: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
    chemomech_io::atomic::ensure_not_input(out, &[&p.volume])?;
    if let Some(v) = p.voxel_um
        && !(v > 0.0 && v.is_finite())
    {
        return Err(Error::param("--voxel-um must be positive"));
    }
    let t0 = std::time::Instant::now();
    let mut prov = Provenance::start("segment", serde_json::to_value(p)?);
    prov.add_input(&p.volume)?;
    progress.start("segmenting", 1);
    let v = read_volume(&p.volume, p.dataset.clone(), p.voxel_um)?;
    let (phases, info) = segment_volume(&v, &p.method(), p.denoise)?;
    progress.finish();
    prov.finish();
    write_tiff(out, &DynArray::U8(phases.clone().into_dyn()), Some(&v.voxel_um), Some(&prov), TiffOptions::default())?;
    let n = phases.len() as f64;
    let frac = |c: u8| phases.iter().filter(|&&x| x == c).count() as f64 / n;
    Ok(Summary {
        stage: "segment".into(),
        output: out.display().to_string(),
        shape: phases.shape().to_vec(),
        voxel_um: v.voxel_um,
        volume_fractions: PhaseFractions { pore: frac(0), carbon_binder: frac(1), active: frac(2) },
        method: info,
        seconds: t0.elapsed().as_secs_f64(),
        provenance: prov.to_json(),
    })
}

crate::value_enum_serde!(MethodName);
