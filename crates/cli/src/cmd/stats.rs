//! `chemomech stats DIR [--window-um 10]`.

use crate::ui::Ui;
use chemomech_core::Result;
use chemomech_pipeline::stages::stats::{run as run_stage, Params};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output directory of `chemomech particles`.
    pub dir: PathBuf,
    /// Depth window (µm) from separator to current collector.
    #[arg(long, default_value_t = 10.0)]
    pub window_um: f64,
    /// k of the nearest-neighbour network of severely damaged particles.
    #[arg(long, default_value_t = 3)]
    pub k: usize,
    /// Output directory (default: write beside the particles in DIR).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Skip the pore tortuosity.
    #[arg(long)]
    pub no_tortuosity: bool,
}

/// The stage's work without printing (what `chemomech run` calls).
pub fn exec(a: &Args, progress: &dyn chemomech_core::Progress) -> Result<serde_json::Value> {
    let p = Params { window_um: a.window_um, k: a.k, tortuosity: !a.no_tortuosity, ..Default::default() };
    run_stage(&a.dir, &p, a.out.as_deref(), progress)
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    let s = exec(a, &ui.progress())?;
    ui.result(&s, || {
        let mut t = format!("{} particles; depth profile (µm: severe fraction [95% CI]):\n", s["particles"]);
        for w in s["depth_profile"].as_array().into_iter().flatten() {
            t.push_str(&format!(
                "  {:>5.1}–{:<5.1} n={:<4} severe {:.2} [{:.2}, {:.2}]  mean crack fraction {:.3}\n",
                w["z_from_um"].as_f64().unwrap_or(0.0),
                w["z_to_um"].as_f64().unwrap_or(0.0),
                w["particles"],
                w["fraction_severe"].as_f64().unwrap_or(f64::NAN),
                w["severe_ci95"][0].as_f64().unwrap_or(f64::NAN),
                w["severe_ci95"][1].as_f64().unwrap_or(f64::NAN),
                w["mean_crack_fraction"].as_f64().unwrap_or(f64::NAN)
            ));
        }
        if let Some(tau) = s["pore_tortuosity_z"]["tau"].as_f64() {
            t.push_str(&format!("  pore tortuosity factor (z): {tau:.3}\n"));
        }
        t
    });
    Ok(())
}
