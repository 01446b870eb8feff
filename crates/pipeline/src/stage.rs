//! The stage contract: every step of the chain is a typed library call.
//!
//! A stage has typed [`Stage::Params`] (serde + clap derive: the TOML keys
//! of a pipeline, the options of `chemomech <stage>` and, later, the keyword
//! arguments of the Python functions are one definition), a typed
//! [`Stage::Summary`] (serde), and [`Stage::run`]. The CLI flattens the
//! parameters into its subcommand and only parses, prints and sets exit
//! codes; the pipeline runner calls the same `run` through [`registry`].

use crate::runner::{self, Arity, KeySpec, Output, StageKind};
use chemomech_core::{Error, Progress, Provenance, Result};
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

/// Writes a stage's image output in the format its file name asks for
/// (`.zarr`: OME-Zarr; `.h5`, `.npy`; anything else: TIFF), with its
/// spacing and provenance, atomically.
///
/// # Errors
/// I/O errors, naming the file.
pub fn write_image(out: &Path, data: chemomech_core::DynArray, spacing_um: &[f64], prov: &Provenance) -> Result<()> {
    let ext = out.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if matches!(ext.as_str(), "zarr" | "h5" | "hdf5" | "npy") {
        let mut r = chemomech_core::Raster::new(data);
        r.spacing_um = Some(spacing_um.to_vec());
        let d = chemomech_io::Dataset::Raster(r);
        chemomech_io::save(&d, out, Some(prov), &chemomech_io::SaveOptions::default())
    } else {
        let opts = chemomech_io::tiffio::TiffOptions::default();
        chemomech_io::tiffio::write_tiff(out, &data, Some(spacing_um), Some(prov), opts)
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

/// A stage's parameters from a JSON object of its keys (serde, the
/// parameters' defaults for absent keys); `Err((key, message))` names the
/// first key whose value the type rejects.
///
/// # Errors
/// A key the stage does not know, or a value its type rejects.
pub fn params_from_json<S: Stage>(v: &serde_json::Value) -> std::result::Result<S::Params, (String, String)> {
    serde_json::from_value::<S::Params>(v.clone()).map_err(|e| {
        // serde does not say which field failed: try the keys one by one
        // (every field has a default, so each alone is a valid table).
        let bad = v.as_object().and_then(|m| {
            m.iter().find(|(k, x)| {
                let mut one = serde_json::Map::new();
                one.insert((*k).clone(), (*x).clone());
                serde_json::from_value::<S::Params>(serde_json::Value::Object(one)).is_err()
            })
        });
        let msg = e.to_string();
        // serde_json appends " at line L column C", meaningless for a value built in memory.
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        (bad.map(|(k, _)| k.clone()).unwrap_or_default(), msg)
    })
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
            delimiter: a.get_value_delimiter(),
            // Files the stage writes: --out and every --save-….
            output: a.get_id() == "out" || a.get_id().as_str().starts_with("save_"),
        })
        .collect();
    let check: runner::Check = Box::new(|v: &serde_json::Value| params_from_json::<S>(v).map(|_| ()));
    let exec: runner::Exec = Box::new(|v: &serde_json::Value, out: &Path, progress: &dyn Progress| {
        let params = params_from_json::<S>(v).map_err(|(key, msg)| Error::param(format!("key '{key}': {msg}")))?;
        let summary = S::run(&params, out, progress)?;
        Ok(runner::Finished {
            params: serde_json::to_value(&params)?,
            headline: S::headline(&summary),
            summary: serde_json::to_value(&summary)?,
        })
    });
    let headline: runner::Headline = Box::new(|v: &serde_json::Value| {
        serde_json::from_value::<S::Summary>(v.clone()).map(|s| S::headline(&s)).unwrap_or_default()
    });
    let typed: runner::Typed = Box::new(|v: &serde_json::Value| {
        let params = params_from_json::<S>(v).map_err(|(key, msg)| Error::param(format!("key '{key}': {msg}")))?;
        Ok(serde_json::to_value(&params)?)
    });
    StageKind { name: S::NAME.into(), keys, output: S::OUTPUT, exec, check, typed, headline }
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

    /// The typed parameters a pipeline file gives (serde, after the runner
    /// resolves paths) and those the same options give on the command line.
    fn toml_and_argv<S: Stage>(toml_keys: &str, argv: &[&str]) -> (serde_json::Value, serde_json::Value) {
        let dir = tempfile::tempdir().unwrap();
        for f in ["p.h5", "v.tiff", "ph.tiff", "soc.tiff", "s.h5", "a.xdi", "b.xdi"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let file = dir.path().join("p.toml");
        let text = format!("[[stage]]\nrun = \"{}\"\n{toml_keys}\n", S::NAME);
        let reg = registry();
        let p = crate::runner::parse_str(&file, &text, &reg).unwrap();
        let sk = reg.iter().find(|k| k.name == S::NAME).unwrap();
        let json = crate::runner::params(&p.stages[0], sk, dir.path(), &dir.path().join("run").join(S::NAME));
        let from_toml = serde_json::to_value(params_from_json::<S>(&json).unwrap()).unwrap();
        let d = dir.path().display().to_string();
        let argv: Vec<String> = argv.iter().map(|a| a.replace("DIR", &d)).collect();
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        (from_toml, serde_json::to_value(parse::<S>(&argv)).unwrap())
    }

    #[test]
    fn pipeline_keys_and_command_line_options_give_the_same_parameters() {
        let (t, a) = toml_and_argv::<reconstruct::Reconstruct>(
            "input = \"p.h5\"\nrings = \"vo\"\ncenter = 512.5\nslices = \"4:\"\ndistance_m = \"0.1,0.2\"\nfilter = \"shepp-logan\"\nalgorithm = \"gridrec\"",
            &[
                "reconstruct",
                "DIR/p.h5",
                "--rings",
                "vo",
                "--center",
                "512.5",
                "--slices",
                "4:",
                "--distance-m",
                "0.1,0.2",
                "--filter",
                "shepp-logan",
                "--algorithm",
                "gridrec",
            ],
        );
        assert_eq!(t, a);
        assert_eq!((t["center"].as_str(), t["distance_m"].clone()), (Some("512.5"), serde_json::json!(["0.1", "0.2"])));
        let (t2, _) = toml_and_argv::<reconstruct::Reconstruct>(
            "input = \"p.h5\"\ndistance_m = [0.1, 0.2]",
            &["reconstruct", "p.h5"],
        );
        assert_eq!(t2["distance_m"], t["distance_m"]);
        let (t, a) = toml_and_argv::<particles::Particles>(
            "phases = \"ph.tiff\"\nphase_values = \"pore=0,cbd=85,active=170\"\nconnectivity = 6\nextra = [\"soc=soc.tiff\"]\ndamage_thresholds = \"0.05,0.2\"\ncrack_measure = \"deficit\"\nno_merge = true",
            &[
                "particles",
                "--phases",
                "DIR/ph.tiff",
                "--phase-values",
                "pore=0,cbd=85,active=170",
                "--connectivity",
                "6",
                "--extra",
                "soc=DIR/soc.tiff",
                "--damage-thresholds",
                "0.05,0.2",
                "--crack-measure",
                "deficit",
                "--no-merge",
            ],
        );
        assert_eq!(t, a);
        let (t, a) = toml_and_argv::<xanes::Xanes>(
            "stack = \"s.h5\"\ninput = \"od\"\nregister = \"reference:3\"\nrefs = \"a.xdi,b.xdi\"\nsoc_edge = \"8340,8342.5\"",
            &[
                "xanes",
                "DIR/s.h5",
                "--input",
                "od",
                "--register",
                "reference:3",
                "--refs",
                "DIR/a.xdi,DIR/b.xdi",
                "--soc-edge",
                "8340,8342.5",
            ],
        );
        assert_eq!(t, a);
        assert_eq!(t["input"], "od");
        let (t, a) = toml_and_argv::<segment::Segment>(
            "volume = \"v.tiff\"\nmethod = \"multi-otsu\"\ndenoise = \"bilateral:0.5:0.1\"",
            &["segment", "DIR/v.tiff", "--method", "multi-otsu", "--denoise", "bilateral:0.5:0.1"],
        );
        assert_eq!(t, a);
    }

    #[test]
    fn bad_pipeline_values_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.h5"), "x").unwrap();
        let reg = registry();
        for (keys, key, words) in [
            ("input = \"counts\"", "input", "'counts' is not one of: auto, od, transmission"),
            ("register = \"sideways\"", "register", "registration must be"),
            ("mask_sigma = \"five\"", "mask_sigma", "invalid type"),
        ] {
            let text = format!("[[stage]]\nrun = \"xanes\"\nstack = \"s.h5\"\n{keys}\n");
            let e = crate::runner::parse_str(&dir.path().join("p.toml"), &text, &reg).unwrap_err().to_string();
            assert!(e.contains(&format!("key '{key}'")) && e.contains(words) && e.contains("p.toml:4"), "{e}");
        }
    }
}
