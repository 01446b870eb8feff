//! Volumes written slab by slab (streaming reconstruction): TIFF pages,
//! Zarr chunks or HDF5 hyperslabs are appended in order into a temporary
//! file that replaces the destination when `finish` is called; dropping an
//! unfinished writer removes it.

use chemomech_core::{Error, Provenance, Result};
use ndarray::ArrayView3;
use std::path::{Path, PathBuf};

/// A 3-D `f32` volume written slab by slab along z.
pub trait VolumeWriter {
    /// Appends `slab` (z, y, x) at the next z.
    fn write_slab(&mut self, slab: ArrayView3<f32>) -> Result<()>;
    /// Completes the file and moves it into place.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Opens a writer for `path` (format from its extension) for a volume of
/// `shape` (z, y, x) with voxel size `spacing_um`.
pub fn volume_writer(
    path: &Path,
    shape: [usize; 3],
    spacing_um: Option<[f64; 3]>,
    prov: Option<&Provenance>,
    units: &str,
) -> Result<Box<dyn VolumeWriter>> {
    match crate::output_format(path)? {
        "tiff" => Ok(Box::new(TiffStream::create(path, shape, spacing_um, prov)?)),
        #[cfg(feature = "zarr")]
        "zarr" => Ok(Box::new(ZarrStream::create(path, shape, spacing_um, prov, units)?)),
        #[cfg(feature = "hdf5")]
        "hdf5" => Ok(Box::new(H5Stream::create(path, shape, spacing_um, prov, units)?)),
        other => Err(Error::param(format!("volumes are written as .tiff, .zarr or .h5, not {other}")).at(path)),
    }
}

fn check_slab(slab: &ArrayView3<f32>, shape: [usize; 3], z: usize) -> Result<()> {
    let s = slab.shape();
    if s[1] != shape[1] || s[2] != shape[2] || z + s[0] > shape[0] {
        return Err(Error::shape(format!("slab {:?} at z = {z} does not fit a volume of {:?}", s, shape)));
    }
    Ok(())
}

/// Multi-page TIFF in the ImageJ layout, written page by page.
pub struct TiffStream {
    w: Option<crate::imagej::ImageJWriter>,
    shape: [usize; 3],
    z: usize,
}

impl TiffStream {
    /// Starts an ImageJ TIFF of `f32` pages for a volume of `shape` (z, y, x) with voxel size `spacing_um` (µm).
    pub fn create(
        path: &Path,
        shape: [usize; 3],
        spacing_um: Option<[f64; 3]>,
        prov: Option<&Provenance>,
    ) -> Result<Self> {
        let mut desc = format!("ImageJ=1.11a\nimages={}\nslices={}\n", shape[0], shape[0]);
        if let Some(s) = spacing_um {
            desc.push_str(&format!("unit=micron\nspacing={}\n", s[0]));
        }
        desc.push_str("loop=false\n");
        if let Some(p) = prov {
            desc.push_str(&format!("chemomech={}\n", p.to_json_string()));
        }
        let w = crate::imagej::ImageJWriter::create(
            path,
            shape[0],
            shape[1],
            shape[2],
            chemomech_core::DType::F32,
            &desc,
            spacing_um.map(|s| (s[2], s[1])),
        )?;
        Ok(Self { w: Some(w), shape, z: 0 })
    }
}

impl VolumeWriter for TiffStream {
    fn write_slab(&mut self, slab: ArrayView3<f32>) -> Result<()> {
        check_slab(&slab, self.shape, self.z)?;
        let std = slab.as_standard_layout();
        self.w
            .as_mut()
            .expect("open")
            .write_pages(&crate::imagej::le_bytes(std.as_slice().expect("standard layout")))?;
        self.z += slab.shape()[0];
        Ok(())
    }
    fn finish(mut self: Box<Self>) -> Result<()> {
        self.w.take().expect("open").finish()
    }
}

/// OME-Zarr volume written chunk-row by chunk-row.
#[cfg(feature = "zarr")]
pub struct ZarrStream {
    array: zarrs::array::Array<zarrs::filesystem::FilesystemStore>,
    tmp: PathBuf,
    target: PathBuf,
    shape: [usize; 3],
    z: usize,
}

#[cfg(feature = "zarr")]
impl ZarrStream {
    /// Starts an OME-Zarr volume of `shape` (z, y, x) with voxel size `spacing_um` (µm) and `units` in its attributes.
    pub fn create(
        path: &Path,
        shape: [usize; 3],
        spacing_um: Option<[f64; 3]>,
        prov: Option<&Provenance>,
        units: &str,
    ) -> Result<Self> {
        use std::sync::Arc;
        use zarrs::array::{ArrayBuilder, codec::ZstdCodec};
        let zerr = |e: &dyn std::fmt::Display| Error::data(format!("Zarr: {e}")).at(path);
        let tmp = crate::atomic::temp_sibling(path);
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(e).at(&tmp))?;
        let store = Arc::new(zarrs::filesystem::FilesystemStore::new(&tmp).map_err(|e| zerr(&e))?);
        let scale = spacing_um.map(|s| s.to_vec()).unwrap_or_else(|| vec![1.0; 3]);
        let mut attrs = serde_json::Map::new();
        attrs.insert(
            "ome".into(),
            serde_json::json!({"version": "0.5", "multiscales": [{
                "name": path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                "axes": [{"name": "z", "type": "space", "unit": "micrometer"}, {"name": "y", "type": "space", "unit": "micrometer"}, {"name": "x", "type": "space", "unit": "micrometer"}],
                "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": scale}]}]
            }]}),
        );
        attrs.insert("chemomech".into(), serde_json::json!({"provenance": prov.map(|p| p.to_json()), "units": units}));
        let mut g = zarrs::group::GroupBuilder::new();
        g.attributes(attrs);
        g.build(store.clone(), "/").map_err(|e| zerr(&e))?.store_metadata().map_err(|e| zerr(&e))?;
        let cz = 1u64;
        let cy = shape[1].min(512) as u64;
        let cx = shape[2].min(512) as u64;
        let mut b = ArrayBuilder::new(
            shape.iter().map(|&n| n as u64).collect::<Vec<_>>(),
            vec![cz, cy, cx],
            zarrs::array::data_type::float32(),
            0f32,
        );
        b.bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(3, false))]);
        b.dimension_names(Some(vec!["z", "y", "x"]));
        let array = b.build(store, "/0").map_err(|e| zerr(&e))?;
        array.store_metadata().map_err(|e| zerr(&e))?;
        Ok(Self { array, tmp, target: path.to_path_buf(), shape, z: 0 })
    }
}

#[cfg(feature = "zarr")]
impl VolumeWriter for ZarrStream {
    fn write_slab(&mut self, slab: ArrayView3<f32>) -> Result<()> {
        check_slab(&slab, self.shape, self.z)?;
        let s = slab.shape();
        let subset = zarrs::array::ArraySubset::new_with_start_shape(
            vec![self.z as u64, 0, 0],
            s.iter().map(|&n| n as u64).collect(),
        )
        .map_err(|e| Error::data(format!("Zarr: {e}")))?;
        self.array
            .store_array_subset(&subset, slab.as_standard_layout().into_owned())
            .map_err(|e| Error::data(format!("Zarr: {e}")).at(&self.target))?;
        self.z += s[0];
        Ok(())
    }
    fn finish(mut self: Box<Self>) -> Result<()> {
        if self.z != self.shape[0] {
            return Err(Error::shape(format!("{} of {} slices written", self.z, self.shape[0])).at(&self.target));
        }
        crate::atomic::commit(&self.tmp, &self.target)?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

#[cfg(feature = "zarr")]
impl Drop for ZarrStream {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// HDF5 `/data` dataset written hyperslab by hyperslab.
#[cfg(feature = "hdf5")]
pub struct H5Stream {
    file: Option<hdf5_metno::File>,
    ds: hdf5_metno::Dataset,
    tmp: PathBuf,
    target: PathBuf,
    shape: [usize; 3],
    z: usize,
}

#[cfg(feature = "hdf5")]
impl H5Stream {
    /// Starts an HDF5 file whose `data` dataset holds a volume of `shape` (z, y, x), with voxel size `spacing_um` (µm) and `units` as attributes.
    pub fn create(
        path: &Path,
        shape: [usize; 3],
        spacing_um: Option<[f64; 3]>,
        prov: Option<&Provenance>,
        units: &str,
    ) -> Result<Self> {
        let herr = |e: hdf5_metno::Error| {
            Error::data(format!("HDF5: {}", e.to_string().lines().next().unwrap_or(""))).at(path)
        };
        let tmp = crate::atomic::temp_sibling(path);
        let file = hdf5_metno::File::create(&tmp).map_err(herr)?;
        let ds = file.new_dataset::<f32>().chunk((1, shape[1], shape[2])).shape(shape).create("data").map_err(herr)?;
        let put = |loc: &hdf5_metno::Location, k: &str, v: &str| -> Result<()> {
            let v: hdf5_metno::types::VarLenUnicode = v.parse().map_err(|_| Error::data("attribute text"))?;
            loc.new_attr::<hdf5_metno::types::VarLenUnicode>().create(k).map_err(herr)?.write_scalar(&v).map_err(herr)
        };
        if let Some(s) = spacing_um {
            ds.new_attr_builder().with_data(&s[..]).create("voxel_size_um").map_err(herr)?;
        }
        put(&ds, "units", units)?;
        if let Some(p) = prov {
            put(&file, "provenance", &p.to_json_string())?;
            put(&ds, "provenance", &p.to_json_string())?;
        }
        Ok(Self { file: Some(file), ds, tmp, target: path.to_path_buf(), shape, z: 0 })
    }
}

#[cfg(feature = "hdf5")]
impl VolumeWriter for H5Stream {
    fn write_slab(&mut self, slab: ArrayView3<f32>) -> Result<()> {
        check_slab(&slab, self.shape, self.z)?;
        let n = slab.shape()[0];
        self.ds.write_slice(&slab.as_standard_layout(), ndarray::s![self.z..self.z + n, .., ..]).map_err(|e| {
            Error::data(format!("HDF5: {}", e.to_string().lines().next().unwrap_or(""))).at(&self.target)
        })?;
        self.z += n;
        Ok(())
    }
    fn finish(mut self: Box<Self>) -> Result<()> {
        if self.z != self.shape[0] {
            return Err(Error::shape(format!("{} of {} slices written", self.z, self.shape[0])).at(&self.target));
        }
        if let Some(f) = self.file.take() {
            f.close().map_err(|e| Error::data(format!("HDF5: {e}")).at(&self.target))?;
        }
        crate::atomic::commit(&self.tmp, &self.target)?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

#[cfg(feature = "hdf5")]
impl Drop for H5Stream {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.file.take();
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
