//! Locating the project's shared real-data folder (`../shared/data` beside
//! the checkout) for tests and benchmarks.

use std::path::{Path, PathBuf};

/// The shared data folder: `$CHEMOMECH_SHARED_DATA`, else the first
/// `shared/data` found walking up from the current directory or from this
/// crate's source folder.
pub fn shared_data_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHEMOMECH_SHARED_DATA") {
        let p = PathBuf::from(p);
        return p.is_dir().then_some(p);
    }
    let starts = [std::env::current_dir().ok(), Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")))];
    for s in starts.into_iter().flatten() {
        for a in s.ancestors() {
            let c = a.join("shared").join("data");
            if c.join("README.md").is_file() {
                return Some(c);
            }
        }
    }
    None
}

/// A file in the shared data folder; panics with a clear message when the
/// folder is missing (tests must not pass silently without their data).
pub fn shared(rel: impl AsRef<Path>) -> PathBuf {
    let d =
        shared_data_dir().expect("shared data folder not found: put it at ../shared/data or set CHEMOMECH_SHARED_DATA");
    let p = d.join(rel);
    assert!(p.exists(), "shared data file missing: {}", p.display());
    p
}
