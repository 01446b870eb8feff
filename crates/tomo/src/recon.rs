//! The reconstruction chain for one slab of detector rows: normalise,
//! remove zingers, guarded −log, ring removal, (Paganin), FBP — with a
//! report of what each step saw. The I/O edge (reading slabs, writing the
//! volume within a memory budget) is `chemomech-pipeline`'s `reconstruct`.

use crate::fbp::{Filter, fbp_volume};
use crate::geometry::Geometry;
use crate::phase::Paganin;
use crate::preprocess::{self, Combine, LogReport, NormalizeReport, Rings};
use chemomech_core::{Error, ProjectionSet, Result};
use ndarray::{Array2, Array3, ArrayView3};

/// How the rotation centre is chosen.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CenterSpec {
    /// Vo's Fourier method on the middle sinogram.
    Auto,
    /// Mirror-registration of the 0° and 180° projections.
    Opposite,
    /// Given, in detector pixels.
    Value(f64),
}

/// Reconstruction algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Filtered back-projection ([`crate::fbp`]).
    #[default]
    Fbp,
    /// Direct Fourier reconstruction by gridding ([`crate::fourier`]).
    Fourier,
    /// Simultaneous iterative reconstruction ([`crate::iterative::sirt_slice`]).
    Sirt,
    /// Conjugate gradients on the normal equations ([`crate::iterative::cgls_slice`]).
    Cgls,
}

impl std::fmt::Display for Algorithm {
    /// The algorithm's name as [`str::parse`] reads it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Algorithm::Fbp => "fbp",
            Algorithm::Fourier => "fourier",
            Algorithm::Sirt => "sirt",
            Algorithm::Cgls => "cgls",
        })
    }
}

impl std::str::FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "fbp" => Ok(Self::Fbp),
            "fourier" | "gridrec" => Ok(Self::Fourier),
            "sirt" => Ok(Self::Sirt),
            "cgls" => Ok(Self::Cgls),
            o => Err(Error::param(format!("--algorithm must be fbp, fourier, sirt or cgls, got '{o}'"))),
        }
    }
}

impl Algorithm {
    /// Working memory of one slice in flight onto an `n x n` image, in
    /// bytes (the Fourier method's oversampled grid, FBP's image).
    pub fn slice_working_bytes(self, n: usize) -> usize {
        match self {
            Self::Fbp => n * n * std::mem::size_of::<f32>(),
            Self::Fourier => crate::fourier::slice_working_bytes(n),
            // Image, update, search direction, weights and masks (SIRT/CGLS),
            // plus two sinogram-sized buffers of about the same size.
            Self::Sirt | Self::Cgls => 8 * n * n * std::mem::size_of::<f32>(),
        }
    }
}

/// Every choice of the reconstruction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReconParams {
    /// Reconstruction algorithm.
    pub algorithm: Algorithm,
    /// Reconstruction filter.
    pub filter: Filter,
    /// Ring removal applied to every sinogram.
    pub rings: Rings,
    /// Zinger threshold on transmission (TomoPy's `dif`), or none.
    pub zinger: Option<f32>,
    /// How several flat (and dark) frames are combined.
    pub flats: Combine,
    /// Paganin phase retrieval before −log, or none.
    pub paganin: Option<Paganin>,
    /// Output slice width (default: the detector width).
    pub size: Option<usize>,
    /// Iterations of SIRT or CGLS (default 100 and 10: CGLS semi-converges, its
    /// error rising again after about 10 iterations on noisy or few-angle data).
    pub iterations: Option<usize>,
    /// SIRT: clip negative values after every iteration.
    pub nonnegative: bool,
}

impl Default for ReconParams {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Fbp,
            filter: Filter::Ramp,
            rings: Rings::None,
            zinger: None,
            flats: Combine::Mean,
            paganin: None,
            size: None,
            iterations: None,
            nonnegative: true,
        }
    }
}

/// What preprocessing did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PreReport {
    /// What flat/dark normalisation saw and did.
    pub normalize: NormalizeReport,
    /// Number of zingers replaced.
    pub zingers: usize,
    /// What the guarded −log found and repaired.
    pub log: LogReport,
}

impl PreReport {
    /// Adds another slab's report to this one (counts summed, flat groups the larger).
    pub fn add(&mut self, o: &PreReport) {
        self.normalize.flat_groups = self.normalize.flat_groups.max(o.normalize.flat_groups);
        self.normalize.dead_pixels += o.normalize.dead_pixels;
        self.zingers += o.zingers;
        self.log.non_positive += o.log.non_positive;
        self.log.non_finite += o.log.non_finite;
        self.log.repaired += o.log.repaired;
    }
}

/// A projection set's frames divided by its flats (dark-corrected when it has
/// darks): transmission, flat = 1. Phase retrieval starts from this; for
/// absorption [`preprocess`] goes on to −log.
pub fn normalize_set(p: &ProjectionSet, flats: Combine) -> Result<Array3<f32>> {
    let to3 = |a: &chemomech_core::DynArray| a.to_f32().into_dimensionality::<ndarray::Ix3>();
    let data = to3(&p.data)?;
    let fl = p.flats.as_ref().map(to3).transpose()?;
    let dk = p.darks.as_ref().map(to3).transpose()?;
    Ok(preprocess::normalize(
        data.view(),
        fl.as_ref().map(|x| x.view()),
        dk.as_ref().map(|x| x.view()),
        p.flat_positions.as_deref(),
        flats,
    )?
    .0)
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
            let (t, nr) = preprocess::normalize(
                data.view(),
                Some(f.view()),
                darks.as_ref().map(|d| d.view()),
                p.flat_positions.as_deref(),
                params.flats,
            )?;
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
pub fn reconstruct(
    lines: ArrayView3<f32>,
    angles_deg: &[f64],
    center: f64,
    params: &ReconParams,
    pixel_um: Option<f64>,
) -> Result<Array3<f32>> {
    let nd = lines.shape()[2];
    let g = Geometry { angles_deg: angles_deg.to_vec(), n_det: nd, center };
    let n = params.size.unwrap_or(nd);
    if n == 0 || n > 65536 {
        return Err(Error::param(format!("output size {n} is out of range")));
    }
    let mut v = match params.algorithm {
        Algorithm::Fbp => fbp_volume(lines, &g, n, params.filter)?,
        Algorithm::Fourier => crate::fourier::fourier_volume(lines, &g, n, params.filter)?,
        Algorithm::Sirt | Algorithm::Cgls => iterative_volume(lines, &g, n, params)?,
    };
    if let Some(px) = pixel_um {
        let k = (1.0 / (px * 1e-4)) as f32;
        v.mapv_inplace(|x| x * k);
    }
    Ok(v)
}

/// SIRT or CGLS of every slice of `lines` `(angle, rows, n_det)`.
fn iterative_volume(lines: ArrayView3<f32>, g: &Geometry, n: usize, params: &ReconParams) -> Result<Array3<f32>> {
    g.check_projections(lines.dim())?;
    crate::fbp::per_slice(lines, n, |sino| match params.algorithm {
        Algorithm::Cgls => crate::iterative::cgls_slice(sino, g, n, params.iterations.unwrap_or(10)),
        _ => crate::iterative::sirt_slice(sino, g, n, params.iterations.unwrap_or(100), params.nonnegative),
    })
}

/// Holotomography: normalised projection sets, one per distance (each with
/// its pixel size at the sample and effective distance), brought onto the
/// finest grid, aligned, and turned into projected δ per pixel (line
/// integrals of δ in pixel units) by multi-distance CTF retrieval.
pub struct HoloReport {
    /// Applied (rows, cols) shift per distance on the common grid.
    pub shifts_px: Vec<(f64, f64)>,
    /// Magnification factor (pixel size / reference pixel size) per distance.
    pub zoom: Vec<f64>,
}

/// Normalised holograms `[distance](angle, rows, cols)` → k∫δ per projection
/// (radians) on the reference grid, plus what was done.
pub fn retrieve_holo(
    norm: &[Array3<f32>],
    pixels_um: &[f64],
    ctf: &crate::phase::Ctf,
) -> Result<(Array3<f32>, HoloReport)> {
    use ndarray::Axis;
    use rayon::prelude::*;
    ctf.validate()?;
    if norm.len() != pixels_um.len() || norm.len() != ctf.distances_m.len() {
        return Err(Error::shape("one projection set, pixel size and distance per recording distance are needed"));
    }
    let (na, nr, nc) = norm[0].dim();
    if norm.iter().any(|s| s.dim() != (na, nr, nc)) {
        return Err(Error::shape("projection sets of the distances differ in shape"));
    }
    let p0 = pixels_um.iter().cloned().fold(f64::INFINITY, f64::min);
    let zoom: Vec<f64> = pixels_um.iter().map(|p| p / p0).collect();
    // Magnification: resample every distance onto the finest pixel grid.
    let rescale = |img: ndarray::ArrayView2<f32>, z: f64, shift: (f64, f64)| -> Array2<f32> {
        if z == 1.0 && shift == (0.0, 0.0) {
            return img.to_owned();
        }
        let f = img.mapv(|v| v as f64);
        chemomech_imgproc::resample::zoom_cubic(f.view(), (nr, nc), 1.0 / z, shift, 1.0).mapv(|v| v as f32)
    };
    // Misalignment: register Paganin-retrieved images (alike at every
    // distance, unlike the holograms) of a few projections to distance 0.
    let probe: Vec<usize> = [na / 4, na / 2, 3 * na / 4].into_iter().filter(|&a| a < na).collect();
    let mut shifts = vec![(0.0, 0.0); norm.len()];
    for k in 1..norm.len() {
        let mut acc = (0.0, 0.0);
        for &a in &probe {
            let pg = |kk: usize| -> Array2<f64> {
                let img = rescale(norm[kk].index_axis(Axis(0), a), zoom[kk], (0.0, 0.0));
                let p = Paganin {
                    energy_kev: ctf.energy_kev,
                    distance_m: ctf.distances_m[kk],
                    pixel_um: p0,
                    delta_beta: ctf.delta_beta,
                };
                crate::phase::paganin_phase(img.view(), &p).mapv(|v| v as f64)
            };
            let (dy, dx) = chemomech_imgproc::register_translation(pg(0).view(), pg(k).view(), (nr.min(nc) / 4) as f64);
            acc.0 += dy / probe.len() as f64;
            acc.1 += dx / probe.len() as f64;
        }
        shifts[k] = acc;
    }
    // Refine: register each measurement to the hologram predicted from the
    // current retrieval (same contrast, so no bias from the distances'
    // different fringes), twice.
    let full_ctf = crate::phase::Ctf { pixel_um: p0, zoom: zoom.clone(), ..ctf.clone() };
    for _round in 0..2 {
        let mut upd = vec![(0.0, 0.0); norm.len()];
        for &a in &probe {
            let imgs: Vec<Array2<f32>> =
                (0..norm.len()).map(|k| rescale(norm[k].index_axis(Axis(0), a), zoom[k], shifts[k])).collect();
            let views: Vec<_> = imgs.iter().map(|i| i.view()).collect();
            let phi = crate::phase::ctf_retrieve(&views, &full_ctf)?;
            for k in 1..norm.len() {
                let pred = crate::phase::predict_hologram(phi.view(), &full_ctf, k);
                let meas = imgs[k].mapv(|v| v as f64);
                let (dy, dx) = chemomech_imgproc::register_translation(pred.view(), meas.view(), 3.0);
                upd[k].0 += dy / probe.len() as f64;
                upd[k].1 += dx / probe.len() as f64;
            }
        }
        for k in 1..norm.len() {
            shifts[k].0 += upd[k].0;
            shifts[k].1 += upd[k].1;
        }
    }
    let mut out = Array3::<f32>::zeros((na, nr, nc));
    let res: Vec<Result<Array2<f32>>> = (0..na)
        .into_par_iter()
        .map(|a| {
            let imgs: Vec<Array2<f32>> =
                (0..norm.len()).map(|k| rescale(norm[k].index_axis(Axis(0), a), zoom[k], shifts[k])).collect();
            let views: Vec<_> = imgs.iter().map(|i| i.view()).collect();
            crate::phase::ctf_retrieve(&views, &crate::phase::Ctf { pixel_um: p0, zoom: zoom.clone(), ..ctf.clone() })
        })
        .collect();
    for (a, r) in res.into_iter().enumerate() {
        out.index_axis_mut(Axis(0), a).assign(&r?);
    }
    Ok((out, HoloReport { shifts_px: shifts, zoom }))
}

/// Retrieved phase k∫δ dl (radians, from [`retrieve_holo`]) → ∫δ dl in
/// pixel units, so that filtered back-projection of it yields δ per voxel.
///
/// ```
/// use chemomech_tomo::phase::Ctf;
/// let ctf = Ctf { energy_kev: 17.0, distances_m: vec![0.002], pixel_um: 0.4, delta_beta: 40.0, alpha_low: 1e-6, alpha_high: 1e-4, zoom: Vec::new() };
/// let k_pixel = std::f64::consts::TAU / ctf.lambda_m() * 0.4e-6;
/// let lines = chemomech_tomo::recon::delta_lines(ndarray::Array3::from_elem((1, 1, 1), k_pixel as f32), &ctf);
/// assert!((lines[[0, 0, 0]] - 1.0).abs() < 1e-5);
/// ```
pub fn delta_lines(mut phase_rad: Array3<f32>, ctf: &crate::phase::Ctf) -> Array3<f32> {
    let k = std::f64::consts::TAU / ctf.lambda_m();
    let to_lines = (1.0 / (k * ctf.pixel_um * 1e-6)) as f32;
    phase_rad.mapv_inplace(|v| v * to_lines);
    phase_rad
}
