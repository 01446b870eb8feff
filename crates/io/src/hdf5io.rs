//! HDF5 through the real HDF5 library (hdf5-metno): DXchange (APS),
//! NeXus NXtomo (ESRF/Diamond, `image_key` convention), the NSLS-II FXI
//! layouts (`/img_xanes`, `/img_tomo`) and plain datasets.

use chemomech_core::types::Metadata;
use chemomech_core::{DType, DynArray, EnergyStack, Error, ProjectionSet, Provenance, Raster, Result, units};
use h5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5_metno as h5;
use ndarray::{ArrayD, Axis, IxDyn, s};
use std::ops::Range;
use std::path::Path;

fn h5err(e: h5::Error) -> Error {
    let msg = e.to_string();
    // HDF5's messages are long stacks; keep the first, most telling line.
    let first = msg.lines().next().unwrap_or("HDF5 error").trim().to_string();
    Error::data(format!("HDF5: {first}"))
}

/// The layout an HDF5 file follows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Layout {
    /// APS Data Exchange: `/exchange/data`, `data_white`, `data_dark`, `theta`.
    DXchange,
    /// NeXus NXtomo at the given entry.
    NxTomo(String),
    /// NSLS-II FXI XANES: `/img_xanes`, `/img_bkg`, `/img_dark`, `/X_eng` (keV).
    FxiXanes,
    /// NSLS-II FXI tomography: `/img_tomo`, `/img_bkg`, `/img_dark`, `/angle`.
    FxiTomo,
    /// Anything else: datasets addressed by name.
    Generic,
}

/// Opens an HDF5 file for reading, with a one-line error naming it.
pub fn open_file(path: &Path) -> Result<h5::File> {
    h5::File::open(path).map_err(|e| h5err(e).context("cannot open as HDF5 (truncated or corrupt?)").at(path))
}

/// Which layout the file follows.
pub fn layout(file: &h5::File) -> Layout {
    if file.link_exists("exchange") && file.group("exchange").map(|g| g.link_exists("data")).unwrap_or(false) {
        return Layout::DXchange;
    }
    if file.link_exists("img_xanes") && file.link_exists("X_eng") {
        return Layout::FxiXanes;
    }
    if file.link_exists("img_tomo") {
        return Layout::FxiTomo;
    }
    if let Some(e) = find_nxtomo_entry(file) {
        return Layout::NxTomo(e);
    }
    Layout::Generic
}

fn find_nxtomo_entry(file: &h5::File) -> Option<String> {
    let names = file.member_names().ok()?;
    for n in names {
        let Ok(g) = file.group(&n) else { continue };
        let def = g.dataset("definition").ok().and_then(|d| read_string(&d).ok());
        let has_keys = g.link_exists("instrument") && g.group("instrument").ok()?.link_exists("detector") && {
            let det = g.group("instrument/detector").ok()?;
            det.link_exists("data") && (det.link_exists("image_key") || det.link_exists("image_key_control"))
        };
        if def.as_deref().map(|d| d.eq_ignore_ascii_case("NXtomo")).unwrap_or(false) || has_keys {
            return Some(format!("/{n}"));
        }
    }
    None
}

/// Reads a string dataset or attribute (variable or fixed length, ASCII or UTF-8).
pub fn read_string(c: &h5::Container) -> Result<String> {
    let td = c.dtype().and_then(|t| t.to_descriptor()).map_err(h5err)?;
    let scalar = c.ndim() == 0;
    macro_rules! get {
        ($t:ty) => {{
            if scalar {
                c.read_scalar::<$t>().map_err(h5err)?.as_str().to_string()
            } else {
                c.read_raw::<$t>().map_err(h5err)?.first().map(|s| s.as_str().to_string()).unwrap_or_default()
            }
        }};
    }
    Ok(match td {
        TypeDescriptor::VarLenUnicode => get!(VarLenUnicode),
        TypeDescriptor::VarLenAscii => get!(VarLenAscii),
        TypeDescriptor::FixedAscii(_) => get!(FixedAscii<4096>),
        TypeDescriptor::FixedUnicode(_) => get!(FixedUnicode<4096>),
        other => return Err(Error::data(format!("expected a string, found {other}"))),
    }
    .trim_end_matches('\0')
    .trim()
    .to_string())
}

/// Reads a string attribute `name` of `c`, if present and textual.
pub fn string_attr(c: &h5::Location, name: &str) -> Option<String> {
    let a = c.attr(name).ok()?;
    read_string(&a).ok()
}

/// Reads numbers from a dataset or attribute (any numeric type).
fn read_f64s(c: &h5::Container) -> Result<Vec<f64>> {
    c.read_raw::<f64>().map_err(h5err)
}

/// The element type of a dataset.
pub fn dtype_of(ds: &h5::Dataset) -> Result<DType> {
    use h5::types::{FloatSize, IntSize};
    let td = ds.dtype().and_then(|t| t.to_descriptor()).map_err(h5err)?;
    Ok(match td {
        TypeDescriptor::Unsigned(IntSize::U1) => DType::U8,
        TypeDescriptor::Unsigned(IntSize::U2) => DType::U16,
        TypeDescriptor::Unsigned(IntSize::U4) => DType::U32,
        TypeDescriptor::Unsigned(IntSize::U8) => DType::U64,
        TypeDescriptor::Integer(IntSize::U1) | TypeDescriptor::Integer(IntSize::U2) => DType::I16,
        TypeDescriptor::Integer(IntSize::U4) => DType::I32,
        TypeDescriptor::Integer(IntSize::U8) => DType::I64,
        TypeDescriptor::Float(FloatSize::U4) => DType::F32,
        TypeDescriptor::Float(FloatSize::U8) => DType::F64,
        TypeDescriptor::Boolean => DType::U8,
        other => return Err(Error::data(format!("dataset {} has non-numeric type {other}", ds.name()))),
    })
}

/// Reads a whole numeric dataset in its own element type.
pub fn read_array(ds: &h5::Dataset) -> Result<DynArray> {
    read_array_rows(ds, None)
}

/// Reads a numeric dataset, optionally only rows `r` of axis 1 of a 3-D
/// dataset (sinogram slabs for streaming reconstruction).
pub fn read_array_rows(ds: &h5::Dataset, rows: Option<Range<usize>>) -> Result<DynArray> {
    let dt = dtype_of(ds)?;
    let name = ds.name();
    if let Some(r) = &rows {
        let sh = ds.shape();
        if sh.len() != 3 || r.end > sh[1] || r.start >= r.end {
            return Err(Error::shape(format!(
                "rows {}..{} out of range for dataset {name} of shape {sh:?}",
                r.start, r.end
            )));
        }
    }
    macro_rules! rd {
        ($t:ty, $v:ident) => {{
            let a: ArrayD<$t> = match &rows {
                None => ds.read_dyn::<$t>(),
                Some(r) => ds.read_slice::<$t, _, IxDyn>(s![.., r.start..r.end, ..]),
            }
            .map_err(|e| h5err(e).context(format!("reading {name}")))?;
            DynArray::$v(a)
        }};
    }
    Ok(match dt {
        DType::U8 => rd!(u8, U8),
        DType::U16 => rd!(u16, U16),
        DType::I16 => rd!(i16, I16),
        DType::U32 => rd!(u32, U32),
        DType::I32 => rd!(i32, I32),
        DType::U64 => rd!(u64, U64),
        DType::I64 => rd!(i64, I64),
        DType::F32 => rd!(f32, F32),
        DType::F64 => rd!(f64, F64),
    })
}

fn dataset(file: &h5::File, name: &str) -> Result<h5::Dataset> {
    file.dataset(name).map_err(|_| Error::data(format!("missing dataset {name}")))
}

fn opt_dataset(file: &h5::File, name: &str) -> Option<h5::Dataset> {
    if file.link_exists(name.trim_start_matches('/')) || nested_exists(file, name) {
        file.dataset(name).ok()
    } else {
        None
    }
}

fn nested_exists(file: &h5::File, name: &str) -> bool {
    // link_exists fails on missing intermediate groups; walk them.
    let mut g: h5::Group = match file.group("/") {
        Ok(g) => g,
        Err(_) => return false,
    };
    let parts: Vec<&str> = name.trim_start_matches('/').split('/').collect();
    for (i, p) in parts.iter().enumerate() {
        if !g.link_exists(p) {
            return false;
        }
        if i + 1 < parts.len() {
            g = match g.group(p) {
                Ok(x) => x,
                Err(_) => return false,
            };
        }
    }
    true
}

/// A scalar number with its units attribute converted by `conv`.
fn quantity(file: &h5::File, name: &str, default_unit: &str, conv: fn(f64, &str) -> Result<f64>) -> Option<f64> {
    let ds = opt_dataset(file, name)?;
    let v = *read_f64s(&ds).ok()?.first()?;
    let unit =
        string_attr(&ds, "units").or_else(|| string_attr(&ds, "unit")).unwrap_or_else(|| default_unit.to_string());
    conv(v, &unit).ok().filter(|x| x.is_finite() && *x > 0.0)
}

fn angles_from(ds: &h5::Dataset, n_expected: usize, what: &str) -> Result<(Vec<f64>, String)> {
    let vals = read_f64s(ds)?;
    let unit = string_attr(ds, "units").or_else(|| string_attr(ds, "unit"));
    let (vals, note) = match unit.as_deref() {
        Some(u) => {
            (vals.iter().map(|&v| units::angle_to_deg(v, u)).collect::<Result<Vec<_>>>()?, format!("{u} (from file)"))
        }
        None => (vals, "degree (assumed: no units attribute)".to_string()),
    };
    if vals.len() != n_expected {
        return Err(Error::shape(format!("{what} has {} angles but there are {n_expected} projections", vals.len())));
    }
    Ok((vals, note))
}

/// Flat/dark frames must match the projections' full (row, column) shape —
/// checked on the datasets' shapes, before any row range is read.
fn check_frames(name: &str, s: &[usize], data_shape: &[usize]) -> Result<()> {
    if s.len() != 3 || s[1..] != data_shape[1..] {
        return Err(Error::shape(format!("{name} has shape {s:?} but projections have shape {data_shape:?}")));
    }
    Ok(())
}

/// Reads a DXchange file (optionally only detector rows `rows`).
pub fn read_dxchange(path: &Path, rows: Option<Range<usize>>) -> Result<ProjectionSet> {
    let f = open_file(path)?;
    read_dxchange_file(&f, rows).map_err(|e| e.at(path))
}

fn read_dxchange_file(f: &h5::File, rows: Option<Range<usize>>) -> Result<ProjectionSet> {
    let dds = dataset(f, "/exchange/data")?;
    let shape = dds.shape();
    if shape.len() != 3 {
        return Err(Error::shape(format!("/exchange/data must be 3-D (theta, y, x), found shape {shape:?}")));
    }
    let data = read_array_rows(&dds, rows.clone())?;
    let mut meta = Metadata::new();
    meta.insert("layout".into(), "DXchange".into());
    let flats = match opt_dataset(f, "/exchange/data_white") {
        Some(d) => {
            check_frames("/exchange/data_white", &d.shape(), &shape)?;
            Some(read_array_rows(&d, rows.clone())?)
        }
        None => None,
    };
    let darks = match opt_dataset(f, "/exchange/data_dark") {
        Some(d) => {
            check_frames("/exchange/data_dark", &d.shape(), &shape)?;
            Some(read_array_rows(&d, rows.clone())?)
        }
        None => None,
    };
    let theta = dataset(f, "/exchange/theta")?;
    let (angles, unit_note) = angles_from(&theta, shape[0], "/exchange/theta")?;
    meta.insert("theta_units".into(), unit_note.into());
    if let Some(u) = string_attr(&dds, "units") {
        meta.insert("data_units".into(), u.into());
    }
    if let Some(t) = opt_dataset(f, "/exchange/title").and_then(|d| read_string(&d).ok()) {
        meta.insert("title".into(), t.into());
    }
    if let Some(t) = opt_dataset(f, "/measurement/sample/name").and_then(|d| read_string(&d).ok()) {
        meta.insert("sample".into(), t.into());
    }
    let pixel_um = [
        "/measurement/instrument/detection_system/objective/resolution",
        "/measurement/instrument/detector/pixel_size",
        "/measurement/instrument/detector/pixel_size_x",
    ]
    .iter()
    .find_map(|n| quantity(f, n, "um", units::length_to_um));
    let energy_ev = ["/measurement/instrument/monochromator/energy", "/measurement/instrument/source/energy"]
        .iter()
        .find_map(|n| quantity(f, n, "keV", units::energy_to_ev));
    let distance_m = quantity(f, "/measurement/instrument/detector/distance", "m", units::length_to_m);
    if let Some(d) = opt_dataset(f, "/measurement/instrument/detector/distances")
        && let Ok(v) = read_f64s(&d)
    {
        meta.insert("distances_m".into(), v.into());
    }
    let flat_positions = opt_dataset(f, "/exchange/data_white_positions").and_then(|d| read_f64s(&d).ok());
    if let Some(rows) = &rows {
        meta.insert("rows".into(), serde_json::json!([rows.start, rows.end]));
    }
    let p =
        ProjectionSet { data, flats, darks, angles_deg: angles, flat_positions, pixel_um, energy_ev, distance_m, meta };
    p.validate()?;
    Ok(p)
}

/// Reads a NeXus NXtomo entry: frames split by `image_key` (0 projection,
/// 1 flat, 2 dark; `image_key_control` -1 alignment frames are skipped).
pub fn read_nxtomo(path: &Path, entry: &str, rows: Option<Range<usize>>) -> Result<ProjectionSet> {
    let f = open_file(path)?;
    read_nxtomo_file(&f, entry, rows).map_err(|e| e.at(path))
}

fn read_nxtomo_file(f: &h5::File, entry: &str, rows: Option<Range<usize>>) -> Result<ProjectionSet> {
    let det = format!("{entry}/instrument/detector");
    let dds = dataset(f, &format!("{det}/data"))?;
    let shape = dds.shape();
    if shape.len() != 3 {
        return Err(Error::shape(format!("{det}/data must be 3-D, found {shape:?}")));
    }
    let keys: Vec<i64> = match opt_dataset(f, &format!("{det}/image_key_control"))
        .or_else(|| opt_dataset(f, &format!("{det}/image_key")))
    {
        Some(k) => k.read_raw::<i64>().map_err(h5err)?,
        None => return Err(Error::data(format!("missing {det}/image_key"))),
    };
    if keys.len() != shape[0] {
        return Err(Error::shape(format!("{} image keys for {} frames", keys.len(), shape[0])));
    }
    let all = read_array_rows(&dds, rows.clone())?;
    let angles_all: Vec<f64> = match opt_dataset(f, &format!("{entry}/sample/rotation_angle")) {
        Some(a) => angles_from(&a, shape[0], "rotation_angle")?.0,
        None => return Err(Error::data(format!("missing {entry}/sample/rotation_angle"))),
    };
    let pick =
        |want: i64| -> Vec<usize> { keys.iter().enumerate().filter(|(_, k)| **k == want).map(|(i, _)| i).collect() };
    let (pi, fi, di) = (pick(0), pick(1), pick(2));
    if pi.is_empty() {
        return Err(Error::data("NXtomo entry has no projections (image_key 0)"));
    }
    let sel = |idx: &[usize]| -> Option<DynArray> {
        (!idx.is_empty()).then(
            || chemomech_core::dyn_dispatch!(&all, a => chemomech_core::array::Element::wrap(a.select(Axis(0), idx))),
        )
    };
    // Each flat's position: the number of projections taken before it.
    let flat_positions: Vec<f64> = fi.iter().map(|&i| pi.iter().filter(|&&p| p < i).count() as f64).collect();
    let mut meta = Metadata::new();
    meta.insert("layout".into(), "NXtomo".into());
    meta.insert("entry".into(), entry.into());
    let energy_ev = [
        format!("{entry}/beam/incident_energy"),
        format!("{entry}/instrument/beam/incident_energy"),
        format!("{entry}/instrument/source/energy"),
    ]
    .iter()
    .find_map(|n| quantity(f, n, "keV", units::energy_to_ev));
    let pixel_um = quantity(f, &format!("{det}/x_pixel_size"), "m", units::length_to_um);
    let distance_m = quantity(f, &format!("{det}/distance"), "m", units::length_to_m);
    let p = ProjectionSet {
        data: sel(&pi).expect("non-empty"),
        flats: sel(&fi),
        darks: sel(&di),
        angles_deg: pi.iter().map(|&i| angles_all[i]).collect(),
        flat_positions: (!fi.is_empty()).then_some(flat_positions),
        pixel_um,
        energy_ev,
        distance_m,
        meta,
    };
    p.validate()?;
    Ok(p)
}

/// Reads an NSLS-II FXI XANES file: `/img_xanes` (energy, y, x), references
/// `/img_bkg` (one per energy, or several to average), `/img_dark`, and
/// `/X_eng` in keV.
pub fn read_fxi_xanes(path: &Path) -> Result<EnergyStack> {
    let f = open_file(path)?;
    read_fxi_xanes_file(&f).map_err(|e| e.at(path))
}

fn read_fxi_xanes_file(f: &h5::File) -> Result<EnergyStack> {
    let data = read_array(&dataset(f, "/img_xanes")?)?;
    let eng = dataset(f, "/X_eng")?;
    let e = read_f64s(&eng)?;
    let unit = string_attr(&eng, "units")
        .unwrap_or_else(|| if e.iter().all(|v| *v < 200.0) { "keV".into() } else { "eV".into() });
    let energies: Vec<f64> = e.iter().map(|&v| units::energy_to_ev(v, &unit)).collect::<Result<_>>()?;
    let flats = opt_dataset(f, "/img_bkg").map(|d| read_array(&d)).transpose()?;
    let darks = opt_dataset(f, "/img_dark").map(|d| read_array(&d)).transpose()?;
    let mut meta = Metadata::new();
    meta.insert("layout".into(), "FXI XANES".into());
    for n in ["note", "scan_id", "scan_time", "Magnification"] {
        if let Some(d) = opt_dataset(f, n) {
            if let Ok(s) = read_string(&d) {
                meta.insert(n.to_ascii_lowercase(), s.into());
            } else if let Ok(v) = read_f64s(&d)
                && let Some(x) = v.first()
            {
                meta.insert(n.to_ascii_lowercase(), (*x).into());
            }
        }
    }
    let pixel_um = pixel_size_fxi(f);
    let mut st = EnergyStack { data, flats, darks, energies_ev: energies, pixel_um, meta };
    if let Some(fl) = &st.flats {
        // References: one per energy, or a set to be averaged.
        let fs = fl.shape();
        if fs.len() == 3 && fs[0] != st.data.shape()[0] {
            st.meta.insert("references".into(), format!("{} averaged for all energies", fs[0]).into());
        }
        if fs.len() != 3 || fs[1..] != st.data.shape()[1..] {
            return Err(Error::shape(format!("/img_bkg has shape {fs:?} but /img_xanes is {:?}", st.data.shape())));
        }
    }
    if let Some(d) = &st.darks {
        let ds = d.shape();
        if ds.len() != 3 || ds[1..] != st.data.shape()[1..] {
            return Err(Error::shape(format!("/img_dark has shape {ds:?} but /img_xanes is {:?}", st.data.shape())));
        }
    }
    let n = st.data.shape().first().copied().unwrap_or(0);
    if st.energies_ev.len() != n {
        return Err(Error::shape(format!("/X_eng has {} energies for {n} frames in /img_xanes", st.energies_ev.len())));
    }
    chemomech_core::types::check_increasing(&st.energies_ev, "/X_eng energies")?;
    Ok(st)
}

fn pixel_size_fxi(f: &h5::File) -> Option<f64> {
    let d = opt_dataset(f, "/Pixel Size")?;
    if let Ok(s) = read_string(&d) {
        return units::parse_quantity_um(&s).ok();
    }
    read_f64s(&d).ok()?.first().map(|nm| nm * 1e-3)
}

/// Reads an NSLS-II FXI tomography file: `/img_tomo`, `/img_bkg`, `/img_dark`, `/angle` (degrees).
pub fn read_fxi_tomo(path: &Path, rows: Option<Range<usize>>) -> Result<ProjectionSet> {
    let f = open_file(path)?;
    (|| {
        let dds = dataset(&f, "/img_tomo")?;
        let shape = dds.shape();
        let data = read_array_rows(&dds, rows.clone())?;
        let flats = opt_dataset(&f, "/img_bkg").map(|d| read_array_rows(&d, rows.clone())).transpose()?;
        let darks = opt_dataset(&f, "/img_dark").map(|d| read_array_rows(&d, rows.clone())).transpose()?;
        let (angles, _) = angles_from(&dataset(&f, "/angle")?, shape[0], "/angle")?;
        let energy_ev = opt_dataset(&f, "/X_eng")
            .and_then(|d| read_f64s(&d).ok()?.first().copied())
            .map(|v| if v < 200.0 { v * 1e3 } else { v });
        let mut meta = Metadata::new();
        meta.insert("layout".into(), "FXI tomography".into());
        let p = ProjectionSet {
            data,
            flats,
            darks,
            angles_deg: angles,
            flat_positions: None,
            pixel_um: pixel_size_fxi(&f),
            energy_ev,
            distance_m: None,
            meta,
        };
        p.validate()?;
        Ok(p)
    })()
    .map_err(|e: Error| e.at(path))
}

/// Reads one dataset as a raster; spacing from a `voxel_size_um` or
/// `pixel_size_um` attribute when present.
pub fn read_dataset(path: &Path, name: &str) -> Result<Raster> {
    let f = open_file(path)?;
    (|| {
        let ds = dataset(&f, name)?;
        let data = read_array(&ds)?;
        let mut r = Raster::new(data);
        for key in ["voxel_size_um", "pixel_size_um", "spacing_um"] {
            if let Ok(a) = ds.attr(key)
                && let Ok(v) = a.read_raw::<f64>()
            {
                r.spacing_um = Some(v);
                break;
            }
        }
        if let Some(p) = string_attr(&ds, "provenance").and_then(|s| serde_json::from_str(&s).ok()) {
            r.meta.insert("provenance".into(), p);
        }
        r.meta.insert("dataset".into(), name.into());
        Ok(r)
    })()
    .map_err(|e: Error| e.at(path))
}

/// Every dataset in the file: (path, shape, dtype or type name, units attribute).
pub fn list_datasets(f: &h5::File) -> Result<Vec<(String, Vec<usize>, String, Option<String>)>> {
    let mut out = Vec::new();
    fn walk(g: &h5::Group, prefix: &str, out: &mut Vec<(String, Vec<usize>, String, Option<String>)>) -> Result<()> {
        for name in g.member_names().map_err(h5err)? {
            let full = format!("{prefix}/{name}");
            if let Ok(sub) = g.group(&name) {
                walk(&sub, &full, out)?;
            } else if let Ok(ds) = g.dataset(&name) {
                let ty = match dtype_of(&ds) {
                    Ok(d) => d.name().to_string(),
                    Err(_) => {
                        ds.dtype().and_then(|t| t.to_descriptor()).map(|t| t.to_string()).unwrap_or_else(|_| "?".into())
                    }
                };
                out.push((full, ds.shape(), ty, string_attr(&ds, "units")));
            }
        }
        Ok(())
    }
    walk(&f.group("/").map_err(h5err)?, "", &mut out)?;
    Ok(out)
}

// ---------------------------------------------------------------- writers

fn put_str_attr(loc: &h5::Location, name: &str, value: &str) -> Result<()> {
    let v: VarLenUnicode = value.parse().map_err(|_| Error::data(format!("attribute {name}: not storable text")))?;
    loc.new_attr::<VarLenUnicode>().create(name).map_err(h5err)?.write_scalar(&v).map_err(h5err)
}

fn put_array(g: &h5::Group, name: &str, a: &DynArray, chunk_frames: bool) -> Result<h5::Dataset> {
    macro_rules! w {
        ($arr:expr) => {{
            let view = $arr.as_standard_layout();
            let b = g.new_dataset_builder().with_data(&view);
            let sh = $arr.shape().to_vec();
            let b =
                if chunk_frames && sh.len() == 3 && sh.iter().all(|&n| n > 0) { b.chunk((1, sh[1], sh[2])) } else { b };
            b.create(name).map_err(|e| h5err(e).context(format!("writing {name}")))?
        }};
    }
    Ok(chemomech_core::dyn_dispatch!(a, arr => w!(arr)))
}

fn put_f64s(g: &h5::Group, name: &str, v: &[f64], unit: Option<&str>) -> Result<()> {
    let ds = g.new_dataset_builder().with_data(v).create(name).map_err(h5err)?;
    if let Some(u) = unit {
        put_str_attr(&ds, "units", u)?;
    }
    Ok(())
}

fn put_scalar(g: &h5::Group, name: &str, v: f64, unit: &str) -> Result<()> {
    let ds = g.new_dataset::<f64>().create(name).map_err(h5err)?;
    ds.write_scalar(&v).map_err(h5err)?;
    put_str_attr(&ds, "units", unit)
}

fn put_provenance(f: &h5::File, prov: Option<&Provenance>) -> Result<()> {
    if let Some(p) = prov {
        put_str_attr(f, "provenance", &p.to_json_string())?;
        put_str_attr(f, "creator", &format!("chemomech {}", chemomech_core::VERSION))?;
    }
    Ok(())
}

/// Writes projections in the DXchange layout (atomically).
pub fn write_dxchange(path: &Path, p: &ProjectionSet, prov: Option<&Provenance>) -> Result<()> {
    p.validate().map_err(|e| e.at(path))?;
    crate::atomic::write_via_temp(path, |tmp| {
        let f = h5::File::create(tmp).map_err(h5err)?;
        put_str_attr(&f, "implements", "exchange:measurement:provenance")?;
        let ex = f.create_group("exchange").map_err(h5err)?;
        let d = put_array(&ex, "data", &p.data, true)?;
        put_str_attr(&d, "axes", "theta:y:x")?;
        put_str_attr(&d, "units", p.meta.get("data_units").and_then(|v| v.as_str()).unwrap_or("counts"))?;
        if let Some(fl) = &p.flats {
            let d = put_array(&ex, "data_white", fl, true)?;
            put_str_attr(&d, "axes", "theta_white:y:x")?;
        }
        if let Some(dk) = &p.darks {
            let d = put_array(&ex, "data_dark", dk, true)?;
            put_str_attr(&d, "axes", "theta_dark:y:x")?;
        }
        put_f64s(&ex, "theta", &p.angles_deg, Some("degrees"))?;
        if let Some(fp) = &p.flat_positions {
            put_f64s(&ex, "data_white_positions", fp, None)?;
        }
        let inst = f.create_group("measurement/instrument").map_err(h5err)?;
        if let Some(px) = p.pixel_um {
            let g = inst.create_group("detection_system/objective").map_err(h5err)?;
            put_scalar(&g, "resolution", px, "um")?;
        }
        if let Some(e) = p.energy_ev {
            let g = inst.create_group("monochromator").map_err(h5err)?;
            put_scalar(&g, "energy", e / 1e3, "keV")?;
        }
        if let Some(dist) = p.distance_m {
            let g = inst.create_group("detector").map_err(h5err)?;
            put_scalar(&g, "distance", dist, "m")?;
        }
        if !p.meta.is_empty() {
            put_str_attr(&f, "metadata", &serde_json::to_string(&p.meta)?)?;
        }
        put_provenance(&f, prov)?;
        f.close().map_err(h5err)
    })
}

/// Writes an energy stack in the NSLS-II FXI XANES layout (atomically).
pub fn write_fxi_xanes(path: &Path, st: &EnergyStack, prov: Option<&Provenance>) -> Result<()> {
    st.validate().map_err(|e| e.at(path))?;
    crate::atomic::write_via_temp(path, |tmp| {
        let f = h5::File::create(tmp).map_err(h5err)?;
        let root = f.group("/").map_err(h5err)?;
        put_array(&root, "img_xanes", &st.data, st.data.ndim() == 3)?;
        if let Some(b) = &st.flats {
            put_array(&root, "img_bkg", b, b.ndim() == 3)?;
        }
        if let Some(d) = &st.darks {
            put_array(&root, "img_dark", d, d.ndim() == 3)?;
        }
        let kev: Vec<f64> = st.energies_ev.iter().map(|e| e / 1e3).collect();
        put_f64s(&root, "X_eng", &kev, Some("keV"))?;
        if let Some(px) = st.pixel_um {
            let ds = root.new_dataset::<VarLenUnicode>().create("Pixel Size").map_err(h5err)?;
            let s: VarLenUnicode = format!("{} nm", px * 1e3).parse().map_err(|_| Error::data("pixel size text"))?;
            ds.write_scalar(&s).map_err(h5err)?;
        }
        if !st.meta.is_empty() {
            put_str_attr(&f, "metadata", &serde_json::to_string(&st.meta)?)?;
        }
        put_provenance(&f, prov)?;
        f.close().map_err(h5err)
    })
}

/// Writes named arrays (e.g. `/volume`) with their spacing as attributes (atomically).
pub fn write_arrays(
    path: &Path,
    arrays: &[(&str, &DynArray, Option<&[f64]>)],
    prov: Option<&Provenance>,
) -> Result<()> {
    crate::atomic::write_via_temp(path, |tmp| {
        let f = h5::File::create(tmp).map_err(h5err)?;
        for (name, a, spacing_um) in arrays {
            let name = name.trim_start_matches('/');
            let (gpath, leaf) = match name.rsplit_once('/') {
                Some((g, l)) => (g, l),
                None => ("", name),
            };
            let g = if gpath.is_empty() { f.group("/").map_err(h5err)? } else { ensure_group(&f, gpath)? };
            let ds = put_array(&g, leaf, a, false)?;
            if let Some(s) = spacing_um {
                ds.new_attr_builder().with_data(*s).create("voxel_size_um").map_err(h5err)?;
                put_str_attr(&ds, "units_spacing", "um")?;
            }
            if let Some(p) = prov {
                put_str_attr(&ds, "provenance", &p.to_json_string())?;
            }
        }
        put_provenance(&f, prov)?;
        f.close().map_err(h5err)
    })
}

fn ensure_group(f: &h5::File, path: &str) -> Result<h5::Group> {
    let mut g = f.group("/").map_err(h5err)?;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        g = if g.link_exists(part) { g.group(part).map_err(h5err)? } else { g.create_group(part).map_err(h5err)? };
    }
    Ok(g)
}

/// A JSON summary of an HDF5 file: its layout and every dataset.
pub fn info(path: &Path) -> Result<serde_json::Value> {
    let f = open_file(path)?;
    let lay = layout(&f);
    let datasets: Vec<serde_json::Value> = list_datasets(&f)
        .map_err(|e| e.at(path))?
        .into_iter()
        .map(|(n, s, t, u)| serde_json::json!({"name": n, "shape": s, "dtype": t, "units": u}))
        .collect();
    let mut v = serde_json::json!({"layout": lay, "datasets": datasets});
    if let Some(p) = string_attr(&f, "provenance").and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok()) {
        v["provenance"] = p;
    }
    Ok(v)
}
