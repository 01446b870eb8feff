//! `segment`: a grey-level volume → phases (0 pore, 1 carbon-binder, 2 active).

use crate::stage::PhaseFractions;
use chemomech_core::{DynArray, Error, Progress, Provenance, Result, Volume};
use chemomech_segment::classify::VoxelClassifier;
use chemomech_segment::phases::{ForestParams, PhaseDetails, PhaseMethod, segment_phases};
use ndarray::Array3;
use std::path::{Path, PathBuf};

pub use chemomech_segment::phases::Denoise;

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
    /// Voxel spacing (z, y, x) in µm (`voxel_um` in outputs of earlier versions).
    #[serde(alias = "voxel_um")]
    pub spacing_um: [f64; 3],
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
        (Some(s), _, _) | (None, false, Some(s)) => v.spacing_um = [s; 3],
        (None, false, None) => return Err(Error::param("the file states no voxel size; give --voxel-um").at(path)),
        (None, true, _) => {}
    }
    if v.spacing_um.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
        return Err(Error::param("voxel size must be positive").at(path));
    }
    Ok(v)
}

/// Segments a volume in memory: the method's files (training labels, a
/// saved model) are read, the library call
/// [`segment_phases`](chemomech_segment::phases::segment_phases) assigns
/// the phases, and a trained forest is saved where asked.
///
/// # Errors
/// Unreadable model or label files, and the library call's errors.
pub fn segment_volume(v: &Volume<f32>, method: &Method, denoise: Denoise) -> Result<(Array3<u8>, serde_json::Value)> {
    let forest = match method {
        Method::Forest { model: Some(m), .. } => {
            let text = std::fs::read_to_string(m).map_err(|e| Error::io(e).at(m))?;
            Some(Forest::Model(VoxelClassifier::from_json(&text).map_err(|e| e.at(m))?))
        }
        Method::Forest { train: Some(t), .. } => {
            Some(Forest::Labels(chemomech_io::read::read_volume::<u8>(t, None)?.0, t.clone()))
        }
        Method::Forest { .. } => {
            return Err(Error::param("--method rf needs --train LABELS.tiff or --model MODEL.json"));
        }
        Method::Otsu | Method::MultiOtsu | Method::Iso50 => None,
    };
    let how = match (&forest, method) {
        (Some(Forest::Model(clf)), _) => PhaseMethod::Apply(clf),
        (Some(Forest::Labels(lab, _)), _) => PhaseMethod::Train(lab.view(), ForestParams::default()),
        (None, Method::Otsu) => PhaseMethod::Otsu,
        (None, Method::MultiOtsu) => PhaseMethod::MultiOtsu,
        (None, _) => PhaseMethod::Iso50,
    };
    let (phases, details) = segment_phases(v.data.view(), v.spacing_um, &how, denoise).map_err(|e| match &forest {
        Some(Forest::Labels(_, t)) => e.at(t),
        _ => e,
    })?;
    let saved = match (&details, &forest) {
        (PhaseDetails::Forest { trained: Some(clf), .. }, _) | (_, Some(Forest::Model(clf))) => Some(clf),
        _ => None,
    };
    if let (Method::Forest { save_model: Some(s), .. }, Some(clf)) = (method, saved) {
        chemomech_io::atomic::write_bytes(s, clf.to_json()?.as_bytes())?;
    }
    Ok((phases, details.to_json()))
}

/// A random forest's input as read from its files: a saved model, or
/// sparse training labels (with their file, for errors).
enum Forest {
    Model(VoxelClassifier),
    Labels(Array3<u8>, PathBuf),
}

/// Segments `p.volume` into the phase volume `out` (TIFF; OME-Zarr when it
/// ends in `.zarr`). See [`Params`].
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
    crate::stage::write_image(out, DynArray::U8(phases.clone().into_dyn()), &v.spacing_um, &prov)?;
    let n = phases.len() as f64;
    let frac = |c: u8| phases.iter().filter(|&&x| x == c).count() as f64 / n;
    Ok(Summary {
        stage: "segment".into(),
        output: out.display().to_string(),
        shape: phases.shape().to_vec(),
        spacing_um: v.spacing_um,
        volume_fractions: PhaseFractions { pore: frac(0), carbon_binder: frac(1), active: frac(2) },
        method: info,
        seconds: t0.elapsed().as_secs_f64(),
        provenance: prov.to_json(),
    })
}

crate::value_enum_serde!(MethodName);
