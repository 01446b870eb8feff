//! Atomic output: everything is written to a temporary sibling first and
//! renamed into place only when complete, so an interrupted or failed run
//! never leaves a half-written file. Outputs may not overwrite inputs.

use chemomech_core::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary path next to `target` (same directory, so rename is atomic).
pub fn temp_sibling(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Writes `target` through `write`, which receives a temporary path to fill.
/// On success the temporary is renamed onto `target`; on failure it is removed.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("a.txt");
/// chemomech_io::atomic::write_via_temp(&p, |tmp| Ok(std::fs::write(tmp, b"hi")?)).unwrap();
/// assert_eq!(std::fs::read(&p).unwrap(), b"hi");
/// ```
pub fn write_via_temp<F>(target: &Path, write: F) -> Result<()>
where
    F: FnOnce(&Path) -> Result<()>,
{
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(e).at(parent))?;
    }
    let tmp = temp_sibling(target);
    let result = write(&tmp);
    match result {
        Ok(()) => commit(&tmp, target),
        Err(e) => {
            remove_any(&tmp);
            Err(e.at(target))
        }
    }
}

/// Moves a finished temporary file or directory onto `target`, replacing an
/// earlier output of the same name.
pub fn commit(tmp: &Path, target: &Path) -> Result<()> {
    if target.is_dir() && !target.is_symlink() {
        // rename() cannot replace a non-empty directory: move the old one aside first.
        let old = temp_sibling(target);
        std::fs::rename(target, &old).map_err(|e| Error::io(e).at(target))?;
        if let Err(e) = std::fs::rename(tmp, target) {
            let _ = std::fs::rename(&old, target);
            remove_any(tmp);
            return Err(Error::io(e).at(target));
        }
        remove_any(&old);
        Ok(())
    } else {
        std::fs::rename(tmp, target).map_err(|e| {
            remove_any(tmp);
            Error::io(e).at(target)
        })
    }
}

fn remove_any(p: &Path) {
    if p.is_dir() {
        let _ = std::fs::remove_dir_all(p);
    } else {
        let _ = std::fs::remove_file(p);
    }
}

/// Writes bytes atomically.
pub fn write_bytes(target: &Path, bytes: &[u8]) -> Result<()> {
    write_via_temp(target, |tmp| std::fs::write(tmp, bytes).map_err(|e| Error::io(e).at(tmp)))
}

/// Writes pretty JSON atomically.
pub fn write_json(target: &Path, value: &serde_json::Value) -> Result<()> {
    let mut s = serde_json::to_string_pretty(value)?;
    s.push('\n');
    write_bytes(target, s.as_bytes())
}

/// Errors if `output` is one of `inputs` (or inside an input directory).
pub fn ensure_not_input(output: &Path, inputs: &[&Path]) -> Result<()> {
    let out = normalize(output);
    for i in inputs {
        let inp = normalize(i);
        if out == inp || (i.is_dir() && out.starts_with(&inp)) {
            return Err(Error::param("refusing to overwrite an input; choose another output path").at(output));
        }
    }
    Ok(())
}

/// Absolute, symlink-resolved form of a path that may not exist yet.
fn normalize(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let abs = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => parent.canonicalize().unwrap_or_else(|_| parent.to_path_buf()).join(name),
        _ => abs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn failed_write_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.bin");
        let r = write_via_temp(&p, |tmp| {
            std::fs::write(tmp, b"partial")?;
            Err(Error::data("boom"))
        });
        assert!(r.is_err());
        assert!(!p.exists());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }
    #[test]
    fn replaces_directories_and_refuses_inputs() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.zarr");
        for k in 0..2 {
            write_via_temp(&p, |tmp| {
                std::fs::create_dir_all(tmp.join("sub"))?;
                std::fs::write(tmp.join("sub/f"), format!("{k}"))?;
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(std::fs::read_to_string(p.join("sub/f")).unwrap(), "1");
        assert!(ensure_not_input(&p, &[&p]).is_err());
        assert!(ensure_not_input(&p.join("sub/f"), &[&p]).is_err());
        assert!(ensure_not_input(&d.path().join("other"), &[&p]).is_ok());
    }
}
