//! `chemomech segment VOLUME --voxel-um V --out PHASES.tiff`.

use crate::ui::Ui;
use chemomech_core::{Error, Result};
use chemomech_pipeline::stages::segment::{run as run_stage, Denoise, Method, Params};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Grey-level volume (TIFF, Zarr, HDF5, npy).
    pub volume: PathBuf,
    /// Voxel size in µm (required when the file states none).
    #[arg(long)]
    pub voxel_um: Option<f64>,
    /// Output phase volume (0 pore, 1 carbon-binder, 2 active).
    #[arg(long)]
    pub out: PathBuf,
    /// iso50 (3 phases at half-way grey levels between class medians; right
    /// extent of blurred particles), multiotsu (3 phases, variance split),
    /// otsu (2 phases) or rf (random forest).
    #[arg(long, default_value = "iso50")]
    pub method: String,
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
    pub denoise: String,
    /// Dataset inside a container file.
    #[arg(long)]
    pub dataset: Option<String>,
}

pub fn parse_denoise(s: &str) -> Result<Denoise> {
    let parts: Vec<&str> = s.split(':').collect();
    let num = |i: usize| -> Result<f64> { parts.get(i).and_then(|v| v.parse().ok()).ok_or_else(|| Error::param(format!("bad --denoise '{s}'"))) };
    Ok(match parts[0] {
        "none" => Denoise::None,
        "gaussian" => Denoise::Gaussian(num(1)?),
        "median" => Denoise::Median(num(1)? as usize),
        "bilateral" => Denoise::Bilateral(num(1)?, num(2)?),
        o => return Err(Error::param(format!("--denoise must be none, gaussian:S, median:R or bilateral:S:R, got '{o}'"))),
    })
}

/// The stage's work without printing (what `chemomech run` calls).
pub fn exec(a: &Args, progress: &dyn chemomech_core::Progress) -> Result<serde_json::Value> {
    let method = match a.method.as_str() {
        "otsu" => Method::Otsu,
        "multiotsu" | "multi-otsu" => Method::MultiOtsu,
        "iso50" => Method::Iso50,
        "rf" | "forest" => Method::Forest { train: a.train.clone(), model: a.model.clone(), save_model: a.save_model.clone() },
        o => return Err(Error::param(format!("--method must be otsu, multiotsu, iso50 or rf, got '{o}'"))),
    };
    if let Some(v) = a.voxel_um {
        if !(v > 0.0 && v.is_finite()) {
            return Err(Error::param("--voxel-um must be positive"));
        }
    }
    let p = Params { input: a.volume.clone(), dataset: a.dataset.clone(), voxel_um: a.voxel_um, method, denoise: parse_denoise(&a.denoise)? };
    run_stage(&p, &a.out, progress)
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    let s = exec(a, &ui.progress())?;
    ui.result(&s, || format!("segmented → {} (pore {:.3}, carbon-binder {:.3}, active {:.3})\n", a.out.display(), s["volume_fractions"]["pore"].as_f64().unwrap_or(0.0), s["volume_fractions"]["carbon_binder"].as_f64().unwrap_or(0.0), s["volume_fractions"]["active"].as_f64().unwrap_or(0.0)));
    Ok(())
}
