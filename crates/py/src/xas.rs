//! X-ray absorption: Larch-compatible normalisation and LCF of spectra,
//! XANES maps of energy stacks.

use crate::convert::{json_to_py, params_from_json, py_err, run};
use crate::progress::PyProgress;
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Larch's `pre_edge` normalisation of a spectrum: a dict of its fields.
#[pyfunction]
#[pyo3(signature = (energy_ev, mu, e0 = None, step = None, pre1 = None, pre2 = None, norm1 = None, norm2 = None, nnorm = None, nvict = 0))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn xas_normalize<'py>(
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
pub(crate) fn xas_lcf<'py>(
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

/// Per-pixel (or per-voxel) XANES maps of an optical-density stack
/// `(energy, …pixels)`: a dict of maps and the summary.
#[pyfunction]
#[pyo3(signature = (od, energies_ev, names, ref_energies, ref_mus, params_json = None, progress = None, sample = None, threads = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn xanes_maps<'py>(
    py: Python<'py>,
    od: PyReadonlyArrayDyn<'py, f32>,
    energies_ev: Vec<f64>,
    names: Vec<String>,
    ref_energies: Vec<Vec<f64>>,
    ref_mus: Vec<Vec<f64>>,
    params_json: Option<&str>,
    progress: Option<Py<PyAny>>,
    sample: Option<(PyReadonlyArray2<'py, f64>, usize)>,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyAny>)> {
    use chemomech_xas::maps::{MapParams, RefSpectrum};
    let p: MapParams = params_from_json(params_json, "XANES map parameters")?;
    let refs: Vec<RefSpectrum> = names
        .into_iter()
        .zip(ref_energies.into_iter().zip(ref_mus))
        .map(|(name, (energy_ev, mu))| RefSpectrum { name, energy_ev, mu })
        .collect();
    let v = od.as_array();
    let prog = progress.map(PyProgress::new);
    let sample: Option<(Vec<Vec<f64>>, usize)> =
        sample.map(|(a, n)| (a.as_array().outer_iter().map(|r| r.to_vec()).collect(), n));
    let m = run(py, threads, || {
        let v = v.as_standard_layout();
        let none = chemomech_core::NoProgress;
        let pr: &dyn chemomech_core::Progress = match &prog {
            Some(p) => p,
            None => &none,
        };
        match &sample {
            Some((s, n)) => chemomech_xas::maps::xanes_maps_sampled(v.view(), &energies_ev, &refs, &p, s, *n, pr),
            None => chemomech_xas::maps::xanes_maps(v.view(), &energies_ev, &refs, &p, pr),
        }
    })?;
    if let Some(e) = prog.and_then(PyProgress::into_error) {
        return Err(e);
    }
    let m = m.map_err(py_err)?;
    let d = PyDict::new(py);
    d.set_item("edge_jump", m.edge_jump.into_pyarray(py))?;
    d.set_item("pre_edge_sigma", m.pre_edge_sigma.into_pyarray(py))?;
    d.set_item("mask", m.mask.mapv(|v| v != 0).into_pyarray(py))?;
    d.set_item("e0_half", m.e0_half.into_pyarray(py))?;
    d.set_item("e0_derivative", m.e0_derivative.into_pyarray(py))?;
    d.set_item("white_line_energy", m.white_line_energy.into_pyarray(py))?;
    d.set_item("white_line_height", m.white_line_height.into_pyarray(py))?;
    let fr = PyDict::new(py);
    let se = PyDict::new(py);
    for (name, f, s) in m.fractions {
        fr.set_item(&name, f.into_pyarray(py))?;
        se.set_item(&name, s.into_pyarray(py))?;
    }
    d.set_item("fractions", fr)?;
    d.set_item("fraction_std_errors", se)?;
    d.set_item("r_factor", m.r_factor.into_pyarray(py))?;
    d.set_item("reduced_chi2", m.reduced_chi2.into_pyarray(py))?;
    d.set_item("soc", m.soc.map(|s| s.into_pyarray(py)))?;
    d.set_item("cluster", m.cluster.map(|c| c.into_pyarray(py)))?;
    let s = serde_json::to_value(&m.summary).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((d, json_to_py(py, &s)?))
}

/// The flat pixel indices of the prepass sample of a stack of `n_pixels`.
#[pyfunction]
pub(crate) fn xanes_prepass_pixels(py: Python<'_>, n_pixels: usize) -> Bound<'_, numpy::PyArray1<usize>> {
    chemomech_xas::maps::prepass_pixels(n_pixels).into_pyarray(py)
}
