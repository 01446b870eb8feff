//! Pipelines: stages chained from a TOML file, each cached under the run
//! directory by a hash of its inputs and parameters.
//!
//! ```toml
//! [pipeline]
//! name = "tooth"
//!
//! [[stage]]
//! run = "reconstruct"            # a chemomech subcommand
//! input = "../shared/data/tomo/tooth.h5"
//! center = "auto"
//!
//! [[stage]]
//! run = "segment"
//! volume = "@reconstruct/volume.tiff"   # @STAGE/PATH: an earlier stage's output
//! ```
//!
//! Keys are the subcommand's options with `_` for `-` (`window_um` for
//! `--window-um`); `true` sets a flag, arrays give repeated or
//! comma-separated values. Relative paths are relative to the TOML file.
//! Each table is deserialised by serde into the stage's typed parameters
//! (after `@STAGE/PATH` references and relative paths are resolved), the
//! same type that clap fills from the command line; `stage.json` records
//! the parameters in full, defaults included, and the equivalent command.
//! The runner owns `out`: each stage writes into `RUN/NAME/` (for stages
//! that write one file, `out` names that file inside it).
//!
//! A stage is skipped when `RUN/NAME/stage.json` holds the same key (a
//! SHA-256 of the tool version and build, the stage's arguments, the
//! contents of its external inputs and the keys of the stages it reads). A stage is written
//! into `RUN/.NAME.partial` and renamed into place only when complete, so a
//! killed run resumes at the stage it was in. The registry of stage kinds
//! is [`crate::stage::registry`], built from the stages' typed parameters, so
//! that TOML keys and command-line options are one and the same.

use chemomech_core::error::ErrorKind;
use chemomech_core::provenance::{InputRecord, now_utc, sha256_hex};
use chemomech_core::{Error, Progress, Result};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod parse;
use parse::scalar;
pub use parse::{parse, parse_str};

/// How an option takes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// `--flag` (TOML `true`/`false`).
    Flag,
    /// `--key VALUE`.
    One,
    /// `--key A --key B` (TOML array).
    Many,
}

/// One option of a stage kind.
#[derive(Debug, Clone)]
pub struct KeySpec {
    /// The TOML key (`window_um`).
    pub key: String,
    /// The long option (`window-um`), or `None` for a positional argument.
    pub long: Option<String>,
    /// How the option takes values.
    pub arity: Arity,
    /// The value is a path (resolved against the TOML file, must exist).
    pub path: bool,
    /// The stage writes this file (`out`, `save_model`): the value is a
    /// file name inside the stage's own directory, not an input.
    pub output: bool,
    /// The stage cannot run without it.
    pub required: bool,
    /// A text value holds several values separated by this character.
    pub delimiter: Option<char>,
}

/// What a stage writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A directory (`--out DIR` is the stage directory).
    Dir,
    /// One file in the stage directory (`--out DIR/NAME`), default name.
    File(&'static str),
}

/// What a stage run returns to the runner: its parameters and summary as
/// JSON and one line for people.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The typed parameters it ran with, defaults included, as JSON.
    pub params: serde_json::Value,
    /// The stage's summary as JSON.
    pub summary: serde_json::Value,
    /// One line for people about the run.
    pub headline: String,
}

/// Runs a stage on its parameters (a JSON object of resolved TOML keys)
/// with its output at the path given (a directory, or the one file).
pub type Exec = Box<dyn Fn(&serde_json::Value, &Path, &dyn Progress) -> Result<Finished> + Send + Sync>;
/// One line for people from a stored summary (a cached stage).
pub type Headline = Box<dyn Fn(&serde_json::Value) -> String + Send + Sync>;
/// Checks parameters without running; `Err((key or "", message))`.
pub type Check = Box<dyn Fn(&serde_json::Value) -> std::result::Result<(), (String, String)> + Send + Sync>;
/// The typed parameters (defaults included) as JSON, from the resolved keys.
pub type Typed = Box<dyn Fn(&serde_json::Value) -> Result<serde_json::Value> + Send + Sync>;

/// A stage handed to a [`Dispatch`]er: what it needs to run the stage
/// somewhere else (a Dask cluster, from the Python package).
#[derive(Debug)]
pub struct Dispatched<'a> {
    /// The stage as written in the pipeline file.
    pub stage: &'a StageSpec,
    /// Its typed parameters, defaults included, paths resolved (as [`Typed`] gives them).
    pub params: serde_json::Value,
    /// Where the stage's output goes (its directory, or the one file), inside
    /// the stage's partial directory: renamed into place when it returns.
    pub out: &'a Path,
    /// A directory kept across interrupted runs of this stage with the same
    /// cache key (`RUN/.NAME.work-KEY`), for work that resumes by parts
    /// (chunks); removed once the stage is complete.
    pub work: &'a Path,
}

/// Runs a stage somewhere else: `Some(result)` when it ran it, `None` to
/// let the runner run it here. Its result is cached, committed and
/// recorded like a stage the runner ran.
pub type Dispatch<'a> = &'a dyn Fn(&Dispatched) -> Option<Result<Finished>>;

/// A kind of stage the runner can call.
pub struct StageKind {
    /// The stage's name: `run = "NAME"` in a pipeline.
    pub name: String,
    /// The stage's options (TOML keys).
    pub keys: Vec<KeySpec>,
    /// What the stage writes.
    pub output: Output,
    /// Runs the stage on its parameters.
    pub exec: Exec,
    /// Checks the stage's parameters without running it.
    pub check: Check,
    /// The stage's typed parameters as JSON (for a [`Dispatch`]er).
    pub typed: Typed,
    /// One line for people from a stored summary.
    pub headline: Headline,
}

/// A stage as written in the pipeline file.
#[derive(Debug, Clone)]
pub struct StageSpec {
    /// Unique name (default: the kind); its directory under the run.
    pub name: String,
    /// The stage kind it runs (its `run` key).
    pub kind: String,
    /// Line of its `[[stage]]` header.
    pub line: usize,
    /// Key, value, line.
    pub options: Vec<(String, toml::Value, usize)>,
}

/// A parsed and checked pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline file.
    pub file: PathBuf,
    /// The pipeline's name (`[pipeline] name`, default: the file stem).
    pub name: String,
    /// Run directory from `[pipeline] out` (relative to the file).
    pub out: Option<PathBuf>,
    /// SHA-256 of the file's text.
    pub sha256: String,
    /// The stages, in the order they run.
    pub stages: Vec<StageSpec>,
    /// The file that holds the engine running the stages, when it is not
    /// the running executable (the Python extension module inside an
    /// interpreter): its identity is part of every cache key.
    pub engine: Option<PathBuf>,
}

impl Pipeline {
    /// Where the pipeline runs when no directory is given: `[pipeline] out`,
    /// else `STEM-run` beside the pipeline file.
    pub fn default_run_dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            let stem = self.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or("pipeline".into());
            self.file.with_file_name(format!("{stem}-run"))
        })
    }
}

fn values(v: &toml::Value) -> Vec<String> {
    match v {
        toml::Value::Array(a) => a.iter().filter_map(scalar).collect(),
        toml::Value::Boolean(_) => vec![],
        other => scalar(other).into_iter().collect(),
    }
}

/// The parts of a value that may be paths: comma-separated items, and the
/// right-hand side of NAME=PATH.
fn tokens(v: &str) -> Vec<String> {
    v.split(',')
        .map(|t| t.rsplit_once('=').map(|(_, r)| r).unwrap_or(t).trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Replaces `@stage/path` tokens with paths under the run directory and
/// relative paths of existing files with paths relative to the TOML file.
fn resolve(v: &str, base: &Path, run: &Path, path_key: bool) -> String {
    let items: Vec<String> = v
        .split(',')
        .map(|t| {
            let (pre, tok) = match t.rsplit_once('=') {
                Some((l, r)) => (format!("{l}="), r.trim()),
                None => (String::new(), t.trim()),
            };
            if let Some(r) = tok.strip_prefix('@') {
                let (st, rest) = r.split_once('/').unwrap_or((r, ""));
                let p = run.join(st);
                format!("{pre}{}", if rest.is_empty() { p } else { p.join(rest) }.display())
            } else if !tok.is_empty() && (path_key || base.join(tok).exists()) && Path::new(tok).is_relative() {
                format!("{pre}{}", base.join(tok).display())
            } else {
                t.to_string()
            }
        })
        .collect();
    items.join(",")
}

/// The stage's parameters as JSON for serde, with its outputs in `dest`
/// (a directory): references and relative paths resolved, repeated keys as
/// arrays (a text value split at the option's delimiter).
pub(crate) fn params(st: &StageSpec, sk: &StageKind, base: &Path, dest: &Path) -> serde_json::Value {
    let run = dest.parent().unwrap_or(Path::new("."));
    let text = |spec: &KeySpec, x: &str| -> String {
        if spec.output { dest.join(x).display().to_string() } else { resolve(x, base, run, spec.path) }
    };
    let mut m = serde_json::Map::new();
    for (k, v, _) in &st.options {
        let Some(spec) = sk.keys.iter().find(|s| s.key == *k) else { continue };
        if spec.key == "out" {
            continue;
        }
        let value = match (spec.arity, v) {
            (Arity::Flag, _) => json!(v.as_bool() == Some(true)),
            (Arity::One, toml::Value::String(s)) => json!(text(spec, s)),
            (Arity::One, other) => serde_json::to_value(other).unwrap_or_default(),
            (Arity::Many, _) => {
                let items: Vec<serde_json::Value> = match v {
                    toml::Value::Array(a) => a.iter().flat_map(|x| many_item(spec, x, &text)).collect(),
                    x => many_item(spec, x, &text),
                };
                json!(items)
            }
        };
        m.insert(k.clone(), value);
    }
    serde_json::Value::Object(m)
}

/// One TOML value of a repeated key as JSON items: text split at the
/// option's delimiter and resolved as paths; numbers kept as numbers.
fn many_item(spec: &KeySpec, v: &toml::Value, text: &dyn Fn(&KeySpec, &str) -> String) -> Vec<serde_json::Value> {
    match (v, spec.delimiter) {
        (toml::Value::String(s), Some(d)) => s.split(d).map(|x| json!(text(spec, x.trim()))).collect(),
        (toml::Value::String(s), None) => vec![json!(text(spec, s))],
        (other, _) => vec![serde_json::to_value(other).unwrap_or_default()],
    }
}

/// The equivalent command line of a stage, with its output in `dest` (a
/// directory): what `stage.json` and `run.json` show people. The runner
/// itself passes [`params`] to the stage.
fn argv(st: &StageSpec, sk: &StageKind, base: &Path, dest: &Path) -> Vec<String> {
    let run = dest.parent().unwrap_or(Path::new("."));
    let mut a = vec![sk.name.clone()];
    let mut positional = Vec::new();
    for spec in &sk.keys {
        let Some((_, v, _)) = st.options.iter().find(|o| o.0 == spec.key) else { continue };
        if spec.key == "out" {
            continue;
        }
        let vals: Vec<String> = if spec.output {
            values(v).iter().map(|x| dest.join(x).display().to_string()).collect()
        } else {
            values(v).iter().map(|x| resolve(x, base, run, spec.path)).collect()
        };
        match (&spec.long, spec.arity) {
            (None, _) => positional.extend(vals),
            (Some(l), Arity::Flag) => {
                if v.as_bool() == Some(true) {
                    a.push(format!("--{l}"));
                }
            }
            (Some(l), Arity::One) => {
                a.push(format!("--{l}"));
                a.push(vals.join(","));
            }
            (Some(l), Arity::Many) => {
                for x in vals {
                    a.push(format!("--{l}"));
                    a.push(x);
                }
            }
        }
    }
    match &sk.output {
        Output::Dir => {
            a.push("--out".into());
            a.push(dest.display().to_string());
        }
        Output::File(default) => {
            let name = st
                .options
                .iter()
                .find(|o| o.0 == "out")
                .and_then(|o| o.1.as_str().map(String::from))
                .unwrap_or(default.to_string());
            a.push("--out".into());
            a.push(dest.join(name).display().to_string());
        }
    }
    a.push("--".into());
    a.extend(positional);
    a
}

/// SHA-256 of a file, or of a directory's files (names and contents).
fn content_hash(p: &Path) -> Result<String> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = Vec::new();
        let mut stack = vec![p.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(|e| Error::io(e).at(&d))? {
                let e = e.map_err(|e| Error::io(e).at(&d))?.path();
                if e.is_dir() { stack.push(e) } else { entries.push(e) }
            }
        }
        entries.sort();
        let mut acc = String::new();
        for e in entries {
            acc.push_str(&format!("{}:{}\n", e.strip_prefix(p).unwrap_or(&e).display(), InputRecord::of(&e)?.sha256));
        }
        Ok(sha256_hex(acc.as_bytes()))
    } else {
        Ok(InputRecord::of(p)?.sha256)
    }
}

/// What happened to one stage.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageRecord {
    /// The stage's name (its directory under the run).
    pub name: String,
    /// The stage kind that ran.
    pub run: String,
    /// The cache key: SHA-256 of the tool version and build, the stage's options, its inputs' contents and the keys of the stages it reads.
    pub key: String,
    /// Whether the stage was skipped and its earlier output kept.
    pub cached: bool,
    /// Run time in seconds (of the earlier run when cached).
    pub seconds: f64,
    /// The stage's output directory.
    pub dir: PathBuf,
    /// The equivalent command line.
    pub command: Vec<String>,
    /// The typed parameters it ran with, defaults included.
    pub params: serde_json::Value,
    /// The stage's summary as JSON.
    pub summary: serde_json::Value,
    /// One line for people (not written to `run.json`).
    #[serde(skip)]
    pub headline: String,
}

/// Called as stages start and finish: `(stage, None)` before, `(stage, Some(record))` after.
pub type Events<'a> = &'a mut dyn FnMut(&StageSpec, Option<&StageRecord>);

/// Runs a pipeline into `run_dir`: stages whose key is unchanged are
/// skipped; the others run in order. Writes `run_dir/run.json`.
pub fn run(
    p: &Pipeline,
    registry: &[StageKind],
    run_dir: &Path,
    progress: &dyn Progress,
    events: Events,
) -> Result<serde_json::Value> {
    run_with(p, registry, run_dir, progress, events, None)
}

/// [`run`], offering each stage that is not cached to `dispatch` first
/// (which may run it elsewhere, and resume it by parts in its work directory).
pub fn run_with(
    p: &Pipeline,
    registry: &[StageKind],
    run_dir: &Path,
    progress: &dyn Progress,
    events: Events,
    dispatch: Option<Dispatch>,
) -> Result<serde_json::Value> {
    std::fs::create_dir_all(run_dir).map_err(|e| Error::io(e).at(run_dir))?;
    let run_dir = run_dir.canonicalize().map_err(|e| Error::io(e).at(run_dir))?;
    let base = p
        .file
        .parent()
        .filter(|b| !b.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .canonicalize()
        .map_err(|e| Error::io(e).at(&p.file))?;
    // Leftovers of an interrupted run.
    for e in std::fs::read_dir(&run_dir).map_err(|e| Error::io(e).at(&run_dir))?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with('.') && (n.ends_with(".partial") || n.contains(".tmp-")) {
            let _ = if e.path().is_dir() { std::fs::remove_dir_all(e.path()) } else { std::fs::remove_file(e.path()) };
        }
    }
    let started = now_utc();
    let build = build_id(p.engine.as_deref());
    let mut keys: HashMap<String, String> = HashMap::new();
    let mut records: Vec<StageRecord> = Vec::new();
    for st in &p.stages {
        let sk = registry.iter().find(|k| k.name == st.kind).expect("checked by parse");
        let dest = run_dir.join(&st.name);
        let partial = run_dir.join(format!(".{}.partial", st.name));
        let args: Vec<String> = argv(st, sk, &base, &partial)
            .iter()
            .map(|a| a.replace(&*partial.to_string_lossy(), &dest.to_string_lossy()))
            .collect();
        let out = match &sk.output {
            Output::Dir => partial.clone(),
            Output::File(default) => {
                partial.join(st.options.iter().find(|o| o.0 == "out").and_then(|o| o.1.as_str()).unwrap_or(default))
            }
        };
        let (key, key_doc) = cache_key(st, sk, &base, &build, &keys)?;
        keys.insert(st.name.clone(), key.clone());
        let marker = dest.join("stage.json");
        let cached: Option<serde_json::Value> = std::fs::read(&marker)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|v: &serde_json::Value| v["key"] == json!(key));
        let rec = if let Some(c) = cached {
            StageRecord {
                name: st.name.clone(),
                run: st.kind.clone(),
                key,
                cached: true,
                seconds: c["seconds"].as_f64().unwrap_or(0.0),
                dir: dest.clone(),
                command: args.clone(),
                params: c["params"].clone(),
                headline: (sk.headline)(&c["summary"]),
                summary: c["summary"].clone(),
            }
        } else {
            events(st, None);
            if progress.cancelled() {
                return Err(Error::cancelled(format!("cancelled before stage '{}'", st.name)));
            }
            let fresh = Fresh { st, sk, dest: &dest, partial: &partial, out: &out, args, key, key_doc };
            run_fresh(p, &run_dir, &base, fresh, progress, dispatch)?
        };
        events(st, Some(&rec));
        records.push(rec);
        write_run_json(p, &run_dir, &started, &records, false)?;
    }
    write_run_json(p, &run_dir, &started, &records, true)
}

/// A stage that must run, with where it goes and its cache key.
struct Fresh<'a> {
    st: &'a StageSpec,
    sk: &'a StageKind,
    dest: &'a Path,
    partial: &'a Path,
    out: &'a Path,
    args: Vec<String>,
    key: String,
    key_doc: serde_json::Value,
}

/// Runs a stage into its partial directory, writes its `stage.json` and
/// commits it into place; its work directory goes once it is committed.
fn run_fresh(
    p: &Pipeline,
    run_dir: &Path,
    base: &Path,
    f: Fresh,
    progress: &dyn Progress,
    dispatch: Option<Dispatch>,
) -> Result<StageRecord> {
    let (st, sk, partial, dest) = (f.st, f.sk, f.partial, f.dest);
    std::fs::create_dir_all(partial).map_err(|e| Error::io(e).at(partial))?;
    let t0 = std::time::Instant::now();
    let work = work_dir(run_dir, &st.name, &f.key)?;
    let finished = execute(st, sk, &params(st, sk, base, partial), f.out, &work, progress, dispatch).map_err(|e| {
        let _ = std::fs::remove_dir_all(partial);
        let mut err = Error::param(format!("stage '{}' ({}:{}): {e}", st.name, p.file.display(), st.line));
        if e.kind == ErrorKind::Cancelled {
            err.kind = ErrorKind::Cancelled;
        }
        err
    })?;
    let seconds = t0.elapsed().as_secs_f64();
    let rec = StageRecord {
        name: st.name.clone(),
        run: st.kind.clone(),
        key: f.key,
        cached: false,
        seconds,
        dir: dest.to_path_buf(),
        command: f.args,
        params: finished
            .params
            .to_string()
            .replace(&*partial.to_string_lossy(), &dest.to_string_lossy())
            .parse()
            .unwrap_or_default(),
        summary: finished.summary,
        headline: finished.headline,
    };
    chemomech_io::atomic::write_json(
        &partial.join("stage.json"),
        &json!({"key": rec.key, "key_inputs": f.key_doc, "seconds": seconds, "command": rec.command, "params": rec.params, "summary": rec.summary}),
    )?;
    chemomech_io::atomic::commit(partial, dest)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(rec)
}

/// Runs one stage: through `dispatch` when it takes the stage, else here.
fn execute(
    st: &StageSpec,
    sk: &StageKind,
    raw: &serde_json::Value,
    out: &Path,
    work: &Path,
    progress: &dyn Progress,
    dispatch: Option<Dispatch>,
) -> Result<Finished> {
    if let Some(d) = dispatch {
        let params = (sk.typed)(raw)?;
        if let Some(done) = d(&Dispatched { stage: st, params, out, work }) {
            return done;
        }
    }
    (sk.exec)(raw, out, progress)
}

/// The work directory of a stage under this cache key (`RUN/.NAME.work-KEY`,
/// 16 hex digits of the key), with those of other keys removed: work kept
/// for resuming by parts is only valid for the same inputs and options.
fn work_dir(run_dir: &Path, name: &str, key: &str) -> Result<PathBuf> {
    let prefix = format!(".{name}.work-");
    let own = format!("{prefix}{}", &key[..16.min(key.len())]);
    for e in std::fs::read_dir(run_dir).map_err(|e| Error::io(e).at(run_dir))?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&prefix) && n != own {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    Ok(run_dir.join(own))
}

/// The cache key of a stage (SHA-256 of the document returned beside it):
/// the tool version and build, the options as written, the keys of the
/// stages it reads and the contents of its inputs on disk.
fn cache_key(
    st: &StageSpec,
    sk: &StageKind,
    base: &Path,
    build: &str,
    keys: &HashMap<String, String>,
) -> Result<(String, serde_json::Value)> {
    let mut inputs = serde_json::Map::new();
    let mut upstream = serde_json::Map::new();
    for (k, v, _) in &st.options {
        let spec = sk.keys.iter().find(|s| s.key == *k).expect("checked");
        for val in values(v) {
            for tok in tokens(&val) {
                if let Some(r) = tok.strip_prefix('@') {
                    let s = r.split('/').next().unwrap_or("");
                    upstream.insert(s.into(), json!(keys.get(s)));
                } else if !spec.output && (spec.path || base.join(&tok).exists()) {
                    inputs.insert(tok.clone(), json!(content_hash(&base.join(&tok))?));
                }
            }
        }
    }
    let opts: serde_json::Map<String, serde_json::Value> =
        st.options.iter().map(|(k, v, _)| (k.clone(), serde_json::to_value(v).unwrap_or_default())).collect();
    let key_doc = json!({"tool": "chemomech", "version": env!("CARGO_PKG_VERSION"), "build": build, "run": st.kind, "options": opts, "upstream": upstream, "inputs": inputs});
    Ok((sha256_hex(serde_json::to_string(&key_doc)?.as_bytes()), key_doc))
}

/// Identity of the engine's file (size and modification time): `engine`, or
/// the running executable. A rebuilt binary or extension module may compute
/// differently under the same version number, so its stages are not taken
/// from the cache.
fn build_id(engine: Option<&Path>) -> String {
    engine
        .map(|p| Ok(p.to_path_buf()))
        .unwrap_or_else(std::env::current_exe)
        .and_then(std::fs::metadata)
        .map(|m| {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("{}-{t}", m.len())
        })
        .unwrap_or_default()
}

fn write_run_json(
    p: &Pipeline,
    run_dir: &Path,
    started: &str,
    records: &[StageRecord],
    done: bool,
) -> Result<serde_json::Value> {
    let v = json!({
        "tool": "chemomech",
        "version": env!("CARGO_PKG_VERSION"),
        "pipeline": {"name": p.name, "file": p.file, "sha256": p.sha256},
        "run_dir": run_dir,
        "command": std::env::args().collect::<Vec<_>>(),
        "started_utc": started,
        "finished_utc": if done { json!(now_utc()) } else { serde_json::Value::Null },
        "complete": done && records.len() == p.stages.len(),
        "stages": records,
    });
    chemomech_io::atomic::write_json(&run_dir.join("run.json"), &v)?;
    Ok(v)
}

#[cfg(test)]
mod tests;
