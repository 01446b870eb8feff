//! One error type for the whole library: a message, optionally tied to a file.
//!
//! Displayed as one line, `PATH: problem` when a file is involved, so the CLI
//! can print it as is.

use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong, coarsely: lets the CLI choose an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read, or is not what it claims (truncated, corrupt, missing dataset).
    Data,
    /// A parameter or combination of parameters is invalid.
    Parameter,
    /// Shapes or lengths disagree (theta vs projections, flats vs data, ...).
    Shape,
    /// An operating-system I/O failure (permissions, disk full, ...).
    Io,
    /// The caller asked to stop (through [`crate::Progress::cancelled`]).
    Cancelled,
}

/// chemomech's error: one line of text, the kind, and the file it concerns.
#[derive(Debug, Clone)]
pub struct Error {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// The file the error concerns, if any.
    pub path: Option<PathBuf>,
    /// The problem, as one line of text.
    pub message: String,
}

/// `Result` with chemomech's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A data error (corrupt or unexpected content).
    pub fn data(msg: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Data, path: None, message: one_line(msg.into()) }
    }
    /// An invalid parameter.
    pub fn param(msg: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Parameter, path: None, message: one_line(msg.into()) }
    }
    /// Shapes that do not agree.
    pub fn shape(msg: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Shape, path: None, message: one_line(msg.into()) }
    }
    /// Work stopped because the caller asked (see [`crate::Progress::cancelled`]).
    pub fn cancelled(msg: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Cancelled, path: None, message: one_line(msg.into()) }
    }
    /// An OS-level I/O failure.
    pub fn io(err: std::io::Error) -> Self {
        Self { kind: ErrorKind::Io, path: None, message: one_line(err.to_string()) }
    }
    /// Ties the error to a file, unless it already names one.
    pub fn at(mut self, path: impl AsRef<Path>) -> Self {
        if self.path.is_none() {
            self.path = Some(path.as_ref().to_path_buf());
        }
        self
    }
    /// Prefixes the message with context (e.g. the dataset name).
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.message = format!("{ctx}: {}", self.message);
        self
    }
}

fn one_line(s: String) -> String {
    if s.contains('\n') {
        s.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
    } else {
        s
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: {}", p.display(), self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io(e)
    }
}

impl From<ndarray::ShapeError> for Error {
    fn from(e: ndarray::ShapeError) -> Self {
        Error::shape(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::data(format!("JSON: {e}"))
    }
}

/// Attaches a path to any `Result` whose error converts into [`Error`].
pub trait ResultExt<T> {
    /// Ties an error to `path`.
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| e.into().at(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn displays_one_line_with_path() {
        let e = Error::data("bad\nthing\n").at("/x/y.h5");
        assert_eq!(e.to_string(), "/x/y.h5: bad; thing");
        assert_eq!(e.kind, ErrorKind::Data);
    }
}
