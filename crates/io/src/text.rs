//! Plain column text: spectra (energy + μ), energy lists and simple tables.
//! Comment lines start with `#`, `%`, `!` or `;`; a non-numeric first line is
//! taken as column names; separators are whitespace, commas, semicolons or tabs.
//! Energies below 200 are taken to be keV (no absorption edge of interest
//! lies below 200 eV in eV, nor above 200 keV in keV) unless a unit is given.

use chemomech_core::types::Metadata;
use chemomech_core::{Error, Result, Spectrum, SpectrumColumn};
use std::path::Path;

/// Columns of numbers with optional names.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnText {
    /// Column names from a non-numeric first line (empty when none or when their count differs).
    pub names: Vec<String>,
    /// `data[col][row]`.
    pub data: Vec<Vec<f64>>,
    /// Comment lines, without their comment character.
    pub comments: Vec<String>,
}

/// Parses column text.
pub fn parse_columns(text: &str) -> Result<ColumnText> {
    let mut names = Vec::new();
    let mut comments = Vec::new();
    let mut data: Vec<Vec<f64>> = Vec::new();
    let mut ncol = 0usize;
    for (ln, line) in text.lines().enumerate() {
        let t = line.trim().trim_start_matches('\u{feff}');
        if t.is_empty() {
            continue;
        }
        if let Some(c) = t.strip_prefix(['#', '%', '!', ';']) {
            comments.push(c.trim().to_string());
            continue;
        }
        let toks: Vec<&str> = split_fields(t);
        let nums: std::result::Result<Vec<f64>, _> = toks.iter().map(|s| s.parse::<f64>()).collect();
        match nums {
            Ok(v) => {
                if ncol == 0 {
                    ncol = v.len();
                    data = vec![Vec::new(); ncol];
                } else if v.len() != ncol {
                    return Err(Error::data(format!("line {}: {} values, expected {}", ln + 1, v.len(), ncol)));
                }
                for (c, x) in v.into_iter().enumerate() {
                    data[c].push(x);
                }
            }
            Err(_) if ncol == 0 && names.is_empty() => {
                names = toks.iter().map(|s| s.trim_matches('"').to_string()).collect()
            }
            Err(_) => return Err(Error::data(format!("line {}: not numbers: '{}'", ln + 1, truncate(t, 60)))),
        }
    }
    if ncol == 0 {
        return Err(Error::data("no numeric data rows"));
    }
    if !names.is_empty() && names.len() != ncol {
        names.clear();
    }
    Ok(ColumnText { names, data, comments })
}

fn split_fields(t: &str) -> Vec<&str> {
    if t.contains(',') {
        t.split(',').map(str::trim).collect()
    } else if t.contains(';') {
        t.split(';').map(str::trim).collect()
    } else {
        t.split_whitespace().collect()
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// How energies in a text file are expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergyUnit {
    /// Decide from the values (below 200 means keV).
    Auto,
    /// Electronvolts.
    Ev,
    /// Kiloelectronvolts.
    Kev,
}

/// Reads a two-or-more column spectrum (energy first, μ second unless a
/// column is named like μ).
pub fn read_text_spectrum(path: &Path, unit: EnergyUnit) -> Result<Spectrum> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(e).at(path))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::data("not UTF-8 text").at(path))?;
    text_to_spectrum(parse_columns(text).map_err(|e| e.at(path))?, unit).map_err(|e| e.at(path))
}

/// Converts parsed columns into a spectrum.
pub fn text_to_spectrum(ct: ColumnText, unit: EnergyUnit) -> Result<Spectrum> {
    if ct.data.len() < 2 {
        return Err(Error::data("a spectrum needs at least two columns (energy, μ)"));
    }
    let e = &ct.data[0];
    let max = e.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let kev = match unit {
        EnergyUnit::Kev => true,
        EnergyUnit::Ev => false,
        EnergyUnit::Auto => max < 200.0,
    };
    let energy_ev: Vec<f64> =
        e.iter().map(|v| if kev { chemomech_core::units::round_sig(v * 1e3, 12) } else { *v }).collect();
    let names: Vec<String> = if ct.names.is_empty() {
        std::iter::once("energy".to_string())
            .chain((1..ct.data.len()).map(|i| if i == 1 { "mu".to_string() } else { format!("col{}", i + 1) }))
            .collect()
    } else {
        ct.names.clone()
    };
    let columns: Vec<SpectrumColumn> = names
        .iter()
        .zip(&ct.data)
        .enumerate()
        .map(|(i, (n, v))| SpectrumColumn {
            name: n.clone(),
            unit: (i == 0).then(|| "eV".to_string()),
            values: if i == 0 { energy_ev.clone() } else { v.clone() },
        })
        .collect();
    let mu = crate::xdi::choose_mu(&columns).unwrap_or_else(|| ct.data[1].clone());
    let mut meta = Metadata::new();
    meta.insert("format".into(), "column text".into());
    meta.insert("energy_unit_in_file".into(), if kev { "keV" } else { "eV" }.into());
    if !ct.comments.is_empty() {
        meta.insert("comments".into(), ct.comments.clone().into());
    }
    Ok(Spectrum { energy_ev, mu: Some(mu), columns, meta })
}

/// Reads a list of numbers (one per line, or the first column), e.g. energies.
pub fn read_number_list(path: &Path) -> Result<Vec<f64>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(e).at(path))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::data("not UTF-8 text").at(path))?;
    let ct = parse_columns(text).map_err(|e| e.at(path))?;
    Ok(ct.data.into_iter().next().unwrap_or_default())
}

/// Reads a list of energies (the first column of a text file; keV when all
/// values are below 200), in eV.
///
/// ```
/// let d = tempfile::tempdir().unwrap();
/// let p = d.path().join("e.txt");
/// std::fs::write(&p, "# energies\n8.333\n8.334\n").unwrap();
/// assert_eq!(chemomech_io::text::read_energy_list(&p).unwrap(), vec![8333.0, 8334.0]);
/// ```
pub fn read_energy_list(path: &Path) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(e).at(path))?;
    let cols = parse_columns(&text).map_err(|e| e.at(path))?;
    let e = &cols.data[0];
    if e.iter().any(|v| !v.is_finite()) {
        return Err(Error::data("energy list holds a non-finite value").at(path));
    }
    let kev = e.iter().cloned().fold(f64::NEG_INFINITY, f64::max) < 200.0;
    // Rounded to µeV so that 8.333 keV is 8333 eV exactly.
    Ok(e.iter().map(|&v| if kev { (v * 1e3 * 1e6).round() / 1e6 } else { v }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn detects_kev_and_headers() {
        let s =
            text_to_spectrum(parse_columns("# ref\nenergy,mu\n8.2,0.1\n8.3,0.5\n").unwrap(), EnergyUnit::Auto).unwrap();
        assert_eq!(s.energy_ev, vec![8200.0, 8300.0]);
        assert_eq!(s.meta["energy_unit_in_file"], "keV");
        assert_eq!(s.columns[1].name, "mu");
        let s = text_to_spectrum(parse_columns("8250 1\n8260 2\n").unwrap(), EnergyUnit::Auto).unwrap();
        assert_eq!(s.energy_ev[1], 8260.0);
        assert!(parse_columns("1 2\n3\n").is_err());
        assert!(parse_columns("# only\n").is_err());
    }
}
