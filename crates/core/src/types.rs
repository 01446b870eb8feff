//! The data that flows between stages, each with its grid spacing in
//! micrometres and free metadata.

use crate::{DynArray, Error, Result};
use ndarray::{Array2, Array3, Ix3};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Free metadata: key -> JSON value (kept in file attributes and provenance).
pub type Metadata = BTreeMap<String, serde_json::Value>;

/// A 3-D volume `(z, y, x)` with its voxel size in micrometres.
///
/// ```
/// use chemomech_core::Volume;
/// let v = Volume::new(ndarray::Array3::<u8>::zeros((2, 3, 4)), [1.0, 0.5, 0.5]);
/// assert_eq!(v.extent_um(), [2.0, 1.5, 2.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Volume<T> {
    /// Voxel values `(z, y, x)`.
    pub data: Array3<T>,
    /// Voxel spacing along (z, y, x) in µm.
    pub spacing_um: [f64; 3],
    /// Free metadata.
    pub meta: Metadata,
}

impl<T> Volume<T> {
    /// A volume with no metadata.
    pub fn new(data: Array3<T>, spacing_um: [f64; 3]) -> Self {
        Self { data, spacing_um, meta: Metadata::new() }
    }
    /// Volume of one voxel in µm³.
    pub fn voxel_volume_um3(&self) -> f64 {
        self.spacing_um.iter().product()
    }
    /// Physical size along (z, y, x) in µm.
    pub fn extent_um(&self) -> [f64; 3] {
        let s = self.data.shape();
        [s[0] as f64 * self.spacing_um[0], s[1] as f64 * self.spacing_um[1], s[2] as f64 * self.spacing_um[2]]
    }
}

/// A 2-D image `(row, column)` with its pixel size in micrometres.
#[derive(Debug, Clone, PartialEq)]
pub struct Image<T> {
    /// Pixel values `(row, column)`.
    pub data: Array2<T>,
    /// Pixel size along (row, column) in µm.
    pub pixel_um: [f64; 2],
    /// Free metadata.
    pub meta: Metadata,
}

impl<T> Image<T> {
    /// An image with no metadata.
    pub fn new(data: Array2<T>, pixel_um: [f64; 2]) -> Self {
        Self { data, pixel_um, meta: Metadata::new() }
    }
}

/// An array of any dimension and element type as read from a file, with the
/// spacing of its axes when known (µm). The I/O layer's neutral currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    /// The array, in the file's element type.
    pub data: DynArray,
    /// Spacing per axis in µm, when the file states it.
    pub spacing_um: Option<Vec<f64>>,
    /// Free metadata (e.g. file attributes).
    pub meta: Metadata,
}

impl Raster {
    /// A raster without spacing or metadata.
    pub fn new(data: DynArray) -> Self {
        Self { data, spacing_um: None, meta: Metadata::new() }
    }
    /// A 3-D view of this raster as a typed volume (`f32`); 2-D data becomes one slice.
    pub fn to_volume_f32(&self) -> Result<Volume<f32>> {
        let a = self.data.to_f32();
        let a = match a.ndim() {
            2 => a.insert_axis(ndarray::Axis(0)),
            3 => a,
            n => return Err(Error::shape(format!("expected a 2-D or 3-D array, found {n}-D"))),
        };
        let a = a.into_dimensionality::<Ix3>()?;
        Ok(Volume { data: a, spacing_um: self.voxel3(), meta: self.meta.clone() })
    }
    /// Voxel size as (z, y, x); 1 µm where unknown.
    pub fn voxel3(&self) -> [f64; 3] {
        match self.spacing_um.as_deref() {
            Some([z, y, x]) => [*z, *y, *x],
            Some([y, x]) => [*y, *y, *x],
            Some([s]) => [*s; 3],
            _ => [1.0; 3],
        }
    }
}

/// Tomographic projections as recorded: `(angle, row, column)` counts with
/// flat (white) and dark fields and the rotation angles.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionSet {
    /// Projections `(angle, row, column)` in the file's element type.
    pub data: DynArray,
    /// Flat fields `(n, row, column)`.
    pub flats: Option<DynArray>,
    /// Dark fields `(n, row, column)`.
    pub darks: Option<DynArray>,
    /// Rotation angle of each projection in degrees.
    pub angles_deg: Vec<f64>,
    /// For each flat, the projection index it was taken at (0 = before the
    /// scan, n = after), so flats before/after the scan can be interpolated.
    pub flat_positions: Option<Vec<f64>>,
    /// Detector pixel size in µm (at the sample).
    pub pixel_um: Option<f64>,
    /// Photon energy in eV.
    pub energy_ev: Option<f64>,
    /// Sample-to-detector propagation distance(s) in metres (phase contrast).
    pub distance_m: Option<f64>,
    /// Free metadata.
    pub meta: Metadata,
}

impl ProjectionSet {
    /// Projections with no flats, darks or calibration.
    pub fn new(data: DynArray, angles_deg: Vec<f64>) -> Self {
        Self {
            data,
            flats: None,
            darks: None,
            angles_deg,
            flat_positions: None,
            pixel_um: None,
            energy_ev: None,
            distance_m: None,
            meta: Metadata::new(),
        }
    }
    /// (angles, rows, columns).
    pub fn dims(&self) -> (usize, usize, usize) {
        let s = self.data.shape();
        (s[0], s[1], s[2])
    }
    /// Checks that projections, flats, darks and angles agree.
    pub fn validate(&self) -> Result<()> {
        let s = self.data.shape();
        if s.len() != 3 {
            return Err(Error::shape(format!("projections must be 3-D (angle, row, column), found shape {s:?}")));
        }
        if s.contains(&0) {
            return Err(Error::shape(format!("projections are empty (shape {s:?})")));
        }
        if self.angles_deg.len() != s[0] {
            return Err(Error::shape(format!("{} rotation angles for {} projections", self.angles_deg.len(), s[0])));
        }
        if let Some(bad) = self.angles_deg.iter().position(|a| !a.is_finite()) {
            return Err(Error::data(format!("rotation angle {bad} is not finite")));
        }
        for (name, f) in [("flat", &self.flats), ("dark", &self.darks)] {
            if let Some(f) = f {
                let fs = f.shape();
                if fs.len() != 3 || fs[1] != s[1] || fs[2] != s[2] || fs[0] == 0 {
                    return Err(Error::shape(format!(
                        "{name} fields have shape {fs:?} but projections are {}x{} (rows x columns)",
                        s[1], s[2]
                    )));
                }
            }
        }
        if let (Some(p), Some(f)) = (&self.flat_positions, &self.flats)
            && p.len() != f.shape()[0]
        {
            return Err(Error::shape(format!("{} flat positions for {} flats", p.len(), f.shape()[0])));
        }
        Ok(())
    }
}

/// Images across an absorption edge: `(energy, row, column)` for 2-D XANES or
/// `(energy, z, y, x)` for 3-D, with references (flats) and darks.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyStack {
    /// Frames `(energy, row, column)` or `(energy, z, y, x)` in the file's element type.
    pub data: DynArray,
    /// Reference (flat) images: one per energy `(energy, row, column)` or a set to average.
    pub flats: Option<DynArray>,
    /// Dark images with the frames' spatial shape.
    pub darks: Option<DynArray>,
    /// Photon energy of each frame in eV.
    pub energies_ev: Vec<f64>,
    /// Pixel size in µm.
    pub pixel_um: Option<f64>,
    /// Free metadata.
    pub meta: Metadata,
}

impl EnergyStack {
    /// A stack with no references.
    pub fn new(data: DynArray, energies_ev: Vec<f64>) -> Self {
        Self { data, flats: None, darks: None, energies_ev, pixel_um: None, meta: Metadata::new() }
    }
    /// Checks energies against frames: counts agree, finite, strictly increasing.
    pub fn validate(&self) -> Result<()> {
        let s = self.data.shape();
        if !(s.len() == 3 || s.len() == 4) {
            return Err(Error::shape(format!(
                "energy stack must be (energy, row, column) or (energy, z, y, x), found shape {s:?}"
            )));
        }
        if s.contains(&0) {
            return Err(Error::shape(format!("energy stack is empty (shape {s:?})")));
        }
        if self.energies_ev.len() != s[0] {
            return Err(Error::shape(format!("{} energies for {} frames", self.energies_ev.len(), s[0])));
        }
        check_increasing(&self.energies_ev, "energies")?;
        for (name, f) in [("reference", &self.flats), ("dark", &self.darks)] {
            if let Some(f) = f {
                let fs = f.shape();
                if fs.len() != s.len() || fs[1..] != s[1..] {
                    return Err(Error::shape(format!("{name} images have shape {fs:?} but frames are {:?}", &s[1..])));
                }
            }
        }
        Ok(())
    }
}

/// Errors unless `v` is finite and strictly increasing.
pub fn check_increasing(v: &[f64], what: &str) -> Result<()> {
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::data(format!("{what}: value {i} is not finite")));
    }
    if let Some(i) = v.windows(2).position(|w| w[1] <= w[0]) {
        return Err(Error::data(format!(
            "{what} are not strictly increasing ({} then {} at index {})",
            v[i],
            v[i + 1],
            i + 1
        )));
    }
    Ok(())
}

/// One column of a spectrum file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectrumColumn {
    /// Column name as in the file.
    pub name: String,
    /// Unit of the column, when known.
    pub unit: Option<String>,
    /// The column's values.
    pub values: Vec<f64>,
}

/// A 1-D spectrum: energies in eV and named columns (μ, I0, ...), with the
/// file's header fields and comments kept in `meta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spectrum {
    /// Energy of each point in eV.
    pub energy_ev: Vec<f64>,
    /// Absorption coefficient μ(E) (transmission or fluorescence), when known.
    pub mu: Option<Vec<f64>>,
    /// All data columns, energy included, as in the file.
    pub columns: Vec<SpectrumColumn>,
    /// The file's header fields and comments.
    pub meta: Metadata,
}

impl Spectrum {
    /// A spectrum from energy and μ arrays.
    pub fn from_mu(energy_ev: Vec<f64>, mu: Vec<f64>) -> Result<Self> {
        if energy_ev.len() != mu.len() {
            return Err(Error::shape(format!("{} energies for {} μ values", energy_ev.len(), mu.len())));
        }
        Ok(Self {
            columns: vec![
                SpectrumColumn { name: "energy".into(), unit: Some("eV".into()), values: energy_ev.clone() },
                SpectrumColumn { name: "mu".into(), unit: None, values: mu.clone() },
            ],
            energy_ev,
            mu: Some(mu),
            meta: Metadata::new(),
        })
    }
    /// The column called `name` (case-insensitive).
    pub fn column(&self, name: &str) -> Option<&SpectrumColumn> {
        self.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }
    /// Number of points.
    pub fn len(&self) -> usize {
        self.energy_ev.len()
    }
    /// True when there are no points.
    pub fn is_empty(&self) -> bool {
        self.energy_ev.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ArrayD;
    #[test]
    fn projection_validation() {
        let d = DynArray::F32(ArrayD::zeros(vec![3, 2, 4]));
        let mut p = ProjectionSet::new(d, vec![0.0, 1.0]);
        assert!(p.validate().unwrap_err().to_string().contains("2 rotation angles for 3 projections"));
        p.angles_deg.push(2.0);
        p.validate().unwrap();
        p.flats = Some(DynArray::F32(ArrayD::zeros(vec![1, 2, 5])));
        assert!(p.validate().unwrap_err().to_string().contains("flat fields"));
    }
    #[test]
    fn energies_increasing() {
        assert!(check_increasing(&[1.0, 2.0, 2.0], "energies").is_err());
        assert!(check_increasing(&[1.0, f64::NAN], "energies").is_err());
        check_increasing(&[1.0, 2.0], "energies").unwrap();
    }
}
