//! FEFF path files (`feffNNNN.dat`, FEFF 6–8.5): the scattering amplitude
//! and phase of one path against k, with the path's geometry from the
//! header (legs, degeneracy, half path length). These are the amplitude and
//! phase functions of first-shell EXAFS fits; FEFF itself is not needed.

use chemomech_core::{Column, Error, Result, Table};
use std::path::Path;

/// One scattering path as FEFF wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeffPath {
    /// Number of legs (2 for single scattering).
    pub nleg: usize,
    /// Degeneracy (coordination number of a single-scattering shell).
    pub degeneracy: f64,
    /// Half path length in Å (the bond length of a single-scattering path).
    pub reff_angstrom: f64,
    /// The table: k (1/Å), `real_2phc`, `mag_feff`, `phase_feff`, `red_factor`, `lambda` (Å), `real_p` (1/Å).
    pub table: Table,
}

/// Whether `text` (a file's first bytes) looks like a FEFF path file: a
/// FEFF banner on the first line and the path header further down.
pub fn is_feff_path(text: &str) -> bool {
    let first = text.lines().next().unwrap_or("");
    first.to_ascii_lowercase().contains("feff") && text.contains("nleg, deg, reff")
}

/// Reads a FEFF path file.
///
/// # Errors
/// A missing path header or column line, non-numeric data rows, or rows
/// of another width than seven columns; the error names the line.
pub fn read_feff_path(path: &Path) -> Result<FeffPath> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(e).at(path))?;
    parse_feff_path(&text).map_err(|e| e.at(path))
}

/// [`read_feff_path`] on text already read.
pub fn parse_feff_path(text: &str) -> Result<FeffPath> {
    let lines: Vec<&str> = text.lines().collect();
    let geom = lines
        .iter()
        .position(|l| l.contains("nleg, deg, reff"))
        .ok_or_else(|| Error::data("not a FEFF path file: no 'nleg, deg, reff' line"))?;
    let nums: Vec<f64> = lines[geom].split_whitespace().map_while(|w| w.parse().ok()).collect();
    let [nleg, degeneracy, reff_angstrom, ..] = nums[..] else {
        return Err(Error::data(format!("line {}: expected nleg, deg and reff", geom + 1)));
    };
    let head = lines[geom..]
        .iter()
        .position(|l| l.trim_start().starts_with("k ") && l.contains("mag[feff]"))
        .map(|i| i + geom)
        .ok_or_else(|| Error::data("not a FEFF path file: no column line (k real[2*phc] mag[feff] ...)"))?;
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); 7];
    for (i, l) in lines.iter().enumerate().skip(head + 1).filter(|(_, l)| !l.trim().is_empty()) {
        let row: Vec<f64> = l
            .split_whitespace()
            .map(str::parse)
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Error::data(format!("line {}: not numbers", i + 1)))?;
        if row.len() != 7 {
            return Err(Error::data(format!("line {}: {} columns, expected 7", i + 1, row.len())));
        }
        for (c, v) in cols.iter_mut().zip(row) {
            c.push(v);
        }
    }
    if cols[0].is_empty() {
        return Err(Error::data("FEFF path file without data rows"));
    }
    let names = [
        ("k", Some("1/Å")),
        ("real_2phc", None),
        ("mag_feff", None),
        ("phase_feff", None),
        ("red_factor", None),
        ("lambda", Some("Å")),
        ("real_p", Some("1/Å")),
    ];
    let mut table = Table::default();
    for ((name, unit), values) in names.into_iter().zip(cols) {
        table.push(name, Column::F64(values), unit)?;
    }
    Ok(FeffPath { nleg: nleg as usize, degeneracy, reff_angstrom, table })
}
