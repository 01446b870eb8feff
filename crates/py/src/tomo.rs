//! Tomography: flat/dark normalisation, −log, rotation centre, ring
//! removal, Paganin and multi-distance CTF phase retrieval, reconstruction.
//! Projections are `(angle, rows, cols)` float32 arrays.

use crate::convert::{json_to_py, py_err, run, standard};
use chemomech_tomo::phase::{Ctf, Paganin};
use chemomech_tomo::preprocess::{Combine, Rings};
use chemomech_tomo::recon::{Algorithm, ReconParams};
use ndarray::Axis;
use numpy::{IntoPyArray, PyArray3, PyReadonlyArray3};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

type F32s<'py> = PyReadonlyArray3<'py, f32>;
type Out<'py> = Bound<'py, PyArray3<f32>>;

/// A typed report (serde) as Python objects.
fn report<'py>(py: Python<'py>, r: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    json_to_py(py, &serde_json::to_value(r).map_err(|e| PyValueError::new_err(e.to_string()))?)
}

/// A name that serde reads as one of the library's enums.
fn named<T: serde::de::DeserializeOwned>(name: &str, what: &str, choices: &str) -> PyResult<T> {
    serde_json::from_value(serde_json::json!(name))
        .map_err(|_| PyValueError::new_err(format!("{what} must be one of {choices}, got '{name}'")))
}

/// Transmission `(I − D̄)/(F − D̄)` of raw projections, and what was done.
#[pyfunction]
#[pyo3(signature = (projections, flats = None, darks = None, flat_positions = None, combine = "mean", threads = None))]
pub(crate) fn normalize<'py>(
    py: Python<'py>,
    projections: F32s<'py>,
    flats: Option<F32s<'py>>,
    darks: Option<F32s<'py>>,
    flat_positions: Option<Vec<f64>>,
    combine: &str,
    threads: Option<usize>,
) -> PyResult<(Out<'py>, Bound<'py, PyAny>)> {
    let how = match combine {
        "mean" => Combine::Mean,
        "median" => Combine::Median,
        o => return Err(PyValueError::new_err(format!("combine must be mean or median, got '{o}'"))),
    };
    let (p, f, d) =
        (projections.as_array(), flats.as_ref().map(|f| f.as_array()), darks.as_ref().map(|d| d.as_array()));
    let (t, rep) = run(py, threads, || {
        let f = f.map(standard);
        let d = d.map(standard);
        chemomech_tomo::preprocess::normalize(
            standard(p).view(),
            f.as_ref().map(|x| x.view()),
            d.as_ref().map(|x| x.view()),
            flat_positions.as_deref(),
            how,
        )
    })?
    .map_err(py_err)?;
    Ok((t.into_pyarray(py), report(py, &rep)?))
}

/// −ln of transmission, non-positive and non-finite values repaired along
/// the row; and what was repaired.
#[pyfunction]
#[pyo3(signature = (transmission, threads = None))]
pub(crate) fn minus_log<'py>(
    py: Python<'py>,
    transmission: F32s<'py>,
    threads: Option<usize>,
) -> PyResult<(Out<'py>, Bound<'py, PyAny>)> {
    let t = transmission.as_array();
    let (lines, rep) = run(py, threads, || {
        let mut l = t.as_standard_layout().into_owned();
        chemomech_tomo::preprocess::minus_log(&mut l).map(|r| (l, r))
    })?
    .map_err(py_err)?;
    Ok((lines.into_pyarray(py), report(py, &rep)?))
}

/// Rotation centre (detector pixels) of line integrals: Vo's Fourier
/// method on one row, or registration of the 0° and mirrored 180° views.
#[pyfunction]
#[pyo3(signature = (lines, angles_deg, method = "vo", row = None, threads = None))]
pub(crate) fn find_center(
    py: Python<'_>,
    lines: F32s<'_>,
    angles_deg: Vec<f64>,
    method: &str,
    row: Option<usize>,
    threads: Option<usize>,
) -> PyResult<f64> {
    let l = lines.as_array();
    let (na, nr, _) = l.dim();
    if angles_deg.len() != na {
        return Err(PyValueError::new_err(format!("{} angles for {na} projections", angles_deg.len())));
    }
    let r = row.unwrap_or(nr / 2);
    if r >= nr {
        return Err(PyValueError::new_err(format!("row {r} is not one of the {nr} detector rows")));
    }
    let c = match method {
        "vo" => run(py, threads, || chemomech_tomo::center::find_center_vo(l.index_axis(Axis(1), r), None, 0.5))?,
        "opposite" => run(py, threads, || chemomech_tomo::center::find_center_180(l, &angles_deg))?,
        o => return Err(PyValueError::new_err(format!("method must be vo or opposite, got '{o}'"))),
    };
    c.map_err(py_err)
}

/// Ring (stripe) removal on every sinogram of line integrals.
#[pyfunction]
#[pyo3(signature = (lines, method = "vo", size = 21, snr = 3.0, large_size = 51, level = 5, sigma = 2.0, threads = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn remove_rings<'py>(
    py: Python<'py>,
    lines: F32s<'py>,
    method: &str,
    size: usize,
    snr: f32,
    large_size: usize,
    level: usize,
    sigma: f64,
    threads: Option<usize>,
) -> PyResult<Out<'py>> {
    let rings = match method {
        "vo" => Rings::Vo { size, snr, large_size },
        "fw" => Rings::FourierWavelet { level, sigma },
        "none" => Rings::None,
        o => return Err(PyValueError::new_err(format!("method must be vo, fw or none, got '{o}'"))),
    };
    let l = lines.as_array();
    let out = run(py, threads, || {
        let mut x = l.as_standard_layout().into_owned();
        chemomech_tomo::preprocess::remove_rings(&mut x, rings);
        x
    })?;
    Ok(out.into_pyarray(py))
}

/// Paganin's single-distance filter on every projection of transmission.
#[pyfunction]
#[pyo3(signature = (transmission, energy_kev, distance_m, pixel_um, delta_beta, threads = None))]
pub(crate) fn paganin<'py>(
    py: Python<'py>,
    transmission: F32s<'py>,
    energy_kev: f64,
    distance_m: f64,
    pixel_um: f64,
    delta_beta: f64,
    threads: Option<usize>,
) -> PyResult<Out<'py>> {
    let p = Paganin { energy_kev, distance_m, pixel_um, delta_beta };
    let t = transmission.as_array();
    let out = run(py, threads, || {
        let mut x = t.as_standard_layout().into_owned();
        chemomech_tomo::phase::paganin(&mut x, &p).map(|_| x)
    })?
    .map_err(py_err)?;
    Ok(out.into_pyarray(py))
}

/// Multi-distance CTF retrieval of normalised holograms (one projection
/// set per distance): line integrals of δ in pixel units (ready for
/// [`reconstruct`]) or k∫δ in radians, and the distances' shifts and zooms.
#[pyfunction]
#[pyo3(signature = (holograms, energy_kev, distances_m, pixels_um, delta_beta, alpha_low = 1e-6, alpha_high = 1e-4, radians = false, threads = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn ctf<'py>(
    py: Python<'py>,
    holograms: Vec<F32s<'py>>,
    energy_kev: f64,
    distances_m: Vec<f64>,
    pixels_um: Vec<f64>,
    delta_beta: f64,
    alpha_low: f64,
    alpha_high: f64,
    radians: bool,
    threads: Option<usize>,
) -> PyResult<(Out<'py>, Bound<'py, PyAny>)> {
    let views: Vec<_> = holograms.iter().map(|h| h.as_array()).collect();
    let p0 = pixels_um.iter().cloned().fold(f64::INFINITY, f64::min);
    let c = Ctf { energy_kev, distances_m, pixel_um: p0, delta_beta, alpha_low, alpha_high, zoom: Vec::new() };
    let (out, shifts, zoom) = run(py, threads, || {
        let norm: Vec<_> = views.iter().map(|v| v.as_standard_layout().into_owned()).collect();
        let (phase, rep) = chemomech_tomo::recon::retrieve_holo(&norm, &pixels_um, &c)?;
        let out = if radians { phase } else { chemomech_tomo::recon::delta_lines(phase, &c) };
        Ok::<_, chemomech_core::Error>((out, rep.shifts_px, rep.zoom))
    })?
    .map_err(py_err)?;
    let r = serde_json::json!({"shifts_px": shifts, "zoom": zoom, "pixel_um": p0});
    Ok((out.into_pyarray(py), json_to_py(py, &r)?))
}

/// Reconstruction of line integrals `(angle, rows, cols)` into `(rows, n, n)`,
/// in 1/cm when the pixel size is given (else per pixel).
#[pyfunction]
#[pyo3(signature = (lines, angles_deg, center, algorithm = "fbp", filter = "ramp", size = None, pixel_um = None, iterations = None, threads = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn reconstruct<'py>(
    py: Python<'py>,
    lines: F32s<'py>,
    angles_deg: Vec<f64>,
    center: f64,
    algorithm: &str,
    filter: &str,
    size: Option<usize>,
    pixel_um: Option<f64>,
    iterations: Option<usize>,
    threads: Option<usize>,
) -> PyResult<Out<'py>> {
    let algorithm: Algorithm = algorithm.parse().map_err(py_err)?;
    let filter = named(filter, "filter", "ramp, shepp, cosine, hamming, hann")?;
    let params = ReconParams { algorithm, filter, size, iterations, ..Default::default() };
    let l = lines.as_array();
    let v = run(py, threads, || {
        chemomech_tomo::recon::reconstruct(standard(l).view(), &angles_deg, center, &params, pixel_um)
    })?
    .map_err(py_err)?;
    Ok(v.into_pyarray(py))
}
