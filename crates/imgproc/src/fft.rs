//! 2-D complex FFTs (rustfft, rows then columns, parallel over lines) and
//! what is built on them: sub-pixel Fourier shifts, frequency grids.

use chemomech_core::math::reflect;
use ndarray::{Array2, ArrayView2, Axis, Zip};
use num_complex::Complex;
use rayon::prelude::*;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

type C = Complex<f64>;

/// A planned 2-D FFT of a fixed shape (reusable, thread-safe).
pub struct Fft2 {
    rows: usize,
    cols: usize,
    fr: Arc<dyn Fft<f64>>,
    fc: Arc<dyn Fft<f64>>,
    ir: Arc<dyn Fft<f64>>,
    ic: Arc<dyn Fft<f64>>,
}

impl Fft2 {
    /// Plans forward and inverse transforms for `(rows, cols)`.
    pub fn new(rows: usize, cols: usize) -> Self {
        let mut p = FftPlanner::new();
        Self {
            rows,
            cols,
            fr: p.plan_fft_forward(cols),
            fc: p.plan_fft_forward(rows),
            ir: p.plan_fft_inverse(cols),
            ic: p.plan_fft_inverse(rows),
        }
    }
    /// In-place forward transform (unnormalised).
    pub fn forward(&self, a: &mut Array2<C>) {
        self.run(a, &self.fr, &self.fc);
    }
    /// In-place inverse transform, normalised by 1/(rows·cols).
    pub fn inverse(&self, a: &mut Array2<C>) {
        self.run(a, &self.ir, &self.ic);
        let k = 1.0 / (self.rows * self.cols) as f64;
        a.par_mapv_inplace(|v| v * k);
    }
    fn run(&self, a: &mut Array2<C>, along_rows: &Arc<dyn Fft<f64>>, along_cols: &Arc<dyn Fft<f64>>) {
        assert_eq!(a.dim(), (self.rows, self.cols), "FFT planned for another shape");
        a.axis_iter_mut(Axis(0)).into_par_iter().for_each(|mut r| {
            let s = r.as_slice_mut().expect("row-major");
            along_rows.process(s);
        });
        let mut t = a.t().as_standard_layout().into_owned();
        t.axis_iter_mut(Axis(0)).into_par_iter().for_each(|mut r| {
            let s = r.as_slice_mut().expect("row-major");
            along_cols.process(s);
        });
        a.assign(&t.t());
    }
}

/// Forward 2-D FFT of a real image.
pub fn fft2(img: ArrayView2<f64>) -> Array2<C> {
    let mut a = img.mapv(|v| C::new(v, 0.0));
    Fft2::new(a.nrows(), a.ncols()).forward(&mut a);
    a
}

/// Inverse 2-D FFT (normalised).
pub fn ifft2(spec: &Array2<C>) -> Array2<C> {
    let mut a = spec.clone();
    Fft2::new(a.nrows(), a.ncols()).inverse(&mut a);
    a
}

/// FFT sample frequencies in cycles per pixel, as numpy.fft.fftfreq.
pub fn frequencies(n: usize) -> Vec<f64> {
    (0..n).map(|k| if k <= (n - 1) / 2 { k as f64 } else { k as f64 - n as f64 } / n as f64).collect()
}

/// Shifts an image by (dy, dx) pixels (positive = down/right) with the
/// Fourier shift theorem. The image is padded by reflection to twice its
/// size first, so nothing wraps around from the far edge.
///
/// ```
/// let img = ndarray::Array2::from_shape_fn((16, 16), |(r, c)| ((r as f64 - 8.0).powi(2) + (c as f64 - 8.0).powi(2)).sqrt());
/// let s = chemomech_imgproc::fourier_shift(img.view(), 0.0, 1.0);
/// assert!((s[[8, 9]] - img[[8, 8]]).abs() < 1e-6);
/// ```
pub fn fourier_shift(img: ArrayView2<f64>, dy: f64, dx: f64) -> Array2<f64> {
    let (h, w) = img.dim();
    let (ph, pw) = (2 * h, 2 * w);
    let (oy, ox) = (h / 2, w / 2);
    let mut pad = Array2::<C>::zeros((ph, pw));
    Zip::indexed(&mut pad).par_for_each(|(r, c), v| {
        let sr = reflect(r as isize - oy as isize, h);
        let sc = reflect(c as isize - ox as isize, w);
        *v = C::new(img[[sr, sc]], 0.0);
    });
    let plan = Fft2::new(ph, pw);
    plan.forward(&mut pad);
    let fy = frequencies(ph);
    let fx = frequencies(pw);
    let two_pi = 2.0 * std::f64::consts::PI;
    Zip::indexed(&mut pad).par_for_each(|(r, c), v| {
        let ph = -two_pi * (fy[r] * dy + fx[c] * dx);
        *v *= C::new(ph.cos(), ph.sin());
    });
    plan.inverse(&mut pad);
    Array2::from_shape_fn((h, w), |(r, c)| pad[[r + oy, c + ox]].re)
}

/// Fresnel propagation of a sampled wave by `z` metres (paraxial transfer
/// function exp(−iπλz|f|²)), pixel size `pixel_m`, in place.
pub fn fresnel_propagate(psi: &mut Array2<C>, plan: &Fft2, lambda_m: f64, z: f64, pixel_m: f64) {
    plan.forward(psi);
    let (h, w) = psi.dim();
    let fy = frequencies(h);
    let fx = frequencies(w);
    let a = std::f64::consts::PI * lambda_m * z / (pixel_m * pixel_m);
    Zip::indexed(psi.view_mut()).par_for_each(|(r, c), v| {
        let ph = -a * (fy[r] * fy[r] + fx[c] * fx[c]);
        *v *= C::new(ph.cos(), ph.sin());
    });
    plan.inverse(psi);
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn roundtrip_and_parseval() {
        let img = Array2::from_shape_fn((12, 10), |(r, c)| ((r * 7 + c * 3) % 5) as f64 - 1.3);
        let f = fft2(img.view());
        let e_img: f64 = img.iter().map(|v| v * v).sum();
        let e_f: f64 = f.iter().map(|v| v.norm_sqr()).sum::<f64>() / 120.0;
        assert!((e_img - e_f).abs() < 1e-9 * e_img);
        let back = ifft2(&f);
        for (a, b) in img.iter().zip(back.iter()) {
            assert!((a - b.re).abs() < 1e-12 && b.im.abs() < 1e-12);
        }
    }
    #[test]
    fn subpixel_shift_of_a_gaussian() {
        let g = |r: f64, c: f64| (-((r - 15.0).powi(2) + (c - 14.0).powi(2)) / 18.0).exp();
        let img = Array2::from_shape_fn((32, 30), |(r, c)| g(r as f64, c as f64));
        let s = fourier_shift(img.view(), 0.4, -1.7);
        for r in 8..24 {
            for c in 8..22 {
                assert!((s[[r, c]] - g(r as f64 - 0.4, c as f64 + 1.7)).abs() < 1e-3, "{r} {c}");
            }
        }
    }
}
