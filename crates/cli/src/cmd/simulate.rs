//! `chemomech simulate`: a virtual cycled NMC electrode and its synchrotron
//! measurements, with ground truth.

use crate::ui::Ui;
use chemomech_core::Result;
use chemomech_pipeline::stages::simulate::{run as run_stage, Params};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Simulator configuration (TOML); its values override the preset.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Preset(s), comma-separated: small (default), medium, large, tiny; cycles_50; holo.
    #[arg(long, default_value = "small")]
    pub preset: String,
    /// Random seed (same seed, same arrays, whatever the thread count).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// The stage's work without printing (what `chemomech run` calls).
pub fn exec(a: &Args, progress: &dyn chemomech_core::Progress) -> Result<serde_json::Value> {
    let p = Params { config: a.config.clone(), preset: a.preset.clone(), seed: a.seed };
    run_stage(&p, &a.out, progress)
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    let s = exec(a, &ui.progress())?;
    ui.result(&s, || {
        format!(
            "simulated {} particles in {:.1} s → {}\n  volume fractions: pore {:.3}, carbon-binder {:.3}, active {:.3}\n  damage classes: {}\n",
            s["particles"],
            s["seconds"].as_f64().unwrap_or(0.0),
            a.out.display(),
            s["volume_fractions"]["pore"].as_f64().unwrap_or(0.0),
            s["volume_fractions"]["carbon_binder"].as_f64().unwrap_or(0.0),
            s["volume_fractions"]["active"].as_f64().unwrap_or(0.0),
            s["class_counts"]
        )
    });
    Ok(())
}
