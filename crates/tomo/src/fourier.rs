//! Direct Fourier reconstruction (gridding), the fast alternative to FBP.
//!
//! By the Fourier-slice theorem each projection's spectrum is a radial line
//! of the slice's 2-D spectrum. The filtered spectra (the same padded,
//! band-limited filters as [`crate::fbp`], so the same scale, DC term and
//! windows) are spread onto a 2×-oversampled Cartesian grid with a Gaussian
//! kernel (Greengard & Lee 2004 fast Gaussian gridding: two `exp` per sample
//! and axis), inverse-FFT'd once and divided by the kernel's transform —
//! a type-1 non-uniform FFT, as tomocupy's `fourierrec`. Cost
//! O(angles·detector·W² + N² log N) instead of FBP's O(angles·N²).
//! Written here because no kept crate offers a 2-D NUFFT; the FFTs are
//! rustfft/realfft.

use crate::fbp::{Filter, angle_weight, filter_response, padded_len};
use crate::geometry::{Geometry, image_center};
use chemomech_core::{Error, Result};
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};
use num_complex::Complex;
use rayon::prelude::*;
use realfft::RealFftPlanner;
use rustfft::FftPlanner;

/// Half-width of the spreading kernel in grid points: with 2× oversampling
/// the relative error is about exp(−π·W/√2) ≈ 1e-5 at W = 5.
const HALF_WIDTH: i64 = 5;
/// Grid oversampling.
const OVERSAMPLING: usize = 2;

/// Gaussian kernel variance (grid units²) that balances truncation and
/// aliasing errors for the oversampling: τ = W / (4π √(1 − 1/R)).
fn tau() -> f64 {
    HALF_WIDTH as f64 / (4.0 * std::f64::consts::PI * (1.0 - 1.0 / OVERSAMPLING as f64).sqrt())
}

/// Reconstructs one sinogram `(angle, n_det)` onto an `n x n` image by
/// gridding; same geometry, filters and scale as [`crate::fbp::fbp_slice`].
///
/// ```
/// use chemomech_tomo::{fbp, fourier, project_slice, Geometry};
/// let mut img = ndarray::Array2::<f32>::zeros((64, 64));
/// img.slice_mut(ndarray::s![24..40, 20..44]).fill(2.0);
/// let g = Geometry::new((0..180).map(|k| k as f64).collect(), 96);
/// let rec = fourier::fourier_slice(project_slice(img.view(), &g).view(), &g, 64, fbp::Filter::Ramp).unwrap();
/// assert!((rec[[32, 32]] - 2.0).abs() < 0.05);
/// ```
pub fn fourier_slice(sino: ArrayView2<f32>, g: &Geometry, n: usize, filter: Filter) -> Result<Array2<f32>> {
    g.check_sinogram(sino.dim())?;
    if n == 0 {
        return Err(Error::param("output size must be positive"));
    }
    Ok(Gridder::new(g, n, filter).slice(sino))
}

/// [`fourier_slice`] for every slice of projections `(angle, rows, n_det)` →
/// volume `(rows, n, n)`, slices in parallel.
pub fn fourier_volume(proj: ArrayView3<f32>, g: &Geometry, n: usize, filter: Filter) -> Result<Array3<f32>> {
    g.check_projections(proj.dim())?;
    let nr = proj.dim().1;
    if n == 0 {
        return Err(Error::param("output size must be positive"));
    }
    let gr = Gridder::new(g, n, filter);
    let mut out = Array3::<f32>::zeros((nr, n, n));
    out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(r, mut o)| {
        o.assign(&gr.slice(proj.index_axis(Axis(1), r)));
    });
    Ok(out)
}

/// Working memory of one slice being gridded onto an `n x n` image (the
/// complex grid), in bytes — for planning within a memory budget.
pub fn slice_working_bytes(n: usize) -> usize {
    (OVERSAMPLING * n).pow(2) * std::mem::size_of::<Complex<f32>>()
}

/// Everything fixed for a geometry: filter, trigonometry, kernel, FFT plans.
struct Gridder {
    /// The scan's geometry (the field of view outside which pixels stay 0).
    geometry: Geometry,
    n: usize,
    m: usize,
    len: usize,
    /// Filter response × angular weight / padded length, per frequency.
    resp: Vec<f64>,
    /// Phase ramp e^{2πi j·centre/len} that moves the rotation axis to u = 0.
    shift: Vec<Complex<f64>>,
    trig: Vec<(f64, f64)>,
    /// exp(−d²/4τ) for d = −W..=W.
    e3: Vec<f64>,
    tau: f64,
    fwd: std::sync::Arc<dyn realfft::RealToComplex<f64>>,
    inv: std::sync::Arc<dyn rustfft::Fft<f32>>,
}

impl Gridder {
    fn new(g: &Geometry, n: usize, filter: Filter) -> Self {
        let len = padded_len(g.n_det);
        let w = angle_weight(&g.angles_deg);
        let resp = filter_response(len, filter).into_iter().map(|h| h * w / len as f64).collect();
        let shift = (0..=len / 2)
            .map(|j| Complex::from_polar(1.0, std::f64::consts::TAU * j as f64 * g.center / len as f64))
            .collect();
        let trig = g.angles_deg.iter().map(|a| (a.to_radians().cos(), a.to_radians().sin())).collect();
        let tau = tau();
        let e3 = (-HALF_WIDTH..=HALF_WIDTH).map(|d| (-((d * d) as f64) / (4.0 * tau)).exp()).collect();
        let m = OVERSAMPLING * n;
        let fwd = RealFftPlanner::<f64>::new().plan_fft_forward(len);
        let inv = FftPlanner::<f32>::new().plan_fft_inverse(m);
        Self { geometry: g.clone(), n, m, len, resp, shift, trig, e3, tau, fwd, inv }
    }

    /// Kernel weights along one axis for a sample at grid coordinate `x`:
    /// the first grid index and 2W+1 weights (fast Gaussian gridding).
    #[inline]
    fn weights(&self, x: f64, w: &mut [f64]) -> i64 {
        let m0 = x.round();
        let d = x - m0;
        let e1 = (-d * d / (4.0 * self.tau)).exp();
        let e2 = (d / (2.0 * self.tau)).exp();
        // exp(−(k − d)²/4τ) = e1 · e2^k · e3[k], k = −W..=W.
        let mut p = e1 * e2.powi(-(HALF_WIDTH as i32));
        for (k, wv) in w.iter_mut().enumerate() {
            *wv = p * self.e3[k];
            p *= e2;
        }
        m0 as i64 - HALF_WIDTH
    }

    fn slice(&self, sino: ArrayView2<f32>) -> Array2<f32> {
        let (m, len) = (self.m, self.len);
        let mut grid = vec![Complex::<f32>::new(0.0, 0.0); m * m];
        let mut buf = self.fwd.make_input_vec();
        let mut spec = self.fwd.make_output_vec();
        let kw = (2 * HALF_WIDTH + 1) as usize;
        let (mut wx, mut wy) = (vec![0.0; kw], vec![0.0; kw]);
        let mut cols = vec![0usize; kw];
        let mf = m as f64;
        for (row, &(ct, st)) in sino.outer_iter().zip(&self.trig) {
            buf.fill(0.0);
            for (b, &v) in buf.iter_mut().zip(row.iter()) {
                *b = v as f64;
            }
            self.fwd.process(&mut buf, &mut spec).expect("sizes match");
            for j in 0..=len / 2 {
                // The slice is real: the j < 0 half is the conjugate of
                // j > 0, so j > 0 counts twice and the real part is kept.
                let twice = if j == 0 || 2 * j == len { 1.0 } else { 2.0 };
                let v = spec[j] * self.shift[j] * (self.resp[j] * twice);
                if v.re == 0.0 && v.im == 0.0 {
                    continue;
                }
                // Frequency (cycles/pixel) (kx, ky) = (f cosθ, −f sinθ) in grid units.
                let f = j as f64 / len as f64 * mf;
                let x0 = self.weights(f * ct, &mut wx);
                let y0 = self.weights(-f * st, &mut wy);
                for (k, c) in cols.iter_mut().enumerate() {
                    *c = (x0 + k as i64).rem_euclid(m as i64) as usize;
                }
                for (ky, &wyv) in wy.iter().enumerate() {
                    let r = (y0 + ky as i64).rem_euclid(m as i64) as usize;
                    let vy = v * wyv;
                    let line = &mut grid[r * m..(r + 1) * m];
                    for (&c, &wxv) in cols.iter().zip(&wx) {
                        let a = vy * wxv;
                        line[c] += Complex::new(a.re as f32, a.im as f32);
                    }
                }
            }
        }
        // Inverse 2-D FFT (unnormalised, e^{+2πi…}): rows, then columns,
        // with one scratch buffer.
        let mut scratch = vec![Complex::<f32>::new(0.0, 0.0); self.inv.get_inplace_scratch_len()];
        for line in grid.chunks_exact_mut(m) {
            self.inv.process_with_scratch(line, &mut scratch);
        }
        let mut col = vec![Complex::<f32>::new(0.0, 0.0); m];
        let n = self.n;
        let c = image_center(n);
        let need: Vec<usize> = (0..n).map(|i| ((i as f64 - c) as i64).rem_euclid(m as i64) as usize).collect();
        let mut out = Array2::<f32>::zeros((n, n));
        // Only the columns the image needs are transformed along y.
        let deapo = |x: f64| {
            1.0 / ((4.0 * std::f64::consts::PI * self.tau).sqrt()
                * (-4.0 * std::f64::consts::PI.powi(2) * self.tau * (x / mf).powi(2)).exp())
        };
        let dx: Vec<f64> = (0..n).map(|i| deapo(i as f64 - c)).collect();
        for (oc, &gc) in need.iter().enumerate() {
            for (r, v) in col.iter_mut().enumerate() {
                *v = grid[r * m + gc];
            }
            self.inv.process_with_scratch(&mut col, &mut scratch);
            for (or, &gr) in need.iter().enumerate() {
                if self.geometry.in_field_of_view(oc as f64 - c, or as f64 - c) {
                    out[[or, oc]] = (col[gr].re as f64 * dx[or] * dx[oc]) as f32;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fbp::fbp_slice;
    use crate::project_slice;

    #[test]
    fn agrees_with_fbp_inside_the_circle() {
        // A smooth disc off-centre, with an off-centre rotation axis.
        let n = 96;
        let mut img = Array2::<f32>::zeros((n, n));
        for ((r, c), v) in img.indexed_iter_mut() {
            let d = ((r as f64 - 40.0).powi(2) + (c as f64 - 55.0).powi(2)).sqrt();
            *v = (1.0 / (1.0 + ((d - 18.0) / 1.5).exp())) as f32;
        }
        let g = Geometry::new((0..240).map(|k| k as f64 * 0.75).collect(), 128).with_center(61.3);
        let sino = project_slice(img.view(), &g);
        let a = fbp_slice(sino.view(), &g, n, Filter::Ramp).unwrap();
        let b = fourier_slice(sino.view(), &g, n, Filter::Ramp).unwrap();
        let (mut num, mut den, mut cnt) = (0.0, 0.0, 0);
        for ((r, c), &v) in b.indexed_iter() {
            if ((r as f64 - 48.0).powi(2) + (c as f64 - 48.0).powi(2)).sqrt() < 44.0 {
                num += ((v - a[[r, c]]) as f64).powi(2);
                den += (img[[r, c]] as f64).powi(2);
                cnt += 1;
            }
        }
        let rel = (num / den).sqrt();
        assert!(cnt > 5000 && rel < 0.01, "relative RMS difference to FBP {rel}");
        assert!((b[[40, 55]] - 1.0).abs() < 0.02, "centre of the disc {}", b[[40, 55]]);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let g = Geometry::new(vec![0.0, 90.0], 16);
        assert!(fourier_slice(Array2::<f32>::zeros((3, 16)).view(), &g, 16, Filter::Ramp).is_err());
        assert!(fourier_slice(Array2::<f32>::zeros((2, 16)).view(), &g, 0, Filter::Ramp).is_err());
    }
}
