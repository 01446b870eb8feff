//! Rotation-centre estimation, in detector-pixel units (pixel centres at
//! integers, as TomoPy and algotom).
//!
//! - Vo, Drakopoulos, Atwood & Reinhard, Opt. Express 22, 19078 (2014):
//!   for each candidate centre the 180° sinogram and its mirror about the
//!   candidate are stacked into a 360° sinogram; a consistent one has no
//!   energy in the double wedge |ω_t| < |ω_θ|/R of its 2-D spectrum. The
//!   candidate with the least energy there wins: a coarse integer search
//!   (on a column-binned sinogram for wide detectors), then steps of ¼ px.
//! - 0°/180°: the projection at 180° is mirrored and registered to the one
//!   at 0° with sub-pixel precision.

use chemomech_core::{Error, Result};
use chemomech_imgproc::Fft2;
use ndarray::{Array2, ArrayView2, ArrayView3, Axis};

use num_complex::Complex;
use rayon::prelude::*;

use chemomech_imgproc::resample::keys;

/// `row` sampled at continuous positions (cubic, edge-clamped).
#[inline]
fn sample(row: &[f64], x: f64) -> f64 {
    let n = row.len() as isize;
    let i = x.floor() as isize;
    let mut s = 0.0;
    for k in i - 1..=i + 2 {
        let kk = k.clamp(0, n - 1) as usize;
        s += row[kk] * keys(x - k as f64);
    }
    s
}

/// Double-wedge mask (1 where a consistent 360° sinogram has no energy).
fn wedge_mask(nrow: usize, ncol: usize, radius: f64, drop: usize) -> Array2<f64> {
    let cr = nrow as f64 / 2.0;
    let cc = ncol as f64 / 2.0;
    let mut m = Array2::<f64>::zeros((nrow, ncol));
    for r in 0..nrow {
        let k = r as f64 - cr; // angular frequency (cycles per 360°)
        // Column-frequency half-width: |m| ≤ |k|·ncol/(2πR).
        let half = (k.abs() * ncol as f64 / (std::f64::consts::TAU * radius)).ceil();
        for c in 0..ncol {
            let mm = c as f64 - cc;
            if mm.abs() <= half && (k.abs() > drop as f64) && mm.abs() > 1.0 {
                m[[r, c]] = 1.0;
            }
        }
    }
    m
}

fn vo_metric(sino: &Array2<f64>, flip_center: f64, mask: &Array2<f64>, plan: &Fft2) -> f64 {
    let (na, nc) = sino.dim();
    let mut m = Array2::<Complex<f64>>::zeros((2 * na, nc));
    for a in 0..na {
        let row = sino.row(a);
        let row = row.as_slice().expect("row-major");
        for c in 0..nc {
            m[[a, c]] = Complex::new(row[c], 0.0);
            // Mirror about the candidate: value at 2·centre − c.
            m[[na + a, c]] = Complex::new(sample(row, 2.0 * flip_center - c as f64), 0.0);
        }
    }
    plan.forward(&mut m);
    let (h, w) = m.dim();
    let mut s = 0.0f64;
    let mut n = 0.0f64;
    for r in 0..h {
        for c in 0..w {
            // fftshift indexing
            let mr = mask[[(r + h / 2) % h, (c + w / 2) % w]];
            if mr > 0.0 {
                s += m[[r, c]].norm();
                n += 1.0;
            }
        }
    }
    s / n.max(1.0)
}

/// Bins columns by `f` (mean).
fn bin_columns(s: &Array2<f64>, f: usize) -> Array2<f64> {
    let (na, nc) = s.dim();
    let nb = nc / f;
    Array2::from_shape_fn((na, nb), |(a, b)| (0..f).map(|k| s[[a, b * f + k]]).sum::<f64>() / f as f64)
}

/// Vo's centre of a 180° sinogram of line integrals `(angle, column)`.
/// `search`: candidate range (default: the middle half of the detector);
/// `ratio`: object size relative to the field of view (default 0.5).
///
/// ```
/// use chemomech_tomo::{center::find_center_vo, project_slice, Geometry};
/// let img = ndarray::Array2::from_shape_fn((64, 64), |(r, c)| if (r as f64 - 30.0).hypot(c as f64 - 40.0) < 9.0 { 1.0f32 } else { 0.0 });
/// let g = Geometry::new((0..180).map(|k| k as f64).collect(), 96).with_center(45.25);
/// let c = find_center_vo(project_slice(img.view(), &g).view(), None, 0.5).unwrap();
/// assert!((c - 45.25).abs() <= 0.25);
/// ```
pub fn find_center_vo(sino: ArrayView2<f32>, search: Option<(f64, f64)>, ratio: f64) -> Result<f64> {
    let (na, nc) = sino.dim();
    if na < 8 || nc < 16 {
        return Err(Error::param(format!("sinogram {na}x{nc} is too small to find a centre")));
    }
    if sino.iter().any(|v| !v.is_finite()) {
        return Err(Error::data("sinogram holds non-finite values; normalise and take −log first"));
    }
    let s = sino.mapv(|v| v as f64);
    let (lo, hi) = search.unwrap_or((nc as f64 * 0.25, nc as f64 * 0.75));
    if !(lo < hi) || lo < 0.0 || hi > nc as f64 {
        return Err(Error::param(format!("centre search range {lo}..{hi} is not inside the {nc}-pixel detector")));
    }
    // Coarse: integer steps on a binned sinogram (wide detectors).
    let f = (nc / 512).max(1);
    let sb = if f > 1 { bin_columns(&s, f) } else { s.clone() };
    let ncb = sb.ncols();
    let plan_b = Fft2::new(2 * na, ncb);
    let mask_b = wedge_mask(2 * na, ncb, ratio * ncb as f64 / 2.0, 2);
    // Column c of the binned sinogram holds full columns c·f … c·f+f−1: centre (c·f + (f−1)/2).
    let to_full = |cb: f64| cb * f as f64 + (f as f64 - 1.0) / 2.0;
    let cands: Vec<f64> = {
        let (a, b) = ((lo - (f as f64 - 1.0) / 2.0) / f as f64, (hi - (f as f64 - 1.0) / 2.0) / f as f64);
        let mut v = Vec::new();
        let mut x = a.ceil();
        while x <= b {
            v.push(x);
            x += 1.0;
        }
        v
    };
    let coarse = cands
        .par_iter()
        .map(|&c| (vo_metric(&sb, c, &mask_b, &plan_b), c))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| to_full(c))
        .ok_or_else(|| Error::param("empty centre search range"))?;
    // Fine: quarter-pixel steps on the full sinogram around the coarse value.
    let plan = Fft2::new(2 * na, nc);
    let mask = wedge_mask(2 * na, nc, ratio * nc as f64 / 2.0, 2);
    let span = 1.5 * f as f64;
    let fine: Vec<f64> = (0..=((2.0 * span) / 0.25) as usize)
        .map(|k| coarse - span + 0.25 * k as f64)
        .filter(|c| *c >= lo && *c <= hi)
        .collect();
    let best = fine
        .par_iter()
        .map(|&c| (vo_metric(&s, c, &mask, &plan), c))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
        .unwrap_or(coarse);
    Ok(best)
}

/// Centre from the projections at 0° and 180° `(angle, rows, cols)` of line
/// integrals: the 180° one is mirrored and registered to the 0° one.
pub fn find_center_180(proj: ArrayView3<f32>, angles_deg: &[f64]) -> Result<f64> {
    let nearest = |t: f64| -> (usize, f64) {
        angles_deg
            .iter()
            .enumerate()
            .map(|(i, a)| (i, (a - t).abs()))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("non-empty")
    };
    let (i0, _) = nearest(angles_deg[0]);
    let (i1, d1) = nearest(angles_deg[0] + 180.0);
    if d1 > 0.5 {
        return Err(Error::data(format!(
            "no projection within 0.5° of 180° from the first (closest: {:.3}° away)",
            d1
        )));
    }
    let a = proj.index_axis(Axis(0), i0).mapv(|v| v as f64);
    let b = proj.index_axis(Axis(0), i1).mapv(|v| v as f64);
    let nc = a.ncols();
    let mirrored = Array2::from_shape_fn(a.dim(), |(r, c)| b[[r, nc - 1 - c]]);
    // mirrored(c) = p0(c + s) with s = 2·centre − (nc − 1); registering it onto
    // p0 returns exactly that s.
    let (_dy, dx) = chemomech_imgproc::register_translation(a.view(), mirrored.view(), nc as f64 / 2.0);
    Ok(((nc - 1) as f64 + dx) / 2.0)
}

/// Validates a user-given centre against the detector width.
pub fn check_center(c: f64, n_det: usize) -> Result<f64> {
    if !c.is_finite() || c < 0.0 || c > n_det as f64 {
        return Err(Error::param(format!("centre {c} is outside the {n_det}-pixel detector")));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Geometry, project_volume};
    use ndarray::Array3;
    #[test]
    fn both_methods_find_an_off_centre_axis() {
        let vol = Array3::from_shape_fn((3, 80, 80), |(_, r, c)| {
            let d1 = (r as f64 - 30.0).hypot(c as f64 - 45.0);
            let d2 = (r as f64 - 50.0).hypot(c as f64 - 30.0);
            (if d1 < 10.0 { 1.0 } else { 0.0 }) + (if d2 < 6.0 { 0.5 } else { 0.0 })
        });
        let angles: Vec<f64> = (0..=180).map(|k| k as f64).collect();
        let g = Geometry::new(angles.clone(), 120).with_center(57.75);
        let p = project_volume(vol.view(), &g);
        let c = find_center_vo(p.index_axis(Axis(1), 1), None, 0.5).unwrap();
        assert!((c - 57.75).abs() <= 0.25, "Vo: {c}");
        let c2 = find_center_180(p.view(), &angles).unwrap();
        assert!((c2 - 57.75).abs() < 0.1, "0/180: {c2}");
    }
}
