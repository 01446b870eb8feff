//! Phases, particles and their metrics; the simulator family.

use crate::convert::{dyn_to_py, json_to_py, py_err, run, same_shape, standard, table_to_py};
use chemomech_particles::metrics::{DamageThresholds, PhaseCodes};
use chemomech_particles::separate::SeparateParams;
use chemomech_segment::phases::{Denoise, PhaseDetails, PhaseMethod};
use numpy::{IntoPyArray, PyArray3, PyReadonlyArray3};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Phases (0 pore, 1 carbon-binder, 2 active) of a grey-level volume, and
/// the thresholds used.
#[pyfunction]
#[pyo3(signature = (volume, spacing_um, method = "iso50", denoise = "none", threads = None))]
pub(crate) fn segment<'py>(
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
pub(crate) fn separate_particles<'py>(
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
pub(crate) fn particle_metrics<'py>(
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

/// One member of the simulator family with its truth (the `phantom` stage
/// without the files).
#[pyfunction]
#[pyo3(signature = (preset = "mixed+clean", seed = 1, size = None, slice = false, voxel_um = None, threads = None))]
pub(crate) fn phantom<'py>(
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

/// Projections as a dict: data, flats, darks (moved), angles and geometry.
fn projections_to_py<'py>(py: Python<'py>, p: chemomech_core::ProjectionSet) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("data", dyn_to_py(py, p.data))?;
    d.set_item("flats", p.flats.map(|f| dyn_to_py(py, f)))?;
    d.set_item("darks", p.darks.map(|f| dyn_to_py(py, f)))?;
    d.set_item("angles_deg", p.angles_deg.into_pyarray(py))?;
    d.set_item("pixel_um", p.pixel_um)?;
    d.set_item("energy_ev", p.energy_ev)?;
    Ok(d)
}

/// The full electrode simulator (the `simulate` stage without the files):
/// truth volumes, the absorption scan and the XANES stack, and the truth.
#[pyfunction]
#[pyo3(signature = (preset = "small", seed = None, config = None, threads = None))]
pub(crate) fn simulate<'py>(
    py: Python<'py>,
    preset: &str,
    seed: Option<u64>,
    config: Option<std::path::PathBuf>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    use chemomech_pipeline::stages::simulate::{Params, load_references, resolve_config};
    let p = Params { config, preset: preset.to_string(), seed };
    let cfg = resolve_config(&p).map_err(py_err)?;
    let (refs, _) = load_references(&cfg).map_err(py_err)?;
    let (r2, r3) = refs.clone().unwrap_or_else(|| {
        use chemomech_sim::references::Reference;
        (Reference::model_nio(), Reference::model_linio2())
    });
    let s = run(py, threads, || chemomech_sim::simulate(&cfg, refs, &chemomech_core::NoProgress))?.map_err(py_err)?;
    let d = PyDict::new(py);
    let el = s.electrode;
    d.set_item("spacing_um", [el.voxel_um; 3])?;
    d.set_item("labels", el.labels.into_pyarray(py))?;
    d.set_item("phases", el.phases.into_pyarray(py))?;
    d.set_item("soc", el.soc.into_pyarray(py))?;
    let (cols, units) = table_to_py(py, s.truth)?;
    d.set_item("truth", cols)?;
    d.set_item("truth_units", units)?;
    match s.absorption {
        Some(a) => {
            d.set_item("mu", a.mu.into_pyarray(py))?;
            d.set_item("projections", projections_to_py(py, a.projections)?)?;
        }
        None => {
            d.set_item("mu", py.None())?;
            d.set_item("projections", py.None())?;
        }
    }
    match s.xanes {
        Some(x) => {
            let xd = PyDict::new(py);
            xd.set_item("data", dyn_to_py(py, x.stack.data))?;
            xd.set_item("flats", x.stack.flats.map(|f| dyn_to_py(py, f)))?;
            xd.set_item("darks", x.stack.darks.map(|f| dyn_to_py(py, f)))?;
            xd.set_item("energies_ev", x.stack.energies_ev.into_pyarray(py))?;
            xd.set_item("pixel_um", x.stack.pixel_um)?;
            xd.set_item("fraction_ni3", x.fraction_ni3.into_pyarray(py))?;
            xd.set_item("soc", x.soc.into_pyarray(py))?;
            xd.set_item("drift_px", x.drift_px)?;
            d.set_item("xanes", xd)?;
        }
        None => d.set_item("xanes", py.None())?,
    }
    d.set_item("references", [s.references.0, s.references.1])?;
    let spectra = PyDict::new(py);
    for r in [r2, r3] {
        spectra.set_item(r.name, (r.energy_ev.into_pyarray(py), r.mu.into_pyarray(py)))?;
    }
    d.set_item("reference_spectra", spectra)?;
    d.set_item("summary", json_to_py(py, &s.summary)?)?;
    let c = serde_json::to_value(&s.config).map_err(|e| PyValueError::new_err(e.to_string()))?;
    d.set_item("config", json_to_py(py, &c)?)?;
    Ok(d)
}

/// Counts of the finite values in `bins` equal bins over [`lo`, `hi`], as
/// the engine's thresholds bin them (for histograms reduced over chunks).
#[pyfunction]
pub(crate) fn histogram_in<'py>(
    py: Python<'py>,
    values: numpy::PyReadonlyArray1<'py, f32>,
    lo: f32,
    hi: f32,
    bins: usize,
) -> PyResult<Bound<'py, numpy::PyArray1<f64>>> {
    if bins == 0 || !(lo < hi) {
        return Err(PyValueError::new_err(format!("a histogram needs bins ≥ 1 and lo < hi, got {bins}, {lo}, {hi}")));
    }
    let v = values.as_array();
    let h = py.detach(|| chemomech_segment::threshold::histogram_in(&v.to_vec(), lo, hi, bins));
    Ok(h.into_pyarray(py))
}

/// Otsu (2 classes) or three-class Otsu thresholds of a histogram over
/// [`lo`, `hi`], as [`segment`] finds them on a whole volume.
#[pyfunction]
pub(crate) fn multi_otsu_histogram(counts: Vec<f64>, lo: f32, hi: f32, classes: usize) -> PyResult<Vec<f64>> {
    let c = chemomech_segment::threshold::bin_centres(lo, hi, counts.len());
    chemomech_segment::multi_otsu_histogram(&counts, &c, classes).map_err(py_err)
}
