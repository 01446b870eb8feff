//! XDI 1.0 spectra (XAS Data Interchange): version line, `Namespace.Tag:
//! value` fields, the field-end line (`# ///`), free user comments, the
//! header-end line (`#----`), an optional column-label line, then columns.
//!
//! Energies are converted to eV; an energy column in degrees (monochromator
//! angle) is converted with `Mono.d_spacing` (Å).

use chemomech_core::types::Metadata;
use chemomech_core::{Error, Result, Spectrum, SpectrumColumn};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// h·c in eV·Å (CODATA 2018), for Bragg-angle energies.
const HC_EV_ANGSTROM: f64 = 12398.419843320026;

/// Everything an XDI file says, as parsed (before unit conversion).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct XdiFile {
    /// Format version ("1.0").
    pub version: String,
    /// Application/version tokens after the XDI version on the first line.
    pub applications: Vec<String>,
    /// Fields by lower-cased namespace, then lower-cased tag. Original
    /// spelling is kept in `field_names`.
    pub fields: BTreeMap<String, BTreeMap<String, String>>,
    /// `Namespace.Tag` as written, in file order.
    pub field_names: Vec<String>,
    /// User comment lines between the field-end and header-end lines.
    pub comments: Vec<String>,
    /// Column labels from the line after the header-end line, if any.
    pub column_labels: Vec<String>,
    /// Data rows (columns x rows is `data[col][row]`).
    pub data: Vec<Vec<f64>>,
    /// Problems that do not stop reading (missing recommended fields, ...).
    pub warnings: Vec<String>,
}

impl XdiFile {
    /// A field value by `namespace` and `tag` (case-insensitive).
    pub fn field(&self, namespace: &str, tag: &str) -> Option<&str> {
        self.fields.get(&namespace.to_ascii_lowercase())?.get(&tag.to_ascii_lowercase()).map(String::as_str)
    }
}

/// The numbered lines of an XDI text (0-based numbers), with look-ahead.
type Lines<'a> = std::iter::Peekable<std::iter::Enumerate<std::str::Lines<'a>>>;

/// Parses XDI text. `name` is used in error messages only.
pub fn parse_xdi(text: &str) -> Result<XdiFile> {
    let mut lines = text.lines().enumerate().peekable();
    let mut x = XdiFile::default();
    parse_version_line(&mut lines, &mut x)?;
    parse_header(&mut lines, &mut x)?;
    parse_data(lines, &mut x)?;
    check_fields(&mut x);
    Ok(x)
}

/// The version line: `# XDI/1.x` and application tokens.
fn parse_version_line(lines: &mut Lines, x: &mut XdiFile) -> Result<()> {
    let (_, first) = lines.next().ok_or_else(|| Error::data("empty XDI file"))?;
    let first = first.trim_start_matches('\u{feff}').trim();
    let rest = first
        .strip_prefix('#')
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix("XDI/"))
        .ok_or_else(|| Error::data("line 1: not an XDI file (expected '# XDI/1.0')"))?;
    let mut toks = rest.split_whitespace();
    x.version = toks.next().unwrap_or_default().to_string();
    if !x.version.starts_with('1') {
        return Err(Error::data(format!("line 1: unsupported XDI version '{}'", x.version)));
    }
    x.applications = toks.map(str::to_string).collect();
    Ok(())
}

/// The header: fields up to the field-end line, then comments, up to the
/// header-end line and the optional column-label line after it.
fn parse_header(lines: &mut Lines, x: &mut XdiFile) -> Result<()> {
    let mut in_fields = true;
    let mut header_ended = false;
    while let Some(&(ln, line)) = lines.peek() {
        let t = line.trim();
        if !t.starts_with('#') {
            break;
        }
        lines.next();
        let body = t[1..].trim();
        if is_rule(body, '-') {
            header_ended = true;
            // An optional column-label line follows.
            if let Some(&(_, next)) = lines.peek() {
                let n = next.trim();
                if let Some(lbl) = n.strip_prefix('#') {
                    x.column_labels = lbl.split_whitespace().map(str::to_string).collect();
                    lines.next();
                }
            }
            break;
        }
        if in_fields {
            if is_rule(body, '/') {
                in_fields = false;
                continue;
            }
            if body.is_empty() {
                continue;
            }
            add_field(x, ln, body)?;
        } else {
            x.comments.push(body.to_string());
        }
    }
    if !header_ended {
        x.warnings.push("no header-end line ('#----')".into());
    }
    Ok(())
}

/// One `Namespace.Tag: value` field on line `ln` (0-based).
fn add_field(x: &mut XdiFile, ln: usize, body: &str) -> Result<()> {
    match parse_field(body) {
        Some((ns, tag, value)) => {
            x.field_names.push(format!("{ns}.{tag}"));
            x.fields.entry(ns.to_ascii_lowercase()).or_default().insert(tag.to_ascii_lowercase(), value.to_string());
            Ok(())
        }
        None => {
            Err(Error::data(format!("line {}: malformed XDI field '{}' (expected Namespace.Tag: value)", ln + 1, body)))
        }
    }
}

/// The data rows, all with as many values as the first.
fn parse_data(lines: Lines, x: &mut XdiFile) -> Result<()> {
    let mut ncol = 0usize;
    for (ln, line) in lines {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let vals: Vec<f64> = t
            .split_whitespace()
            .map(|s| s.parse::<f64>().map_err(|_| Error::data(format!("line {}: '{}' is not a number", ln + 1, s))))
            .collect::<Result<_>>()?;
        if ncol == 0 {
            ncol = vals.len();
            x.data = vec![Vec::new(); ncol];
        } else if vals.len() != ncol {
            return Err(Error::data(format!(
                "line {}: {} values, expected {} (truncated or corrupt data?)",
                ln + 1,
                vals.len(),
                ncol
            )));
        }
        for (c, v) in vals.into_iter().enumerate() {
            x.data[c].push(v);
        }
    }
    if ncol == 0 {
        return Err(Error::data("XDI file has no data rows"));
    }
    Ok(())
}

/// Warnings for missing required fields and an unknown edge name.
fn check_fields(x: &mut XdiFile) {
    for (ns, tag) in [("element", "symbol"), ("element", "edge"), ("column", "1")] {
        if x.field(ns, tag).is_none() {
            x.warnings.push(format!("missing required field {ns}.{tag}"));
        }
    }
    if let Some(edge) = x.field("element", "edge") {
        const EDGES: &[&str] = &[
            "K", "L", "L1", "L2", "L3", "M", "M1", "M2", "M3", "M4", "M5", "N", "N1", "N2", "N3", "N4", "N5", "N6",
            "N7", "O", "O1", "O2", "O3", "O4", "O5", "O6", "O7",
        ];
        if !EDGES.iter().any(|e| e.eq_ignore_ascii_case(edge.trim())) {
            let w = format!("Element.edge '{edge}' is not an absorption edge name");
            x.warnings.push(w);
        }
    }
}

fn is_rule(body: &str, c: char) -> bool {
    let t = body.trim();
    !t.is_empty() && t.chars().all(|ch| ch == c) && (c == '/' || t.len() >= 2)
}

fn parse_field(body: &str) -> Option<(&str, &str, &str)> {
    let (key, value) = body.split_once(':')?;
    let (ns, tag) = key.trim().split_once('.')?;
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (ok(ns) && ok(tag)).then(|| (ns, tag, value.trim()))
}

/// Reads an XDI file: μ(E) data as a [`Spectrum`]; data against
/// photoelectron wavenumber k (χ(k), first column in inverse Å) as a table
/// of its columns with their units, since it is no μ(E) spectrum.
pub fn read_xdi_dataset(path: &Path) -> Result<crate::Dataset> {
    let x = read_parsed(path)?;
    let first_unit = column_label(&x, 0).1.join(" ").to_ascii_lowercase();
    if first_unit.starts_with("inverse") || first_unit.starts_with("1/") || first_unit.contains("^-1") {
        return xdi_to_table(&x).map(crate::Dataset::Table).map_err(|e| e.at(path));
    }
    xdi_to_spectrum(x).map(crate::Dataset::Spectrum).map_err(|e| e.at(path))
}

/// The columns of a parsed XDI file as a table (units from the `Column.N` fields).
fn xdi_to_table(x: &XdiFile) -> Result<chemomech_core::Table> {
    let mut t = chemomech_core::Table::default();
    for (c, values) in x.data.iter().enumerate() {
        let (name, words) = column_label(x, c);
        let unit = words.join(" ");
        let unit = if unit.eq_ignore_ascii_case("inverse angstrom") { "1/Å".to_string() } else { unit };
        t.push(&name, chemomech_core::Column::F64(values.clone()), (!unit.is_empty()).then_some(unit.as_str()))?;
    }
    Ok(t)
}

/// Column `c`'s name and the words after it (its unit) from the
/// `Column.N` field, else its label from the column line.
fn column_label(x: &XdiFile, c: usize) -> (String, Vec<&str>) {
    match x.field("column", &(c + 1).to_string()) {
        Some(v) => {
            let mut it = v.split_whitespace();
            (it.next().unwrap_or("").to_string(), it.collect())
        }
        None => (x.column_labels.get(c).cloned().unwrap_or_else(|| format!("col{}", c + 1)), Vec::new()),
    }
}

/// Reads and parses an XDI file (errors name it).
fn read_parsed(path: &Path) -> Result<XdiFile> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(e).at(path))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::data("XDI file is not valid UTF-8 text").at(path))?;
    parse_xdi(text).map_err(|e| e.at(path))
}

/// Reads an XDI file into a [`Spectrum`] (energies in eV, μ chosen from the columns).
pub fn read_xdi(path: &Path) -> Result<Spectrum> {
    xdi_to_spectrum(read_parsed(path)?).map_err(|e| e.at(path))
}

/// Converts a parsed XDI file into a [`Spectrum`].
pub fn xdi_to_spectrum(x: XdiFile) -> Result<Spectrum> {
    let ncol = x.data.len();
    let mut columns = Vec::with_capacity(ncol);
    for c in 0..ncol {
        let (name, words) = column_label(&x, c);
        let unit = words.first().map(|w| w.to_string());
        columns.push(SpectrumColumn { name, unit, values: x.data[c].clone() });
    }
    let e = &columns[0];
    let unit = e.unit.clone().unwrap_or_else(|| "eV".into());
    let energy_ev: Vec<f64> = match unit.to_ascii_lowercase().as_str() {
        "ev" => e.values.clone(),
        "kev" => e.values.iter().map(|v| v * 1e3).collect(),
        "degrees" | "deg" | "degree" => {
            let d: f64 = x
                .field("mono", "d_spacing")
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
                .ok_or_else(|| Error::data("energy column is in degrees but Mono.d_spacing is missing"))?;
            e.values.iter().map(|th| HC_EV_ANGSTROM / (2.0 * d * th.to_radians().sin())).collect()
        }
        other => return Err(Error::data(format!("energy column unit '{other}' is not eV, keV or degrees"))),
    };
    let mu = choose_mu(&columns);
    let mut meta = Metadata::new();
    meta.insert("format".into(), "XDI".into());
    meta.insert("xdi".into(), serde_json::to_value(XdiHeader::from(&x))?);
    // Older files (e.g. Larch's cu_metal_rt.xdi) put these under Scan.
    if let Some(s) = x.field("element", "symbol").or_else(|| x.field("scan", "element")) {
        meta.insert("element".into(), s.into());
    }
    if let Some(s) = x.field("element", "edge").or_else(|| x.field("scan", "edge")) {
        meta.insert("edge".into(), s.into());
    }
    Ok(Spectrum { energy_ev, mu, columns, meta })
}

/// The header part of an XDI file, as kept in spectrum metadata.
#[derive(Debug, Clone, Serialize)]
struct XdiHeader {
    version: String,
    applications: Vec<String>,
    fields: BTreeMap<String, BTreeMap<String, String>>,
    comments: Vec<String>,
    column_labels: Vec<String>,
    warnings: Vec<String>,
}

impl From<&XdiFile> for XdiHeader {
    fn from(x: &XdiFile) -> Self {
        Self {
            version: x.version.clone(),
            applications: x.applications.clone(),
            fields: x.fields.clone(),
            comments: x.comments.clone(),
            column_labels: x.column_labels.clone(),
            warnings: x.warnings.clone(),
        }
    }
}

/// μ(E) from XDI-style column names: `mutrans`, `mufluor`, `normtrans`/`normfluor`,
/// else ln(I0/Itrans) or Ifluor/I0.
pub fn choose_mu(columns: &[SpectrumColumn]) -> Option<Vec<f64>> {
    let find = |n: &str| columns.iter().skip(1).find(|c| c.name.eq_ignore_ascii_case(n)).map(|c| &c.values);
    for n in ["mutrans", "mufluor", "mu", "normtrans", "normfluor", "murefer", "absorbance", "xmu"] {
        if let Some(v) = find(n) {
            return Some(v.clone());
        }
    }
    if let (Some(i0), Some(it)) = (find("i0"), find("itrans")) {
        return Some(i0.iter().zip(it).map(|(a, b)| (a / b).ln()).collect());
    }
    if let (Some(i0), Some(f)) = (find("i0"), find("ifluor")) {
        return Some(f.iter().zip(i0).map(|(a, b)| a / b).collect());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    const SAMPLE: &str = "# XDI/1.0 GSE/1.0\n# Column.1: energy eV\n# Column.2: i0\n# Column.3: itrans\n# Element.symbol: Cu\n# Element.edge: K\n# Mono.d_spacing: 3.13555\n# ///\n# a comment\n#  second: line\n#----\n# energy i0 itrans\n 8900 10 5\n 8910 10 4\n";
    #[test]
    fn parses_sample() {
        let x = parse_xdi(SAMPLE).unwrap();
        assert_eq!(x.version, "1.0");
        assert_eq!(x.applications, vec!["GSE/1.0"]);
        assert_eq!(x.field("ELEMENT", "Symbol"), Some("Cu"));
        assert_eq!(x.comments, vec!["a comment", "second: line"]);
        assert_eq!(x.column_labels, vec!["energy", "i0", "itrans"]);
        let s = xdi_to_spectrum(x).unwrap();
        assert_eq!(s.energy_ev, vec![8900.0, 8910.0]);
        assert!((s.mu.unwrap()[1] - (2.5f64).ln()).abs() < 1e-12);
    }
    #[test]
    fn errors() {
        assert!(parse_xdi("hello\n1 2\n").unwrap_err().to_string().contains("not an XDI file"));
        assert!(parse_xdi("# XDI/1.0\n# bad field\n#----\n1 2\n").unwrap_err().to_string().contains("line 2"));
        let e = parse_xdi("# XDI/1.0\n# Column.1: energy eV\n#----\n1 2\n3\n").unwrap_err();
        assert!(e.to_string().contains("line 5"), "{e}");
        assert!(parse_xdi("# XDI/1.0\n#----\n").unwrap_err().to_string().contains("no data"));
    }
    #[test]
    fn degrees_to_ev() {
        let t = "# XDI/1.0\n# Column.1: angle degrees\n# Column.2: mutrans\n# Mono.d_spacing: 3.13555\n#----\n13.5 1\n";
        let s = xdi_to_spectrum(parse_xdi(t).unwrap()).unwrap();
        let expect = HC_EV_ANGSTROM / (2.0 * 3.13555 * 13.5f64.to_radians().sin());
        assert!((s.energy_ev[0] - expect).abs() < 1e-9);
    }
}
