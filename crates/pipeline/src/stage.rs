//! The stage contract: every step of the chain is a typed library call.
//!
//! A stage has typed [`Stage::Params`] (serde + clap derive: the TOML keys
//! of a pipeline, the options of `chemomech <stage>` and, later, the keyword
//! arguments of the Python functions are one definition), a typed
//! [`Stage::Summary`] (serde), and [`Stage::run`]. The CLI flattens the
//! parameters into its subcommand and only parses, prints and sets exit
//! codes; the pipeline runner calls the same `run` through [`registry`].

use crate::runner::{self, Arity, KeySpec, Output, StageKind};
use chemomech_core::{Error, Progress, Result};
use clap::{Args, FromArgMatches};
use std::path::{Path, PathBuf};

/// One stage of the chain.
pub trait Stage {
    /// The stage's name: `run = "NAME"` in a pipeline, `chemomech NAME` on the command line.
    const NAME: &'static str;
    /// What the stage writes into `out`: a directory, or one file (its default name).
    const OUTPUT: Output;
    /// What the stage is asked to do: typed, with defaults, parsed by clap
    /// (command line and pipeline files) and serde (JSON, Python).
    type Params: clap::Args
        + FromArgMatches
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static;
    /// What the stage reports: written as `stage.json` and printed with `--json`.
    type Summary: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug;

    /// Runs the stage, writing its outputs into `out` (a directory, or the
    /// one file of a [`Output::File`] stage) atomically, with provenance.
    ///
    /// # Errors
    /// One-line errors naming the file and the problem (bad input, bad
    /// parameters, I/O); nothing is left half-written.
    fn run(params: &Self::Params, out: &Path, progress: &dyn Progress) -> Result<Self::Summary>;

    /// One line for people about a finished run.
    fn headline(summary: &Self::Summary) -> String;
}

/// Volume fractions of the three phases.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct PhaseFractions {
    /// Volume fraction of pore.
    pub pore: f64,
    /// Volume fraction of carbon-binder.
    pub carbon_binder: f64,
    /// Volume fraction of active material.
    pub active: f64,
}

/// Particles per damage class.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct ClassCounts {
    /// Particles in the least damaged class.
    pub least: u64,
    /// Particles in the mildly damaged class.
    pub mild: u64,
    /// Particles in the severely damaged class.
    pub severe: u64,
}

impl std::fmt::Display for ClassCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "least {}, mild {}, severe {}", self.least, self.mild, self.severe)
    }
}

/// The first line of a clap error, without its `error: ` prefix.
pub fn clap_line(e: &clap::Error) -> String {
    e.to_string().lines().next().unwrap_or("").trim_start_matches("error: ").to_string()
}

/// The clap command of a stage as the pipeline runner calls it: the
/// stage's parameters plus `--out`.
fn command<S: Stage>() -> clap::Command {
    let out = clap::Arg::new("out")
        .long("out")
        .required(true)
        .value_parser(clap::value_parser!(PathBuf))
        .help("Output (directory, or file of a one-file stage).");
    S::Params::augment_args(clap::Command::new(S::NAME)).arg(out).disable_help_flag(true).disable_version_flag(true)
}

/// A stage kind for the pipeline runner, from the stage's clap definition.
pub fn kind<S: Stage>() -> StageKind {
    let keys = command::<S>()
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
        command::<S>().try_get_matches_from(argv).map(|_| ()).map_err(|e| {
            let opt = match e.get(clap::error::ContextKind::InvalidArg) {
                Some(clap::error::ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            (opt, clap_line(&e))
        })
    });
    let exec: runner::Exec = Box::new(move |argv: &[String], progress: &dyn Progress| {
        let m = command::<S>().try_get_matches_from(argv).map_err(|e| Error::param(clap_line(&e)))?;
        let params = S::Params::from_arg_matches(&m).map_err(|e| Error::param(clap_line(&e)))?;
        let out = m.get_one::<PathBuf>("out").ok_or_else(|| Error::param("--out is required"))?;
        let summary = S::run(&params, out, progress)?;
        Ok(runner::Finished { headline: S::headline(&summary), summary: serde_json::to_value(&summary)? })
    });
    let headline: runner::Headline = Box::new(|v: &serde_json::Value| {
        serde_json::from_value::<S::Summary>(v.clone()).map(|s| S::headline(&s)).unwrap_or_default()
    });
    StageKind { name: S::NAME.into(), keys, output: S::OUTPUT, exec, check, headline }
}

/// Every stage a pipeline can run, in the order of the chain.
pub fn registry() -> Vec<StageKind> {
    use crate::stages::*;
    vec![
        kind::<simulate::Simulate>(),
        kind::<phantom::Phantom>(),
        kind::<reconstruct::Reconstruct>(),
        kind::<segment::Segment>(),
        kind::<morph::Morph>(),
        kind::<particles::Particles>(),
        kind::<stats::Stats>(),
        kind::<xanes::Xanes>(),
        kind::<report::ReportStage>(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::*;

    /// The parameters clap makes from `argv` (program name first).
    fn parse<S: Stage>(argv: &[&str]) -> S::Params {
        let m = command::<S>().try_get_matches_from(argv.iter().copied().chain(["--out", "o"])).unwrap();
        S::Params::from_arg_matches(&m).unwrap()
    }

    /// The defaults of clap (command line, pipeline files) and of serde
    /// (JSON, Python keyword arguments) are one: a stage's parameters parsed
    /// from its required arguments alone equal those deserialised from them.
    fn defaults_agree<S: Stage>(argv: &[&str], json: serde_json::Value) {
        let from_clap = serde_json::to_value(parse::<S>(argv)).unwrap();
        let from_serde = serde_json::to_value(serde_json::from_value::<S::Params>(json).unwrap()).unwrap();
        assert_eq!(from_clap, from_serde, "{}", S::NAME);
    }

    #[test]
    fn clap_and_serde_defaults_agree() {
        use serde_json::json;
        defaults_agree::<simulate::Simulate>(&["simulate"], json!({}));
        defaults_agree::<reconstruct::Reconstruct>(&["reconstruct", "p.h5"], json!({"input": "p.h5"}));
        defaults_agree::<segment::Segment>(&["segment", "v.tiff"], json!({"volume": "v.tiff"}));
        defaults_agree::<morph::Morph>(&["morph", "label", "v.tiff"], json!({"volume": "v.tiff"}));
        defaults_agree::<particles::Particles>(&["particles"], json!({}));
        defaults_agree::<stats::Stats>(&["stats", "d"], json!({"dir": "d"}));
        defaults_agree::<xanes::Xanes>(&["xanes", "s.h5"], json!({"stack": "s.h5"}));
        defaults_agree::<report::ReportStage>(&["report"], json!({}));
    }

    #[test]
    fn every_enumerated_option_parses_its_names() {
        let x = parse::<xanes::Xanes>(&["xanes", "s.h5", "--input", "od", "--register", "reference:3"]);
        assert_eq!(x.input, xanes::InputKind::OpticalDensity);
        assert_eq!(x.plan().input, xanes::InputKind::OpticalDensity);
        assert_eq!(x.register.0, chemomech_xas::stack::RegistrationMode::Reference(Some(3)));
        assert_eq!(parse::<xanes::Xanes>(&["xanes", "s.h5"]).input, xanes::InputKind::Auto);
        assert_eq!(
            parse::<xanes::Xanes>(&["xanes", "s.h5", "--input", "transmission"]).input,
            xanes::InputKind::Transmission
        );
        let s =
            parse::<segment::Segment>(&["segment", "v.tiff", "--method", "multi-otsu", "--denoise", "gaussian:0.5"]);
        assert_eq!((s.method, s.denoise), (segment::MethodName::Multiotsu, segment::Denoise::Gaussian(0.5)));
        let r = parse::<reconstruct::Reconstruct>(&[
            "reconstruct",
            "p.h5",
            "--rings",
            "vo",
            "--center",
            "180",
            "--slices",
            "4:",
            "--distance-m",
            "0.1,0.2",
        ]);
        let plan = r.plan().unwrap();
        assert_eq!(plan.recon.rings, chemomech_tomo::preprocess::Rings::vo());
        assert_eq!(plan.center, chemomech_tomo::recon::CenterSpec::Opposite);
        assert_eq!(plan.slices, Some(4..usize::MAX));
        assert_eq!(r.distance_m, [0.1, 0.2]);
        let p = parse::<particles::Particles>(&[
            "particles",
            "--phases",
            "ph.tiff",
            "--phase-values",
            "pore=0,cbd=85,active=170",
            "--connectivity",
            "6",
            "--extra",
            "soc=soc.tiff",
        ]);
        assert_eq!((p.phase_values.cbd, p.connectivity), (85, chemomech_imgproc::Connectivity::C6));
        assert_eq!(p.extra, [particles::Extra { name: "soc".into(), path: "soc.tiff".into() }]);
        // Bad values are refused by the parser, with the option named.
        let bad = command::<xanes::Xanes>()
            .try_get_matches_from(["xanes", "s.h5", "--input", "counts", "--out", "o"])
            .unwrap_err();
        assert!(clap_line(&bad).contains("--input"), "{}", clap_line(&bad));
        assert!(
            command::<particles::Particles>()
                .try_get_matches_from(["particles", "--damage-thresholds", "0.2,0.1", "--out", "o"])
                .is_err()
        );
    }
}
