//! Output directories written as a whole: a stage fills a temporary
//! sibling directory and it replaces the destination only when complete.

use chemomech_core::{Error, Result};
use std::path::{Path, PathBuf};

/// The marker file a chemomech stage leaves in its output directory.
pub const MARKER: &str = "chemomech.json";

/// A directory being written; `commit` moves it into place.
pub struct OutDir {
    /// The temporary sibling directory being written.
    pub tmp: PathBuf,
    /// The destination the directory replaces on commit.
    pub target: PathBuf,
}

impl OutDir {
    /// Starts writing `target`. An existing `target` is replaced only if it
    /// is empty or was written by chemomech (holds the marker file).
    pub fn create(target: &Path) -> Result<Self> {
        if target.exists() {
            if !target.is_dir() {
                return Err(Error::param("output exists and is not a directory").at(target));
            }
            let empty = std::fs::read_dir(target).map_err(|e| Error::io(e).at(target))?.next().is_none();
            if !empty && !target.join(MARKER).is_file() {
                return Err(
                    Error::param("output directory exists and was not written by chemomech; choose another").at(target)
                );
            }
        }
        let tmp = chemomech_io::atomic::temp_sibling(target);
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(e).at(&tmp))?;
        Ok(Self { tmp, target: target.to_path_buf() })
    }
    /// A path inside the (temporary) directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.join(rel)
    }
    /// Writes the marker (summary with provenance) and moves the directory into place.
    pub fn commit(self, summary: &serde_json::Value) -> Result<PathBuf> {
        chemomech_io::atomic::write_json(&self.tmp.join(MARKER), summary)?;
        let target = self.target.clone();
        let tmp = self.tmp.clone();
        std::mem::forget(self);
        chemomech_io::atomic::commit(&tmp, &target)?;
        Ok(target)
    }
}

impl Drop for OutDir {
    /// An abandoned (failed) output leaves nothing behind.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}
