//! Progress reported to a Python callback, which can cancel the work.

use chemomech_core::Progress;
use pyo3::prelude::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Least time between two calls of the Python callback from `inc`.
const CALLBACK_INTERVAL: Duration = Duration::from_millis(100);

/// [`Progress`] that calls a Python function `callback(label, done, total)`
/// (with the GIL, at most every [`CALLBACK_INTERVAL`] while work goes on)
/// and cancels when it returns `False` or raises.
pub(crate) struct PyProgress {
    callback: Py<PyAny>,
    /// The stage of the pipeline that runs, prefixed to the label.
    label: Mutex<String>,
    total: AtomicU64,
    done: AtomicU64,
    last_call: Mutex<Option<Instant>>,
    cancel: AtomicBool,
    /// The callback's exception, re-raised when the run stops.
    error: Mutex<Option<PyErr>>,
}

impl PyProgress {
    pub(crate) fn new(callback: Py<PyAny>) -> Self {
        Self {
            callback,
            label: Mutex::new(String::new()),
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            last_call: Mutex::new(None),
            cancel: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    /// Names the work that goes on (a pipeline's stage) and reports it.
    pub(crate) fn set_label(&self, label: &str) {
        *self.label.lock().expect("not poisoned") = label.to_string();
        self.call(true);
    }

    /// The callback's exception, if it raised one.
    pub(crate) fn into_error(self) -> Option<PyErr> {
        self.error.into_inner().expect("not poisoned")
    }

    /// Calls the callback (unless cancelled, or throttled when `force` is false).
    fn call(&self, force: bool) {
        if self.cancel.load(Ordering::Relaxed) {
            return;
        }
        {
            let mut last = self.last_call.lock().expect("not poisoned");
            if !force && last.is_some_and(|t| t.elapsed() < CALLBACK_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        let label = self.label.lock().expect("not poisoned").clone();
        let (done, total) = (self.done.load(Ordering::Relaxed), self.total.load(Ordering::Relaxed));
        Python::attach(|py| match self.callback.call1(py, (label, done, total)) {
            Ok(r) if matches!(r.extract::<bool>(py), Ok(false)) => self.cancel.store(true, Ordering::Relaxed),
            Ok(_) => {}
            Err(e) => {
                self.cancel.store(true, Ordering::Relaxed);
                *self.error.lock().expect("not poisoned") = Some(e);
            }
        });
    }
}

impl Progress for PyProgress {
    fn start(&self, label: &str, total: u64) {
        *self.label.lock().expect("not poisoned") = label.to_string();
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.call(true);
    }
    fn inc(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
        self.call(false);
    }
    fn finish(&self) {
        self.done.store(self.total.load(Ordering::Relaxed), Ordering::Relaxed);
        self.call(true);
    }
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}
