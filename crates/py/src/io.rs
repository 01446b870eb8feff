//! Files: reading anything chemomech reads.

use crate::convert::{dyn_from_py, dyn_to_py, meta_to_py, py_err, table_from_py, table_to_py};
use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// Reads any file or folder chemomech reads: (data, metadata).
#[pyfunction]
#[pyo3(signature = (path, dataset = None))]
pub(crate) fn read<'py>(
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

/// Provenance of a file written from Python: the call and its parameters.
fn provenance(call: &str, params: serde_json::Value) -> chemomech_core::Provenance {
    let mut p = chemomech_core::Provenance::start(&format!("python {call}"), params);
    p.finish();
    p
}

/// Writes a 2-D or 3-D array as a (multi-page) TIFF, atomically, with the
/// spacing (µm) and provenance in its ImageJ description.
#[pyfunction]
#[pyo3(signature = (path, data, spacing_um = None, compress = false))]
pub(crate) fn write_tiff(
    py: Python<'_>,
    path: PathBuf,
    data: &Bound<'_, PyAny>,
    spacing_um: Option<Vec<f64>>,
    compress: bool,
) -> PyResult<()> {
    use chemomech_io::tiffio::{TiffCompression, TiffOptions};
    let d = dyn_from_py(data, "data")?;
    let opts = TiffOptions {
        compression: if compress { TiffCompression::Deflate } else { TiffCompression::None },
        bigtiff: None,
    };
    let prov = provenance("write_tiff", serde_json::json!({"spacing_um": spacing_um, "compress": compress}));
    py.detach(|| chemomech_io::tiffio::write_tiff(&path, &d, spacing_um.as_deref(), Some(&prov), opts)).map_err(py_err)
}

/// Writes an OME-NGFF 0.5 Zarr image, optionally with a label image and
/// its per-label properties, atomically.
#[pyfunction]
#[pyo3(signature = (path, image, spacing_um = None, labels = None, labels_name = "particles", properties = None))]
pub(crate) fn write_ome_zarr(
    py: Python<'_>,
    path: PathBuf,
    image: &Bound<'_, PyAny>,
    spacing_um: Option<Vec<f64>>,
    labels: Option<&Bound<'_, PyAny>>,
    labels_name: &str,
    properties: Option<&Bound<'_, PyDict>>,
) -> PyResult<()> {
    use chemomech_io::zarr::{OmeLabels, write_ome_image};
    let img = dyn_from_py(image, "image")?;
    let lab = labels.map(|l| dyn_from_py(l, "labels")).transpose()?;
    let props = properties.map(|p| table_from_py(p, "properties")).transpose()?;
    if props.is_some() && lab.is_none() {
        return Err(pyo3::exceptions::PyValueError::new_err("properties describe labels: pass labels too"));
    }
    let prov = provenance(
        "write_ome_zarr",
        serde_json::json!({"spacing_um": spacing_um, "labels": lab.is_some(), "labels_name": labels_name}),
    );
    py.detach(|| {
        let ls: Vec<OmeLabels> =
            lab.iter().map(|data| OmeLabels { name: labels_name, data, properties: props.as_ref() }).collect();
        write_ome_image(&path, &img, spacing_um.as_deref(), &ls, Some(&prov))
    })
    .map_err(py_err)
}
