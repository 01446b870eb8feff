//! `chemomech info PATH [--json]`.

use crate::ui::Ui;
use chemomech_core::Result;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// File or folder to describe (HDF5, xrm/txrm, TIFF, Zarr, XDI, text, npy, Parquet).
    pub path: PathBuf,
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    let v = chemomech_io::info(&a.path)?;
    ui.result(&v, || human(&v));
    Ok(())
}

/// A readable rendering of the info JSON: scalars as `key: value`, arrays
/// and objects compactly, long lists summarised.
fn human(v: &serde_json::Value) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} — {}, {} bytes",
        v["path"].as_str().unwrap_or(""),
        v["format"].as_str().unwrap_or(""),
        v["bytes"]
    );
    if let Some(o) = v.as_object() {
        for (k, x) in o {
            if matches!(k.as_str(), "path" | "format" | "bytes") || x.is_null() {
                continue;
            }
            render(&mut s, k, x, 1);
        }
    }
    s
}

fn render(s: &mut String, key: &str, x: &serde_json::Value, depth: usize) {
    let pad = "  ".repeat(depth);
    match x {
        serde_json::Value::Object(o) if depth < 3 && !o.is_empty() => {
            let _ = writeln!(s, "{pad}{key}:");
            for (k, y) in o {
                if !y.is_null() {
                    render(s, k, y, depth + 1);
                }
            }
        }
        serde_json::Value::Array(a) if a.iter().all(|y| y.is_object()) && !a.is_empty() && depth < 3 => {
            let _ = writeln!(s, "{pad}{key}:");
            for y in a {
                let _ = writeln!(s, "{pad}  - {}", compact(y, 160));
            }
        }
        serde_json::Value::Array(a) if a.len() > 8 => {
            let head: Vec<String> = a.iter().take(3).map(|y| compact(y, 40)).collect();
            let _ = writeln!(
                s,
                "{pad}{key}: [{}, … {} values … {}]",
                head.join(", "),
                a.len(),
                compact(&a[a.len() - 1], 40)
            );
        }
        _ => {
            let _ = writeln!(s, "{pad}{key}: {}", compact(x, 200));
        }
    }
}

fn compact(x: &serde_json::Value, max: usize) -> String {
    let t = match x {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if t.chars().count() > max { format!("{}…", t.chars().take(max).collect::<String>()) } else { t }
}
