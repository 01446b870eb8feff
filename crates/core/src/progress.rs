//! Progress reporting without I/O in the algorithms: stages call a
//! [`Progress`] they are handed; the CLI passes a progress bar, libraries and
//! tests pass [`NoProgress`].

/// Receives progress from long-running work. Must be cheap and thread-safe.
pub trait Progress: Sync {
    /// Announces the total amount of work and a short label.
    fn start(&self, _label: &str, _total: u64) {}
    /// Reports `n` more units done.
    fn inc(&self, _n: u64) {}
    /// The work is complete.
    fn finish(&self) {}
    /// Whether the caller asked to stop: long work checks this between
    /// steps and returns an [`ErrorKind::Cancelled`](crate::error::ErrorKind::Cancelled) error.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Ignores all progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
