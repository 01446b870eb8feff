//! Zarr v3 stores (zarrs): chunked, zstd-compressed, readable by
//! zarr-python ≥ 3, napari and Dask. Volumes are written as OME-NGFF 0.5
//! images (root group with `ome.multiscales` giving µm scales, array `0`),
//! so napari opens them with the right voxel size; projection sets as a
//! group with `data`, `data_white`, `data_dark` and `theta`.

use chemomech_core::{DType, DynArray, Error, Provenance, Raster, Result};
use ndarray::ArrayD;
use std::path::Path;
use std::sync::Arc;
use zarrs::array::{Array, ArrayBuilder, codec::ZstdCodec};
use zarrs::filesystem::FilesystemStore;
use zarrs::group::GroupBuilder;

type Store = Arc<FilesystemStore>;

fn zerr(e: impl std::fmt::Display) -> Error {
    Error::data(format!("Zarr: {e}"))
}

fn store(path: &Path) -> Result<Store> {
    Ok(Arc::new(FilesystemStore::new(path).map_err(zerr)?))
}

/// Chunk shape aiming at about 1–4 MB chunks.
fn chunk_shape(shape: &[usize], dtype: DType) -> Vec<u64> {
    let target = (2usize << 20) / dtype.size();
    match shape.len() {
        0 => vec![],
        1 => vec![shape[0].clamp(1, target) as u64],
        n => {
            // Fill the fastest axes first, then the slower ones, up to the target size.
            let mut c = vec![1usize; n];
            let mut size = 1usize;
            for ax in (0..n).rev() {
                let room = (target / size).max(1);
                let lim = if n >= 3 && ax < n - 2 { 64 } else { 512 };
                c[ax] = shape[ax].clamp(1, room.min(lim).max(1));
                size *= c[ax];
            }
            c.into_iter().map(|v| v as u64).collect()
        }
    }
}

/// One array to put into a store.
pub struct ZarrArray<'a> {
    /// Path of the array in the store.
    pub name: &'a str,
    /// The array's data.
    pub data: &'a DynArray,
    /// Attributes stored with the array.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Names of the dimensions, when given.
    pub dimension_names: Option<Vec<&'a str>>,
}

fn put_array(st: &Store, a: &ZarrArray) -> Result<()> {
    let shape: Vec<u64> = a.data.shape().iter().map(|&n| n as u64).collect();
    if shape.contains(&0) {
        return Err(Error::shape(format!("array {} is empty (shape {:?})", a.name, shape)));
    }
    let chunks = chunk_shape(a.data.shape(), a.data.dtype());
    let path = format!("/{}", a.name.trim_start_matches('/'));
    macro_rules! go {
        ($arr:expr, $dt:expr, $fill:expr) => {{
            let mut b = ArrayBuilder::new(shape.clone(), chunks.clone(), $dt, $fill);
            b.bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(3, false))]);
            b.attributes(a.attributes.clone());
            if let Some(d) = &a.dimension_names {
                b.dimension_names(Some(d.clone()));
            }
            let arr = b.build(st.clone(), &path).map_err(zerr)?;
            arr.store_metadata().map_err(zerr)?;
            let start = vec![0u64; shape.len()];
            let std = $arr.as_standard_layout().into_owned();
            let subset = zarrs::array::ArraySubset::new_with_start_shape(start, shape.clone()).map_err(zerr)?;
            arr.store_array_subset(&subset, std).map_err(zerr)?;
        }};
    }
    use zarrs::array::data_type as dt;
    match a.data {
        DynArray::U8(x) => go!(x, dt::uint8(), 0u8),
        DynArray::U16(x) => go!(x, dt::uint16(), 0u16),
        DynArray::I16(x) => go!(x, dt::int16(), 0i16),
        DynArray::U32(x) => go!(x, dt::uint32(), 0u32),
        DynArray::I32(x) => go!(x, dt::int32(), 0i32),
        DynArray::U64(x) => go!(x, dt::uint64(), 0u64),
        DynArray::I64(x) => go!(x, dt::int64(), 0i64),
        DynArray::F32(x) => go!(x, dt::float32(), 0f32),
        DynArray::F64(x) => go!(x, dt::float64(), 0f64),
    }
    Ok(())
}

/// Writes the metadata of the group at `at` with its attributes.
fn put_group(st: &Store, at: &str, attrs: serde_json::Map<String, serde_json::Value>) -> Result<()> {
    let mut g = GroupBuilder::new();
    g.attributes(attrs);
    g.build(st.clone(), at).map_err(zerr)?.store_metadata().map_err(zerr)
}

/// Writes a group of arrays atomically (into a temporary directory, then renamed).
pub fn write_group(
    path: &Path,
    arrays: &[ZarrArray],
    group_attrs: serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    crate::atomic::write_via_temp(path, |tmp| {
        std::fs::create_dir_all(tmp).map_err(|e| Error::io(e).at(tmp))?;
        let st = store(tmp)?;
        put_group(&st, "/", group_attrs)?;
        for a in arrays {
            put_array(&st, a)?;
        }
        Ok(())
    })
}

/// Writes a 2-D or 3-D image as OME-NGFF 0.5 (array `0`, µm scales).
pub fn write_ome_volume(
    path: &Path,
    data: &DynArray,
    spacing_um: Option<&[f64]>,
    prov: Option<&Provenance>,
) -> Result<()> {
    write_ome_image(path, data, spacing_um, &[], prov)
}

/// A label image to store with an OME-NGFF image (`labels/NAME`).
pub struct OmeLabels<'a> {
    /// Name of the label image (e.g. `particles`).
    pub name: &'a str,
    /// Integer labels, the image's shape (0 = background).
    pub data: &'a DynArray,
    /// One row per label value: a column `id` (or `label`) holding the value,
    /// the others stored as its properties, in `image-label.properties` and
    /// as `labels/NAME/properties.parquet`.
    pub properties: Option<&'a chemomech_core::Table>,
}

/// OME-NGFF 0.5 `multiscales` of one level `0` with µm scales.
fn multiscales(name: &str, axes: &[&str], scale: &[f64]) -> serde_json::Value {
    let axes: Vec<serde_json::Value> =
        axes.iter().map(|n| serde_json::json!({"name": n, "type": "space", "unit": "micrometer"})).collect();
    serde_json::json!([{
        "name": name,
        "axes": axes,
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": scale}]}]
    }])
}

/// `image-label.properties`: one object per row, keyed by `label-value`.
fn label_properties(t: &chemomech_core::Table, name: &str) -> Result<Vec<serde_json::Value>> {
    use chemomech_core::Column;
    let key = ["id", "label", "label-value"].into_iter().find(|k| t.get(k).is_some()).ok_or_else(|| {
        Error::param(format!(
            "the properties of labels '{name}' need a column 'id' (or 'label') holding the label values"
        ))
    })?;
    let values = t.f64(key)?;
    let mut rows = Vec::with_capacity(t.rows());
    for (r, v) in values.iter().enumerate() {
        if !(v.is_finite() && *v >= 0.0 && v.fract() == 0.0) {
            return Err(Error::data(format!("labels '{name}': property column '{key}' holds {v}, not a label value")));
        }
        let mut o = serde_json::Map::new();
        o.insert("label-value".into(), serde_json::json!(*v as u64));
        for (n, c) in t.names.iter().zip(&t.columns) {
            if n == key {
                continue;
            }
            let val = match c {
                Column::Str(s) => serde_json::json!(s[r]),
                Column::Bool(b) => serde_json::json!(b[r]),
                Column::I64(x) => serde_json::json!(x[r]),
                Column::U64(x) => serde_json::json!(x[r]),
                // JSON has no NaN: missing values are null.
                Column::F64(x) => serde_json::Number::from_f64(x[r]).map_or(serde_json::Value::Null, Into::into),
            };
            o.insert(n.clone(), val);
        }
        rows.push(serde_json::Value::Object(o));
    }
    Ok(rows)
}

/// Writes a 2-D or 3-D image as OME-NGFF 0.5 (array `0`, µm scales) with
/// label images under `labels/` (`image-label` metadata with the labels'
/// properties, and a Parquet table of them), atomically as a whole.
///
/// Errors: an image that is not 2-D or 3-D, labels of another shape or not
/// of an integer type, properties without a label-value column.
pub fn write_ome_image(
    path: &Path,
    image: &DynArray,
    spacing_um: Option<&[f64]>,
    labels: &[OmeLabels],
    prov: Option<&Provenance>,
) -> Result<()> {
    let nd = image.ndim();
    if !(2..=3).contains(&nd) {
        return Err(Error::shape(format!("OME-Zarr image must be 2-D or 3-D, got {nd}-D")).at(path));
    }
    let axes: Vec<&str> = if nd == 3 { vec!["z", "y", "x"] } else { vec!["y", "x"] };
    let scale: Vec<f64> = spacing_um.map(|s| s.to_vec()).unwrap_or_else(|| vec![1.0; nd]);
    if scale.len() != nd {
        return Err(Error::param(format!("{} spacings for a {nd}-D image", scale.len())).at(path));
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut props = Vec::with_capacity(labels.len());
    for l in labels {
        if l.data.shape() != image.shape() {
            return Err(Error::shape(format!(
                "labels '{}' have shape {:?}, the image {:?}",
                l.name,
                l.data.shape(),
                image.shape()
            ))
            .at(path));
        }
        if matches!(l.data.dtype(), DType::F32 | DType::F64) {
            return Err(
                Error::param(format!("labels '{}' must be integers, got {:?}", l.name, l.data.dtype())).at(path)
            );
        }
        if l.name.is_empty() || l.name.contains(['/', '\\']) || l.name.starts_with('.') {
            return Err(Error::param(format!("'{}' is not a label image name", l.name)).at(path));
        }
        props.push(l.properties.map(|t| label_properties(t, l.name)).transpose().map_err(|e| e.at(path))?);
    }
    let mut attrs = serde_json::Map::new();
    attrs.insert("ome".into(), serde_json::json!({"version": "0.5", "multiscales": multiscales(&stem, &axes, &scale)}));
    if let Some(p) = prov {
        attrs.insert("chemomech".into(), serde_json::json!({"provenance": p.to_json()}));
    }
    crate::atomic::write_via_temp(path, |tmp| {
        std::fs::create_dir_all(tmp).map_err(|e| Error::io(e).at(tmp))?;
        let st = store(tmp)?;
        put_group(&st, "/", attrs)?;
        put_array(
            &st,
            &ZarrArray { name: "0", data: image, attributes: Default::default(), dimension_names: Some(axes.clone()) },
        )?;
        if labels.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = labels.iter().map(|l| l.name).collect();
        let mut la = serde_json::Map::new();
        la.insert("ome".into(), serde_json::json!({"version": "0.5", "labels": names}));
        put_group(&st, "/labels", la)?;
        for (l, p) in labels.iter().zip(&props) {
            let mut il = serde_json::json!({"source": {"image": "../../"}});
            if let Some(rows) = p {
                il["properties"] = serde_json::Value::Array(rows.clone());
            }
            let mut a = serde_json::Map::new();
            a.insert(
                "ome".into(),
                serde_json::json!({"version": "0.5", "image-label": il, "multiscales": multiscales(l.name, &axes, &scale)}),
            );
            put_group(&st, &format!("/labels/{}", l.name), a)?;
            let arr_name = format!("labels/{}/0", l.name);
            put_array(
                &st,
                &ZarrArray {
                    name: &arr_name,
                    data: l.data,
                    attributes: Default::default(),
                    dimension_names: Some(axes.clone()),
                },
            )?;
            if let Some(t) = l.properties {
                crate::table::write_parquet(&tmp.join("labels").join(l.name).join("properties.parquet"), t, prov)?;
            }
        }
        Ok(())
    })
}

fn read_json(p: &Path) -> Result<serde_json::Value> {
    let b = std::fs::read(p).map_err(|e| Error::io(e).at(p))?;
    serde_json::from_slice(&b).map_err(|e| Error::data(format!("invalid zarr.json: {e}")).at(p))
}

/// Reads one array of a Zarr v3 store: `name`, or for a group the OME image
/// `0`, a `data` array, or its only array.
pub fn read_zarr(path: &Path, name: Option<&str>) -> Result<Raster> {
    (|| {
        let root = read_json(&path.join("zarr.json"))?;
        let array_path = match (root["node_type"].as_str(), name) {
            (_, Some(n)) => n.trim_start_matches('/').to_string(),
            (Some("array"), None) => String::new(),
            (Some("group"), None) => {
                let kids = child_arrays(path)?;
                if kids.iter().any(|k| k == "0") {
                    "0".into()
                } else if kids.iter().any(|k| k == "data") {
                    "data".into()
                } else if kids.len() == 1 {
                    kids[0].clone()
                } else {
                    return Err(Error::data(format!("group holds several arrays ({}); name one", kids.join(", "))));
                }
            }
            _ => return Err(Error::data("zarr.json has no node_type")),
        };
        let meta_path =
            if array_path.is_empty() { path.join("zarr.json") } else { path.join(&array_path).join("zarr.json") };
        let meta = read_json(&meta_path)?;
        let dtype =
            meta["data_type"].as_str().ok_or_else(|| Error::data(format!("{}: no data_type", meta_path.display())))?;
        let dtype = DType::parse(dtype).map_err(|_| Error::data(format!("unsupported Zarr data type '{dtype}'")))?;
        let st = store(path)?;
        let arr = Array::open(st, &format!("/{array_path}")).map_err(zerr)?;
        let subset = arr.subset_all();
        macro_rules! get {
            ($t:ty, $v:ident) => {{
                let a: ArrayD<$t> = arr.retrieve_array_subset(&subset).map_err(zerr)?;
                DynArray::$v(a)
            }};
        }
        let data = match dtype {
            DType::U8 => get!(u8, U8),
            DType::U16 => get!(u16, U16),
            DType::I16 => get!(i16, I16),
            DType::U32 => get!(u32, U32),
            DType::I32 => get!(i32, I32),
            DType::U64 => get!(u64, U64),
            DType::I64 => get!(i64, I64),
            DType::F32 => get!(f32, F32),
            DType::F64 => get!(f64, F64),
        };
        let mut r = Raster::new(data);
        if let Some(scale) = root["attributes"]["ome"]["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]
            ["scale"]
            .as_array()
        {
            r.spacing_um = Some(scale.iter().filter_map(|v| v.as_f64()).collect());
        }
        if let Some(p) = root["attributes"]["chemomech"].get("provenance") {
            r.meta.insert("provenance".into(), p.clone());
        }
        r.meta.insert("format".into(), "Zarr v3".into());
        r.meta.insert("array".into(), array_path.into());
        Ok(r)
    })()
    .map_err(|e: Error| e.at(path))
}

fn child_arrays(path: &Path) -> Result<Vec<String>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(path).map_err(|e| Error::io(e).at(path))? {
        let e = e.map_err(|e| Error::io(e).at(path))?;
        let zj = e.path().join("zarr.json");
        if zj.is_file() && read_json(&zj)?["node_type"] == "array" {
            v.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    v.sort();
    Ok(v)
}

/// A JSON summary of a Zarr store: node type, arrays with shape/type/chunks.
pub fn info(path: &Path) -> Result<serde_json::Value> {
    let root = read_json(&path.join("zarr.json")).map_err(|e| e.at(path))?;
    let mut arrays = Vec::new();
    let describe = |name: &str, m: &serde_json::Value| {
        serde_json::json!({
            "name": name,
            "shape": m["shape"],
            "dtype": m["data_type"],
            "chunks": m["chunk_grid"]["configuration"]["chunk_shape"],
            "dimension_names": m["dimension_names"],
        })
    };
    if root["node_type"] == "array" {
        arrays.push(describe("", &root));
    } else {
        for k in child_arrays(path)? {
            arrays.push(describe(&k, &read_json(&path.join(&k).join("zarr.json"))?));
        }
    }
    Ok(serde_json::json!({"node_type": root["node_type"], "arrays": arrays, "attributes": root["attributes"]}))
}
