//! What every function shares: errors as Python exceptions, rayon pools
//! per calling thread, standard layout of borrowed arrays, and tables,
//! JSON and file metadata as Python objects.

use chemomech_core::error::ErrorKind;
use chemomech_core::{Column, DynArray, Error, Metadata, Table, dyn_dispatch};
use ndarray::{ArrayView3, CowArray, Ix3};
use numpy::IntoPyArray;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

pyo3::create_exception!(
    chemomech,
    Cancelled,
    pyo3::exceptions::PyException,
    "The work stopped because a progress callback asked (returned False)."
);

/// chemomech's error as a Python exception: `OSError` for the operating
/// system's failures and for files that are not what they claim, else
/// `ValueError`; the message is the library's one line.
pub(crate) fn py_err(e: Error) -> PyErr {
    let msg = e.to_string();
    match e.kind {
        ErrorKind::Io => PyOSError::new_err(msg),
        ErrorKind::Data if e.path.is_some() => PyOSError::new_err(msg),
        ErrorKind::Cancelled => Cancelled::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// Runs `f` with the GIL released: in a rayon pool of `threads` threads of
/// its own, or in rayon's global pool when `threads` is `None`.
///
/// The pools are kept per calling thread and thread count (starting one
/// costs about 0.3 ms): two Python threads asking for `threads=1` get a
/// pool each and run side by side; a pool ends with its thread.
pub(crate) fn run<T: Send>(py: Python<'_>, threads: Option<usize>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    let pool = match threads {
        Some(0) => return Err(PyValueError::new_err("threads must be at least 1, got 0")),
        Some(n) => Some(pool(n)?),
        None => None,
    };
    Ok(py.detach(move || match pool {
        Some(p) => p.install(f),
        None => f(),
    }))
}

thread_local! {
    /// This thread's rayon pools, by thread count.
    static POOLS: RefCell<HashMap<usize, Arc<rayon::ThreadPool>>> = RefCell::new(HashMap::new());
}

/// This thread's pool of `n` threads, started on first use.
fn pool(n: usize) -> PyResult<Arc<rayon::ThreadPool>> {
    POOLS.with(|pools| {
        if let Some(p) = pools.borrow().get(&n) {
            return Ok(p.clone());
        }
        let p = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(move |i| format!("chemomech-{n}-{i}"))
                .build()
                .map_err(|e| PyRuntimeError::new_err(format!("cannot start {n} threads: {e}")))?,
        );
        pools.borrow_mut().insert(n, p.clone());
        Ok(p)
    })
}

/// The view in standard (C) layout: borrowed when it already is, else copied.
pub(crate) fn standard<'a, T: Clone>(a: ArrayView3<'a, T>) -> CowArray<'a, T, Ix3> {
    if a.is_standard_layout() { CowArray::from(a) } else { CowArray::from(a.as_standard_layout().into_owned()) }
}

/// Refuses arrays of different shapes.
pub(crate) fn same_shape(a: &[usize], b: &[usize], what: &str) -> PyResult<()> {
    if a != b {
        return Err(PyValueError::new_err(format!("{what}: shapes differ, {a:?} and {b:?}")));
    }
    Ok(())
}

/// A table as a dict of numpy columns (text columns as lists of str), and
/// a dict of the columns' units.
pub(crate) fn table_to_py<'py>(py: Python<'py>, t: Table) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
    let cols = PyDict::new(py);
    let units = PyDict::new(py);
    for ((name, col), unit) in t.names.into_iter().zip(t.columns).zip(t.units) {
        match col {
            Column::F64(v) => cols.set_item(&name, v.into_pyarray(py))?,
            Column::I64(v) => cols.set_item(&name, v.into_pyarray(py))?,
            Column::U64(v) => cols.set_item(&name, v.into_pyarray(py))?,
            Column::Bool(v) => cols.set_item(&name, v.into_pyarray(py))?,
            Column::Str(v) => cols.set_item(&name, v)?,
        }
        if let Some(u) = unit {
            units.set_item(&name, u)?;
        }
    }
    Ok((cols, units))
}

/// Any array of the data model as a numpy array (moved, no copy).
pub(crate) fn dyn_to_py(py: Python<'_>, a: DynArray) -> Bound<'_, PyAny> {
    dyn_dispatch!(a, x => x.into_pyarray(py).into_any())
}

/// JSON (metadata, configurations) as Python objects.
pub(crate) fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(v).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// File metadata as a dict.
pub(crate) fn meta_to_py<'py>(py: Python<'py>, m: &Metadata) -> PyResult<Bound<'py, PyDict>> {
    Ok(json_to_py(py, &serde_json::to_value(m).map_err(|e| PyValueError::new_err(e.to_string()))?)?.cast_into()?)
}

/// A numpy array of any dtype the data model holds, copied into a
/// [`DynArray`] (for writing files; kernels borrow their inputs instead).
pub(crate) fn dyn_from_py(a: &Bound<'_, PyAny>, what: &str) -> PyResult<DynArray> {
    use numpy::PyReadonlyArrayDyn as A;
    macro_rules! try_as {
        ($t:ty, $v:ident) => {
            if let Ok(x) = a.extract::<A<'_, $t>>() {
                return Ok(DynArray::$v(x.as_array().to_owned()));
            }
        };
    }
    try_as!(u8, U8);
    try_as!(u16, U16);
    try_as!(i16, I16);
    try_as!(u32, U32);
    try_as!(i32, I32);
    try_as!(u64, U64);
    try_as!(i64, I64);
    try_as!(f32, F32);
    try_as!(f64, F64);
    let dtype = a.getattr("dtype").map(|d| d.to_string()).unwrap_or_else(|_| "not an array".into());
    Err(PyValueError::new_err(format!(
        "{what}: dtype {dtype} is not one of uint8, uint16, int16, uint32, int32, uint64, int64, float32, float64"
    )))
}

/// A table from a dict of 1-D columns (numpy float64, int64, uint64 or bool
/// arrays, or lists of str), all of one length.
pub(crate) fn table_from_py(cols: &Bound<'_, PyDict>, what: &str) -> PyResult<Table> {
    use numpy::PyReadonlyArray1 as A;
    let mut t = Table::default();
    for (k, v) in cols.iter() {
        let name: String = k.extract()?;
        let col = if let Ok(x) = v.extract::<A<'_, f64>>() {
            Column::F64(x.as_array().to_vec())
        } else if let Ok(x) = v.extract::<A<'_, i64>>() {
            Column::I64(x.as_array().to_vec())
        } else if let Ok(x) = v.extract::<A<'_, u64>>() {
            Column::U64(x.as_array().to_vec())
        } else if let Ok(x) = v.extract::<A<'_, bool>>() {
            Column::Bool(x.as_array().to_vec())
        } else if let Ok(x) = v.extract::<Vec<String>>() {
            Column::Str(x)
        } else {
            return Err(PyValueError::new_err(format!(
                "{what}: column '{name}' must be a 1-D float64, int64, uint64 or bool array or a list of str"
            )));
        };
        t.push(&name, col, None).map_err(|e| PyValueError::new_err(format!("{what}: {e}")))?;
    }
    Ok(t)
}

/// Merges `user` into `base` (the defaults as JSON): objects key by key,
/// anything else replaced. A key the defaults lack is refused with its path,
/// so a misspelt option is never silently ignored; a one-key object (an
/// enum variant) may be replaced by another variant.
fn merge_json(base: &mut serde_json::Value, user: serde_json::Value, path: &str) -> Result<(), String> {
    use serde_json::Value;
    match (base, user) {
        (Value::Object(b), Value::Object(u)) => {
            let switch = b.len() == 1 && u.len() == 1 && u.keys().all(|k| !b.contains_key(k));
            if switch {
                *b = u;
                return Ok(());
            }
            for (k, v) in u {
                let at = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match b.get_mut(&k) {
                    Some(bv) => merge_json(bv, v, &at)?,
                    None => {
                        let known: Vec<&str> = b.keys().map(String::as_str).collect();
                        return Err(format!("unknown parameter '{at}' (known: {})", known.join(", ")));
                    }
                }
            }
            Ok(())
        }
        (b, u) => {
            *b = u;
            Ok(())
        }
    }
}

/// Typed parameters from a JSON object of overrides of their defaults
/// (`None`: the defaults), refusing unknown keys.
pub(crate) fn params_from_json<T>(json: Option<&str>, what: &str) -> PyResult<T>
where
    T: Default + serde::Serialize + serde::de::DeserializeOwned,
{
    let bad = |e: String| PyValueError::new_err(format!("{what}: {e}"));
    let mut v = serde_json::to_value(T::default()).map_err(|e| bad(e.to_string()))?;
    if let Some(s) = json {
        let user: serde_json::Value = serde_json::from_str(s).map_err(|e| bad(e.to_string()))?;
        merge_json(&mut v, user, "").map_err(bad)?;
    }
    serde_json::from_value(v).map_err(|e| bad(e.to_string()))
}
