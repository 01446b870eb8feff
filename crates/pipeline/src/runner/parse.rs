//! Reading a pipeline file: the `[pipeline]` table and each `[[stage]]`
//! table checked against its stage kind (unknown stages and keys, values of
//! the wrong type, inputs that do not exist, references to stages that do
//! not run before, values the stage's parameter type rejects), with errors
//! naming the file, the line and the key.

use super::{Arity, Output, Pipeline, StageKind, StageSpec, params, tokens, values};
use chemomech_core::provenance::sha256_hex;
use chemomech_core::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn at_line(file: &Path, line: usize, msg: String) -> Error {
    Error::param(msg).at(format!("{}:{line}", file.display()))
}

/// Line (1-based) of each `[[stage]]` header and of each key below it.
fn key_lines(text: &str) -> (Vec<usize>, Vec<HashMap<String, usize>>, HashMap<String, usize>) {
    let (mut heads, mut keys, mut top) = (Vec::new(), Vec::new(), HashMap::new());
    let mut in_stage = false;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.starts_with("[[") && l.trim_start_matches("[[").trim_start().starts_with("stage") {
            heads.push(i + 1);
            keys.push(HashMap::new());
            in_stage = true;
        } else if l.starts_with('[') {
            in_stage = false;
        } else if let Some((k, _)) = l.split_once('=') {
            let k = k.trim().trim_matches('"').to_string();
            if k.is_empty() || k.starts_with('#') {
                continue;
            }
            if in_stage {
                keys.last_mut().expect("inside a stage").entry(k).or_insert(i + 1);
            } else {
                top.entry(k).or_insert(i + 1);
            }
        }
    }
    (heads, keys, top)
}

/// The value as command-line text (scalars only).
pub(super) fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// Parses and checks a pipeline file: unknown stages or keys, values of the
/// wrong type, missing inputs and references to stages that do not run
/// before are errors naming the file, the line and the key.
pub fn parse(file: &Path, registry: &[StageKind]) -> Result<Pipeline> {
    let bytes = std::fs::read(file).map_err(|e| Error::io(e).at(file))?;
    let text = String::from_utf8(bytes).map_err(|_| Error::data("not UTF-8 text").at(file))?;
    parse_str(file, &text, registry)
}

/// [`parse`] on text already read (`file` names it in errors and anchors relative paths).
pub fn parse_str(file: &Path, text: &str, registry: &[StageKind]) -> Result<Pipeline> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| {
        // toml's message spans several lines with a caret; keep its first line and the position.
        let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1)).unwrap_or(1);
        at_line(file, line, format!("invalid TOML: {}", e.message().lines().next().unwrap_or("")))
    })?;
    let (heads, klines, top) = key_lines(text);
    let base = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let (name, out) = pipeline_table(file, &doc, &top, &base)?;
    let line_of = |k: &str| top.get(k).copied().unwrap_or(1);
    let stages_v = match doc.get("stage") {
        Some(toml::Value::Array(a)) => a.clone(),
        Some(other) => {
            return Err(at_line(
                file,
                line_of("stage"),
                format!("'stage' must be an array of tables ([[stage]]), not {}", type_name(other)),
            ));
        }
        None => return Err(at_line(file, 1, "no stages: add [[stage]] tables".into())),
    };
    let mut stages: Vec<StageSpec> = Vec::new();
    for (i, sv) in stages_v.iter().enumerate() {
        let at =
            Lines { file, line: heads.get(i).copied().unwrap_or(1), keys: klines.get(i).cloned().unwrap_or_default() };
        let st = parse_stage(&at, i, sv, registry, &base, &stages)?;
        stages.push(st);
    }
    Ok(Pipeline { file: file.to_path_buf(), name, out, sha256: sha256_hex(text.as_bytes()), stages, engine: None })
}

/// The `[pipeline]` table: the pipeline's name and run directory.
fn pipeline_table(
    file: &Path,
    doc: &toml::Table,
    top: &HashMap<String, usize>,
    base: &Path,
) -> Result<(String, Option<PathBuf>)> {
    let line_of = |k: &str| top.get(k).copied().unwrap_or(1);
    let mut name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "pipeline".into());
    let mut out = None;
    for (k, v) in doc {
        match (k.as_str(), v) {
            ("stage", _) => {}
            ("pipeline", toml::Value::Table(t)) => {
                for (pk, pv) in t {
                    match (pk.as_str(), pv) {
                        ("name", toml::Value::String(s)) => name = s.clone(),
                        ("out", toml::Value::String(s)) => out = Some(base.join(s)),
                        ("name" | "out", other) => {
                            return Err(at_line(
                                file,
                                line_of(pk),
                                format!("[pipeline] key '{pk}' must be a string, not {}", type_name(other)),
                            ));
                        }
                        _ => {
                            return Err(at_line(
                                file,
                                line_of(pk),
                                format!("[pipeline]: unknown key '{pk}' (known: name, out)"),
                            ));
                        }
                    }
                }
            }
            _ => {
                return Err(at_line(
                    file,
                    line_of(k),
                    format!("unknown top-level key '{k}' (expected [pipeline] and [[stage]] tables)"),
                ));
            }
        }
    }
    Ok((name, out))
}

/// Where a stage's table and keys stand in the file, for errors.
struct Lines<'a> {
    file: &'a Path,
    /// Line of the `[[stage]]` header.
    line: usize,
    /// Line of each key.
    keys: HashMap<String, usize>,
}

impl Lines<'_> {
    fn of(&self, key: &str) -> usize {
        self.keys.get(key).copied().unwrap_or(self.line)
    }
}

/// One `[[stage]]` table, checked: its kind, name and options; `stages` are those before it.
fn parse_stage(
    at: &Lines,
    i: usize,
    sv: &toml::Value,
    registry: &[StageKind],
    base: &Path,
    stages: &[StageSpec],
) -> Result<StageSpec> {
    let (file, line) = (at.file, at.line);
    let kline = |k: &str| at.of(k);
    let known: Vec<&str> = registry.iter().map(|k| k.name.as_str()).collect();
    let t = sv.as_table().ok_or_else(|| at_line(file, line, "each stage must be a table".into()))?;
    let kind = match t.get("run") {
        Some(toml::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(at_line(file, kline("run"), format!("key 'run' must be a string, not {}", type_name(other))));
        }
        None => {
            return Err(at_line(
                file,
                line,
                format!("stage {} has no 'run' key (one of: {})", i + 1, known.join(", ")),
            ));
        }
    };
    let sk = registry.iter().find(|k| k.name == kind).ok_or_else(|| {
        at_line(file, kline("run"), format!("key 'run': unknown stage '{kind}' (one of: {})", known.join(", ")))
    })?;
    let sname = match t.get("name") {
        Some(toml::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(at_line(file, kline("name"), format!("key 'name' must be a string, not {}", type_name(other))));
        }
        None => kind.clone(),
    };
    if sname.is_empty()
        || !sname.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        || sname.starts_with('.')
    {
        return Err(at_line(file, kline("name"), format!("key 'name': '{sname}' must be letters, digits, '_' or '-'")));
    }
    if stages.iter().any(|s| s.name == sname) {
        return Err(at_line(file, kline("name"), format!("two stages named '{sname}': give one a distinct 'name'")));
    }
    let mut options = Vec::new();
    for (k, v) in t {
        if k == "run" || k == "name" {
            continue;
        }
        let l = kline(k);
        check_option((file, l), &sname, &kind, sk, k, v, base, stages)?;
        options.push((k.clone(), v.clone(), l));
    }
    for spec in sk.keys.iter().filter(|s| s.required && s.key != "out") {
        if !options.iter().any(|o| o.0 == spec.key) {
            return Err(at_line(
                file,
                line,
                format!("stage '{sname}': missing key '{}' (required by '{kind}')", spec.key),
            ));
        }
    }
    let st = StageSpec { name: sname, kind, line, options };
    // Values the stage's parameter type rejects (numbers that are not, bad choices).
    let dest = Path::new("/nonexistent-run").join(&st.name);
    if let Err((key, msg)) = (sk.check)(&params(&st, sk, base, &dest)) {
        let l = st.options.iter().find(|o| o.0 == key).map(|o| o.2).unwrap_or(line);
        let what = if key.is_empty() { String::new() } else { format!("key '{key}': ") };
        return Err(at_line(file, l, format!("stage '{}': {what}{msg}", st.name)));
    }
    Ok(st)
}

/// One key of a stage: known to the stage, of the right type, its
/// references to earlier stages and its inputs on disk present.
#[allow(clippy::too_many_arguments)]
fn check_option(
    (file, l): (&Path, usize),
    sname: &str,
    kind: &str,
    sk: &StageKind,
    k: &str,
    v: &toml::Value,
    base: &Path,
    stages: &[StageSpec],
) -> Result<()> {
    let spec = sk.keys.iter().find(|s| s.key == *k);
    let Some(spec) = spec else {
        let names: Vec<&str> =
            sk.keys.iter().map(|s| s.key.as_str()).filter(|s| *s != "out" || sk.output != Output::Dir).collect();
        return Err(at_line(
            file,
            l,
            format!("stage '{sname}': unknown key '{k}' for '{kind}' (known: {})", names.join(", ")),
        ));
    };
    if k == "out" && sk.output == Output::Dir {
        return Err(at_line(
            file,
            l,
            format!("stage '{sname}': key 'out' is set by the runner (outputs go to RUN/{sname}/)"),
        ));
    }
    if spec.output && (!matches!(v, toml::Value::String(s) if !s.contains('/') && !s.is_empty() && !s.starts_with('.')))
    {
        return Err(at_line(
            file,
            l,
            format!(
                "stage '{sname}': key '{k}' must be a file name (no directories; it is written into RUN/{sname}/), e.g. \"volume.tiff\""
            ),
        ));
    }
    let ok = match spec.arity {
        Arity::Flag => matches!(v, toml::Value::Boolean(_)),
        Arity::One => scalar(v).is_some() && !matches!(v, toml::Value::Boolean(_)),
        Arity::Many => scalar(v).is_some() || v.as_array().is_some_and(|a| a.iter().all(|x| scalar(x).is_some())),
    };
    if !ok {
        let want = match spec.arity {
            Arity::Flag => "true or false",
            Arity::One => "a string or number",
            Arity::Many => "a value or an array of values",
        };
        return Err(at_line(file, l, format!("stage '{sname}': key '{k}' must be {want}, not {}", type_name(v))));
    }
    // References to earlier stages and inputs on disk.
    for val in values(v) {
        for tok in tokens(&val) {
            if let Some(r) = tok.strip_prefix('@') {
                let target = r.split('/').next().unwrap_or("");
                if !stages.iter().any(|s| s.name == target) {
                    return Err(at_line(
                        file,
                        l,
                        format!(
                            "stage '{sname}': key '{k}' refers to '@{target}', which is not a stage before this one"
                        ),
                    ));
                }
            } else if spec.path && !spec.output {
                let p = base.join(&tok);
                if !p.exists() {
                    return Err(at_line(
                        file,
                        l,
                        format!("stage '{sname}': key '{k}': input '{}' does not exist", p.display()),
                    ));
                }
            }
        }
    }
    Ok(())
}
