//! Parallel-beam geometry shared by projector and reconstructors.

use chemomech_core::{Error, Result};

/// Parallel-beam geometry of one scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    /// Rotation angles in degrees.
    pub angles_deg: Vec<f64>,
    /// Detector columns.
    pub n_det: usize,
    /// Rotation axis position in detector pixels (pixel centres at integers).
    pub center: f64,
}

impl Geometry {
    /// A geometry with the axis at `n_det/2` (TomoPy's default).
    pub fn new(angles_deg: Vec<f64>, n_det: usize) -> Self {
        Self { angles_deg, n_det, center: (n_det / 2) as f64 }
    }
    /// Sets the rotation centre.
    pub fn with_center(mut self, c: f64) -> Self {
        self.center = c;
        self
    }
    /// Checks the geometry.
    pub fn validate(&self) -> Result<()> {
        if self.angles_deg.is_empty() || self.n_det == 0 {
            return Err(Error::param("geometry needs at least one angle and one detector column"));
        }
        if !self.center.is_finite() || self.center < -(self.n_det as f64) || self.center > 2.0 * self.n_det as f64 {
            return Err(Error::param(format!(
                "rotation centre {} is far outside the {}-pixel detector",
                self.center, self.n_det
            )));
        }
        if self.angles_deg.iter().any(|a| !a.is_finite()) {
            return Err(Error::param("non-finite rotation angle"));
        }
        Ok(())
    }
    /// Radius (pixels) of the disc about the rotation axis that stays on the
    /// detector at every angle: min(centre, n_det − 1 − centre). Pixels
    /// beyond it have incomplete data and are reconstructed as 0.
    pub fn field_of_view_radius(&self) -> f64 {
        self.center.min(self.n_det as f64 - 1.0 - self.center).max(0.0)
    }

    /// Whether the pixel at (x, y), relative to the rotation axis, lies in
    /// the [`field_of_view_radius`](Self::field_of_view_radius) disc.
    pub fn in_field_of_view(&self, x: f64, y: f64) -> bool {
        let r = self.field_of_view_radius();
        x * x + y * y <= r * r + 1e-9
    }

    /// Checks the geometry and that a sinogram `(angle, n_det)` fits it.
    pub fn check_sinogram(&self, dim: (usize, usize)) -> Result<()> {
        self.validate()?;
        if dim != (self.angles_deg.len(), self.n_det) {
            return Err(Error::shape(format!(
                "sinogram is {dim:?}, geometry expects ({}, {})",
                self.angles_deg.len(),
                self.n_det
            )));
        }
        Ok(())
    }
    /// Checks the geometry and that projections `(angle, rows, n_det)` fit it.
    pub fn check_projections(&self, dim: (usize, usize, usize)) -> Result<()> {
        self.validate()?;
        if dim.0 != self.angles_deg.len() || dim.2 != self.n_det {
            return Err(Error::shape(format!(
                "projections are {dim:?}, geometry expects ({}, rows, {})",
                self.angles_deg.len(),
                self.n_det
            )));
        }
        Ok(())
    }
}

/// Image-grid centre for a slice of width `n` (scikit-image's convention).
#[inline]
pub fn image_center(n: usize) -> f64 {
    (n / 2) as f64
}

/// The smallest detector that sees a whole `n x n` slice at every angle.
pub fn full_detector_width(n: usize) -> usize {
    ((n as f64) * std::f64::consts::SQRT_2).ceil() as usize + 2
}
