//! `chemomech run PIPELINE.toml [--out DIR]` and `chemomech demo [--out DIR] [--preset small|medium]`.
//!
//! The stage kinds a pipeline can use are the stages of
//! [`chemomech_pipeline::stage::registry`]: their typed parameters are the
//! subcommands' options, so a TOML key is exactly a command-line option
//! (`window_um` = `--window-um`) and parses the same way.

use crate::ui::Ui;
use chemomech_core::{Error, Result};
use chemomech_pipeline::runner::{self, StageKind, StageRecord, StageSpec};
use chemomech_pipeline::stage::registry;
use chemomech_pipeline::stages::report::Summary as ReportSummary;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The pipeline of `chemomech demo` (a template: {preset}, {size}, {seed}, {crack_close_um}).
pub const DEMO_TOML: &str = include_str!("../../../../pipelines/demo.toml");

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Pipeline file (TOML): [pipeline] and [[stage]] tables.
    pub pipeline: PathBuf,
    /// Run directory (default: [pipeline] out, else PIPELINE-run beside the file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run the volume stages on a Dask cluster: its scheduler's address
    /// (tcp://host:8786), or `local` for a cluster on this machine. Needs the
    /// Python package with its Dask extra (`pip install 'chemomech[dask]'`);
    /// the Python interpreter is $CHEMOMECH_PYTHON, else python3.
    #[arg(long, value_name = "ADDRESS")]
    pub dask: Option<String>,
}

/// The electrodes the demo can simulate.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoPreset {
    Small,
    Medium,
}

impl DemoPreset {
    fn name(self) -> &'static str {
        match self {
            DemoPreset::Small => "small",
            DemoPreset::Medium => "medium",
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Output directory (run directory and report.html).
    #[arg(long, default_value = "chemomech-demo")]
    pub out: PathBuf,
    /// Simulator preset: small (under a minute on 2 cores) or medium.
    #[arg(long, value_enum, default_value_t = DemoPreset::Small)]
    pub preset: DemoPreset,
    /// Random seed of the simulated electrode.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Runs a parsed pipeline with per-stage progress and one line per stage.
fn execute(p: &runner::Pipeline, reg: &[StageKind], run_dir: &Path, ui: &Ui) -> Result<Value> {
    let bar = ui.progress();
    let mut events = |st: &StageSpec, rec: Option<&StageRecord>| match rec {
        None if ui.verbose > 0 => ui.info(format!("▸ {} ({})", st.name, st.kind)),
        None => {}
        Some(r) if r.cached => {
            ui.info(format!("= {:<12} cached ({:.1} s when run): {}", r.name, r.seconds, r.headline))
        }
        Some(r) => {
            ui.info(format!("✓ {:<12} {:>6.1} s  {}", r.name, r.seconds, r.headline));
            ui.warnings(&r.summary);
        }
    };
    runner::run(p, reg, run_dir, &bar, &mut events)
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    if let Some(address) = &a.dask {
        return run_on_dask(a, address, ui);
    }
    let reg = registry();
    let p = runner::parse(&a.pipeline, &reg)?;
    let run_dir = a.out.clone().unwrap_or_else(|| p.default_run_dir());
    let t0 = std::time::Instant::now();
    let v = execute(&p, &reg, &run_dir, ui)?;
    ui.result(&v, || {
        format!(
            "pipeline '{}': {} stages in {:.1} s → {} (run.json)\n",
            p.name,
            p.stages.len(),
            t0.elapsed().as_secs_f64(),
            run_dir.display()
        )
    });
    Ok(())
}

/// `chemomech run --dask ADDRESS`: the pipeline is checked here, then run by
/// the Python package's Dask runner (`python -m chemomech run`), which
/// drives this engine's runner with its stages on the cluster. Its exit
/// status is this command's.
fn run_on_dask(a: &Args, address: &str, ui: &Ui) -> Result<()> {
    runner::parse(&a.pipeline, &registry())?;
    let python = std::env::var_os("CHEMOMECH_PYTHON").unwrap_or_else(|| "python3".into());
    let missing = |why: String| {
        Error::param(format!(
            "--dask needs the Python package with its Dask extra (pip install 'chemomech[dask]'): {} {why}",
            python.to_string_lossy()
        ))
    };
    let probe = std::process::Command::new(&python)
        .args(["-c", "import chemomech.dask"])
        .output()
        .map_err(|e| missing(format!("cannot start: {e}")))?;
    if !probe.status.success() {
        let err = String::from_utf8_lossy(&probe.stderr);
        return Err(missing(format!("cannot import chemomech.dask: {}", err.trim().lines().last().unwrap_or(""))));
    }
    let mut cmd = std::process::Command::new(&python);
    cmd.args(["-m", "chemomech", "run"]).arg(&a.pipeline).args(["--dask", address]);
    if let Some(o) = &a.out {
        cmd.arg("--out").arg(o);
    }
    if ui.json {
        cmd.arg("--json");
    } else if ui.quiet {
        cmd.arg("--quiet");
    }
    let status = cmd.status().map_err(|e| missing(format!("cannot start: {e}")))?;
    if !status.success() {
        // The runner has printed its one-line error.
        std::process::exit(status.code().unwrap_or(1));
    }
    Ok(())
}

/// The demo's pipeline text for a preset.
pub fn demo_toml(preset: DemoPreset, seed: u64) -> Result<String> {
    let preset = preset.name();
    let cfg = chemomech_sim::config::preset(preset)?;
    let size = (cfg.electrode.lateral_um / cfg.electrode.voxel_um).round() as usize;
    let close = 2.5 * cfg.electrode.voxel_um;
    Ok(DEMO_TOML
        .replace("{preset}", preset)
        .replace("{size}", &size.to_string())
        .replace("{seed}", &seed.to_string())
        .replace("{crack_close_um}", &format!("{close:.3}")))
}

pub fn demo(a: &DemoArgs, ui: &Ui) -> Result<()> {
    let t0 = std::time::Instant::now();
    let text = demo_toml(a.preset, a.seed)?;
    std::fs::create_dir_all(&a.out).map_err(|e| Error::io(e).at(&a.out))?;
    let file = a.out.join("pipeline.toml");
    chemomech_io::atomic::write_bytes(&file, text.as_bytes())?;
    let reg = registry();
    let p = runner::parse(&file, &reg)?;
    let v = execute(&p, &reg, &a.out, ui)?;
    // The report at the top of the output directory, its data links pointing into report/.
    let html = std::fs::read_to_string(a.out.join("report/report.html"))
        .map_err(|e| Error::io(e).at(a.out.join("report/report.html")))?;
    let top = a.out.join("report.html");
    chemomech_io::atomic::write_bytes(&top, html.replace("href=\"figures/", "href=\"report/figures/").as_bytes())?;
    let secs = t0.elapsed().as_secs_f64();
    let mut out = v.clone();
    out["report"] = serde_json::json!(top);
    out["seconds"] = serde_json::json!(secs);
    ui.result(&out, || {
        let mut t = format!("demo ({}) in {secs:.1} s → {}\n", a.preset.name(), top.display());
        let report: Option<ReportSummary> = v["stages"]
            .as_array()
            .and_then(|s| s.iter().find(|r| r["run"] == "report"))
            .and_then(|r| serde_json::from_value(r["summary"].clone()).ok());
        if let Some(tm) = report.as_ref().and_then(|r| r.truth.particles.as_ref()) {
            let classes = tm.classes.as_ref().map(|c| c.class_accuracy).unwrap_or(f64::NAN);
            let soc = report.as_ref().and_then(|r| r.truth.soc.as_ref()).map(|s| s.soc_rmse).unwrap_or(f64::NAN);
            t.push_str(&format!(
                "  ground truth: {:.1} % of particles matched, damage classes {:.1} % right, SoC RMSE {soc:.3}\n",
                100.0 * tm.report.matched_fraction,
                100.0 * classes
            ));
        }
        t.push_str(&format!("  re-run (cached stages are skipped): chemomech run {}\n", file.display()));
        t
    });
    Ok(())
}
