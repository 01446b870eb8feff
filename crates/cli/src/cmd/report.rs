//! `chemomech report --particles DIR [--stats DIR] [--volume V] [--xanes DIR] [--truth SIMDIR] --out DIR`.

use crate::ui::Ui;
use chemomech_core::Result;
use chemomech_pipeline::stages::report::{run as run_stage, Params};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output directory (report.html and figures/*.csv).
    #[arg(long)]
    pub out: PathBuf,
    /// Report title.
    #[arg(long, default_value = "")]
    pub title: String,
    /// Reconstructed volume (orthogonal slices; damage classes on a slice).
    #[arg(long)]
    pub volume: Option<PathBuf>,
    /// Output directory of `chemomech particles` (repeat for several samples: radar chart).
    #[arg(long)]
    pub particles: Vec<PathBuf>,
    /// Output directory of `chemomech stats`, one per --particles, same order.
    #[arg(long)]
    pub stats: Vec<PathBuf>,
    /// Sample names, one per --particles.
    #[arg(long)]
    pub sample: Vec<String>,
    /// Output directory of `chemomech xanes`.
    #[arg(long)]
    pub xanes: Option<PathBuf>,
    /// Output directory of `chemomech simulate` (ground-truth panel).
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

/// The stage's work without printing (what `chemomech run` calls).
pub fn exec(a: &Args, progress: &dyn chemomech_core::Progress) -> Result<serde_json::Value> {
    let p = Params { title: a.title.clone(), volume: a.volume.clone(), particles: a.particles.clone(), stats: a.stats.clone(), samples: a.sample.clone(), xanes: a.xanes.clone(), truth: a.truth.clone() };
    run_stage(&p, &a.out, progress)
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    let s = exec(a, &ui.progress())?;
    ui.result(&s, || format!("report with {} figures → {}\n", s["figures"].as_array().map(|f| f.len()).unwrap_or(0), a.out.join("report.html").display()));
    Ok(())
}
