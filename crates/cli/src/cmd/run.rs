//! `chemomech run PIPELINE.toml [--out DIR]` and `chemomech demo [--out DIR] [--preset small|medium]`.
//!
//! The stage kinds a pipeline can use are the subcommands themselves: the
//! registry is built from their clap definitions, so a TOML key is exactly a
//! command-line option (`window_um` = `--window-um`) and parses the same way.

use super::*;
use crate::ui::Ui;
use chemomech_core::{Error, Progress, Result};
use chemomech_pipeline::runner::{self, Arity, KeySpec, Output, StageKind, StageRecord, StageSpec};
use clap::FromArgMatches;
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
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Output directory (run directory and report.html).
    #[arg(long, default_value = "chemomech-demo")]
    pub out: PathBuf,
    /// Simulator preset: small (default, under a minute on 2 cores) or medium.
    #[arg(long, default_value = "small")]
    pub preset: String,
    /// Random seed of the simulated electrode.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn clap_line(e: &clap::Error) -> String {
    e.to_string().lines().next().unwrap_or("").trim_start_matches("error: ").to_string()
}

/// A stage kind from a subcommand's clap arguments and its `exec`.
fn kind<A: clap::Args + FromArgMatches + 'static>(name: &'static str, output: Output, exec: fn(&A, &dyn Progress) -> Result<Value>) -> StageKind {
    let cmd = move || A::augment_args(clap::Command::new(name)).disable_help_flag(true).disable_version_flag(true);
    let keys = cmd()
        .get_arguments()
        .map(|a| KeySpec {
            key: a.get_id().to_string(),
            long: if a.is_positional() { None } else { a.get_long().map(String::from) },
            arity: match a.get_action() {
                clap::ArgAction::SetTrue => Arity::Flag,
                clap::ArgAction::Append => Arity::Many,
                _ => Arity::One,
            },
            path: a.get_value_parser().type_id() == std::any::TypeId::of::<PathBuf>(),
            required: a.is_required_set(),
            // Files the stage writes: --out and every --save-….
            output: a.get_id() == "out" || a.get_id().as_str().starts_with("save_"),
        })
        .collect();
    let check: runner::Check = Box::new(move |argv: &[String]| {
        cmd().try_get_matches_from(argv).map(|_| ()).map_err(|e| {
            let opt = match e.get(clap::error::ContextKind::InvalidArg) {
                Some(clap::error::ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            (opt, clap_line(&e))
        })
    });
    let exec: runner::Exec = Box::new(move |argv: &[String], progress: &dyn Progress| {
        let m = cmd().try_get_matches_from(argv).map_err(|e| Error::param(clap_line(&e)))?;
        let a = A::from_arg_matches(&m).map_err(|e| Error::param(clap_line(&e)))?;
        exec(&a, progress)
    });
    StageKind { name: name.into(), keys, output, exec, check }
}

/// Every stage a pipeline can run.
pub fn registry() -> Vec<StageKind> {
    vec![
        kind::<simulate::Args>("simulate", Output::Dir, simulate::exec),
        kind::<reconstruct::Args>("reconstruct", Output::File("volume.tiff".into()), reconstruct::exec),
        kind::<segment::Args>("segment", Output::File("phases.tiff".into()), segment::exec),
        kind::<morph::Args>("morph", Output::File("morph.tiff".into()), morph::exec),
        kind::<particles::Args>("particles", Output::Dir, particles::exec),
        kind::<stats::Args>("stats", Output::Dir, stats::exec),
        kind::<xanes::Args>("xanes", Output::Dir, xanes::exec),
        kind::<report::Args>("report", Output::Dir, report::exec),
    ]
}

/// One line about a finished stage, from its summary.
fn headline(rec: &StageRecord) -> String {
    let s = &rec.summary;
    let f = |v: &Value| v.as_f64().map(|x| format!("{x:.3}")).unwrap_or("?".into());
    match rec.run.as_str() {
        "simulate" => format!("{} particles, classes {}", s["particles"], s["class_counts"]),
        "reconstruct" => format!("volume {} at centre {}", s["shape"], f(&s["center"])),
        "segment" => format!("pore {}, carbon-binder {}, active {}", f(&s["volume_fractions"]["pore"]), f(&s["volume_fractions"]["carbon_binder"]), f(&s["volume_fractions"]["active"])),
        "particles" => {
            let mut t = format!("{} particles, classes {}", s["n_particles"], s["damage_classes"]);
            if let Some(m) = s["truth_match"]["matched_fraction"].as_f64() {
                t.push_str(&format!("; matched to truth {:.1} %", 100.0 * m));
            }
            let c = &s["truth_match"]["classes"];
            if let Some(a) = c["class_accuracy"].as_f64() {
                t.push_str(&format!(", classes {:.1} % right", 100.0 * a));
            }
            if let Some(r) = c["detachment"]["cbd_contact_correlation"].as_f64() {
                t.push_str(&format!(", carbon-binder contact r {r:.2}"));
            }
            t
        }
        "stats" => format!("{} depth windows; pore tortuosity {}", s["depth_profile"].as_array().map(|a| a.len()).unwrap_or(0), f(&s["pore_tortuosity_z"]["tau"])),
        "xanes" => format!("{} frames; mean SoC {}", s["frames"], f(&s["maps"]["mean_soc"])),
        "report" => format!("{} figures", s["figures"].as_array().map(|a| a.len()).unwrap_or(0)),
        _ => String::new(),
    }
}

/// Runs a parsed pipeline with per-stage progress and one line per stage.
fn execute(p: &runner::Pipeline, reg: &[StageKind], run_dir: &Path, ui: &Ui) -> Result<Value> {
    let bar = ui.progress();
    let mut events = |st: &StageSpec, rec: Option<&StageRecord>| match rec {
        None if ui.verbose > 0 => ui.info(format!("▸ {} ({})", st.name, st.kind)),
        None => {}
        Some(r) if r.cached => ui.info(format!("= {:<12} cached ({:.1} s when run): {}", r.name, r.seconds, headline(r))),
        Some(r) => ui.info(format!("✓ {:<12} {:>6.1} s  {}", r.name, r.seconds, headline(r))),
    };
    runner::run(p, reg, run_dir, &bar, &mut events)
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    let reg = registry();
    let p = runner::parse(&a.pipeline, &reg)?;
    let run_dir = a.out.clone().or(p.out.clone()).unwrap_or_else(|| {
        let stem = a.pipeline.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or("pipeline".into());
        a.pipeline.with_file_name(format!("{stem}-run"))
    });
    let t0 = std::time::Instant::now();
    let v = execute(&p, &reg, &run_dir, ui)?;
    ui.result(&v, || format!("pipeline '{}': {} stages in {:.1} s → {} (run.json)\n", p.name, p.stages.len(), t0.elapsed().as_secs_f64(), run_dir.display()));
    Ok(())
}

/// The demo's pipeline text for a preset.
pub fn demo_toml(preset: &str, seed: u64) -> Result<String> {
    let cfg = chemomech_sim::config::preset(preset)?;
    if !matches!(preset, "small" | "medium") {
        return Err(Error::param(format!("--preset must be small or medium, got '{preset}'")));
    }
    let size = (cfg.electrode.lateral_um / cfg.electrode.voxel_um).round() as usize;
    let close = 2.5 * cfg.electrode.voxel_um;
    Ok(DEMO_TOML.replace("{preset}", preset).replace("{size}", &size.to_string()).replace("{seed}", &seed.to_string()).replace("{crack_close_um}", &format!("{close:.3}")))
}

pub fn demo(a: &DemoArgs, ui: &Ui) -> Result<()> {
    let t0 = std::time::Instant::now();
    let text = demo_toml(&a.preset, a.seed)?;
    std::fs::create_dir_all(&a.out).map_err(|e| Error::io(e).at(&a.out))?;
    let file = a.out.join("pipeline.toml");
    chemomech_io::atomic::write_bytes(&file, text.as_bytes())?;
    let reg = registry();
    let p = runner::parse(&file, &reg)?;
    let v = execute(&p, &reg, &a.out, ui)?;
    // The report at the top of the output directory, its data links pointing into report/.
    let html = std::fs::read_to_string(a.out.join("report/report.html")).map_err(|e| Error::io(e).at(a.out.join("report/report.html")))?;
    let top = a.out.join("report.html");
    chemomech_io::atomic::write_bytes(&top, html.replace("href=\"figures/", "href=\"report/figures/").as_bytes())?;
    let secs = t0.elapsed().as_secs_f64();
    let mut out = v.clone();
    out["report"] = serde_json::json!(top);
    out["seconds"] = serde_json::json!(secs);
    ui.result(&out, || {
        let mut t = format!("demo ({}) in {secs:.1} s → {}\n", a.preset, top.display());
        let truth = v["stages"].as_array().and_then(|s| s.iter().find(|r| r["run"] == "report")).map(|r| r["summary"]["truth"].clone()).unwrap_or_default();
        if let Some(m) = truth["particles"]["matched_fraction"].as_f64() {
            t.push_str(&format!("  ground truth: {:.1} % of particles matched, damage classes {:.1} % right, SoC RMSE {:.3}\n", 100.0 * m, 100.0 * truth["particles"]["classes"]["class_accuracy"].as_f64().unwrap_or(f64::NAN), truth["soc_rmse"].as_f64().unwrap_or(f64::NAN)));
        }
        t.push_str(&format!("  re-run (cached stages are skipped): chemomech run {}\n", file.display()));
        t
    });
    Ok(())
}
