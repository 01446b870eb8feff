//! A grey-level volume → phases (0 pore, 1 carbon-binder, 2 active): the
//! library call behind `chemomech segment`, with its denoising.

use crate::classify::{FeatureBank, VoxelClassifier, train};
use crate::{iso50_3, multi_otsu};
use chemomech_core::{Error, Result};
use chemomech_imgproc::filters;
use ndarray::{Array3, ArrayView3};

/// Denoising before the phases are assigned.
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

/// How a random forest is trained on sparse labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForestParams {
    /// Trees in the forest.
    pub trees: u16,
    /// Seed of the bootstrap and feature draws (same seed, same forest).
    pub seed: u64,
    /// Labelled voxels drawn for training at most (evenly spaced).
    pub max_samples: usize,
}

impl Default for ForestParams {
    /// 50 trees, seed 1, at most 20 000 labelled voxels.
    fn default() -> Self {
        Self { trees: 50, seed: 1, max_samples: 20_000 }
    }
}

/// How phases are assigned.
pub enum PhaseMethod<'a> {
    /// Otsu: two phases (pore, active).
    Otsu,
    /// Multi-Otsu: three phases by increasing grey value.
    MultiOtsu,
    /// Three phases at ISO-50 % edges between class medians ([`iso50_3`]):
    /// the active phase's extent is right on blurred data, where multi-Otsu
    /// shrinks it.
    Iso50,
    /// A random forest trained here on sparse labels (0 unlabelled,
    /// 1 pore, 2 carbon-binder, 3 active; same grid as the volume).
    Train(ArrayView3<'a, u8>, ForestParams),
    /// A trained random forest.
    Apply(&'a VoxelClassifier),
}

/// What [`segment_phases`] found besides the phases.
pub enum PhaseDetails {
    /// The grey-level thresholds of a threshold method.
    Thresholds(Vec<f64>),
    /// A forest assigned the phases.
    Forest {
        /// The forest's training classes.
        classes: Vec<u8>,
        /// The forest, when trained here (to save it).
        trained: Option<VoxelClassifier>,
    },
}

impl PhaseDetails {
    /// As the `segment` stage reports it: `{"thresholds": […]}` or `{"classes": […]}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            PhaseDetails::Thresholds(t) => serde_json::json!({ "thresholds": t }),
            PhaseDetails::Forest { classes, .. } => serde_json::json!({ "classes": classes }),
        }
    }
}

/// The volume denoised as asked (a copy when `Denoise::None`).
pub fn denoise(vol: ArrayView3<f32>, spacing_um: [f64; 3], how: Denoise) -> Array3<f32> {
    match how {
        Denoise::None => vol.to_owned(),
        Denoise::Gaussian(s) => filters::gaussian(vol, s, spacing_um),
        Denoise::Median(r) => filters::median(vol, r),
        Denoise::Bilateral(s, r) => {
            let (lo, hi) = vol
                .iter()
                .filter(|x| x.is_finite())
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            filters::bilateral(vol, s, r * (hi - lo) as f64, spacing_um, 2)
        }
    }
}

/// Phases of a grey-level volume: 0 pore, 1 carbon-binder, 2 active
/// (two-phase methods give 0 and 2). Non-finite voxels are pore.
///
/// # Parameters
/// - `vol`: grey levels (any units; brighter is denser).
/// - `spacing_um`: voxel size (z, y, x) in µm (denoising and forest features).
/// - `method`: thresholds, or a random forest to train or apply.
/// - `how`: denoising before the phases are assigned.
///
/// # Errors
/// A volume with no finite value; training labels of another shape or
/// marking fewer than two classes.
///
/// # Example
/// ```
/// use chemomech_segment::phases::{Denoise, PhaseMethod, segment_phases};
/// let v = ndarray::Array3::from_shape_fn((4, 8, 8), |(_, _, x)| [0.0f32, 0.4, 1.0][x * 3 / 8]);
/// let (ph, _) = segment_phases(v.view(), [1.0; 3], &PhaseMethod::Iso50, Denoise::None).unwrap();
/// assert_eq!((ph[[0, 0, 0]], ph[[0, 0, 4]], ph[[0, 0, 7]]), (0, 1, 2));
/// ```
pub fn segment_phases(
    vol: ArrayView3<f32>,
    spacing_um: [f64; 3],
    method: &PhaseMethod,
    how: Denoise,
) -> Result<(Array3<u8>, PhaseDetails)> {
    if !vol.iter().any(|x| x.is_finite()) {
        return Err(Error::data("the volume holds no finite value"));
    }
    let data = denoise(vol, spacing_um, how);
    match method {
        PhaseMethod::Otsu | PhaseMethod::MultiOtsu | PhaseMethod::Iso50 => {
            let vals: Vec<f32> = data.iter().cloned().filter(|x| x.is_finite()).collect();
            let t = match method {
                PhaseMethod::Iso50 => iso50_3(&vals)?.to_vec(),
                PhaseMethod::Otsu => multi_otsu(&vals, 2)?,
                _ => multi_otsu(&vals, 3)?,
            };
            let two = matches!(method, PhaseMethod::Otsu);
            Ok((threshold_phases(data.view(), &t, two), PhaseDetails::Thresholds(t)))
        }
        PhaseMethod::Train(labels, fp) => {
            let bank = FeatureBank::for_voxel(spacing_um[0]);
            let clf = train(data.view(), labels.view(), spacing_um, bank, fp.trees, fp.seed, fp.max_samples)?;
            let phases = forest_phases(&clf, data.view())?;
            Ok((phases, PhaseDetails::Forest { classes: clf.classes.clone(), trained: Some(clf) }))
        }
        PhaseMethod::Apply(clf) => {
            let phases = forest_phases(clf, data.view())?;
            Ok((phases, PhaseDetails::Forest { classes: clf.classes.clone(), trained: None }))
        }
    }
}

/// Phases at thresholds `t` (one for two phases, two for three).
fn threshold_phases(data: ArrayView3<f32>, t: &[f64], two: bool) -> Array3<u8> {
    data.mapv(|x| {
        if !x.is_finite() || (x as f64) <= t[0] {
            0u8
        } else if two || (x as f64) > t[1] {
            2
        } else {
            1
        }
    })
}

/// Phases predicted by a forest: training labels 1/2/3 (pore/carbon-binder/active) → phases 0/1/2.
fn forest_phases(clf: &VoxelClassifier, data: ArrayView3<f32>) -> Result<Array3<u8>> {
    Ok(clf.predict(data)?.mapv(|c| c.saturating_sub(1).min(2)))
}
