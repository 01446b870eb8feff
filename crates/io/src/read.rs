//! Typed readers: one call per kind of data a stage reads, so that no stage
//! matches on [`Dataset`] itself. Each opens the file with the format's
//! reader, refuses data of another kind with one line naming the file and
//! what it found, and converts to the element type asked for.

use crate::{Dataset, OpenOptions, open_with};
use chemomech_core::array::Element;
use chemomech_core::{EnergyStack, Error, Raster, Result, Spectrum};
use ndarray::{Array3, Axis, Ix3};
use std::path::Path;

/// An image or volume (any element type), `dataset` naming the array inside
/// a container (HDF5 path, Zarr array).
///
/// # Errors
/// Unreadable files, and files holding projections, spectra or energy stacks.
pub fn read_raster(path: &Path, dataset: Option<String>) -> Result<Raster> {
    match open_with(path, &OpenOptions { dataset, ..Default::default() })? {
        Dataset::Raster(r) => Ok(r),
        other => Err(Error::data(format!("expected an image or volume, found a {}", other.kind())).at(path)),
    }
}

/// A volume `(z, y, x)` of element type `T` (a 2-D image becomes one
/// slice), with its voxel size `(z, y, x)` in µm when the file states one.
/// Values of another type are cast (saturating, as Rust's `as`).
///
/// ```no_run
/// let (phases, spacing_um) = chemomech_io::read::read_volume::<u8>("phases.tiff".as_ref(), None).unwrap();
/// ```
///
/// # Errors
/// As [`read_raster`], and data of more than three dimensions.
pub fn read_volume<T: Element>(path: &Path, dataset: Option<String>) -> Result<(Array3<T>, Option<[f64; 3]>)> {
    let r = read_raster(path, dataset)?;
    let spacing_um = r.spacing_um.as_ref().map(|_| r.voxel3());
    let a = r.data.into_typed::<T>();
    let a = match a.ndim() {
        2 => a.insert_axis(Axis(0)),
        3 => a,
        n => return Err(Error::shape(format!("expected a 2-D image or 3-D volume, found {n}-D")).at(path)),
    };
    Ok((a.into_dimensionality::<Ix3>().map_err(|e| Error::from(e).at(path))?, spacing_um))
}

/// Labels `(z, y, x)` as `u32` (a 2-D label image becomes one slice).
///
/// # Errors
/// As [`read_volume`].
pub fn read_labels(path: &Path) -> Result<Array3<u32>> {
    Ok(read_volume::<u32>(path, None)?.0)
}

/// A spectrum; `group` names a group inside a container (Athena project).
///
/// # Errors
/// Unreadable files, and files holding images, volumes or stacks.
pub fn read_spectrum(path: &Path, group: Option<String>) -> Result<Spectrum> {
    match open_with(path, &OpenOptions { dataset: group, ..Default::default() })? {
        Dataset::Spectrum(s) => Ok(s),
        other => Err(Error::data(format!("expected a spectrum, found a {}", other.kind())).at(path)),
    }
}

/// The energies (eV) and μ of a spectrum.
///
/// # Errors
/// As [`read_spectrum`], and spectra without a μ column.
pub fn read_mu(path: &Path, group: Option<String>) -> Result<(Vec<f64>, Vec<f64>)> {
    let s = read_spectrum(path, group)?;
    let mu = s.mu.ok_or_else(|| Error::data("spectrum has no μ column").at(path))?;
    Ok((s.energy_ev, mu))
}

/// An energy stack `(energy, y, x)` or `(energy, z, y, x)` with its
/// reference frames; a plain image stack comes back with no energies (the
/// caller supplies them, e.g. from `OpenOptions::energies`).
///
/// # Errors
/// Unreadable files, and files holding projections or spectra.
pub fn read_energy_stack(path: &Path, options: &OpenOptions) -> Result<EnergyStack> {
    match open_with(path, options)? {
        Dataset::Energy(st) => Ok(st),
        Dataset::Raster(r) => {
            let pixel_um = r.spacing_um.as_ref().and_then(|s| s.last().copied());
            let mut st = EnergyStack::new(r.data, Vec::new());
            st.pixel_um = pixel_um;
            st.meta = r.meta;
            Ok(st)
        }
        other => Err(Error::data(format!("expected an energy stack, found a {}", other.kind())).at(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chemomech_core::DynArray;

    #[test]
    fn volumes_are_typed_and_other_kinds_refused() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("v.tiff");
        let a = ndarray::Array3::from_shape_fn((2, 3, 4), |(z, y, x)| (z * 12 + y * 4 + x) as f32 * 1.5).into_dyn();
        crate::tiffio::write_tiff(&f, &DynArray::F32(a), Some(&[0.5, 0.5, 0.5]), None, Default::default()).unwrap();
        let (v, spacing_um) = read_volume::<u32>(&f, None).unwrap();
        assert_eq!(v[[1, 2, 3]], 34); // 23 × 1.5 = 34.5, cast down
        assert_eq!(spacing_um, Some([0.5; 3]));
        let (w, _) = read_volume::<f32>(&f, None).unwrap();
        assert_eq!(w[[1, 2, 3]], 34.5);
        let s = d.path().join("s.txt");
        std::fs::write(&s, "# energy mu\n8300 0.1\n8310 0.2\n8320 0.9\n8330 1.0\n").unwrap();
        let e = read_volume::<f32>(&s, None).unwrap_err().to_string();
        assert!(e.contains("s.txt") && e.contains("expected an image or volume, found a spectrum"), "{e}");
        assert_eq!(read_spectrum(&s, None).unwrap().energy_ev.len(), 4);
        assert!(read_spectrum(&f, None).unwrap_err().to_string().contains("expected a spectrum"));
    }
}
