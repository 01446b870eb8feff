//! Electrode statistics: tortuosity, depth profiles, the severe network.

use crate::convert::{json_to_py, py_err, run, standard, table_from_py, table_to_py};
use chemomech_particles::metrics::DamageThresholds;
use chemomech_stats::profile;
use numpy::{IntoPyArray, PyReadonlyArray3};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Tortuosity factor of a phase along `axis` (steady diffusion, finite
/// volumes, conjugate gradients), with the effective diffusivity and the
/// solver's record.
#[pyfunction]
#[pyo3(signature = (phase, spacing_um, axis = 0, rtol = 1e-8, max_iter = 20_000, flux_tol = 1e-4, threads = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn tortuosity<'py>(
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

/// Depth profile of a particle table (dict of columns): a dict of columns
/// per depth window, with bootstrap 95 % intervals.
#[pyfunction]
#[pyo3(signature = (table, thickness_um, window_um = 10.0, extra = None, bootstrap = 1000, seed = 1, mild = 0.03, severe = 0.15))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn depth_profile<'py>(
    py: Python<'py>,
    table: &Bound<'py, PyDict>,
    thickness_um: f64,
    window_um: f64,
    extra: Option<String>,
    bootstrap: usize,
    seed: u64,
    mild: f64,
    severe: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let t = table_from_py(table, "table")?;
    DamageThresholds { mild, severe }.validate().map_err(py_err)?;
    let prof = py
        .detach(|| {
            let w =
                profile::depth_profile(&t, thickness_um, window_um, extra.as_deref(), bootstrap, seed, (mild, severe))?;
            profile::profile_table(&w)
        })
        .map_err(py_err)?;
    Ok(table_to_py(py, prof)?.0)
}

/// The k-nearest-neighbour network of the severe particles of a table.
#[pyfunction]
#[pyo3(signature = (table, k = 3))]
pub(crate) fn severe_network<'py>(
    py: Python<'py>,
    table: &Bound<'py, PyDict>,
    k: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let t = table_from_py(table, "table")?;
    let n = py.detach(|| chemomech_stats::network::severe_network(&t, k)).map_err(py_err)?;
    let d = PyDict::new(py);
    let nodes = ndarray::Array2::from_shape_fn((n.nodes.len(), 3), |(i, j)| n.nodes[i][j]);
    let edges = ndarray::Array2::from_shape_fn((n.edges.len(), 2), |(i, j)| {
        let e = n.edges[i];
        n.ids[if j == 0 { e.0 } else { e.1 }]
    });
    d.set_item("edge_length_um", n.edges.iter().map(|e| e.2).collect::<Vec<f64>>().into_pyarray(py))?;
    d.set_item("node_positions_um", nodes.into_pyarray(py))?;
    d.set_item("node_ids", n.ids.into_pyarray(py))?;
    d.set_item("edges", edges.into_pyarray(py))?;
    d.set_item("degree_histogram", n.degree_histogram.into_pyarray(py))?;
    d.set_item("mean_degree", n.mean_degree)?;
    d.set_item("mean_nearest_um", n.mean_nearest_um)?;
    d.set_item("mean_edge_um", n.mean_edge_um)?;
    Ok(d)
}
