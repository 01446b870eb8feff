//! The reconstruction chain for one slab of detector rows: normalise,
//! remove zingers, guarded −log, ring removal, (Paganin), FBP — with a
//! report of what each step saw. The I/O edge (reading slabs, writing the
//! volume within a memory budget) is `chemomech-pipeline`'s `reconstruct`.

use crate::fbp::{fbp_volume, Filter};
use crate::geometry::Geometry;
use crate::phase::Paganin;
use crate::preprocess::{self, Combine, LogReport, NormalizeReport, Rings};
use chemomech_core::{Error, ProjectionSet, Result};
use ndarray::{Array3, ArrayView3};

/// How the rotation centre is chosen.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum CenterSpec {
    /// Vo's Fourier method on the middle sinogram.
    Auto,
    /// Mirror-registration of the 0° and 180° projections.
    Opposite,
    /// Given, in detector pixels.
    Value(f64),
}

/// Every choice of the reconstruction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReconParams {
    pub filter: Filter,
    pub rings: Rings,
    /// Zinger threshold on transmission (TomoPy's `dif`), or none.
    pub zinger: Option<f32>,
    pub flats: Combine,
    pub paganin: Option<Paganin>,
    /// Output slice width (default: the detector width).
    pub size: Option<usize>,
}

impl Default for ReconParams {
    fn default() -> Self {
        Self { filter: Filter::Ramp, rings: Rings::None, zinger: None, flats: Combine::Mean, paganin: None, size: None }
    }
}

/// What preprocessing did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PreReport {
    pub normalize: NormalizeReport,
    pub zingers: usize,
    pub log: LogReport,
}

impl PreReport {
    pub fn add(&mut self, o: &PreReport) {
        self.normalize.flat_groups = self.normalize.flat_groups.max(o.normalize.flat_groups);
        self.normalize.dead_pixels += o.normalize.dead_pixels;
        self.zingers += o.zingers;
        self.log.non_positive += o.log.non_positive;
        self.log.non_finite += o.log.non_finite;
        self.log.repaired += o.log.repaired;
    }
}

/// Raw projections (a slab of rows) → line integrals ready to reconstruct.
pub fn preprocess(p: &ProjectionSet, params: &ReconParams) -> Result<(Array3<f32>, PreReport)> {
    p.validate()?;
    let data = p.data.to_f32().into_dimensionality::<ndarray::Ix3>()?;
    let flats = p.flats.as_ref().map(|f| f.to_f32().into_dimensionality::<ndarray::Ix3>()).transpose()?;
    let darks = p.darks.as_ref().map(|f| f.to_f32().into_dimensionality::<ndarray::Ix3>()).transpose()?;
    // A frame that is entirely NaN/inf is a broken file, not noise.
    for (a, frame) in data.outer_iter().enumerate() {
        if frame.iter().all(|v| !v.is_finite()) {
            return Err(Error::data(format!("projection {a} is entirely NaN/inf")));
        }
    }
    let mut rep = PreReport::default();
    let mut t = match &flats {
        Some(f) => {
            let (t, nr) = preprocess::normalize(data.view(), Some(f.view()), darks.as_ref().map(|d| d.view()), p.flat_positions.as_deref(), params.flats)?;
            rep.normalize = nr;
            t
        }
        None => data,
    };
    if let Some(dif) = params.zinger {
        rep.zingers = preprocess::remove_outliers(&mut t, dif);
    }
    if let Some(pg) = &params.paganin {
        crate::phase::paganin(&mut t, pg)?;
    }
    rep.log = preprocess::minus_log(&mut t)?;
    preprocess::remove_rings(&mut t, params.rings);
    Ok((t, rep))
}

/// Line integrals `(angle, rows, cols)` → volume `(rows, n, n)`, scaled to
/// 1/cm when the pixel size is known (else per pixel).
pub fn reconstruct(lines: ArrayView3<f32>, angles_deg: &[f64], center: f64, params: &ReconParams, pixel_um: Option<f64>) -> Result<Array3<f32>> {
    let nd = lines.shape()[2];
    let g = Geometry { angles_deg: angles_deg.to_vec(), n_det: nd, center };
    let n = params.size.unwrap_or(nd);
    if n == 0 || n > 65536 {
        return Err(Error::param(format!("output size {n} is out of range")));
    }
    let mut v = fbp_volume(lines, &g, n, params.filter)?;
    if let Some(px) = pixel_um {
        let k = (1.0 / (px * 1e-4)) as f32;
        v.mapv_inplace(|x| x * k);
    }
    Ok(v)
}
