//! Pipelines: a TOML pipeline run as `chemomech run` runs it, with an
//! optional Python progress callback that can cancel.

use crate::convert::{json_to_py, py_err};
use crate::progress::PyProgress;
use chemomech_core::Progress;
use chemomech_pipeline::runner;
use pyo3::prelude::*;
use std::path::PathBuf;

/// Runs a TOML pipeline into `out` (default: `[pipeline] out`, else
/// `STEM-run` beside the file); returns `run.json` as a dict.
#[pyfunction]
#[pyo3(signature = (path, out = None, progress = None))]
pub(crate) fn run_pipeline<'py>(
    py: Python<'py>,
    path: PathBuf,
    out: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let reg = chemomech_pipeline::stage::registry();
    let p = runner::parse(&path, &reg).map_err(py_err)?;
    let run_dir = out.unwrap_or_else(|| p.default_run_dir());
    let prog = progress.map(PyProgress::new);
    let res = py.detach(|| {
        let none = chemomech_core::NoProgress;
        let pr: &dyn Progress = match &prog {
            Some(p) => p,
            None => &none,
        };
        // Stage names prefix the stages' own progress labels.
        let mut events = |st: &runner::StageSpec, rec: Option<&runner::StageRecord>| {
            if let (Some(p), None) = (&prog, rec) {
                p.set_label(&st.name);
            }
        };
        runner::run(&p, &reg, &run_dir, pr, &mut events)
    });
    if let Some(e) = prog.and_then(PyProgress::into_error) {
        return Err(e);
    }
    json_to_py(py, &res.map_err(py_err)?)
}
