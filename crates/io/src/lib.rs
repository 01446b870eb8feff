//! chemomech-io: every file format chemomech reads or writes, behind two
//! calls: [`open`] (format detected from content) and [`save`] (format from
//! the output's extension). Readers return the core data model; writers
//! embed provenance and write atomically.
//!
//! ```no_run
//! use chemomech_io::{open, Dataset};
//! match open("tooth.h5".as_ref()).unwrap() {
//!     Dataset::Projections(p) => println!("{} angles", p.angles_deg.len()),
//!     other => println!("{}", other.kind()),
//! }
//! ```

pub mod atomic;
pub mod detect;
pub mod feff;
pub mod folder;
#[cfg(feature = "hdf5")]
pub mod hdf5io;
pub mod imagej;
pub mod names;
pub mod npy;
pub mod prj;
pub mod raw;
pub mod read;
pub mod stream;
pub mod stxm;
pub mod table;
pub mod text;
pub mod tiffio;
pub mod xdi;
pub mod xrm;
#[cfg(feature = "zarr")]
pub mod zarr;

use chemomech_core::{DynArray, EnergyStack, Error, ProjectionSet, Provenance, Raster, Result, Spectrum, Table};
pub use detect::{Format, detect};
use serde_json::json;
use std::ops::Range;
use std::path::Path;

/// What a file holds, in the core data model.
#[derive(Debug, Clone, PartialEq)]
pub enum Dataset {
    /// Tomographic projections with flats, darks and angles.
    Projections(ProjectionSet),
    /// An energy stack (XANES) with references.
    Energy(EnergyStack),
    /// A plain array: volume, image, label map.
    Raster(Raster),
    /// A 1-D spectrum.
    Spectrum(Spectrum),
    /// A table.
    Table(Table),
}

impl Dataset {
    /// A short name of the kind of data.
    pub fn kind(&self) -> &'static str {
        match self {
            Dataset::Projections(_) => "projections",
            Dataset::Energy(_) => "energy stack",
            Dataset::Raster(_) => "array",
            Dataset::Spectrum(_) => "spectrum",
            Dataset::Table(_) => "table",
        }
    }
}

/// Options for [`open_with`].
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// A dataset/array inside a container (HDF5 path, Zarr array name).
    pub dataset: Option<String>,
    /// Only these detector rows (HDF5 projections): a sinogram slab.
    pub rows: Option<Range<usize>>,
    /// Energies (eV) for a TIFF folder whose names carry none.
    pub energies: Option<Vec<f64>>,
    /// Energy unit of text spectra.
    pub energy_unit: Option<text::EnergyUnit>,
}

/// Opens any supported file or folder.
pub fn open(path: &Path) -> Result<Dataset> {
    open_with(path, &OpenOptions::default())
}

/// Opens with options (dataset name, row range, energies).
pub fn open_with(path: &Path, o: &OpenOptions) -> Result<Dataset> {
    let fmt = detect(path)?;
    match fmt {
        #[cfg(feature = "hdf5")]
        Format::Hdf5 => open_hdf5(path, o),
        #[cfg(not(feature = "hdf5"))]
        Format::Hdf5 => Err(Error::param("this chemomech was built without HDF5 support").at(path)),
        Format::Xradia => open_xrm(path),
        Format::Tiff => tiffio::read_tiff(path).map(Dataset::Raster),
        Format::Xdi => xdi::read_xdi_dataset(path),
        Format::Feff => feff::read_feff_path(path).map(|p| Dataset::Table(p.table)),
        Format::Athena => prj::read_athena_spectrum(path, o.dataset.as_deref()).map(Dataset::Spectrum),
        Format::Text => {
            let unit = o.energy_unit.unwrap_or(text::EnergyUnit::Auto);
            match text::read_text_spectrum(path, unit) {
                Ok(s) => Ok(Dataset::Spectrum(s)),
                // A CSV that is no spectrum may be a table, if it has a real header.
                Err(e) if has_ext(path, "csv") => match table::read_csv(path) {
                    Ok(t) if t.names.iter().any(|n| n.parse::<f64>().is_err()) => Ok(Dataset::Table(t)),
                    _ => Err(e),
                },
                Err(e) => Err(e),
            }
        }
        Format::Npy => npy::read_npy(path).map(Dataset::Raster),
        #[cfg(feature = "parquet")]
        Format::Parquet => table::read_parquet(path).map(Dataset::Table),
        #[cfg(not(feature = "parquet"))]
        Format::Parquet => Err(Error::param("this chemomech was built without Parquet support").at(path)),
        #[cfg(feature = "zarr")]
        Format::Zarr => open_zarr(path, o),
        #[cfg(not(feature = "zarr"))]
        Format::Zarr => Err(Error::param("this chemomech was built without Zarr support").at(path)),
        Format::TiffFolder => folder::read_tiff_folder(path, o.energies.as_deref()).map(Dataset::Energy),
        Format::XrmFolder => folder::read_xrm_folder(path).map(Dataset::Energy),
        Format::Stxm => stxm::read_stxm(path).map(Dataset::Energy),
        Format::StxmImage => stxm::read_xim_raster(path).map(Dataset::Raster),
    }
}

fn has_ext(p: &Path, ext: &str) -> bool {
    p.extension().map(|e| e.eq_ignore_ascii_case(ext)).unwrap_or(false)
}

#[cfg(feature = "hdf5")]
fn open_hdf5(path: &Path, o: &OpenOptions) -> Result<Dataset> {
    use hdf5io::Layout;
    if let Some(name) = &o.dataset {
        return hdf5io::read_dataset(path, name).map(Dataset::Raster);
    }
    let f = hdf5io::open_file(path)?;
    let lay = hdf5io::layout(&f);
    drop(f);
    match lay {
        Layout::DXchange => hdf5io::read_dxchange(path, o.rows.clone()).map(Dataset::Projections),
        Layout::NxTomo(entry) => hdf5io::read_nxtomo(path, &entry, o.rows.clone()).map(Dataset::Projections),
        Layout::FxiXanes => hdf5io::read_fxi_xanes(path).map(Dataset::Energy),
        Layout::FxiTomo => hdf5io::read_fxi_tomo(path, o.rows.clone()).map(Dataset::Projections),
        Layout::Generic => {
            let f = hdf5io::open_file(path)?;
            let all = hdf5io::list_datasets(&f).map_err(|e| e.at(path))?;
            let numeric: Vec<_> =
                all.iter().filter(|(_, s, t, _)| s.len() >= 2 && chemomech_core::DType::parse(t).is_ok()).collect();
            let pick = all.iter().find(|(n, _, _, _)| n == "/data" || n == "/volume").or(if numeric.len() == 1 {
                Some(numeric[0])
            } else {
                None
            });
            match pick {
                Some((n, _, _, _)) => hdf5io::read_dataset(path, n).map(Dataset::Raster),
                None => Err(Error::data(format!(
                    "no DXchange, NXtomo or FXI layout; name a dataset (candidates: {})",
                    numeric.iter().map(|(n, _, _, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                ))
                .at(path)),
            }
        }
    }
}

fn open_xrm(path: &Path) -> Result<Dataset> {
    let x = xrm::read_xrm(path, true)?;
    let images = x.images.clone().expect("read with images");
    let n = x.n_images;
    let spread = |v: &[f64]| {
        v.iter().cloned().fold(f64::NEG_INFINITY, f64::max) - v.iter().cloned().fold(f64::INFINITY, f64::min)
    };
    let mut meta = x.meta.clone();
    meta.insert("format".into(), "Xradia".into());
    meta.insert("energy_source".into(), x.energy_source.into());
    if n > 1 && x.angles_deg.len() == n && spread(&x.angles_deg) > 1.0 {
        let mut p = ProjectionSet::new(images, x.angles_deg.clone());
        p.flats = x.reference.clone();
        p.pixel_um = x.pixel_um;
        p.energy_ev = x.energies_ev.first().copied();
        p.meta = meta;
        p.validate().map_err(|e| e.at(path))?;
        return Ok(Dataset::Projections(p));
    }
    if n > 1 && x.energies_ev.len() == n && spread(&x.energies_ev) > 0.0 {
        let mut s = EnergyStack::new(images, x.energies_ev.clone());
        s.flats = x.reference.clone();
        s.pixel_um = x.pixel_um;
        s.meta = meta;
        s.validate().map_err(|e| e.at(path))?;
        return Ok(Dataset::Energy(s));
    }
    let data = if n == 1 { images.index_axis0(0)? } else { images };
    if let Some(e) = x.energies_ev.first() {
        meta.insert("energy_ev".into(), (*e).into());
    }
    if let Some(a) = x.angles_deg.first() {
        meta.insert("angle_deg".into(), (*a).into());
    }
    let nd = data.ndim();
    let spacing_um = x.pixel_um.map(|p| vec![p; nd]);
    Ok(Dataset::Raster(Raster { data, spacing_um, meta }))
}

#[cfg(feature = "zarr")]
fn open_zarr(path: &Path, o: &OpenOptions) -> Result<Dataset> {
    if o.dataset.is_none()
        && path.join("theta").join("zarr.json").is_file()
        && path.join("data").join("zarr.json").is_file()
    {
        let data = zarr::read_zarr(path, Some("data"))?;
        let theta = zarr::read_zarr(path, Some("theta"))?.data.to_f64().iter().cloned().collect();
        let mut p = ProjectionSet::new(data.data, theta);
        if path.join("data_white").is_dir() {
            p.flats = Some(zarr::read_zarr(path, Some("data_white"))?.data);
        }
        if path.join("data_dark").is_dir() {
            p.darks = Some(zarr::read_zarr(path, Some("data_dark"))?.data);
        }
        p.validate().map_err(|e| e.at(path))?;
        return Ok(Dataset::Projections(p));
    }
    zarr::read_zarr(path, o.dataset.as_deref()).map(Dataset::Raster)
}

// ------------------------------------------------------------------ info

fn range_summary(v: &[f64], unit: &str) -> serde_json::Value {
    if v.is_empty() {
        return json!({"count": 0});
    }
    let step = if v.len() > 1 { (v[v.len() - 1] - v[0]) / (v.len() - 1) as f64 } else { 0.0 };
    json!({"count": v.len(), "first": v[0], "last": v[v.len() - 1], "mean_step": chemomech_core::units::round_sig(step, 8), "unit": unit})
}

fn array_summary(name: &str, a: &DynArray) -> serde_json::Value {
    json!({"name": name, "shape": a.shape(), "dtype": a.dtype().name()})
}

/// A JSON description of a file: format, shapes, types, units,
/// energies/angles and the key metadata. Reads headers, not bulk data,
/// where the format allows.
pub fn info(path: &Path) -> Result<serde_json::Value> {
    let fmt = detect(path)?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut v = json!({"path": path.display().to_string(), "format": fmt.name(), "bytes": bytes});
    let details = match fmt {
        #[cfg(feature = "hdf5")]
        Format::Hdf5 => info_hdf5(path)?,
        Format::Xradia => {
            let x = xrm::read_xrm(path, false)?;
            json!({
                "kind": if x.n_images > 1 { "image series" } else { "image" },
                "images": x.n_images, "height": x.height, "width": x.width, "dtype": x.dtype.name(),
                "pixel_size_um": x.pixel_um,
                "energies_ev": x.energies_ev, "energy_source": x.energy_source,
                "angles_deg": x.angles_deg, "exposure_s": x.exposure_s,
                "metadata": x.meta,
            })
        }
        Format::Tiff => {
            let t = tiffio::tiff_info(path)?;
            json!({"kind": "array", "shape": if t.pages > 1 { vec![t.pages, t.height, t.width] } else { vec![t.height, t.width] },
                   "dtype": t.dtype.name(), "pages": t.pages, "bigtiff": t.bigtiff, "imagej": t.imagej,
                   "spacing_um": t.spacing_um, "description": t.description.map(|d| d.chars().take(2000).collect::<String>())})
        }
        Format::Xdi => match xdi::read_xdi_dataset(path)? {
            Dataset::Spectrum(s) => {
                let mut j = spectrum_summary(&s);
                j["xdi"] = s.meta.get("xdi").cloned().unwrap_or_default();
                j
            }
            // χ(k) and other data against k: a table with its columns' units.
            Dataset::Table(t) => json!({"kind": "table", "rows": t.rows(), "columns": t.names, "units": t.units}),
            other => json!({"kind": other.kind()}),
        },
        Format::Npy => {
            let r = npy::read_npy(path)?;
            json!({"kind": "array", "shape": r.data.shape(), "dtype": r.data.dtype().name()})
        }
        #[cfg(feature = "zarr")]
        Format::Zarr => {
            let mut j = zarr::info(path)?;
            j["kind"] = "zarr store".into();
            j
        }
        _ => match open(path)? {
            Dataset::Spectrum(s) => spectrum_summary(&s),
            Dataset::Table(t) => json!({"kind": "table", "rows": t.rows(), "columns": t.names}),
            Dataset::Energy(s) => energy_summary(&s),
            Dataset::Projections(p) => projections_summary(&p),
            Dataset::Raster(r) => {
                json!({"kind": "array", "shape": r.data.shape(), "dtype": r.data.dtype().name(), "spacing_um": r.spacing_um})
            }
        },
    };
    if let (Some(obj), serde_json::Value::Object(d)) = (v.as_object_mut(), details) {
        obj.extend(d);
    }
    Ok(v)
}

fn spectrum_summary(s: &Spectrum) -> serde_json::Value {
    json!({
        "kind": "spectrum",
        "points": s.len(),
        "energy_ev": range_summary(&s.energy_ev, "eV"),
        "columns": s.columns.iter().map(|c| json!({"name": c.name, "unit": c.unit})).collect::<Vec<_>>(),
        "has_mu": s.mu.is_some(),
        "element": s.meta.get("element"),
        "edge": s.meta.get("edge"),
        "energy_unit_in_file": s.meta.get("energy_unit_in_file"),
    })
}

fn projections_summary(p: &ProjectionSet) -> serde_json::Value {
    let mut arrays = vec![array_summary("projections", &p.data)];
    if let Some(f) = &p.flats {
        arrays.push(array_summary("flats", f));
    }
    if let Some(d) = &p.darks {
        arrays.push(array_summary("darks", d));
    }
    json!({
        "kind": "projections",
        "arrays": arrays,
        "projections": p.data.shape()[0], "rows": p.data.shape()[1], "columns": p.data.shape()[2],
        "flats": p.flats.as_ref().map_or(0, |f| f.shape()[0]),
        "darks": p.darks.as_ref().map_or(0, |d| d.shape()[0]),
        "angles": range_summary(&p.angles_deg, "degree"),
        "pixel_size_um": p.pixel_um, "energy_ev": p.energy_ev, "distance_m": p.distance_m,
        "metadata": p.meta,
    })
}

fn energy_summary(s: &EnergyStack) -> serde_json::Value {
    let mut arrays = vec![array_summary("frames", &s.data)];
    if let Some(f) = &s.flats {
        arrays.push(array_summary("references", f));
    }
    if let Some(d) = &s.darks {
        arrays.push(array_summary("darks", d));
    }
    json!({
        "kind": "energy stack",
        "arrays": arrays,
        "energies_ev": range_summary(&s.energies_ev, "eV"),
        "energy_list_ev": s.energies_ev,
        "pixel_size_um": s.pixel_um,
        "metadata": s.meta,
    })
}

#[cfg(feature = "hdf5")]
fn info_hdf5(path: &Path) -> Result<serde_json::Value> {
    let mut j = hdf5io::info(path)?;
    // For recognised layouts, add the physics (angles, energies) without the bulk data.
    let f = hdf5io::open_file(path)?;
    let lay = hdf5io::layout(&f);
    let summary = match lay {
        hdf5io::Layout::Generic => json!({"kind": "HDF5 datasets"}),
        hdf5io::Layout::FxiXanes => energy_summary(&hdf5io::read_fxi_xanes(path)?),
        _ => {
            // Read one detector row only: enough for shapes, angles, flats.
            let rows = Some(0..1);
            let p = match &lay {
                hdf5io::Layout::DXchange => hdf5io::read_dxchange(path, rows)?,
                hdf5io::Layout::NxTomo(e) => hdf5io::read_nxtomo(path, e, rows)?,
                _ => hdf5io::read_fxi_tomo(path, rows)?,
            };
            let ds = hdf5io::list_datasets(&f).map_err(|e| e.at(path))?;
            let full_rows = ds
                .iter()
                .find(|(n, s, _, _)| s.len() == 3 && (n.ends_with("/data") || n == "/img_tomo"))
                .map(|(_, s, _, _)| s[1])
                .unwrap_or(1);
            let mut s = projections_summary(&p);
            s["rows"] = full_rows.into();
            for a in s["arrays"].as_array_mut().into_iter().flatten() {
                a["shape"][1] = full_rows.into();
            }
            if let Some(m) = s["metadata"].as_object_mut() {
                m.remove("rows");
            }
            s
        }
    };
    if let (Some(o), serde_json::Value::Object(s)) = (j.as_object_mut(), summary) {
        o.extend(s);
    }
    Ok(j)
}

// ----------------------------------------------------------------- writing

/// Which part of a dataset to write when the format holds one array only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Part {
    /// The projections or frames.
    #[default]
    Data,
    /// The flat fields (references).
    Flats,
    /// The dark fields.
    Darks,
}

/// Options for [`save`].
#[derive(Debug, Clone, Default)]
pub struct SaveOptions {
    /// For single-array formats (TIFF, npy): which array of projections/stacks.
    pub part: Part,
    /// How TIFFs are written.
    pub tiff: tiffio::TiffOptions,
}

/// Output format chosen from a path's extension.
pub fn output_format(path: &Path) -> Result<&'static str> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    Ok(match ext.as_str() {
        "tif" | "tiff" => "tiff",
        "zarr" => "zarr",
        "h5" | "hdf5" | "hdf" | "nxs" => "hdf5",
        "npy" => "npy",
        "csv" => "csv",
        "parquet" => "parquet",
        "json" => "json",
        _ => {
            return Err(Error::param(format!(
                "unknown output type '.{ext}' (use .tiff, .zarr, .h5, .npy, .csv, .parquet or .json)"
            ))
            .at(path));
        }
    })
}

fn part_of<'a>(d: &'a Dataset, part: Part, path: &Path) -> Result<(&'a DynArray, Option<Vec<f64>>)> {
    let missing = |w: &str| Error::param(format!("the input has no {w}")).at(path);
    Ok(match d {
        Dataset::Projections(p) => match part {
            Part::Data => (&p.data, p.pixel_um.map(|x| vec![1.0, x, x])),
            Part::Flats => (p.flats.as_ref().ok_or_else(|| missing("flats"))?, None),
            Part::Darks => (p.darks.as_ref().ok_or_else(|| missing("darks"))?, None),
        },
        Dataset::Energy(s) => match part {
            Part::Data => (&s.data, s.pixel_um.map(|x| vec![1.0, x, x])),
            Part::Flats => (s.flats.as_ref().ok_or_else(|| missing("references"))?, None),
            Part::Darks => (s.darks.as_ref().ok_or_else(|| missing("darks"))?, None),
        },
        Dataset::Raster(r) => (&r.data, r.spacing_um.clone()),
        _ => return Err(Error::param(format!("a {} cannot be written as an image", d.kind())).at(path)),
    })
}

/// Writes a dataset to `path` in the format of its extension, with provenance.
pub fn save(d: &Dataset, path: &Path, prov: Option<&Provenance>, o: &SaveOptions) -> Result<()> {
    match output_format(path)? {
        "tiff" => {
            let (a, spacing_um) = part_of(d, o.part, path)?;
            tiffio::write_tiff(path, a, spacing_um.as_deref(), prov, o.tiff)
        }
        "npy" => npy::write_npy(path, part_of(d, o.part, path)?.0),
        #[cfg(feature = "hdf5")]
        "hdf5" => match d {
            Dataset::Projections(p) => hdf5io::write_dxchange(path, p, prov),
            Dataset::Energy(s) => hdf5io::write_fxi_xanes(path, s, prov),
            Dataset::Raster(r) => hdf5io::write_arrays(path, &[("data", &r.data, r.spacing_um.as_deref())], prov),
            _ => Err(Error::param(format!("a {} cannot be written as HDF5", d.kind())).at(path)),
        },
        #[cfg(feature = "zarr")]
        "zarr" => save_zarr(d, path, prov),
        "csv" => table::write_csv(path, &as_table(d, path)?, prov),
        #[cfg(feature = "parquet")]
        "parquet" => table::write_parquet(path, &as_table(d, path)?, prov),
        "json" => match d {
            Dataset::Spectrum(s) => {
                atomic::write_json(path, &json!({"spectrum": s, "provenance": prov.map(|p| p.to_json())}))
            }
            Dataset::Table(t) => {
                atomic::write_json(path, &json!({"table": t, "provenance": prov.map(|p| p.to_json())}))
            }
            _ => Err(Error::param("arrays are not written as JSON; use .tiff, .zarr, .h5 or .npy").at(path)),
        },
        other => Err(Error::param(format!("this chemomech was built without {other} support")).at(path)),
    }
}

fn as_table(d: &Dataset, path: &Path) -> Result<Table> {
    match d {
        Dataset::Table(t) => Ok(t.clone()),
        Dataset::Spectrum(s) => {
            let mut t = Table::default();
            t.push("energy_ev", chemomech_core::Column::F64(s.energy_ev.clone()), Some("eV"))?;
            for c in s.columns.iter().skip(1) {
                t.push(&c.name, chemomech_core::Column::F64(c.values.clone()), c.unit.as_deref())?;
            }
            Ok(t)
        }
        _ => Err(Error::param(format!("a {} is not a table", d.kind())).at(path)),
    }
}

#[cfg(feature = "zarr")]
fn save_zarr(d: &Dataset, path: &Path, prov: Option<&Provenance>) -> Result<()> {
    use zarr::ZarrArray;
    let attrs = |pairs: &[(&str, serde_json::Value)]| -> serde_json::Map<String, serde_json::Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    };
    let mut group = serde_json::Map::new();
    if let Some(p) = prov {
        group.insert("chemomech".into(), json!({"provenance": p.to_json()}));
    }
    match d {
        Dataset::Raster(r) if (2..=3).contains(&r.data.ndim()) => {
            zarr::write_ome_volume(path, &r.data, r.spacing_um.as_deref(), prov)
        }
        Dataset::Raster(r) => zarr::write_group(
            path,
            &[ZarrArray { name: "data", data: &r.data, attributes: Default::default(), dimension_names: None }],
            group,
        ),
        Dataset::Projections(p) => {
            let theta = DynArray::F64(ndarray::ArrayD::from_shape_vec(vec![p.angles_deg.len()], p.angles_deg.clone())?);
            let mut arrays = vec![ZarrArray {
                name: "data",
                data: &p.data,
                attributes: attrs(&[("units", "counts".into())]),
                dimension_names: Some(vec!["theta", "y", "x"]),
            }];
            if let Some(f) = &p.flats {
                arrays.push(ZarrArray {
                    name: "data_white",
                    data: f,
                    attributes: Default::default(),
                    dimension_names: Some(vec!["theta_white", "y", "x"]),
                });
            }
            if let Some(k) = &p.darks {
                arrays.push(ZarrArray {
                    name: "data_dark",
                    data: k,
                    attributes: Default::default(),
                    dimension_names: Some(vec!["theta_dark", "y", "x"]),
                });
            }
            arrays.push(ZarrArray {
                name: "theta",
                data: &theta,
                attributes: attrs(&[("units", "degrees".into())]),
                dimension_names: Some(vec!["theta"]),
            });
            group.insert("layout".into(), "DXchange".into());
            if let Some(px) = p.pixel_um {
                group.insert("pixel_size_um".into(), px.into());
            }
            if let Some(e) = p.energy_ev {
                group.insert("energy_ev".into(), e.into());
            }
            zarr::write_group(path, &arrays, group)
        }
        Dataset::Energy(s) => {
            let e = DynArray::F64(ndarray::ArrayD::from_shape_vec(vec![s.energies_ev.len()], s.energies_ev.clone())?);
            let mut arrays =
                vec![ZarrArray { name: "data", data: &s.data, attributes: Default::default(), dimension_names: None }];
            if let Some(f) = &s.flats {
                arrays.push(ZarrArray {
                    name: "references",
                    data: f,
                    attributes: Default::default(),
                    dimension_names: None,
                });
            }
            if let Some(k) = &s.darks {
                arrays.push(ZarrArray {
                    name: "darks",
                    data: k,
                    attributes: Default::default(),
                    dimension_names: None,
                });
            }
            arrays.push(ZarrArray {
                name: "energies",
                data: &e,
                attributes: attrs(&[("units", "eV".into())]),
                dimension_names: Some(vec!["energy"]),
            });
            if let Some(px) = s.pixel_um {
                group.insert("pixel_size_um".into(), px.into());
            }
            zarr::write_group(path, &arrays, group)
        }
        _ => Err(Error::param(format!("a {} cannot be written as Zarr", d.kind())).at(path)),
    }
}
