//! Sub-pixel translation registration: a coarse integer estimate from the
//! (zero-padded, mean-removed) cross-correlation, then Lucas–Kanade
//! refinement that minimises the squared difference over the image interior
//! with exact Fourier shifts. Unbiased where the images differ by a shift;
//! feed it contrast-invariant features (e.g. gradient magnitude) when the
//! contrast changes between them.

use crate::fft::Fft2;
use ndarray::{Array2, ArrayView2, Zip};
use num_complex::Complex;

type C = Complex<f64>;

/// The shift (rows, cols) that moves `moving` onto `reference`:
/// `fourier_shift(moving, dy, dx)` is aligned with `reference`.
/// `max_shift` bounds the coarse search (pixels).
///
/// ```
/// use chemomech_imgproc::{fourier_shift, register::register_translation};
/// let r = ndarray::Array2::from_shape_fn((48, 48), |(i, j)| (-((i as f64 - 20.0).powi(2) + (j as f64 - 26.0).powi(2)) / 30.0).exp());
/// let m = fourier_shift(r.view(), 1.3, -2.6);
/// let (dy, dx) = register_translation(r.view(), m.view(), 10.0);
/// assert!((dy + 1.3).abs() < 0.01 && (dx - 2.6).abs() < 0.01);
/// ```
pub fn register_translation(reference: ArrayView2<f64>, moving: ArrayView2<f64>, max_shift: f64) -> (f64, f64) {
    let (mut dy, mut dx) = coarse(reference, moving, max_shift);
    let (h, w) = reference.dim();
    for _ in 0..12 {
        let m = crate::fourier_shift(moving, dy, dx);
        // Margins keep the central differences inside the image; an axis
        // shorter than 3 pixels has no gradient along it (e.g. one row).
        let reach = dy.abs().max(dx.abs()).ceil() as usize + 3;
        let margin = |n: usize| if n < 3 { 0 } else { reach.min(n / 3).max(1) };
        let (my, mx) = (margin(h), margin(w));
        let (mut a, mut b, mut c, mut by, mut bx) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for r in my..h - my {
            for col in mx..w - mx {
                let gy = if h < 3 { 0.0 } else { 0.5 * (m[[r + 1, col]] - m[[r - 1, col]]) };
                let gx = if w < 3 { 0.0 } else { 0.5 * (m[[r, col + 1]] - m[[r, col - 1]]) };
                let res = reference[[r, col]] - m[[r, col]];
                a += gy * gy;
                b += gy * gx;
                c += gx * gx;
                by += res * gy;
                bx += res * gx;
            }
        }
        if a + c < 1e-30 {
            break;
        }
        // m shifted by d + δ ≈ m − ∇m·δ: least squares gives δ = −H⁻¹ Σ res ∇m.
        // A direction without structure (e.g. a one-row image) is left alone.
        let det = a * c - b * b;
        let (sy, sx) = if det > 1e-9 * (a + c) * (a + c) {
            (-(c * by - b * bx) / det, -(a * bx - b * by) / det)
        } else {
            (if a > 1e-12 * (a + c) { -by / a } else { 0.0 }, if c > 1e-12 * (a + c) { -bx / c } else { 0.0 })
        };
        dy += sy.clamp(-1.0, 1.0);
        dx += sx.clamp(-1.0, 1.0);
        if sy.abs().max(sx.abs()) < 1e-4 {
            break;
        }
    }
    (dy, dx)
}

/// Integer-pixel shift from the cross-correlation of mean-removed, zero-padded images.
fn coarse(reference: ArrayView2<f64>, moving: ArrayView2<f64>, max_shift: f64) -> (f64, f64) {
    let (h, w) = reference.dim();
    let (ph, pw) = (2 * h, 2 * w);
    let plan = Fft2::new(ph, pw);
    let pad = |img: ArrayView2<f64>| -> Array2<C> {
        let m = img.mean().unwrap_or(0.0);
        let mut a = Array2::<C>::zeros((ph, pw));
        for ((r, c), v) in img.indexed_iter() {
            a[[r, c]] = C::new(v - m, 0.0);
        }
        a
    };
    let mut a = pad(reference);
    let mut b = pad(moving);
    plan.forward(&mut a);
    plan.forward(&mut b);
    Zip::from(&mut a).and(&b).for_each(|x, y| *x *= y.conj());
    plan.inverse(&mut a);
    let (mut best, mut br, mut bc) = (f64::NEG_INFINITY, 0.0, 0.0);
    for ((r, c), v) in a.indexed_iter() {
        let dy = if r > ph / 2 { r as f64 - ph as f64 } else { r as f64 };
        let dx = if c > pw / 2 { c as f64 - pw as f64 } else { c as f64 };
        if dy.abs() > max_shift || dx.abs() > max_shift {
            continue;
        }
        if v.re > best {
            best = v.re;
            br = dy;
            bc = dx;
        }
    }
    (br, bc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fourier_shift;
    #[test]
    fn recovers_subpixel_shifts_on_textured_images() {
        // Blobs of several sizes scattered over the whole field, some cut by the border.
        let blobs: Vec<(f64, f64, f64)> = (0..40)
            .map(|k| (((k * 37) % 61) as f64 + 1.5, ((k * 53) % 77) as f64 + 0.5, 1.5 + (k % 4) as f64))
            .collect();
        let r = Array2::from_shape_fn((64, 80), |(i, j)| {
            blobs
                .iter()
                .map(|(y, x, s)| (-((i as f64 - y).powi(2) + (j as f64 - x).powi(2)) / (2.0 * s * s)).exp())
                .sum::<f64>()
        });
        for &(sy, sx) in &[(0.0, 0.0), (2.25, -3.7), (-0.4, 0.15), (5.9, 7.05)] {
            let m = fourier_shift(r.view(), sy, sx);
            let (dy, dx) = register_translation(r.view(), m.view(), 15.0);
            assert!((dy + sy).abs() < 0.02 && (dx + sx).abs() < 0.02, "{sy},{sx} -> {dy},{dx}");
        }
    }
    #[test]
    fn one_row_images_register_along_the_row() {
        let r = Array2::from_shape_fn((1, 64), |(_, j)| (-((j as f64 - 30.0).powi(2)) / 18.0).exp());
        let m = fourier_shift(r.view(), 0.0, 3.4);
        let (dy, dx) = register_translation(r.view(), m.view(), 10.0);
        assert!(dy == 0.0 && (dx + 3.4).abs() < 0.05, "{dy},{dx}");
    }
}
