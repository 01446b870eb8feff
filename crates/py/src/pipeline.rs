//! Pipelines: a TOML pipeline run as `chemomech run` runs it, with an
//! optional Python progress callback that can cancel.

use crate::convert::{json_to_py, py_err};
use crate::progress::PyProgress;
use chemomech_core::{Error, Progress, Result};
use chemomech_pipeline::runner;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::Mutex;

/// Runs a TOML pipeline into `out` (default: `[pipeline] out`, else
/// `STEM-run` beside the file); returns `run.json` as a dict.
///
/// `dispatch(kind, name, params_json, out, work)`, when given, is offered
/// every stage that is not cached: it returns `None` to let the engine run
/// it here, or the JSON text of `{"summary": …, "headline": …}` once it has
/// written the stage's output at `out` (the Dask runner of
/// `chemomech.dask`). Its exceptions stop the run and are re-raised.
#[pyfunction]
#[pyo3(signature = (path, out = None, progress = None, dispatch = None))]
pub(crate) fn run_pipeline<'py>(
    py: Python<'py>,
    path: PathBuf,
    out: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
    dispatch: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let reg = chemomech_pipeline::stage::registry();
    let mut p = runner::parse(&path, &reg).map_err(py_err)?;
    // The engine is this extension module, not the interpreter: a rebuilt
    // module must not reuse stages the old one cached.
    p.engine = Some(py.import("chemomech._core")?.getattr("__file__")?.extract::<PathBuf>()?);
    let run_dir = out.unwrap_or_else(|| p.default_run_dir());
    let prog = progress.map(PyProgress::new);
    let dispatcher = dispatch.map(PyDispatch::new);
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
        let offer = |d: &runner::Dispatched| dispatcher.as_ref().and_then(|x| x.offer(d));
        let dispatch: Option<runner::Dispatch> = if dispatcher.is_some() { Some(&offer) } else { None };
        runner::run_with(&p, &reg, &run_dir, pr, &mut events, dispatch)
    });
    if let Some(e) = prog.and_then(PyProgress::into_error) {
        return Err(e);
    }
    if let Some(e) = dispatcher.and_then(PyDispatch::into_error) {
        return Err(e);
    }
    json_to_py(py, &res.map_err(py_err)?)
}

/// Parses and checks a pipeline file without running it (as the runner does
/// first): its error names the file, the line and the key.
#[pyfunction]
pub(crate) fn check_pipeline(path: PathBuf) -> PyResult<()> {
    runner::parse(&path, &chemomech_pipeline::stage::registry()).map(|_| ()).map_err(py_err)
}

/// A Python function that may run stages elsewhere, and its exception.
struct PyDispatch {
    callback: Py<PyAny>,
    error: Mutex<Option<PyErr>>,
}

impl PyDispatch {
    fn new(callback: Py<PyAny>) -> Self {
        Self { callback, error: Mutex::new(None) }
    }

    fn into_error(self) -> Option<PyErr> {
        self.error.into_inner().expect("not poisoned")
    }

    /// Offers a stage to the Python function (with the GIL): `None` when it
    /// declines, its result (or its exception, kept to re-raise) otherwise.
    fn offer(&self, d: &runner::Dispatched) -> Option<Result<runner::Finished>> {
        let args = (
            d.stage.kind.clone(),
            d.stage.name.clone(),
            d.params.to_string(),
            d.out.display().to_string(),
            d.work.display().to_string(),
        );
        let answer: PyResult<Option<String>> =
            Python::attach(|py| self.callback.call1(py, args).and_then(|r| r.extract::<Option<String>>(py)));
        let text = match answer {
            Ok(None) => return None,
            Ok(Some(t)) => t,
            Err(e) => {
                let msg = Python::attach(|py| e.value(py).to_string());
                let cancelled = Python::attach(|py| e.is_instance_of::<crate::convert::Cancelled>(py));
                *self.error.lock().expect("not poisoned") = Some(e);
                return Some(Err(if cancelled { Error::cancelled(msg) } else { Error::param(msg) }));
            }
        };
        let v: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => return Some(Err(Error::data(format!("the dispatcher's answer is not JSON: {e}")))),
        };
        Some(Ok(runner::Finished {
            params: d.params.clone(),
            headline: v["headline"].as_str().unwrap_or_default().to_string(),
            summary: v["summary"].clone(),
        }))
    }
}
