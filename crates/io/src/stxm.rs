//! ALS STXM (scanning transmission X-ray microscope) data: a `.hdr` header
//! (nested `name = value;` records, `{ … }` groups and `(N, v1, …, vN)`
//! lists) and one `.xim` text image of detector counts per energy,
//! `NAME_a000.xim`, `NAME_a001.xim`, … (a single image: `NAME_a.xim`).
//!
//! The header's first region gives the image grid (`PAxis` along the
//! columns, `QAxis` along the rows, positions in µm) and `StackAxis` the
//! energies (eV). Each `.xim` must hold exactly that grid; anything else is
//! refused with the file named. The values are counts (transmitted
//! intensity), not optical density: they carry `data_units = counts`, and
//! an I0 normalisation is the user's step. Hand-written: the header grammar
//! is specific to these beamlines' software and no kept crate reads it.

use chemomech_core::{DynArray, EnergyStack, Error, Metadata, Raster, Result};
use ndarray::{Array2, Array3};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Whether a file's first text is an STXM header (`ScanDefinition = {`).
pub fn is_stxm_header(text: &str) -> bool {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    t.starts_with("ScanDefinition") && t["ScanDefinition".len()..].trim_start().starts_with('=')
}

/// Tokens of the header grammar.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Punct(char),
}

fn tokens(s: &str) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    let mut it = s.chars().peekable();
    while let Some(&c) = it.peek() {
        if c.is_whitespace() {
            it.next();
        } else if "={}();,".contains(c) {
            out.push(Token::Punct(c));
            it.next();
        } else if c == '"' {
            it.next();
            let mut t = String::new();
            loop {
                match it.next() {
                    Some('"') => break,
                    Some(ch) => t.push(ch),
                    None => return Err(Error::data("STXM header: unterminated string")),
                }
            }
            out.push(Token::Text(t));
        } else {
            let mut w = String::new();
            while let Some(&ch) = it.peek() {
                if ch.is_whitespace() || "={}();,\"".contains(ch) {
                    break;
                }
                w.push(ch);
                it.next();
            }
            out.push(Token::Word(w));
        }
    }
    Ok(out)
}

/// A recursive-descent reader of the header into JSON values.
struct Parser {
    t: Vec<Token>,
    k: usize,
}

impl Parser {
    fn next(&mut self) -> Result<Token> {
        let t = self.t.get(self.k).cloned().ok_or_else(|| Error::data("STXM header ends inside a record"))?;
        self.k += 1;
        Ok(t)
    }

    fn expect(&mut self, c: char) -> Result<()> {
        match self.next()? {
            Token::Punct(p) if p == c => Ok(()),
            other => Err(Error::data(format!("STXM header: expected '{c}', found {other:?}"))),
        }
    }

    /// `name = value;` records up to `}` (or the end at the top level).
    fn group(&mut self, top: bool) -> Result<Value> {
        let mut m = Map::new();
        loop {
            match self.t.get(self.k) {
                None if top => return Ok(Value::Object(m)),
                Some(Token::Punct('}')) if !top => return Ok(Value::Object(m)),
                _ => {}
            }
            let name = match self.next()? {
                Token::Word(w) => w,
                other => return Err(Error::data(format!("STXM header: expected a name, found {other:?}"))),
            };
            self.expect('=')?;
            let v = self.value()?;
            self.expect(';')?;
            m.insert(name, v);
        }
    }

    /// A value: `{group}`, `(N, list)`, a string, or words (joined by spaces).
    fn value(&mut self) -> Result<Value> {
        match self.next()? {
            Token::Punct('{') => {
                let g = self.group(false)?;
                self.expect('}')?;
                Ok(g)
            }
            Token::Punct('(') => {
                let mut items = Vec::new();
                loop {
                    if self.t.get(self.k) == Some(&Token::Punct(')')) {
                        self.k += 1;
                        break;
                    }
                    items.push(self.value()?);
                    if self.t.get(self.k) == Some(&Token::Punct(',')) {
                        self.k += 1;
                    }
                }
                // The first item is the count of the rest.
                let n = items.first().and_then(Value::as_f64).unwrap_or(-1.0);
                if n != (items.len() as f64 - 1.0) {
                    return Err(Error::data(format!(
                        "STXM header: a list announces {n} items, holds {}",
                        items.len() - 1
                    )));
                }
                Ok(Value::Array(items.split_off(1)))
            }
            Token::Text(t) => Ok(Value::String(t)),
            Token::Word(w) => {
                let mut s = w;
                while let Some(Token::Word(more)) = self.t.get(self.k) {
                    s.push(' ');
                    s.push_str(more);
                    self.k += 1;
                }
                Ok(s.parse::<f64>().map(|v| json!(v)).unwrap_or(Value::String(s)))
            }
            Token::Punct(p) => Err(Error::data(format!("STXM header: unexpected '{p}'"))),
        }
    }
}

/// The header as nested JSON.
pub fn read_header(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(e).at(path))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut p = Parser { t: tokens(&text).map_err(|e| e.at(path))?, k: 0 };
    p.group(true).map_err(|e| e.at(path))
}

/// Points of an axis group (`PAxis`, `QAxis`, `StackAxis`) as numbers.
fn points(axis: Option<&Value>) -> Vec<f64> {
    axis.and_then(|a| a.get("Points"))
        .and_then(Value::as_array)
        .map(|v| v.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// A `.xim` image: a whitespace-separated matrix of numbers, every row the
/// same length. Refused (with the line) otherwise.
pub fn read_xim(path: &Path) -> Result<Array2<f32>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(e).at(path))?;
    let mut rows: Vec<Vec<f32>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: std::result::Result<Vec<f32>, _> = line.split_whitespace().map(str::parse::<f32>).collect();
        let r = r.map_err(|_| {
            Error::data(format!("line {}: not numbers (an STXM .xim holds a matrix of counts)", i + 1)).at(path)
        })?;
        if let Some(first) = rows.first()
            && first.len() != r.len()
        {
            return Err(
                Error::data(format!("line {}: {} values, the first row has {}", i + 1, r.len(), first.len())).at(path)
            );
        }
        rows.push(r);
    }
    let (h, w) = (rows.len(), rows.first().map_or(0, Vec::len));
    if h < 2 || w < 2 {
        return Err(Error::data(format!("{h}×{w} values are not an STXM image")).at(path));
    }
    Ok(Array2::from_shape_vec((h, w), rows.into_iter().flatten().collect()).expect("checked shape"))
}

/// Whether a text file looks like a `.xim` image: named `.xim` and a
/// matrix of at least 8 columns (a spectrum has a few).
pub fn is_xim(path: &Path, head: &str) -> bool {
    let named = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("xim"));
    let first = head.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    named && first.split_whitespace().count() >= 8 && first.split_whitespace().all(|v| v.parse::<f64>().is_ok())
}

/// A single `.xim` image as a raster of counts.
pub fn read_xim_raster(path: &Path) -> Result<Raster> {
    let img = read_xim(path)?;
    let mut r = Raster::new(DynArray::F32(img.into_dyn()));
    r.meta.insert("data_units".into(), "counts".into());
    r.meta.insert("format".into(), "ALS STXM image (.xim)".into());
    Ok(r)
}

/// The `.xim` file of energy `k` of `n` next to the header `hdr`.
fn xim_path(hdr: &Path, k: usize, n: usize) -> PathBuf {
    let stem = hdr.with_extension("");
    let numbered = PathBuf::from(format!("{}_a{k:03}.xim", stem.display()));
    if n == 1 && !numbered.exists() { PathBuf::from(format!("{}_a.xim", stem.display())) } else { numbered }
}

/// An STXM header and its images: an energy stack of counts
/// `(energy, rows, columns)` with the energies (eV) and pixel size (µm).
pub fn read_stxm(hdr: &Path) -> Result<EnergyStack> {
    let h = read_header(hdr)?;
    let scan = h.get("ScanDefinition").ok_or_else(|| Error::data("no ScanDefinition in the STXM header").at(hdr))?;
    let region = scan.get("Regions").and_then(Value::as_array).and_then(|r| r.first());
    let (px, qy) = (points(region.and_then(|r| r.get("PAxis"))), points(region.and_then(|r| r.get("QAxis"))));
    let energies = points(scan.get("StackAxis"));
    if px.len() < 2 || qy.len() < 2 {
        return Err(
            Error::data("the STXM header has no image region (PAxis and QAxis points): a point or line scan?").at(hdr)
        );
    }
    if energies.is_empty() {
        return Err(Error::data("the STXM header has no StackAxis energies").at(hdr));
    }
    let (ne, ny, nx) = (energies.len(), qy.len(), px.len());
    let mut data = Array3::<f32>::zeros((ne, ny, nx));
    for k in 0..ne {
        let path = xim_path(hdr, k, ne);
        if !path.exists() {
            return Err(
                Error::data(format!("energy {} of {ne} ({} eV): image file missing", k + 1, energies[k])).at(&path)
            );
        }
        let img = read_xim(&path)?;
        if img.dim() != (ny, nx) {
            return Err(Error::shape(format!(
                "holds {}×{} values, the header announces {ny}×{nx}",
                img.nrows(),
                img.ncols()
            ))
            .at(&path));
        }
        data.index_axis_mut(ndarray::Axis(0), k).assign(&img);
    }
    let mut st = EnergyStack::new(DynArray::F32(data.into_dyn()), energies);
    st.pixel_um = Some(((px[nx - 1] - px[0]) / (nx - 1) as f64).abs()).filter(|v| *v > 0.0);
    let mut meta = Metadata::new();
    meta.insert("data_units".into(), "counts".into());
    meta.insert("format".into(), "ALS STXM (.hdr + .xim)".into());
    if let Some(t) = scan.get("Type") {
        meta.insert("scan_type".into(), t.clone());
    }
    meta.insert("x_um".into(), json!([px[0], px[nx - 1]]));
    meta.insert("y_um".into(), json!([qy[0], qy[ny - 1]]));
    st.meta = meta;
    st.validate().map_err(|e| e.at(hdr))?;
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_scan(dir: &Path, energies: &[f64], grid: (usize, usize), xim_grid: (usize, usize)) -> PathBuf {
        let hdr = dir.join("scan.hdr");
        let list =
            |v: &[f64]| format!("({}, {})", v.len(), v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "));
        let xs: Vec<f64> = (0..grid.1).map(|i| 10.0 + 0.05 * i as f64).collect();
        let ys: Vec<f64> = (0..grid.0).map(|i| -3.0 + 0.05 * i as f64).collect();
        let text = format!(
            "ScanDefinition = {{ Label = \"scan.hdr\"; Type = \"NEXAFS Image Scan\"; Flags = \"Image\";\n\
             Regions = (1,\n{{\nPAxis = {{ Name = \"Sample X\"; Unit = \"um\"; Min = 10; Points = {};\n}};\n\
             QAxis = {{ Name = \"Sample Y\"; Unit = \"um\"; Points = {};\n}};\n}});\n\
             StackAxis = {{ Name = \"Energy\"; Unit = \"eV\"; Points = {};\n}};\n}};\nTime = \"2024 May 1\";\n",
            list(&xs),
            list(&ys),
            list(energies)
        );
        std::fs::write(&hdr, text).unwrap();
        for k in 0..energies.len() {
            let m: Vec<String> = (0..xim_grid.0)
                .map(|r| (0..xim_grid.1).map(|c| format!("{}", 1000 + 10 * k + r + c)).collect::<Vec<_>>().join("\t"))
                .collect();
            std::fs::write(xim_path(&hdr, k, energies.len()), m.join("\n") + "\n").unwrap();
        }
        hdr
    }

    #[test]
    fn reads_a_stack_and_refuses_mismatched_images() {
        let d = std::env::temp_dir().join(format!("chemomech-stxm-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let hdr = write_scan(&d, &[850.0, 852.5, 855.0], (12, 10), (12, 10));
        assert!(is_stxm_header(&std::fs::read_to_string(&hdr).unwrap()));
        let st = read_stxm(&hdr).unwrap();
        assert_eq!(st.data.shape(), &[3, 12, 10]);
        assert_eq!(st.energies_ev, vec![850.0, 852.5, 855.0]);
        assert!((st.pixel_um.unwrap() - 0.05).abs() < 1e-9);
        assert_eq!(st.meta["data_units"], "counts");
        let a = st.data.to_f32();
        assert_eq!(a[[2, 3, 4]], 1000.0 + 20.0 + 7.0);
        let x = read_xim_raster(&xim_path(&hdr, 1, 3)).unwrap();
        assert_eq!(x.data.shape(), &[12, 10]);
        // An image that does not match the header is refused, naming the file.
        let hdr = write_scan(&d, &[850.0, 852.5], (12, 10), (12, 9));
        let e = read_stxm(&hdr).unwrap_err().to_string();
        assert!(e.contains("scan_a000.xim") && e.contains("12×9") && e.contains("12×10"), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn header_grammar_errors_are_one_line() {
        let mut p = Parser { t: tokens("A = (3, 1, 2);").unwrap(), k: 0 };
        assert!(p.group(true).unwrap_err().to_string().contains("announces 3 items, holds 2"));
        let mut p = Parser { t: tokens("A = { B = 1; ").unwrap(), k: 0 };
        assert!(p.group(true).is_err());
    }
}
