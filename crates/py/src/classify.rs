//! Random-forest voxel classification: a trained model as a Python object
//! that pickles (through its JSON form).

use crate::convert::{py_err, run, same_shape, standard};
use chemomech_segment::classify::{FeatureBank, VoxelClassifier};
use numpy::{IntoPyArray, PyArray3, PyReadonlyArray3};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// A trained random-forest voxel classifier.
#[pyclass(module = "chemomech._core", frozen)]
pub(crate) struct Classifier {
    inner: VoxelClassifier,
}

#[pymethods]
impl Classifier {
    /// The model from its JSON form (as `to_json` writes it, or a model
    /// file of `chemomech segment --save-model`).
    #[classmethod]
    fn from_json(_cls: &Bound<'_, PyType>, text: &str) -> PyResult<Self> {
        Ok(Self { inner: VoxelClassifier::from_json(text).map_err(py_err)? })
    }
    /// The model as JSON.
    fn to_json(&self) -> PyResult<String> {
        self.inner.to_json().map_err(py_err)
    }
    /// Label values of the training classes, in class order.
    #[getter]
    fn classes(&self) -> Vec<u16> {
        self.inner.classes.iter().map(|&c| c as u16).collect()
    }
    /// Voxel spacing (µm) the model was trained with.
    #[getter]
    fn spacing_um(&self) -> [f64; 3] {
        self.inner.spacing_um
    }
    /// Feature scales σ (µm).
    #[getter]
    fn sigmas_um(&self) -> Vec<f64> {
        self.inner.bank.sigmas_um.clone()
    }
    /// Voxels of context a block needs around it for exact features (the
    /// halo of blockwise prediction).
    #[getter]
    fn halo(&self) -> usize {
        self.inner.bank.halo(self.inner.spacing_um)
    }
    /// Pickling: rebuilt from the JSON form.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let f = slf.get_type().getattr("from_json")?;
        Ok((f, (slf.get().to_json()?,)))
    }
    fn __repr__(&self) -> String {
        format!(
            "Classifier(classes={:?}, spacing_um={:?}, sigmas_um={:?})",
            self.inner.classes, self.inner.spacing_um, self.inner.bank.sigmas_um
        )
    }
}

/// Trains a forest on the labelled voxels (non-zero) of `labels`.
#[pyfunction]
#[pyo3(signature = (volume, labels, spacing_um, sigmas_um = None, trees = 50, seed = 1, max_samples = 20_000, threads = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn train_classifier(
    py: Python<'_>,
    volume: PyReadonlyArray3<'_, f32>,
    labels: PyReadonlyArray3<'_, u8>,
    spacing_um: [f64; 3],
    sigmas_um: Option<Vec<f64>>,
    trees: u16,
    seed: u64,
    max_samples: usize,
    threads: Option<usize>,
) -> PyResult<Classifier> {
    let (v, l) = (volume.as_array(), labels.as_array());
    same_shape(v.shape(), l.shape(), "volume and labels")?;
    let bank = match sigmas_um {
        Some(s) => FeatureBank { sigmas_um: s },
        None => FeatureBank::for_voxel(spacing_um[0]),
    };
    let inner = run(py, threads, || {
        chemomech_segment::classify::train(
            standard(v).view(),
            standard(l).view(),
            spacing_um,
            bank,
            trees,
            seed,
            max_samples,
        )
    })?
    .map_err(py_err)?;
    Ok(Classifier { inner })
}

/// Classifies every voxel with a trained model: the training label values.
#[pyfunction]
#[pyo3(signature = (volume, model, threads = None))]
pub(crate) fn classify<'py>(
    py: Python<'py>,
    volume: PyReadonlyArray3<'py, f32>,
    model: &Bound<'py, Classifier>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray3<u8>>> {
    let v = volume.as_array();
    let m = model.get();
    let out = run(py, threads, || m.inner.predict(standard(v).view()))?.map_err(py_err)?;
    Ok(out.into_pyarray(py))
}
