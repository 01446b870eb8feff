//! Athena project files (`.prj`): the Perl-dump format Demeter writes
//! (`$old_group = '…';`, `@args = (…);`, `@x = (…);`, `@y = (…);`, one
//! `[record]` per group) and the JSON format newer Larch writes, either
//! gzipped or plain. Each group's `@x` is energy (eV) and `@y` is μ(E);
//! its label comes from the `label` entry of `@args`.
//!
//! Written by hand: no Rust crate reads Athena projects.

use chemomech_core::types::Metadata;
use chemomech_core::{Error, Result, Spectrum, SpectrumColumn};
use std::io::Read;
use std::path::Path;

/// One group (spectrum) of a project.
#[derive(Debug, Clone, PartialEq)]
pub struct AthenaGroup {
    /// Athena's internal key (`$old_group`).
    pub key: String,
    /// The label shown in Athena (falls back to the key).
    pub label: String,
    /// Energies in eV (Athena's `@x`).
    pub energy_ev: Vec<f64>,
    /// μ(E) (Athena's `@y`).
    pub mu: Vec<f64>,
    /// Incident intensity I0 (`@i0`), when stored with one value per energy.
    pub i0: Option<Vec<f64>>,
    /// Everything in `@args`, as strings.
    pub args: Vec<(String, String)>,
}

/// True when `head` (the file's first bytes, decompressed) starts an Athena project.
pub fn is_athena_text(head: &str) -> bool {
    let t = head.trim_start();
    t.starts_with("# Athena project file") || (t.starts_with('{') && t.contains("\"_____header"))
}

/// Reads the (possibly gzipped) file into text.
fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(e).at(path))?;
    let raw = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::data(format!("corrupt gzip stream in Athena project: {e}")).at(path))?;
        out
    } else {
        bytes
    };
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

/// Reads every group of an Athena project.
///
/// ```
/// let d = tempfile::tempdir().unwrap();
/// let p = d.path().join("a.prj");
/// std::fs::write(&p, "# Athena project file -- Demeter version 0.9.26\n$old_group = 'abcde';\n@args = ('label','NiO ref','bkg_e0','8345');\n@x = ('8300','8340','8400');\n@y = ('0.1','0.5','1.2');\n[record] #\n1;\n").unwrap();
/// let g = chemomech_io::prj::read_athena(&p).unwrap();
/// assert_eq!(g[0].label, "NiO ref");
/// assert_eq!(g[0].mu, vec![0.1, 0.5, 1.2]);
/// ```
pub fn read_athena(path: &Path) -> Result<Vec<AthenaGroup>> {
    let text = read_text(path)?;
    let groups = if text.trim_start().starts_with('{') { parse_json(&text) } else { parse_perl(&text) }
        .map_err(|e| e.at(path))?;
    if groups.is_empty() {
        return Err(Error::data("Athena project holds no groups").at(path));
    }
    Ok(groups)
}

/// Picks a group by label or key (case-insensitive); without a name, the
/// only group, else an error listing them.
pub fn pick_group(groups: Vec<AthenaGroup>, name: Option<&str>) -> Result<AthenaGroup> {
    let names = || groups.iter().map(|g| format!("'{}'", g.label)).collect::<Vec<_>>().join(", ");
    match name {
        Some(n) => {
            let list = names();
            groups
                .into_iter()
                .find(|g| g.label.eq_ignore_ascii_case(n) || g.key.eq_ignore_ascii_case(n))
                .ok_or_else(|| Error::param(format!("no group '{n}' in the Athena project (groups: {list})")))
        }
        None if groups.len() == 1 => Ok(groups.into_iter().next().expect("one")),
        None => Err(Error::param(format!(
            "the Athena project holds {} groups ({}); choose one with --dataset NAME",
            groups.len(),
            names()
        ))),
    }
}

/// Reads one group as a [`Spectrum`] (energies sorted, as Athena keeps them).
pub fn read_athena_spectrum(path: &Path, group: Option<&str>) -> Result<Spectrum> {
    let g = pick_group(read_athena(path)?, group).map_err(|e| e.at(path))?;
    let mut meta = Metadata::new();
    meta.insert("athena_group".into(), g.label.clone().into());
    meta.insert("athena_key".into(), g.key.clone().into());
    for (k, v) in &g.args {
        meta.insert(format!("athena.{k}"), v.clone().into());
    }
    let mut columns = vec![
        SpectrumColumn { name: "energy".into(), unit: Some("eV".into()), values: g.energy_ev.clone() },
        SpectrumColumn { name: "mu".into(), unit: None, values: g.mu.clone() },
    ];
    if let Some(i0) = &g.i0 {
        columns.push(SpectrumColumn { name: "i0".into(), unit: None, values: i0.clone() });
    }
    Ok(Spectrum { energy_ev: g.energy_ev, mu: Some(g.mu), columns, meta })
}

/// Splits a Perl list body `('a','b',…)` into its items, honouring quotes
/// and Perl's `\x{…}` escapes.
fn perl_list(body: &str) -> Vec<String> {
    let s = body.trim().trim_end_matches(';').trim();
    let s = s.strip_prefix('(').unwrap_or(s);
    let s = s.strip_suffix(')').unwrap_or(s);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    let mut had_item = false;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) if c == '\\' => {
                if chars.peek() == Some(&'x') {
                    // \x{e4}
                    let rest: String = chars.clone().take(10).collect();
                    if let (Some(o), Some(cl)) = (rest.find('{'), rest.find('}'))
                        && let Some(ch) = u32::from_str_radix(&rest[o + 1..cl], 16).ok().and_then(char::from_u32)
                    {
                        cur.push(ch);
                        for _ in 0..=cl {
                            chars.next();
                        }
                        continue;
                    }
                }
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                had_item = true;
            }
            None if c == ',' => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                had_item = false;
            }
            None if c == '=' && chars.peek() == Some(&'>') => {
                chars.next();
                out.push(std::mem::take(&mut cur).trim().to_string());
                had_item = false;
            }
            None => {
                if !c.is_whitespace() {
                    had_item = true;
                }
                cur.push(c);
            }
        }
    }
    if had_item || !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn numbers(items: &[String], what: &str, group: &str) -> Result<Vec<f64>> {
    items
        .iter()
        .map(|v| {
            v.parse::<f64>().map_err(|_| Error::data(format!("group '{group}': @{what} holds '{v}', not a number")))
        })
        .collect()
}

fn parse_perl(text: &str) -> Result<Vec<AthenaGroup>> {
    let first = text.lines().next().unwrap_or("");
    if !first.contains("Athena project file") {
        return Err(Error::data("not an Athena project file (first line lacks 'Athena project file')"));
    }
    let mut out = Vec::new();
    let mut cur =
        AthenaGroup { key: String::new(), label: String::new(), energy_ev: vec![], mu: vec![], i0: None, args: vec![] };
    let mut seen_any = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || t.len() < 2 {
            continue;
        }
        let key = t.split_whitespace().next().unwrap_or("").trim_start_matches(['$', '@', '%']);
        let body = t.split_once('=').map(|x| x.1).unwrap_or("");
        match key {
            "old_group" => {
                cur.key = perl_list(body).into_iter().next().unwrap_or_default();
                seen_any = true;
            }
            "args" => {
                let items = perl_list(body);
                cur.args = items.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0].clone(), c[1].clone())).collect();
            }
            "x" => cur.energy_ev = numbers(&perl_list(body), "x", &cur.key)?,
            "y" => cur.mu = numbers(&perl_list(body), "y", &cur.key)?,
            "i0" => cur.i0 = Some(numbers(&perl_list(body), "i0", &cur.key)?),
            "[record]" => {
                out.push(finish(std::mem::replace(
                    &mut cur,
                    AthenaGroup {
                        key: String::new(),
                        label: String::new(),
                        energy_ev: vec![],
                        mu: vec![],
                        i0: None,
                        args: vec![],
                    },
                ))?);
                seen_any = false;
            }
            _ => {}
        }
    }
    if seen_any {
        return Err(Error::data(format!("Athena project truncated: group '{}' has no closing [record]", cur.key)));
    }
    Ok(out)
}

fn finish(mut g: AthenaGroup) -> Result<AthenaGroup> {
    g.label = g.args.iter().find(|(k, _)| k == "label").map(|(_, v)| v.clone()).unwrap_or_else(|| g.key.clone());
    if g.energy_ev.is_empty() || g.energy_ev.len() != g.mu.len() {
        return Err(Error::data(format!(
            "group '{}': {} energies for {} μ values",
            g.label,
            g.energy_ev.len(),
            g.mu.len()
        )));
    }
    if let Some(i0) = &g.i0
        && i0.len() != g.energy_ev.len()
    {
        g.i0 = None;
    }
    Ok(g)
}

fn parse_json(text: &str) -> Result<Vec<AthenaGroup>> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::data(format!("Athena JSON project: {e}")))?;
    let obj = v.as_object().ok_or_else(|| Error::data("Athena JSON project is not an object"))?;
    let order: Vec<String> = obj
        .iter()
        .find(|(k, _)| k.starts_with("_____order"))
        .and_then(|(_, v)| v.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_else(|| obj.keys().filter(|k| !k.starts_with("_____")).cloned().collect());
    let nums = |g: &serde_json::Value, k: &str, name: &str| -> Result<Option<Vec<f64>>> {
        match g.get(k) {
            None => Ok(None),
            Some(a) => a
                .as_array()
                .ok_or_else(|| Error::data(format!("group '{name}': '{k}' is not an array")))?
                .iter()
                .map(|x| {
                    x.as_f64()
                        .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
                        .ok_or_else(|| Error::data(format!("group '{name}': '{k}' holds a non-number")))
                })
                .collect::<Result<Vec<f64>>>()
                .map(Some),
        }
    };
    let mut out = Vec::new();
    for name in order {
        let g = obj.get(&name).ok_or_else(|| Error::data(format!("group '{name}' listed but missing")))?;
        let args: Vec<(String, String)> = g
            .get("args")
            .and_then(|a| a.as_object())
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        out.push(finish(AthenaGroup {
            key: name.clone(),
            label: String::new(),
            energy_ev: nums(g, "x", &name)?.unwrap_or_default(),
            mu: nums(g, "y", &name)?.unwrap_or_default(),
            i0: nums(g, "i0", &name)?,
            args,
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const PRJ: &str = "# Athena project file -- Demeter version 0.9.26\n# This file created at 2026-01-01\n\n$old_group = 'aaaaa';\n@args = ('bkg_e0','8333','label','Ni \\x{e4} foil','is_xmu','1');\n@x = ('8300','8320','8340','8360');\n@y = ('0.1','0.2','1.1','1.0');\n@i0 = ('5','5','5','5');\n[record] # \n\n$old_group = 'bbbbb';\n@args = ('label','NiO');\n@x = ('8300','8320','8340','8360');\n@y = ('0.0','0.3','1.2','1.0');\n[record] # \n\n@journal = {};\n\n1;\n";

    #[test]
    fn reads_perl_projects_plain_and_gzipped() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.prj");
        let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), flate2::Compression::default());
        gz.write_all(PRJ.as_bytes()).unwrap();
        gz.finish().unwrap();
        let g = read_athena(&p).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].label, "Ni ä foil");
        assert_eq!(g[0].i0.as_deref(), Some(&[5.0, 5.0, 5.0, 5.0][..]));
        let s = read_athena_spectrum(&p, Some("nio")).unwrap();
        assert_eq!(s.mu.unwrap(), vec![0.0, 0.3, 1.2, 1.0]);
        let e = read_athena_spectrum(&p, None).unwrap_err().to_string();
        assert!(e.contains("2 groups") && e.contains("'NiO'"), "{e}");
        let e = read_athena_spectrum(&p, Some("zzz")).unwrap_err().to_string();
        assert!(e.contains("no group 'zzz'"), "{e}");
        // Truncated: the last record never closes.
        let cut = &PRJ[..PRJ.find("[record] # \n\n@journal").unwrap()];
        std::fs::write(&p, cut).unwrap();
        assert!(read_athena(&p).unwrap_err().to_string().contains("truncated"));
        // A corrupt gzip stream.
        std::fs::write(&p, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
        assert!(read_athena(&p).unwrap_err().to_string().contains("gzip"));
    }

    #[test]
    fn reads_json_projects() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("j.prj");
        std::fs::write(&p, r##"{"_____header1": "# Athena project file -- Larch", "_____order": ["g1"], "g1": {"args": {"label": "LiNiO2"}, "x": [8300, 8340, 8360], "y": [0.1, 1.2, 1.0]}}"##).unwrap();
        let g = read_athena(&p).unwrap();
        assert_eq!(g[0].label, "LiNiO2");
        assert_eq!(g[0].energy_ev, vec![8300.0, 8340.0, 8360.0]);
    }
}
