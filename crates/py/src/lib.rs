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
//!   pool; see `convert::run`);
//! - chemomech's errors become `ValueError` (bad data or parameters) or
//!   `OSError` (files), with the library's one-line message.

mod classify;
mod convert;
mod image;
mod io;
mod particles;
mod pipeline;
mod progress;
mod stats;
mod tomo;
mod xas;

use pyo3::prelude::*;

/// The module `chemomech._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("Cancelled", m.py().get_type::<convert::Cancelled>())?;
    m.add_function(wrap_pyfunction!(image::label, m)?)?;
    m.add_function(wrap_pyfunction!(image::edt, m)?)?;
    m.add_function(wrap_pyfunction!(image::gaussian, m)?)?;
    m.add_function(wrap_pyfunction!(image::median, m)?)?;
    m.add_function(wrap_pyfunction!(image::watershed, m)?)?;
    m.add_function(wrap_pyfunction!(image::edt_squared_x, m)?)?;
    m.add_function(wrap_pyfunction!(image::edt_envelope, m)?)?;
    m.add_function(wrap_pyfunction!(particles::segment, m)?)?;
    m.add_function(wrap_pyfunction!(particles::histogram_in, m)?)?;
    m.add_function(wrap_pyfunction!(particles::multi_otsu_histogram, m)?)?;
    m.add_function(wrap_pyfunction!(particles::separate_particles, m)?)?;
    m.add_function(wrap_pyfunction!(particles::particle_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(particles::phantom, m)?)?;
    m.add_function(wrap_pyfunction!(particles::simulate, m)?)?;
    m.add_function(wrap_pyfunction!(io::read, m)?)?;
    m.add_function(wrap_pyfunction!(io::write_tiff, m)?)?;
    m.add_function(wrap_pyfunction!(io::write_ome_zarr, m)?)?;
    m.add_function(wrap_pyfunction!(xas::xas_normalize, m)?)?;
    m.add_function(wrap_pyfunction!(xas::xas_lcf, m)?)?;
    m.add_function(wrap_pyfunction!(xas::xanes_maps, m)?)?;
    m.add_function(wrap_pyfunction!(xas::xanes_prepass_pixels, m)?)?;
    m.add_function(wrap_pyfunction!(stats::tortuosity, m)?)?;
    m.add_function(wrap_pyfunction!(stats::depth_profile, m)?)?;
    m.add_function(wrap_pyfunction!(stats::severe_network, m)?)?;
    m.add_function(wrap_pyfunction!(tomo::normalize, m)?)?;
    m.add_function(wrap_pyfunction!(tomo::minus_log, m)?)?;
    m.add_function(wrap_pyfunction!(tomo::find_center, m)?)?;
    m.add_function(wrap_pyfunction!(tomo::remove_rings, m)?)?;
    m.add_function(wrap_pyfunction!(tomo::paganin, m)?)?;
    m.add_function(wrap_pyfunction!(tomo::ctf, m)?)?;
    m.add_function(wrap_pyfunction!(tomo::reconstruct, m)?)?;
    m.add_function(wrap_pyfunction!(pipeline::run_pipeline, m)?)?;
    m.add_function(wrap_pyfunction!(pipeline::check_pipeline, m)?)?;
    m.add_class::<classify::Classifier>()?;
    m.add_function(wrap_pyfunction!(classify::train_classifier, m)?)?;
    m.add_function(wrap_pyfunction!(classify::classify, m)?)?;
    Ok(())
}
