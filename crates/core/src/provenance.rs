//! Provenance: what made an output (tool version, command, parameters, input
//! checksums, start/end time). Every writer stores it with the data.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

/// An input file and its SHA-256 checksum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputRecord {
    /// The file or directory path as given.
    pub path: String,
    /// Total size in bytes (summed over all files for a directory).
    pub bytes: u64,
    /// SHA-256 checksum as lower-case hex.
    pub sha256: String,
}

impl InputRecord {
    /// Checksums a file, or every file below a directory (sorted by relative path).
    pub fn of(path: &Path) -> Result<Self> {
        let mut h = Sha256::new();
        let mut bytes = 0u64;
        let meta = std::fs::metadata(path).map_err(|e| Error::io(e).at(path))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            collect_files(path, path, &mut files).map_err(|e| e.at(path))?;
            files.sort();
            for rel in files {
                h.update(rel.as_bytes());
                h.update([0u8]);
                bytes += hash_file(&path.join(&rel), &mut h)?;
            }
        } else {
            bytes = hash_file(path, &mut h)?;
        }
        Ok(Self { path: path.display().to_string(), bytes, sha256: hex(&h.finalize()) })
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            collect_files(root, &p, out)?;
        } else {
            out.push(p.strip_prefix(root).unwrap_or(&p).to_string_lossy().into_owned());
        }
    }
    Ok(())
}

fn hash_file(path: &Path, h: &mut Sha256) -> Result<u64> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(e).at(path))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| Error::io(e).at(path))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok(n)
}

/// Lower-case hexadecimal of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of bytes as hex (used for cache keys).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The record of how an output was made.
///
/// ```
/// use chemomech_core::Provenance;
/// let mut p = Provenance::start("convert", serde_json::json!({"compression": "zstd"}));
/// p.finish();
/// let j = p.to_json();
/// assert_eq!(j["tool"], "chemomech");
/// assert!(j["finished_utc"].is_string());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The tool name (`chemomech`).
    pub tool: String,
    /// chemomech's version.
    pub version: String,
    /// The stage or subcommand.
    pub stage: String,
    /// The full command line, when run from the CLI.
    pub command: Vec<String>,
    /// The stage's parameters as JSON.
    pub parameters: serde_json::Value,
    /// The input files with their checksums.
    pub inputs: Vec<InputRecord>,
    /// Start time, RFC 3339 UTC.
    pub started_utc: String,
    /// End time, RFC 3339 UTC, once finished.
    pub finished_utc: Option<String>,
}

impl Provenance {
    /// Starts a record now for `stage` with its parameters.
    pub fn start(stage: &str, parameters: serde_json::Value) -> Self {
        Self {
            tool: "chemomech".into(),
            version: crate::VERSION.into(),
            stage: stage.into(),
            command: std::env::args().collect(),
            parameters,
            inputs: Vec::new(),
            started_utc: now_utc(),
            finished_utc: None,
        }
    }
    /// Records an input file with its checksum.
    pub fn add_input(&mut self, path: &Path) -> Result<()> {
        self.add_record(InputRecord::of(path)?);
        Ok(())
    }
    /// Records an input already checksummed (e.g. on another thread while
    /// the file was being read); a path already recorded is kept once.
    pub fn add_record(&mut self, rec: InputRecord) {
        if !self.inputs.iter().any(|r| r.path == rec.path) {
            self.inputs.push(rec);
        }
    }
    /// Marks the end time.
    pub fn finish(&mut self) {
        self.finished_utc = Some(now_utc());
    }
    /// As a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("provenance is plain data")
    }
    /// As a compact JSON string.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).expect("provenance is plain data")
    }
}

/// The current time, RFC 3339 UTC, second precision.
pub fn now_utc() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn checksums_file_and_dir() {
        let d = std::env::temp_dir().join(format!("cm-prov-{}", std::process::id()));
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/a"), b"abc").unwrap();
        let r = InputRecord::of(&d.join("sub/a")).unwrap();
        assert_eq!(r.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(r.bytes, 3);
        let rd = InputRecord::of(&d).unwrap();
        assert_eq!(rd.bytes, 3);
        assert!(InputRecord::of(&d.join("missing")).unwrap_err().to_string().contains("missing"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
