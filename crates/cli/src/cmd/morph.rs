//! `chemomech morph label|edt|median|watershed VOLUME --out OUT.tiff`.

use crate::ui::Ui;
use chemomech_core::{Error, Result};
use chemomech_pipeline::stages::morph::{run as run_stage, Op, Params};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// label (connected components), edt (distance map, µm), median, or watershed (distance-map watershed).
    pub op: String,
    /// Input volume (TIFF, Zarr, HDF5, npy).
    pub volume: PathBuf,
    /// Output TIFF: label → 16-bit labels up to 65 535 components, else 32-bit; watershed → 32-bit labels; edt, median → f32.
    #[arg(long)]
    pub out: PathBuf,
    /// Mask = voxels equal to this value (default: non-zero voxels).
    #[arg(long)]
    pub phase: Option<f64>,
    /// Voxel size in µm (default: the file's, else 1).
    #[arg(long)]
    pub voxel_um: Option<f64>,
    /// 6, 18 or 26 (label).
    #[arg(long, default_value = "26")]
    pub connectivity: String,
    /// Median over a (2r+1)³ cube (median).
    #[arg(long, default_value = "1")]
    pub radius: usize,
    /// Minimum depth (µm) of a distance-map peak to seed a region (watershed).
    #[arg(long, default_value = "1.0")]
    pub h_um: f64,
    /// Dataset inside a container file.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Benchmarking: compute this many times in this process; `seconds_compute` is the fastest, `seconds_runs` lists all.
    #[arg(long, default_value = "1")]
    pub repeat: usize,
}

/// The stage's work without printing (what `chemomech run` calls).
pub fn exec(a: &Args, progress: &dyn chemomech_core::Progress) -> Result<serde_json::Value> {
    let op = match a.op.as_str() {
        "label" => Op::Label(a.connectivity.parse()?),
        "edt" => Op::Edt,
        "median" => Op::Median(a.radius),
        "watershed" => Op::Watershed { h_um: a.h_um },
        o => return Err(Error::param(format!("morph: the operation must be label, edt, median or watershed, got '{o}'"))),
    };
    run_stage(&Params { input: a.volume.clone(), dataset: a.dataset.clone(), voxel_um: a.voxel_um, op, phase: a.phase, repeat: a.repeat }, &a.out, progress)
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    let s = exec(a, &ui.progress())?;
    ui.result(&s, || format!("{} → {} in {:.2} s\n", a.op, a.out.display(), s["seconds_compute"].as_f64().unwrap_or(0.0)));
    Ok(())
}
