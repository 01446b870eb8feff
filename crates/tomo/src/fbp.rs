//! Filtered back-projection (parallel beam): the ramp filter is built from
//! the band-limited spatial kernel (Kak & Slaney; as scikit-image), so its
//! zero-frequency term is right and flat regions carry no DC offset; the
//! projections are zero-padded to at least twice the detector width (next
//! power of two) so the filter never wraps. Back-projection interpolates
//! linearly, parallel over image rows and over slices.

use crate::geometry::{Geometry, image_center};
use chemomech_core::{Error, Result};
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};
use rayon::prelude::*;
use realfft::RealFftPlanner;
use std::str::FromStr;

/// Reconstruction filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    /// The plain ramp |f| (Ram-Lak).
    #[default]
    Ramp,
    /// Ramp times sinc (Shepp–Logan).
    Shepp,
    /// Ramp times cos(π f), f in cycles per pixel.
    Cosine,
    /// Ramp times the Hamming window 0.54 + 0.46 cos(2π f).
    Hamming,
    /// Ramp times the Hann window 0.5 + 0.5 cos(2π f).
    Hann,
}

impl std::fmt::Display for Filter {
    /// The filter's name as [`str::parse`] reads it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Filter::Ramp => "ramp",
            Filter::Shepp => "shepp",
            Filter::Cosine => "cosine",
            Filter::Hamming => "hamming",
            Filter::Hann => "hann",
        })
    }
}

impl FromStr for Filter {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "ramp" | "ram-lak" | "ramlak" => Filter::Ramp,
            "shepp" | "shepp-logan" | "shepplogan" => Filter::Shepp,
            "cosine" => Filter::Cosine,
            "hamming" => Filter::Hamming,
            "hann" | "hanning" => Filter::Hann,
            other => {
                return Err(Error::param(format!("unknown filter '{other}' (ramp, shepp, cosine, hamming, hann)")));
            }
        })
    }
}

/// Padded length used for filtering `n_det` columns.
pub fn padded_len(n_det: usize) -> usize {
    (2 * n_det).next_power_of_two().max(64)
}

/// The filter's frequency response on the `size`-point real-FFT grid
/// (`size/2 + 1` values): |f| in cycles per pixel times the window.
pub fn filter_response(size: usize, filter: Filter) -> Vec<f64> {
    // Spatial ramp kernel: h[0] = 1/4, h[odd k] = −1/(πk)², h[even] = 0, circularly.
    let mut h = vec![0.0f64; size];
    h[0] = 0.25;
    for (k, v) in h.iter_mut().enumerate().skip(1) {
        let d = k.min(size - k);
        if d % 2 == 1 {
            *v = -1.0 / (std::f64::consts::PI * d as f64).powi(2);
        }
    }
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(size);
    let mut spec = fft.make_output_vec();
    fft.process(&mut h, &mut spec).expect("sizes match");
    let n = spec.len();
    (0..n)
        .map(|k| {
            // |f| in cycles/pixel (½ at Nyquist); ∫₀^π of the filtered projections inverts the Radon transform.
            let ramp = spec[k].re;
            let w = std::f64::consts::PI * k as f64 / size as f64; // ω/2 ∈ [0, π/2]
            let f = k as f64 / size as f64; // cycles/pixel ∈ [0, ½]
            ramp * match filter {
                Filter::Ramp => 1.0,
                Filter::Shepp => {
                    if k == 0 {
                        1.0
                    } else {
                        (w).sin() / w
                    }
                }
                Filter::Cosine => (std::f64::consts::PI * f).cos(),
                Filter::Hamming => 0.54 + 0.46 * (std::f64::consts::TAU * f).cos(),
                Filter::Hann => 0.5 + 0.5 * (std::f64::consts::TAU * f).cos(),
            }
        })
        .collect()
}

/// Filters each row (projection) of a sinogram `(angle, n_det)`.
pub fn filter_sinogram(sino: ArrayView2<f32>, filter: Filter) -> Array2<f32> {
    let (na, nd) = sino.dim();
    let size = padded_len(nd);
    let resp = filter_response(size, filter);
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(size);
    let inv = planner.plan_fft_inverse(size);
    let mut out = Array2::<f32>::zeros((na, nd));
    out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each_init(
        || (fwd.make_input_vec(), fwd.make_output_vec(), inv.make_output_vec()),
        |(buf, spec, back), (a, mut row)| {
            buf.fill(0.0);
            for (b, &v) in buf.iter_mut().zip(sino.row(a).iter()) {
                *b = v as f64;
            }
            fwd.process(buf, spec).expect("sizes match");
            for (s, r) in spec.iter_mut().zip(&resp) {
                *s *= *r;
            }
            inv.process(spec, back).expect("sizes match");
            let k = 1.0 / size as f64;
            for (o, b) in row.iter_mut().zip(back.iter()) {
                *o = (*b * k) as f32;
            }
        },
    );
    out
}

/// Angular quadrature weight (radians per projection) such that the
/// back-projection approximates ∫₀^π: the angular span (plus one step) over
/// the count, halved for scans that cover 360°.
pub fn angle_weight(angles_deg: &[f64]) -> f64 {
    let n = angles_deg.len();
    if n < 2 {
        return std::f64::consts::PI;
    }
    let lo = angles_deg.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = angles_deg.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let span = (hi - lo) * n as f64 / (n as f64 - 1.0);
    let w = span.to_radians() / n as f64;
    if span > 270.0 { w / 2.0 } else { w }
}

/// The columns `lo..hi` of an `n`-wide image row whose detector
/// coordinate t = t0 + col·ct lies within [1, nd − 2], minus one column of
/// margin at each end (so interpolation needs no bounds checks there);
/// (0, 0) when there are none.
fn inner_columns(t0: f64, ct: f64, nd: usize, n: usize) -> (usize, usize) {
    if nd < 4 {
        return (0, 0);
    }
    let (tlo, thi) = (1.0, nd as f64 - 2.0);
    let (a, b) = if ct.abs() < 1e-12 {
        if t0 >= tlo && t0 <= thi { (0.0, n as f64) } else { (0.0, 0.0) }
    } else {
        let (x, y) = ((tlo - t0) / ct, (thi - t0) / ct);
        (x.min(y), x.max(y))
    };
    let lo = (a.ceil() + 1.0).clamp(0.0, n as f64) as usize;
    let hi = (b.floor() - 1.0).clamp(0.0, n as f64) as usize;
    if hi > lo { (lo, hi) } else { (0, 0) }
}

/// Image rows and angles back-projected together: a block's projection
/// segments stay in cache while every row of the block uses them (one pass
/// over the sinogram per block of rows, not per row).
const BLOCK_ROWS: usize = 16;
/// See [`BLOCK_ROWS`].
const BLOCK_ANGLES: usize = 32;

/// Back-projects a filtered sinogram `(angle, n_det)` onto an `n x n` image.
pub fn backproject(filtered: ArrayView2<f32>, g: &Geometry, n: usize) -> Array2<f32> {
    let bp = Backprojection {
        filtered,
        g,
        n,
        c: image_center(n),
        trig: g.angles_deg.iter().map(|a| (a.to_radians().cos(), a.to_radians().sin())).collect(),
        simd: Simd::detect(),
    };
    let na = g.angles_deg.len();
    let w = angle_weight(&g.angles_deg) as f32;
    let mut img = Array2::<f32>::zeros((n, n));
    img.axis_chunks_iter_mut(Axis(0), BLOCK_ROWS).into_par_iter().enumerate().for_each(|(b, mut block)| {
        let y = |k: usize| (b * BLOCK_ROWS + k) as f64 - bp.c;
        // Angles in ascending order for every pixel, whatever the blocking.
        for a0 in (0..na).step_by(BLOCK_ANGLES) {
            for (k, mut row) in block.axis_iter_mut(Axis(0)).enumerate() {
                let row = row.as_slice_mut().expect("row-major");
                bp.accumulate(row, y(k), a0..(a0 + BLOCK_ANGLES).min(na));
            }
        }
        for (k, mut row) in block.axis_iter_mut(Axis(0)).enumerate() {
            for (col, o) in row.iter_mut().enumerate() {
                *o = if g.in_field_of_view(col as f64 - bp.c, y(k)) { *o * w } else { 0.0 };
            }
        }
    });
    img
}

/// A back-projection's inputs: the filtered sinogram, its geometry and the
/// image's size and centre.
struct Backprojection<'a> {
    filtered: ArrayView2<'a, f32>,
    g: &'a Geometry,
    n: usize,
    c: f64,
    /// (cos θ, sin θ) per angle.
    trig: Vec<(f64, f64)>,
    /// The instruction set of the inner loop.
    simd: Simd,
}

impl Backprojection<'_> {
    /// Adds the projections at `angles` to the image row at `y` (relative to
    /// the centre), unweighted.
    fn accumulate(&self, row: &mut [f32], y: f64, angles: std::ops::Range<usize>) {
        let nd = self.filtered.ncols();
        for a in angles {
            let (ct, st) = self.trig[a];
            let p = self.filtered.row(a);
            let p = p.as_slice().expect("row-major");
            // t(col) = (col − c)·cosθ − y·sinθ + centre, affine in col.
            let t0 = -self.c * ct - y * st + self.g.center;
            let at = |col: usize, o: &mut f32| {
                let t = t0 + col as f64 * ct;
                let i = t.floor();
                let fi = i as isize;
                if fi >= 0 && (fi as usize) + 1 < nd {
                    let f = (t - i) as f32;
                    let a0 = p[fi as usize];
                    *o += a0 + f * (p[fi as usize + 1] - a0);
                } else if fi as usize + 1 == nd && t == i {
                    *o += p[nd - 1];
                }
            };
            // Columns whose t lies safely inside [1, nd − 2] (one column of
            // margin each side against rounding) take the vectorised path;
            // the others the checked one above.
            let (lo, hi) = inner_columns(t0, ct, nd, self.n);
            for (col, o) in row.iter_mut().enumerate().take(lo) {
                at(col, o);
            }
            if hi > lo {
                interpolate_inner(&mut row[lo..hi], p, t0, lo, ct, self.simd);
            }
            for (col, o) in row.iter_mut().enumerate().skip(hi) {
                at(col, o);
            }
        }
    }
}

/// Adds to `out[k]` the projection `p` linearly interpolated at
/// t = `t0` + (`col0` + k)·`ct`, where every t lies within [1, len − 2]
/// ([`inner_columns`]): the back-projection's hot loop, in SIMD with
/// gathers where the CPU has AVX-512 or AVX2 (written with `std::arch`
/// intrinsics: the compiler's own vectorisation of this loop converted
/// every index to 64 bits and every column number one lane at a time, and
/// no kept crate offers gathers). All paths compute t = t0 + k·ct and
/// a0 + f·(a1 − a0) in f32 with the same operations (no fused
/// multiply-add), so they give the same bits. f32 t is exact to 3·10⁻⁴
/// pixel for detectors up to 4096 pixels, far below the data's precision.
fn interpolate_inner(out: &mut [f32], p: &[f32], t0: f64, col0: usize, ct: f64, level: Simd) {
    let (t0, ct, col0) = (t0 as f32, ct as f32, col0 as i32);
    let done = match level {
        // SAFETY: `Simd::detect` found AVX-512F; indices stay in 0..len − 1 (clamped).
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { simd::interpolate_avx512(out, p, t0, col0, ct) },
        // SAFETY: `Simd::detect` found AVX2; indices stay in 0..len − 1 (clamped).
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { simd::interpolate_avx2(out, p, t0, col0, ct) },
        _ => 0,
    };
    let last = p.len().saturating_sub(2) as i32;
    for (k, o) in out.iter_mut().enumerate().skip(done) {
        let t = t0 + ((col0 + k as i32) as f32) * ct;
        // Truncation is the floor for t ≥ 0; the clamp keeps fi + 1 inside `p`.
        let fi = (t as i32).clamp(0, last);
        let f = t - fi as f32;
        let (a0, a1) = (p[fi as usize], p[fi as usize + 1]);
        *o += a0 + f * (a1 - a0);
    }
}

/// The instruction set [`interpolate_inner`] uses, detected once per
/// back-projection (not per row and angle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Simd {
    /// AVX-512F gathers, 16 columns.
    Avx512,
    /// AVX2 gathers, 8 columns.
    Avx2,
    /// The scalar loop only.
    None,
}

impl Simd {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                return Simd::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::None
    }
}

/// The SIMD bodies of [`interpolate_inner`]: whole vectors of columns;
/// they return how many columns they did (the rest is the scalar tail's).
#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn interpolate_avx512(out: &mut [f32], p: &[f32], t0: f32, col0: i32, ct: f32) -> usize {
        let lanes =
            _mm512_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0);
        let (vt0, vct) = (_mm512_set1_ps(t0), _mm512_set1_ps(ct));
        let (zero, last) = (_mm512_setzero_si512(), _mm512_set1_epi32(p.len() as i32 - 2));
        let mut k = 0;
        while k + 16 <= out.len() {
            let cols = _mm512_add_ps(_mm512_set1_ps((col0 + k as i32) as f32), lanes);
            let t = _mm512_add_ps(vt0, _mm512_mul_ps(cols, vct));
            let fi = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvttps_epi32(t), zero), last);
            let f = _mm512_sub_ps(t, _mm512_cvtepi32_ps(fi));
            // SAFETY (caller): fi and fi + 1 index `p`; k + 16 ≤ out.len().
            unsafe {
                let a0 = _mm512_i32gather_ps::<4>(fi, p.as_ptr());
                let a1 = _mm512_i32gather_ps::<4>(fi, p.as_ptr().add(1));
                let o = out.as_mut_ptr().add(k);
                let v = _mm512_add_ps(a0, _mm512_mul_ps(f, _mm512_sub_ps(a1, a0)));
                _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), v));
            }
            k += 16;
        }
        k
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn interpolate_avx2(out: &mut [f32], p: &[f32], t0: f32, col0: i32, ct: f32) -> usize {
        let lanes = _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
        let (vt0, vct) = (_mm256_set1_ps(t0), _mm256_set1_ps(ct));
        let (zero, last) = (_mm256_setzero_si256(), _mm256_set1_epi32(p.len() as i32 - 2));
        let mut k = 0;
        while k + 8 <= out.len() {
            let cols = _mm256_add_ps(_mm256_set1_ps((col0 + k as i32) as f32), lanes);
            let t = _mm256_add_ps(vt0, _mm256_mul_ps(cols, vct));
            let fi = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvttps_epi32(t), zero), last);
            let f = _mm256_sub_ps(t, _mm256_cvtepi32_ps(fi));
            // SAFETY (caller): fi and fi + 1 index `p`; k + 8 ≤ out.len().
            unsafe {
                let a0 = _mm256_i32gather_ps::<4>(p.as_ptr(), fi);
                let a1 = _mm256_i32gather_ps::<4>(p.as_ptr().add(1), fi);
                let o = out.as_mut_ptr().add(k);
                let v = _mm256_add_ps(a0, _mm256_mul_ps(f, _mm256_sub_ps(a1, a0)));
                _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), v));
            }
            k += 8;
        }
        k
    }
}

/// FBP of one sinogram `(angle, n_det)` onto an `n x n` image.
///
/// ```
/// use chemomech_tomo::{fbp, project_slice, Geometry};
/// let mut img = ndarray::Array2::<f32>::zeros((64, 64));
/// img.slice_mut(ndarray::s![24..40, 20..44]).fill(2.0);
/// let g = Geometry::new((0..180).map(|k| k as f64).collect(), 96);
/// let rec = fbp::fbp_slice(project_slice(img.view(), &g).view(), &g, 64, fbp::Filter::Ramp).unwrap();
/// assert!((rec[[32, 32]] - 2.0).abs() < 0.05);
/// ```
pub fn fbp_slice(sino: ArrayView2<f32>, g: &Geometry, n: usize, filter: Filter) -> Result<Array2<f32>> {
    g.check_sinogram(sino.dim())?;
    let f = filter_sinogram(sino, filter);
    Ok(backproject(f.view(), g, n))
}

/// FBP of every slice of projections `(angle, rows, n_det)` → volume `(rows, n, n)`.
pub fn fbp_volume(proj: ArrayView3<f32>, g: &Geometry, n: usize, filter: Filter) -> Result<Array3<f32>> {
    g.check_projections(proj.dim())?;
    per_slice(proj, n, |sino| Ok(backproject(filter_sinogram(sino, filter).view(), g, n)))
}

/// `slice` of every detector row's sinogram of `proj` `(angle, rows, n_det)`
/// (in parallel), stacked into a volume `(rows, n, n)`.
pub(crate) fn per_slice(
    proj: ArrayView3<f32>,
    n: usize,
    slice: impl Fn(ArrayView2<f32>) -> Result<Array2<f32>> + Sync,
) -> Result<Array3<f32>> {
    let nr = proj.dim().1;
    let slices: Vec<Array2<f32>> =
        (0..nr).into_par_iter().map(|r| slice(proj.index_axis(Axis(1), r))).collect::<Result<_>>()?;
    let mut out = Array3::<f32>::zeros((nr, n, n));
    for (r, s) in slices.into_iter().enumerate() {
        out.index_axis_mut(Axis(0), r).assign(&s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ramp_dc_term_is_small_and_positive() {
        let r = filter_response(512, Filter::Ramp);
        // The band-limited ramp keeps a small DC term (≈ 1/(2·size)·…), not zero.
        assert!(r[0] > 0.0 && r[0] < 0.01, "{}", r[0]);
        assert!((r[256] - 0.5).abs() < 0.01, "Nyquist {}", r[256]);
        for f in [Filter::Shepp, Filter::Cosine, Filter::Hamming, Filter::Hann] {
            let x = filter_response(512, f);
            assert!(x[256] <= r[256] && (x[1] - r[1]).abs() < 1e-3);
        }
    }
    #[test]
    fn simd_interpolation_equals_the_scalar_loop_bit_for_bit() {
        let p: Vec<f32> = (0..300).map(|k| ((k * 37 % 101) as f32 - 50.0) * 0.37).collect();
        for &(t0, col0, ct) in &[(1.2, 0usize, 0.93), (250.7, 3, -0.71), (40.0, 5, 0.0), (2.5, 1, 0.999_999)] {
            let n = 101;
            let scalar = |t0: f32, col0: i32, ct: f32| -> Vec<f32> {
                (0..n)
                    .map(|k| {
                        let t = t0 + ((col0 + k as i32) as f32) * ct;
                        let fi = (t as i32).clamp(0, p.len() as i32 - 2) as usize;
                        let f = t - fi as f32;
                        1.0 + (p[fi] + f * (p[fi + 1] - p[fi]))
                    })
                    .collect()
            };
            let want = scalar(t0 as f32, col0 as i32, ct as f32);
            let mut got = vec![1.0f32; n];
            interpolate_inner(&mut got, &p, t0, col0, ct, Simd::detect());
            assert_eq!(got, want, "dispatched path at t0 {t0} ct {ct}");
            #[cfg(target_arch = "x86_64")]
            for (name, present) in
                [("avx512f", std::is_x86_feature_detected!("avx512f")), ("avx2", std::is_x86_feature_detected!("avx2"))]
            {
                if !present {
                    continue;
                }
                let mut v = vec![1.0f32; n];
                // SAFETY: the feature is present; 1 ≤ t ≤ 298 on these columns.
                let done = unsafe {
                    if name == "avx2" {
                        simd::interpolate_avx2(&mut v, &p, t0 as f32, col0 as i32, ct as f32)
                    } else {
                        simd::interpolate_avx512(&mut v, &p, t0 as f32, col0 as i32, ct as f32)
                    }
                };
                assert!(done > 0 && done <= n);
                assert_eq!(v[..done], want[..done], "{name} at t0 {t0} ct {ct}");
            }
        }
    }

    #[test]
    fn weights_for_180_and_360() {
        let a: Vec<f64> = (0..180).map(|k| k as f64).collect();
        assert!((angle_weight(&a) - std::f64::consts::PI / 180.0).abs() < 1e-12);
        let b: Vec<f64> = (0..360).map(|k| k as f64).collect();
        assert!((angle_weight(&b) - std::f64::consts::PI / 360.0).abs() < 1e-12);
    }
}
