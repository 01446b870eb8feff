//! `chemomech._core`: the Python module of chemomech, built by maturin.
//!
//! Plain functions over numpy arrays that call the library crates (never the
//! CLI). The pure-Python package `chemomech` (in `python/chemomech`) checks
//! and converts the inputs (dtype, 2-D → one-voxel 3-D, spacing), documents
//! the functions and calls these; they take the arrays as they come:
//!
//! - inputs are borrowed from numpy without a copy when they are
//!   C-contiguous; other layouts (Fortran order, steps, negative strides)
//!   are copied into standard layout, with the GIL released;
//! - outputs are moved into numpy without a copy;
//! - the library work runs with the GIL released (`Python::detach`), in a
//!   rayon pool of its own when `threads` is given (else rayon's global
//!   pool; see [`run`]);
//! - chemomech's errors become `ValueError` (bad data or parameters) or
//!   `OSError` (files), with the library's one-line message.

use chemomech_core::error::ErrorKind;
use chemomech_core::{Column, DynArray, Error, Metadata, Table, dyn_dispatch};
use chemomech_imgproc::label::Connectivity;
use chemomech_particles::metrics::{DamageThresholds, PhaseCodes};
use chemomech_particles::separate::SeparateParams;
use chemomech_segment::phases::{Denoise, PhaseDetails, PhaseMethod};
use ndarray::{ArrayView3, CowArray, Ix3};
use numpy::{IntoPyArray, PyArray3, PyReadonlyArray1, PyReadonlyArray3};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// chemomech's error as a Python exception: `OSError` for the operating
/// system's failures and for files that are not what they claim, else
/// `ValueError`; the message is the library's one line.
fn py_err(e: Error) -> PyErr {
    let msg = e.to_string();
    match e.kind {
        ErrorKind::Io => PyOSError::new_err(msg),
        ErrorKind::Data if e.path.is_some() => PyOSError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// Runs `f` with the GIL released: in a rayon pool of `threads` threads of
/// its own, or in rayon's global pool when `threads` is `None`.
///
/// The pools are kept per calling thread and thread count (starting one
/// costs about 0.3 ms): two Python threads asking for `threads=1` get a
/// pool each and run side by side; a pool ends with its thread.
fn run<T: Send>(py: Python<'_>, threads: Option<usize>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
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
fn standard<'a, T: Clone>(a: ArrayView3<'a, T>) -> CowArray<'a, T, Ix3> {
    if a.is_standard_layout() { CowArray::from(a) } else { CowArray::from(a.as_standard_layout().into_owned()) }
}

/// Refuses arrays of different shapes.
fn same_shape(a: &[usize], b: &[usize], what: &str) -> PyResult<()> {
    if a != b {
        return Err(PyValueError::new_err(format!("{what}: shapes differ, {a:?} and {b:?}")));
    }
    Ok(())
}

/// A table as a dict of numpy columns (text columns as lists of str), and
/// a dict of the columns' units.
fn table_to_py<'py>(py: Python<'py>, t: Table) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
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
fn dyn_to_py(py: Python<'_>, a: DynArray) -> Bound<'_, PyAny> {
    dyn_dispatch!(a, x => x.into_pyarray(py).into_any())
}

/// JSON (metadata, configurations) as Python objects.
fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(v).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// File metadata as a dict.
fn meta_to_py<'py>(py: Python<'py>, m: &Metadata) -> PyResult<Bound<'py, PyDict>> {
    Ok(json_to_py(py, &serde_json::to_value(m).map_err(|e| PyValueError::new_err(e.to_string()))?)?.cast_into()?)
}

/// Connected components of a boolean volume: (uint32 labels, count).
#[pyfunction]
#[pyo3(signature = (mask, connectivity = 26, threads = None))]
fn label<'py>(
    py: Python<'py>,
    mask: PyReadonlyArray3<'py, bool>,
    connectivity: u32,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyArray3<u32>>, u32)> {
    let conn: Connectivity = connectivity.to_string().parse().map_err(py_err)?;
    let m = mask.as_array();
    let (l, n) = run(py, threads, || chemomech_imgproc::label::label(standard(m).view(), conn))?;
    Ok((l.into_pyarray(py), n))
}

/// Euclidean distance (µm) of every true voxel to the nearest false one.
#[pyfunction]
#[pyo3(signature = (mask, spacing_um, threads = None))]
fn edt<'py>(
    py: Python<'py>,
    mask: PyReadonlyArray3<'py, bool>,
    spacing_um: [f64; 3],
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let m = mask.as_array();
    let d = run(py, threads, || chemomech_imgproc::edt::edt(standard(m).view(), spacing_um))?;
    Ok(d.into_pyarray(py))
}

/// Gaussian smoothing with σ in µm.
#[pyfunction]
#[pyo3(signature = (volume, sigma_um, spacing_um, threads = None))]
fn gaussian<'py>(
    py: Python<'py>,
    volume: PyReadonlyArray3<'py, f32>,
    sigma_um: f64,
    spacing_um: [f64; 3],
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let v = volume.as_array();
    let g = run(py, threads, || chemomech_imgproc::filters::gaussian(standard(v).view(), sigma_um, spacing_um))?;
    Ok(g.into_pyarray(py))
}

/// Median over a (2r+1)³ cube, reflecting at the borders.
#[pyfunction]
#[pyo3(signature = (volume, radius, threads = None))]
fn median<'py>(
    py: Python<'py>,
    volume: PyReadonlyArray3<'py, f32>,
    radius: usize,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let v = volume.as_array();
    let m = run(py, threads, || chemomech_imgproc::filters::median(standard(v).view(), radius))?;
    Ok(m.into_pyarray(py))
}

/// Phases (0 pore, 1 carbon-binder, 2 active) of a grey-level volume, and
/// the thresholds used.
#[pyfunction]
#[pyo3(signature = (volume, spacing_um, method = "iso50", denoise = "none", threads = None))]
fn segment<'py>(
    py: Python<'py>,
    volume: PyReadonlyArray3<'py, f32>,
    spacing_um: [f64; 3],
    method: &str,
    denoise: &str,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyArray3<u8>>, Vec<f64>)> {
    let method = match method {
        "iso50" => PhaseMethod::Iso50,
        "otsu" => PhaseMethod::Otsu,
        "multiotsu" => PhaseMethod::MultiOtsu,
        o => {
            return Err(PyValueError::new_err(format!("method must be iso50, otsu or multiotsu, got '{o}'")));
        }
    };
    let how: Denoise = denoise.parse().map_err(py_err)?;
    let v = volume.as_array();
    let (phases, details) =
        run(py, threads, || chemomech_segment::phases::segment_phases(standard(v).view(), spacing_um, &method, how))?
            .map_err(py_err)?;
    let t = match details {
        PhaseDetails::Thresholds(t) => t,
        PhaseDetails::Forest { .. } => Vec::new(),
    };
    Ok((phases.into_pyarray(py), t))
}

/// Particle labels in the active (solid) phase, and what separation did.
#[pyfunction]
#[pyo3(signature = (solid, spacing_um, crack_close_um = None, h_um = None, min_volume_um3 = None, split = true, threads = None))]
#[allow(clippy::too_many_arguments)]
fn separate_particles<'py>(
    py: Python<'py>,
    solid: PyReadonlyArray3<'py, bool>,
    spacing_um: [f64; 3],
    crack_close_um: Option<f64>,
    h_um: Option<f64>,
    min_volume_um3: Option<f64>,
    split: bool,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyArray3<u32>>, Bound<'py, PyAny>)> {
    let mut p = SeparateParams::for_voxel(spacing_um);
    let nonneg = |v: f64, what: &str| {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(PyValueError::new_err(format!("{what} must be a finite length ≥ 0, got {v}")))
        }
    };
    if let Some(v) = crack_close_um {
        p.crack_close_um = nonneg(v, "crack_close_um")?;
    }
    if let Some(v) = h_um {
        p.h_um = nonneg(v, "h_um")?;
    }
    if let Some(v) = min_volume_um3 {
        p.min_volume_um3 = nonneg(v, "min_volume_um3")?;
    }
    p.split = split;
    let s = solid.as_array();
    let (labels, rep) = run(py, threads, || chemomech_particles::separate::separate(standard(s).view(), &p))?;
    let rep = serde_json::to_value(&rep).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((labels.into_pyarray(py), json_to_py(py, &rep)?))
}

/// Metrics of every particle: (dict of columns, dict of units).
#[pyfunction]
#[pyo3(signature = (labels, phases, spacing_um, mild = 0.03, severe = 0.15, threads = None))]
#[allow(clippy::too_many_arguments)]
fn particle_metrics<'py>(
    py: Python<'py>,
    labels: PyReadonlyArray3<'py, u32>,
    phases: PyReadonlyArray3<'py, u8>,
    spacing_um: [f64; 3],
    mild: f64,
    severe: f64,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
    let (l, ph) = (labels.as_array(), phases.as_array());
    same_shape(l.shape(), ph.shape(), "labels and phases")?;
    let th = DamageThresholds { mild, severe };
    th.validate().map_err(py_err)?;
    let t = run(py, threads, || {
        chemomech_particles::metrics::particle_metrics(
            standard(l).view(),
            standard(ph).view(),
            PhaseCodes::default(),
            spacing_um,
            th,
            &[],
        )
    })?
    .map_err(py_err)?;
    table_to_py(py, t)
}

/// Reads any file or folder chemomech reads: (data, metadata).
#[pyfunction]
#[pyo3(signature = (path, dataset = None))]
fn read<'py>(
    py: Python<'py>,
    path: PathBuf,
    dataset: Option<String>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    use chemomech_io::{Dataset, OpenOptions};
    let o = OpenOptions { dataset, ..Default::default() };
    let d = py.detach(|| chemomech_io::open_with(&path, &o)).map_err(py_err)?;
    let kind = d.kind();
    let (data, meta) = match d {
        Dataset::Raster(r) => {
            let meta = meta_to_py(py, &r.meta)?;
            if let Some(s) = r.spacing_um {
                meta.set_item("spacing_um", s)?;
            }
            (dyn_to_py(py, r.data), meta)
        }
        Dataset::Projections(p) => {
            let meta = meta_to_py(py, &p.meta)?;
            meta.set_item("angles_deg", p.angles_deg.into_pyarray(py))?;
            if let Some(f) = p.flats {
                meta.set_item("flats", dyn_to_py(py, f))?;
            }
            if let Some(f) = p.darks {
                meta.set_item("darks", dyn_to_py(py, f))?;
            }
            if let Some(f) = p.flat_positions {
                meta.set_item("flat_positions", f.into_pyarray(py))?;
            }
            meta.set_item("pixel_um", p.pixel_um)?;
            meta.set_item("energy_ev", p.energy_ev)?;
            meta.set_item("distance_m", p.distance_m)?;
            (dyn_to_py(py, p.data), meta)
        }
        Dataset::Energy(s) => {
            let meta = meta_to_py(py, &s.meta)?;
            meta.set_item("energies_ev", s.energies_ev.into_pyarray(py))?;
            if let Some(f) = s.flats {
                meta.set_item("flats", dyn_to_py(py, f))?;
            }
            if let Some(f) = s.darks {
                meta.set_item("darks", dyn_to_py(py, f))?;
            }
            meta.set_item("pixel_um", s.pixel_um)?;
            (dyn_to_py(py, s.data), meta)
        }
        Dataset::Spectrum(s) => {
            let meta = meta_to_py(py, &s.meta)?;
            let cols = PyDict::new(py);
            for c in s.columns {
                cols.set_item(c.name, c.values.into_pyarray(py))?;
            }
            meta.set_item("columns", cols)?;
            meta.set_item("energy_ev", s.energy_ev.into_pyarray(py))?;
            let data = match s.mu {
                Some(mu) => mu.into_pyarray(py).into_any(),
                None => py.None().into_bound(py),
            };
            (data, meta)
        }
        Dataset::Table(t) => {
            let (cols, units) = table_to_py(py, t)?;
            let meta = PyDict::new(py);
            meta.set_item("units", units)?;
            (cols.into_any(), meta)
        }
    };
    meta.set_item("kind", kind)?;
    Ok((data, meta))
}

/// Larch's `pre_edge` normalisation of a spectrum: a dict of its fields.
#[pyfunction]
#[pyo3(signature = (energy_ev, mu, e0 = None, step = None, pre1 = None, pre2 = None, norm1 = None, norm2 = None, nnorm = None, nvict = 0))]
#[allow(clippy::too_many_arguments)]
fn xas_normalize<'py>(
    py: Python<'py>,
    energy_ev: PyReadonlyArray1<'py, f64>,
    mu: PyReadonlyArray1<'py, f64>,
    e0: Option<f64>,
    step: Option<f64>,
    pre1: Option<f64>,
    pre2: Option<f64>,
    norm1: Option<f64>,
    norm2: Option<f64>,
    nnorm: Option<usize>,
    nvict: i32,
) -> PyResult<Bound<'py, PyDict>> {
    let e = energy_ev.as_array().to_vec();
    let m = mu.as_array().to_vec();
    let p = chemomech_xas::larch::PreEdgeParams { e0, step, pre1, pre2, norm1, norm2, nnorm, nvict };
    let r = py.detach(|| chemomech_xas::larch::pre_edge(&e, &m, &p)).map_err(py_err)?;
    let d = PyDict::new(py);
    d.set_item("e0", r.e0)?;
    d.set_item("edge_step", r.edge_step)?;
    d.set_item("pre1", r.pre1)?;
    d.set_item("pre2", r.pre2)?;
    d.set_item("norm1", r.norm1)?;
    d.set_item("norm2", r.norm2)?;
    d.set_item("nnorm", r.nnorm)?;
    d.set_item("nvict", r.nvict)?;
    d.set_item("pre_slope", r.pre_slope)?;
    d.set_item("pre_offset", r.pre_offset)?;
    d.set_item("norm_coefs", r.norm_coefs.into_pyarray(py))?;
    d.set_item("energy", r.energy.into_pyarray(py))?;
    d.set_item("norm", r.norm.into_pyarray(py))?;
    d.set_item("flat", r.flat.into_pyarray(py))?;
    d.set_item("pre_edge", r.pre_edge.into_pyarray(py))?;
    d.set_item("post_edge", r.post_edge.into_pyarray(py))?;
    d.set_item("dmude", r.dmude.into_pyarray(py))?;
    Ok(d)
}

/// Linear-combination fit of a spectrum with named references (chemomech's
/// exact constrained least squares): a dict of the fit.
#[pyfunction]
#[pyo3(signature = (energy_ev, mu, names, ref_energies, ref_mus, sum_to_one = true, nonnegative = true, max_shift_ev = 0.0, emin = None, emax = None))]
#[allow(clippy::too_many_arguments)]
fn xas_lcf<'py>(
    py: Python<'py>,
    energy_ev: PyReadonlyArray1<'py, f64>,
    mu: PyReadonlyArray1<'py, f64>,
    names: Vec<String>,
    ref_energies: Vec<PyReadonlyArray1<'py, f64>>,
    ref_mus: Vec<PyReadonlyArray1<'py, f64>>,
    sum_to_one: bool,
    nonnegative: bool,
    max_shift_ev: f64,
    emin: Option<f64>,
    emax: Option<f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let e = energy_ev.as_array().to_vec();
    let m = mu.as_array().to_vec();
    let re: Vec<Vec<f64>> = ref_energies.iter().map(|a| a.as_array().to_vec()).collect();
    let rm: Vec<Vec<f64>> = ref_mus.iter().map(|a| a.as_array().to_vec()).collect();
    let o = chemomech_xas::lcf::LcfOptions { sum_to_one, nonnegative, max_shift_ev, emin, emax };
    let r = py
        .detach(|| {
            let refs: Vec<chemomech_xas::lcf::Reference> = names
                .iter()
                .zip(re.iter().zip(&rm))
                .map(|(name, (energy, mu))| chemomech_xas::lcf::Reference { name, energy, mu })
                .collect();
            chemomech_xas::lcf::lcf(&e, &m, &refs, &o)
        })
        .map_err(py_err)?;
    let d = PyDict::new(py);
    d.set_item("names", r.names)?;
    d.set_item("weights", r.weights.into_pyarray(py))?;
    d.set_item("std_errors", r.std_errors.into_pyarray(py))?;
    d.set_item("sum_weights", r.sum_weights)?;
    d.set_item("shift_ev", r.shift_ev)?;
    d.set_item("r_factor", r.r_factor)?;
    d.set_item("chi2", r.chi2)?;
    d.set_item("reduced_chi2", r.reduced_chi2)?;
    d.set_item("n_points", r.n_points)?;
    d.set_item("n_free", r.n_free)?;
    d.set_item("energy", r.energy.into_pyarray(py))?;
    d.set_item("data", r.data.into_pyarray(py))?;
    d.set_item("fit", r.fit.into_pyarray(py))?;
    Ok(d)
}

/// One member of the simulator family with its truth (the `phantom` stage
/// without the files).
#[pyfunction]
#[pyo3(signature = (preset = "mixed+clean", seed = 1, size = None, slice = false, voxel_um = None, threads = None))]
fn phantom<'py>(
    py: Python<'py>,
    preset: &str,
    seed: u64,
    size: Option<usize>,
    slice: bool,
    voxel_um: Option<f64>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    use chemomech_pipeline::stages::phantom::{Params, config};
    let p = Params { preset: preset.to_string(), seed, size, slice, voxel_um };
    let cfg = config(&p).map_err(py_err)?;
    let m = run(py, threads, || chemomech_sim::family::generate(&cfg))?.map_err(py_err)?;
    let d = PyDict::new(py);
    d.set_item("image", m.image.into_pyarray(py))?;
    d.set_item("attenuation", m.attenuation.into_pyarray(py))?;
    d.set_item("labels", m.labels.into_pyarray(py))?;
    d.set_item("phases", m.phases.into_pyarray(py))?;
    let (cols, units) = table_to_py(py, m.truth)?;
    d.set_item("truth", cols)?;
    d.set_item("truth_units", units)?;
    d.set_item("spacing_um", [m.config.voxel_um; 3])?;
    let c = serde_json::to_value(&m.config).map_err(|e| PyValueError::new_err(e.to_string()))?;
    d.set_item("config", json_to_py(py, &c)?)?;
    Ok(d)
}

/// Marker-controlled watershed: each marker grows over `mask` by increasing
/// `cost`; ties go to the marker that reached them first.
#[pyfunction]
#[pyo3(signature = (cost, markers, mask, connectivity = 26, threads = None))]
fn watershed<'py>(
    py: Python<'py>,
    cost: PyReadonlyArray3<'py, f32>,
    markers: PyReadonlyArray3<'py, u32>,
    mask: PyReadonlyArray3<'py, bool>,
    connectivity: u32,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray3<u32>>> {
    let conn: Connectivity = connectivity.to_string().parse().map_err(py_err)?;
    let (c, k, m) = (cost.as_array(), markers.as_array(), mask.as_array());
    same_shape(c.shape(), k.shape(), "markers")?;
    same_shape(c.shape(), m.shape(), "mask")?;
    let l = run(py, threads, || {
        chemomech_imgproc::watershed::watershed(standard(c).view(), standard(k).view(), standard(m).view(), conn)
    })?;
    Ok(l.into_pyarray(py))
}

/// Tortuosity factor of a phase along `axis` (steady diffusion, finite
/// volumes, conjugate gradients), with the effective diffusivity and the
/// solver's record.
#[pyfunction]
#[pyo3(signature = (phase, spacing_um, axis = 0, rtol = 1e-8, max_iter = 20_000, flux_tol = 1e-4, threads = None))]
#[allow(clippy::too_many_arguments)]
fn tortuosity<'py>(
    py: Python<'py>,
    phase: PyReadonlyArray3<'py, bool>,
    spacing_um: [f64; 3],
    axis: usize,
    rtol: f64,
    max_iter: usize,
    flux_tol: f64,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    if axis > 2 {
        return Err(PyValueError::new_err(format!("axis must be 0, 1 or 2, got {axis}")));
    }
    let p = phase.as_array();
    let t = run(py, threads, || {
        chemomech_stats::tortuosity::tortuosity(standard(p).view(), spacing_um, axis, rtol, max_iter, flux_tol)
    })?
    .map_err(py_err)?;
    json_to_py(py, &serde_json::to_value(&t).map_err(|e| PyRuntimeError::new_err(e.to_string()))?)
}

/// The module `chemomech._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(label, m)?)?;
    m.add_function(wrap_pyfunction!(edt, m)?)?;
    m.add_function(wrap_pyfunction!(gaussian, m)?)?;
    m.add_function(wrap_pyfunction!(median, m)?)?;
    m.add_function(wrap_pyfunction!(segment, m)?)?;
    m.add_function(wrap_pyfunction!(separate_particles, m)?)?;
    m.add_function(wrap_pyfunction!(particle_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(read, m)?)?;
    m.add_function(wrap_pyfunction!(xas_normalize, m)?)?;
    m.add_function(wrap_pyfunction!(xas_lcf, m)?)?;
    m.add_function(wrap_pyfunction!(phantom, m)?)?;
    m.add_function(wrap_pyfunction!(watershed, m)?)?;
    m.add_function(wrap_pyfunction!(tortuosity, m)?)?;
    Ok(())
}
