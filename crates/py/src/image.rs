//! Generic image kernels: connected components, distance transform,
//! Gaussian and median filters, watershed.

use crate::convert::{py_err, run, same_shape, standard};
use chemomech_imgproc::label::Connectivity;
use numpy::{IntoPyArray, PyArray3, PyReadonlyArray3};
use pyo3::prelude::*;

/// Connected components of a boolean volume: (uint32 labels, count).
#[pyfunction]
#[pyo3(signature = (mask, connectivity = 26, threads = None))]
pub(crate) fn label<'py>(
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
pub(crate) fn edt<'py>(
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
pub(crate) fn gaussian<'py>(
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
pub(crate) fn median<'py>(
    py: Python<'py>,
    volume: PyReadonlyArray3<'py, f32>,
    radius: usize,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let v = volume.as_array();
    let m = run(py, threads, || chemomech_imgproc::filters::median(standard(v).view(), radius))?;
    Ok(m.into_pyarray(py))
}

/// Marker-controlled watershed: each marker grows over `mask` by increasing
/// `cost`; ties go to the marker that reached them first.
#[pyfunction]
#[pyo3(signature = (cost, markers, mask, connectivity = 26, threads = None))]
pub(crate) fn watershed<'py>(
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

/// The EDT's first pass (squared distances along x, in units of `w`²).
#[pyfunction]
#[pyo3(signature = (mask, w, threads = None))]
pub(crate) fn edt_squared_x<'py>(
    py: Python<'py>,
    mask: PyReadonlyArray3<'py, bool>,
    w: f64,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let m = mask.as_array();
    let d = run(py, threads, || chemomech_imgproc::edt::squared_along_x(m, w))?;
    Ok(d.into_pyarray(py))
}

/// A later EDT pass along `axis` (1: y, 0: z) on squared distances.
#[pyfunction]
#[pyo3(signature = (squared, axis, w, threads = None))]
pub(crate) fn edt_envelope<'py>(
    py: Python<'py>,
    squared: PyReadonlyArray3<'py, f32>,
    axis: usize,
    w: f64,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    if axis > 1 {
        return Err(pyo3::exceptions::PyValueError::new_err(format!("axis must be 0 or 1, got {axis}")));
    }
    let s = squared.as_array();
    let d = run(py, threads, || {
        let mut d = s.as_standard_layout().into_owned();
        chemomech_imgproc::edt::envelope_along(&mut d, axis, w);
        d
    })?;
    Ok(d.into_pyarray(py))
}
