//! Projection alignment for scans with run-out and jitter between
//! projections (transmission X-ray microscopes): a shift (rows, columns) per
//! projection that brings it onto one rotation geometry.
//!
//! - **Mass** (consistency of the projected mass): in parallel beam every
//!   projection of a sample inside the field of view carries the same mass
//!   centre along the rotation axis, and its mass centre across the axis
//!   follows a sinusoid a + b cos θ + c sin θ. The vertical jitter is each
//!   projection's departure from the mean, the horizontal jitter its
//!   departure from the fitted sinusoid. One pass, no reconstruction.
//! - **Joint** (re-projection alignment, Gürsoy et al. 2017, as TomoPy's
//!   `align_joint`): starting from the mass alignment, reconstruct the
//!   aligned projections by FBP, project the volume again, and register
//!   every measured projection to its re-projection (sub-pixel); repeat
//!   until the shifts stop changing. The shifts' mean is kept at zero (a
//!   common shift is the rotation centre's business, not jitter).
//!
//! Shifts are applied with exact Fourier shifts; the returned shifts are
//! those applied (`fourier_shift(projection, rows, cols)`).

use crate::fbp::{Filter, fbp_volume};
use crate::geometry::Geometry;
use crate::project::project_volume;
use chemomech_core::{Error, Result};
use chemomech_imgproc::{fourier_shift, register_translation};
use ndarray::{Array2, Array3, ArrayView3, Axis};
use rayon::prelude::*;
use std::str::FromStr;

/// How projections are aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlignMethod {
    /// No alignment.
    #[default]
    None,
    /// Mass centres: constant along the axis, a sinusoid across it.
    Mass,
    /// Mass, then joint re-projection alignment.
    Joint,
}

impl std::fmt::Display for AlignMethod {
    /// The method's name as [`str::parse`] reads it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AlignMethod::None => "none",
            AlignMethod::Mass => "mass",
            AlignMethod::Joint => "joint",
        })
    }
}

impl FromStr for AlignMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "mass" | "com" => Ok(Self::Mass),
            "joint" => Ok(Self::Joint),
            o => Err(Error::param(format!("--align must be none, mass or joint, got '{o}'"))),
        }
    }
}

/// Alignment parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AlignParams {
    /// How projections are aligned.
    pub method: AlignMethod,
    /// Joint: most re-projection rounds.
    pub iterations: usize,
    /// Joint: stop when the RMS change of the shifts in a round is below this (pixels).
    pub tolerance_px: f64,
    /// Joint: largest shift correction searched per round (pixels).
    pub max_shift_px: f64,
}

impl Default for AlignParams {
    fn default() -> Self {
        Self { method: AlignMethod::None, iterations: 10, tolerance_px: 0.02, max_shift_px: 20.0 }
    }
}

/// The alignment found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alignment {
    /// Shift (rows, cols) applied to each projection (pixels).
    pub shifts_px: Vec<(f64, f64)>,
    /// Joint: RMS change of the shifts in each round (pixels).
    pub rounds_rms_px: Vec<f64>,
}

/// Aligns line-integral projections `(angle, rows, cols)` taken at
/// `angles_deg` about the rotation axis at column `center`.
pub fn align_projections(
    lines: ArrayView3<f32>,
    angles_deg: &[f64],
    center: f64,
    p: &AlignParams,
) -> Result<Alignment> {
    let (na, nr, nd) = lines.dim();
    if angles_deg.len() != na {
        return Err(Error::shape(format!("{na} projections but {} angles", angles_deg.len())));
    }
    if p.method == AlignMethod::None {
        return Ok(Alignment { shifts_px: vec![(0.0, 0.0); na], rounds_rms_px: Vec::new() });
    }
    if na < 4 || nr < 2 || nd < 8 {
        return Err(Error::shape(format!("{na} projections of {nr}×{nd} are too few or too small to align")));
    }
    let mut shifts = mass_shifts(lines, angles_deg)?;
    let mut rounds = Vec::new();
    if p.method == AlignMethod::Joint {
        let g = Geometry { angles_deg: angles_deg.to_vec(), n_det: nd, center };
        for _ in 0..p.iterations {
            let change = joint_round(lines, &g, &mut shifts, p.max_shift_px)?;
            rounds.push(change);
            if change < p.tolerance_px {
                break;
            }
        }
    }
    Ok(Alignment { shifts_px: shifts, rounds_rms_px: rounds })
}

/// Shifts from the projections' mass centres.
fn mass_shifts(lines: ArrayView3<f32>, angles_deg: &[f64]) -> Result<Vec<(f64, f64)>> {
    let centres: Vec<(f64, f64)> = lines
        .axis_iter(Axis(0))
        .into_par_iter()
        .map(|proj| {
            let (mut m, mut sr, mut sc) = (0.0, 0.0, 0.0);
            for ((r, c), &v) in proj.indexed_iter() {
                let v = v as f64;
                m += v;
                sr += r as f64 * v;
                sc += c as f64 * v;
            }
            if m > 0.0 { (sr / m, sc / m) } else { (f64::NAN, f64::NAN) }
        })
        .collect();
    if centres.iter().any(|c| !c.0.is_finite()) {
        return Err(Error::data("a projection has no positive mass: mass alignment needs line integrals (after −log)"));
    }
    let mean_row = centres.iter().map(|c| c.0).sum::<f64>() / centres.len() as f64;
    let y: Vec<f64> = centres.iter().map(|c| c.1).collect();
    let off_sinusoid = without_rotation_sinusoid(&y, angles_deg)
        .ok_or_else(|| Error::data("the projections' angles do not determine a rotation (too narrow a range?)"))?;
    Ok(centres.iter().zip(off_sinusoid).map(|(c, r)| (mean_row - c.0, -r)).collect())
}

/// `y` (one value per projection) minus its least-squares fit by
/// a + b cos θ + c sin θ: what a rotating object's own translation cannot
/// explain. `None` when the angles do not determine the fit.
pub fn without_rotation_sinusoid(y: &[f64], angles_deg: &[f64]) -> Option<Vec<f64>> {
    let cols: Vec<Vec<f64>> = vec![
        vec![1.0; angles_deg.len()],
        angles_deg.iter().map(|a| a.to_radians().cos()).collect(),
        angles_deg.iter().map(|a| a.to_radians().sin()).collect(),
    ];
    let coef = sinusoid_fit(&cols, y)?;
    Some((0..y.len()).map(|k| y[k] - (coef[0] + coef[1] * cols[1][k] + coef[2] * cols[2][k])).collect())
}

/// Least squares of `y` on three columns (normal equations, Cramer's rule);
/// `None` when they are degenerate.
fn sinusoid_fit(cols: &[Vec<f64>], y: &[f64]) -> Option<[f64; 3]> {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let m: [[f64; 3]; 3] = std::array::from_fn(|i| std::array::from_fn(|j| dot(&cols[i], &cols[j])));
    let b: [f64; 3] = std::array::from_fn(|i| dot(&cols[i], y));
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    let scale = m[0][0] * m[1][1].max(1e-300) * m[2][2].max(1e-300);
    if d.abs() <= 1e-9 * scale.abs() {
        return None;
    }
    Some(std::array::from_fn(|k| {
        let mut mk = m;
        for (row, bv) in mk.iter_mut().zip(b) {
            row[k] = bv;
        }
        det(&mk) / d
    }))
}

/// One re-projection round: reconstruct the aligned projections, project
/// the volume, register each projection to its re-projection and add the
/// correction (mean-free). Returns the corrections' RMS (pixels).
fn joint_round(lines: ArrayView3<f32>, g: &Geometry, shifts: &mut [(f64, f64)], max_shift_px: f64) -> Result<f64> {
    let aligned = apply_shifts(lines, shifts);
    let nd = g.n_det;
    let vol = fbp_volume(aligned.view(), g, nd, Filter::Ramp)?;
    let reproj = project_volume(vol.view(), g);
    // Rows that a shift moved out of some projection have no complete data:
    // they are left out of the comparison (keeping at least half the rows).
    let nr = lines.dim().1;
    let reach = shifts.iter().map(|s| s.0.abs()).fold(0.0, f64::max).ceil() as usize + 1;
    let margin = reach.min(nr / 4);
    let rows = ndarray::s![margin..nr - margin, ..];
    let corrections: Vec<(f64, f64)> = (0..shifts.len())
        .into_par_iter()
        .map(|k| {
            let measured = aligned.index_axis(Axis(0), k).slice(rows).mapv(|v| v as f64);
            let model = reproj.index_axis(Axis(0), k).slice(rows).mapv(|v| v as f64);
            register_translation(model.view(), measured.view(), max_shift_px)
        })
        .collect();
    let n = corrections.len() as f64;
    let mean = corrections.iter().fold((0.0, 0.0), |a, c| (a.0 + c.0 / n, a.1 + c.1 / n));
    let mut ss = 0.0;
    for (s, c) in shifts.iter_mut().zip(&corrections) {
        let d = (c.0 - mean.0, c.1 - mean.1);
        s.0 += d.0;
        s.1 += d.1;
        ss += d.0 * d.0 + d.1 * d.1;
    }
    Ok((ss / n).sqrt())
}

/// The projections `(angle, rows, cols)` each moved by its shift (exact
/// Fourier shifts; what leaves the frame is lost, what enters is 0).
pub fn apply_shifts(lines: ArrayView3<f32>, shifts: &[(f64, f64)]) -> Array3<f32> {
    let mut out = Array3::<f32>::zeros(lines.dim());
    out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(k, mut o)| {
        let (dy, dx) = shifts[k];
        let proj = lines.index_axis(Axis(0), k);
        if dy == 0.0 && dx == 0.0 {
            o.assign(&proj);
        } else {
            let moved: Array2<f64> = fourier_shift(proj.mapv(|v| v as f64).view(), dy, dx);
            o.zip_mut_with(&moved, |o, &v| *o = v as f32);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::project_volume;

    /// Balls inside the field of view of a 96-wide detector, 40 rows; with
    /// `tall`, more balls cut by the top and bottom of the frame (the
    /// sample is taller than the field of view, as electrodes are).
    fn sample(tall: bool) -> Array3<f32> {
        let mut balls =
            vec![(20.0, 40.0, 50.0, 9.0), (16.0, 60.0, 38.0, 7.0), (24.0, 35.0, 30.0, 6.0), (20.0, 55.0, 62.0, 5.0)];
        if tall {
            balls.extend([
                (-2.0, 45.0, 45.0, 10.0),
                (41.0, 50.0, 55.0, 9.0),
                (38.0, 30.0, 40.0, 7.0),
                (1.0, 62.0, 60.0, 8.0),
            ]);
        }
        Array3::from_shape_fn((40, 96, 96), |(z, y, x)| {
            balls
                .iter()
                .map(|&(bz, by, bx, r)| {
                    let d = ((z as f64 - bz).powi(2) + (y as f64 - by).powi(2) + (x as f64 - bx).powi(2)).sqrt();
                    (0.02 / (1.0 + ((d - r) / 0.7).exp())) as f32
                })
                .sum()
        })
    }

    fn pearson(a: impl Iterator<Item = f32>, b: impl Iterator<Item = f32>) -> f64 {
        let v: Vec<(f64, f64)> = a.zip(b).map(|(x, y)| (x as f64, y as f64)).collect();
        let n = v.len() as f64;
        let (mx, my) = v.iter().fold((0.0, 0.0), |s, p| (s.0 + p.0 / n, s.1 + p.1 / n));
        let (sxy, sxx, syy) = v.iter().fold((0.0, 0.0, 0.0), |s, p| {
            (s.0 + (p.0 - mx) * (p.1 - my), s.1 + (p.0 - mx).powi(2), s.2 + (p.1 - my).powi(2))
        });
        sxy / (sxx * syy).sqrt()
    }

    #[test]
    fn joint_alignment_recovers_five_pixel_jitter() {
        for tall in [false, true] {
            eprint!("tall {tall}: ");
            recovers_jitter(tall);
        }
    }

    fn recovers_jitter(tall: bool) {
        let angles: Vec<f64> = (0..90).map(|k| k as f64 * 2.0).collect();
        let g = Geometry::new(angles.clone(), 96).with_center(48.0);
        let clean = project_volume(sample(tall).view(), &g);
        // Jitter of up to ±5 px per axis (deterministic, irregular).
        let jitter: Vec<(f64, f64)> = (0..angles.len())
            .map(|k| (5.0 * ((k * 37 % 23) as f64 / 11.0 - 1.0), 5.0 * ((k * 53 % 29) as f64 / 14.0 - 1.0)))
            .collect();
        let shaken = apply_shifts(clean.view(), &jitter);
        for method in [AlignMethod::Mass, AlignMethod::Joint] {
            let a =
                align_projections(shaken.view(), &angles, 48.0, &AlignParams { method, ..Default::default() }).unwrap();
            // The applied shift must undo the jitter, up to a common offset.
            let err: Vec<(f64, f64)> = a.shifts_px.iter().zip(&jitter).map(|(s, j)| (s.0 + j.0, s.1 + j.1)).collect();
            let n = err.len() as f64;
            let m = err.iter().fold((0.0, 0.0), |a, e| (a.0 + e.0 / n, a.1 + e.1 / n));
            let rms = (err.iter().map(|e| (e.0 - m.0).powi(2) + (e.1 - m.1).powi(2)).sum::<f64>() / n).sqrt();
            eprintln!("{method}: shift error {rms:.3} px RMS, rounds {:?}", a.rounds_rms_px);
            if method == AlignMethod::Joint || !tall {
                assert!(rms <= if method == AlignMethod::Joint { 0.3 } else { 1.0 }, "{method}: {rms}");
            }
            if method == AlignMethod::Joint {
                // The aligned reconstruction against the jitter-free one (common offset removed).
                let offset: Vec<(f64, f64)> = a.shifts_px.iter().map(|s| (s.0 - m.0, s.1 - m.1)).collect();
                let fixed = fbp_volume(apply_shifts(shaken.view(), &offset).view(), &g, 96, Filter::Ramp).unwrap();
                let truth = fbp_volume(clean.view(), &g, 96, Filter::Ramp).unwrap();
                let rows = 5..35; // away from rows the jitter moved out of the frame
                let (a, b) = (fixed.slice(ndarray::s![rows.clone(), .., ..]), truth.slice(ndarray::s![rows, .., ..]));
                let r = pearson(a.iter().copied(), b.iter().copied());
                eprintln!("  reconstruction against the jitter-free one: Pearson {r:.4}");
                assert!(r >= 0.99, "Pearson {r}");
            }
        }
    }
}
