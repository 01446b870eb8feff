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

/// A registered translation and how far its correlation peak stands above
/// the rest of the search window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Translation {
    /// Row shift that moves `moving` onto `reference` (pixels).
    pub dy: f64,
    /// Column shift that moves `moving` onto `reference` (pixels).
    pub dx: f64,
    /// Peak significance: the correlation peak in standard deviations of
    /// the correlation between two unrelated images with the same power
    /// spectra (Bartlett's variance, which counts the images' own spatial
    /// correlation). Unrelated images peak at about √(2 ln M) over M search
    /// positions (≈ 4 for a ±20 px search); a true match stands far above.
    pub significance: f64,
    /// Normalised cross-correlation at the coarse peak (the images' overlap
    /// counted as zero outside it).
    pub correlation: f64,
}

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
    let t = register_translation_scored(reference, moving, max_shift);
    (t.dy, t.dx)
}

/// [`register_translation`] with the significance of its correlation peak,
/// so that a caller can tell a match from a peak picked out of noise.
pub fn register_translation_scored(reference: ArrayView2<f64>, moving: ArrayView2<f64>, max_shift: f64) -> Translation {
    let peak = coarse(reference, moving, max_shift);
    let (dy, dx) = refine(reference, moving, (peak.dy, peak.dx));
    Translation { dy, dx, ..peak }
}

/// Lucas–Kanade refinement of a shift from `start`.
fn refine(reference: ArrayView2<f64>, moving: ArrayView2<f64>, start: (f64, f64)) -> (f64, f64) {
    let (mut dy, mut dx) = start;
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

/// Integer-pixel shift from the cross-correlation of mean-removed,
/// zero-padded images, with the significance of its peak.
fn coarse(reference: ArrayView2<f64>, moving: ArrayView2<f64>, max_shift: f64) -> Translation {
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
    // Standard deviation of the correlation between two unrelated images
    // with these power spectra (Bartlett): var = Σ_τ R_a(τ) R_b(τ) / N, and
    // Σ_τ R_a R_b = Σ_f |A|² |B|² / (padded size) by Parseval.
    let cross_power = Zip::from(&a).and(&b).fold(0.0, |acc, x, y| acc + x.norm_sqr() * y.norm_sqr());
    let npad = (ph * pw) as f64;
    let null_sd = (cross_power / ((h * w) as f64 * npad)).sqrt();
    // Σ a² = Σ_f |A|² / (padded size) (Parseval).
    let energy = |x: &Array2<C>| x.iter().map(|v| v.norm_sqr()).sum::<f64>() / npad;
    let norm = (energy(&a) * energy(&b)).sqrt();
    Zip::from(&mut a).and(&b).for_each(|x, y| *x *= y.conj());
    plan.inverse(&mut a);
    let wrap = |i: usize, n: usize| if i > n / 2 { i as f64 - n as f64 } else { i as f64 };
    let (br, bc, best) = a
        .indexed_iter()
        .map(|((r, c), v)| (wrap(r, ph), wrap(c, pw), v.re))
        .filter(|&(dy, dx, _)| dy.abs() <= max_shift && dx.abs() <= max_shift)
        .fold((0.0, 0.0, f64::NEG_INFINITY), |b, p| if p.2 > b.2 { p } else { b });
    let significance = if null_sd > 0.0 { best / null_sd } else { 0.0 };
    let correlation = if norm > 0.0 { best / norm } else { 0.0 };
    Translation { dy: br, dx: bc, significance, correlation }
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
    fn significance_separates_matches_from_unrelated_noise() {
        // Smoothed noise fields (correlation length ≈ 2 px), splitmix64.
        let field = |seed: u64| {
            let u = |k: u64| {
                let mut z = (seed * 1_000_003 + k).wrapping_add(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            };
            let raw = Array2::from_shape_fn((64, 64), |(i, j)| u((i * 64 + j) as u64));
            Array2::from_shape_fn((64, 64), |(i, j)| {
                let mut s = 0.0;
                for (di, dj) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    s += raw[[(i + di) % 64, (j + dj) % 64]];
                }
                s
            })
        };
        let mut noise_max: f64 = 0.0;
        for seed in 0..20 {
            let t = register_translation_scored(field(2 * seed).view(), field(2 * seed + 1).view(), 10.0);
            noise_max = noise_max.max(t.significance);
        }
        let a = field(99);
        let t = register_translation_scored(a.view(), fourier_shift(a.view(), 2.0, -3.0).view(), 10.0);
        assert!(noise_max < 5.0, "unrelated fields reach {noise_max:.2}");
        assert!(t.significance > 20.0 && t.correlation > 0.9, "{t:?}");
        assert!((t.dy + 2.0).abs() < 0.05 && (t.dx - 3.0).abs() < 0.05, "{t:?}");
    }

    #[test]
    fn one_row_images_register_along_the_row() {
        let r = Array2::from_shape_fn((1, 64), |(_, j)| (-((j as f64 - 30.0).powi(2)) / 18.0).exp());
        let m = fourier_shift(r.view(), 0.0, 3.4);
        let (dy, dx) = register_translation(r.view(), m.view(), 10.0);
        assert!(dy == 0.0 && (dx + 3.4).abs() < 0.05, "{dy},{dx}");
    }
}
