//! From counts to line integrals: flat/dark normalisation (mean or median
//! flats; flats before and after the scan interpolated by position), a
//! guarded −log that reports and repairs non-positive and non-finite
//! values, zinger removal, and ring (stripe) removal — Vo et al. 2018
//! sorting/filtering and large-stripe algorithms, and the Münch et al. 2009
//! Fourier–wavelet filter. Functions work on sinograms or projection stacks
//! and never do I/O.

use chemomech_core::{Error, Result};
use ndarray::{Array1, Array2, Array3, ArrayView3, ArrayViewMut2, Axis, Zip};
use rayon::prelude::*;
use realfft::RealFftPlanner;

/// How several flat (or dark) frames are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Combine {
    /// Pixel-wise mean.
    #[default]
    Mean,
    /// Pixel-wise median.
    Median,
}

fn combine(frames: &[ndarray::ArrayView2<f32>], how: Combine) -> Array2<f32> {
    let (h, w) = frames[0].dim();
    let mut out = Array2::<f32>::zeros((h, w));
    Zip::indexed(&mut out).par_for_each(|(r, c), o| {
        let mut v: Vec<f32> = frames.iter().map(|f| f[[r, c]]).collect();
        *o = match how {
            Combine::Mean => v.iter().sum::<f32>() / v.len() as f32,
            Combine::Median => {
                v.sort_by(|a, b| a.total_cmp(b));
                let m = v.len() / 2;
                if v.len() % 2 == 1 { v[m] } else { 0.5 * (v[m - 1] + v[m]) }
            }
        };
    });
    out
}

/// What normalisation saw and did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct NormalizeReport {
    /// Distinct flat groups (2 = before and after the scan, interpolated).
    pub flat_groups: usize,
    /// Pixels where flat − dark ≤ 0 (dead pixels), set to transmission 1.
    pub dead_pixels: usize,
}

/// Transmission `(I − D̄)/(F − D̄)` per projection, `F` interpolated between
/// flat groups by projection index when `flat_positions` are given.
pub fn normalize(
    data: ArrayView3<f32>,
    flats: Option<ArrayView3<f32>>,
    darks: Option<ArrayView3<f32>>,
    flat_positions: Option<&[f64]>,
    how: Combine,
) -> Result<(Array3<f32>, NormalizeReport)> {
    let (na, nr, nc) = data.dim();
    let dark = match darks {
        Some(d) if d.shape()[0] > 0 => combine(&d.axis_iter(Axis(0)).collect::<Vec<_>>(), how),
        _ => Array2::zeros((nr, nc)),
    };
    let Some(flats) = flats else {
        return Err(Error::data("no flat fields: cannot normalise (give flats, or already-normalised data)"));
    };
    // Group flats by position (all one group when positions are unknown).
    let nf = flats.shape()[0];
    let pos: Vec<f64> = flat_positions.map(|p| p.to_vec()).unwrap_or_else(|| vec![0.0; nf]);
    let mut keys: Vec<f64> = pos.clone();
    keys.sort_by(|a, b| a.total_cmp(b));
    keys.dedup();
    let groups: Vec<(f64, Array2<f32>)> = keys
        .iter()
        .map(|&k| {
            let frames: Vec<_> = (0..nf).filter(|&i| pos[i] == k).map(|i| flats.index_axis(Axis(0), i)).collect();
            let mut f = combine(&frames, how);
            f -= &dark;
            (k, f)
        })
        .collect();
    let mut dead = 0usize;
    for (_, f) in &groups {
        dead += f.iter().filter(|v| !(**v > 0.0)).count();
    }
    let mut out = Array3::<f32>::zeros((na, nr, nc));
    out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(a, mut o)| {
        // Linear interpolation between the groups around projection a.
        let x = a as f64;
        let (g0, g1, t) = match groups.iter().position(|(p, _)| *p > x) {
            Some(0) => (0, 0, 0.0),
            Some(i) => (i - 1, i, ((x - groups[i - 1].0) / (groups[i].0 - groups[i - 1].0)) as f32),
            None => (groups.len() - 1, groups.len() - 1, 0.0),
        };
        let (f0, f1) = (&groups[g0].1, &groups[g1].1);
        let d = data.index_axis(Axis(0), a);
        Zip::from(&mut o).and(&d).and(f0).and(f1).and(&dark).for_each(|o, &i, &a0, &a1, &dk| {
            let f = a0 + t * (a1 - a0);
            *o = if f > 0.0 { (i - dk) / f } else { 1.0 };
        });
    });
    Ok((out, NormalizeReport { flat_groups: groups.len(), dead_pixels: dead }))
}

/// What the guarded logarithm found.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LogReport {
    /// Non-positive transmission values found.
    pub non_positive: usize,
    /// Non-finite (NaN or infinite) transmission values found.
    pub non_finite: usize,
    /// Values repaired by interpolation from valid neighbours along the row.
    pub repaired: usize,
}

/// −ln of transmission in place. Non-positive and non-finite values are
/// counted and replaced by linear interpolation between the nearest valid
/// values of the same detector row; a projection with no valid value is an
/// error (it cannot be repaired honestly).
pub fn minus_log(t: &mut Array3<f32>) -> Result<LogReport> {
    let (_na, nr, _nc) = t.dim();
    let reports: Vec<Result<LogReport>> = t
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .map(|(a, mut frame)| {
            let mut rep = LogReport::default();
            let mut valid_any = false;
            for r in 0..nr {
                let mut row = frame.row_mut(r);
                for v in row.iter() {
                    if !v.is_finite() {
                        rep.non_finite += 1;
                    } else if *v <= 0.0 {
                        rep.non_positive += 1;
                    }
                }
                rep.repaired += repair_row(row.as_slice_mut().expect("row-major"), |v| v.is_finite() && v > 0.0);
                if row.iter().all(|v| v.is_finite() && *v > 0.0) {
                    valid_any = true;
                }
            }
            if !valid_any {
                return Err(Error::data(format!("projection {a} has no valid (positive, finite) transmission value")));
            }
            frame.mapv_inplace(|v| -v.ln());
            Ok(rep)
        })
        .collect();
    let mut total = LogReport::default();
    for r in reports {
        let r = r?;
        total.non_positive += r.non_positive;
        total.non_finite += r.non_finite;
        total.repaired += r.repaired;
    }
    Ok(total)
}

/// Replaces invalid entries by linear interpolation between valid
/// neighbours (nearest value at the ends). Returns how many were replaced;
/// leaves an all-invalid row untouched.
fn repair_row(row: &mut [f32], ok: impl Fn(f32) -> bool) -> usize {
    let n = row.len();
    let valid: Vec<usize> = (0..n).filter(|&i| ok(row[i])).collect();
    if valid.is_empty() || valid.len() == n {
        return 0;
    }
    let mut fixed = 0;
    let mut vi = 0;
    for i in 0..n {
        if ok(row[i]) {
            continue;
        }
        while vi + 1 < valid.len() && valid[vi + 1] < i {
            vi += 1;
        }
        let left = if valid[vi] < i { Some(valid[vi]) } else { None };
        let right = valid.iter().find(|&&j| j > i).copied();
        row[i] = match (left, right) {
            (Some(l), Some(r)) => row[l] + (row[r] - row[l]) * (i - l) as f32 / (r - l) as f32,
            (Some(l), None) => row[l],
            (None, Some(r)) => row[r],
            (None, None) => row[i],
        };
        fixed += 1;
    }
    fixed
}

/// Zinger removal (as TomoPy's `remove_outlier`): a pixel further than `dif`
/// above the median of its 3×3 neighbourhood in the same projection is
/// replaced by that median. Returns the number replaced.
pub fn remove_outliers(proj: &mut Array3<f32>, dif: f32) -> usize {
    proj.axis_iter_mut(Axis(0))
        .into_par_iter()
        .map(|mut frame| {
            let src = frame.to_owned();
            let (h, w) = src.dim();
            let mut n = 0;
            let mut buf = [0f32; 9];
            for r in 0..h {
                for c in 0..w {
                    let mut k = 0;
                    for dr in -1isize..=1 {
                        for dc in -1isize..=1 {
                            let rr = (r as isize + dr).clamp(0, h as isize - 1) as usize;
                            let cc = (c as isize + dc).clamp(0, w as isize - 1) as usize;
                            buf[k] = src[[rr, cc]];
                            k += 1;
                        }
                    }
                    buf.sort_by(|a, b| a.total_cmp(b));
                    if src[[r, c]] - buf[4] > dif {
                        frame[[r, c]] = buf[4];
                        n += 1;
                    }
                }
            }
            n
        })
        .sum()
}

fn median_1d(v: &[f32], size: usize) -> Vec<f32> {
    let n = v.len();
    let h = size / 2;
    let mut out = vec![0f32; n];
    let mut win: Vec<f32> = Vec::with_capacity(size);
    for i in 0..n {
        win.clear();
        for k in 0..size {
            // Reflect at the ends (scipy's 'reflect').
            let j = i as isize + k as isize - h as isize;
            let j = if j < 0 {
                -j - 1
            } else if j >= n as isize {
                2 * n as isize - j - 1
            } else {
                j
            };
            win.push(v[j.clamp(0, n as isize - 1) as usize]);
        }
        win.sort_by(|a, b| a.total_cmp(b));
        out[i] = win[win.len() / 2];
    }
    out
}

/// Vo et al. 2018 (algorithm 3): sort each detector column of the sinogram
/// over the angles, median-filter the sorted image across the detector
/// (window `size`), and undo the sort. Removes partial and full stripes
/// (ring artefacts) without touching the structure.
pub fn remove_stripe_sorting(mut sino: ArrayViewMut2<f32>, size: usize) {
    let (na, nc) = sino.dim();
    if na < 2 || nc < 3 {
        return;
    }
    let size = size.max(3) | 1;
    let mut idx = Array2::<usize>::zeros((na, nc));
    let mut sorted = Array2::<f32>::zeros((na, nc));
    for c in 0..nc {
        let mut order: Vec<usize> = (0..na).collect();
        order.sort_by(|&a, &b| sino[[a, c]].total_cmp(&sino[[b, c]]));
        for (i, &o) in order.iter().enumerate() {
            idx[[i, c]] = o;
            sorted[[i, c]] = sino[[o, c]];
        }
    }
    for i in 0..na {
        let row: Vec<f32> = sorted.row(i).to_vec();
        let f = median_1d(&row, size);
        for c in 0..nc {
            sino[[idx[[i, c]], c]] = f[c];
        }
    }
}

/// Stripe detection of Vo et al. 2018: outliers of a normalised profile
/// against a line fitted to its sorted middle half.
fn detect_stripes(v: &[f32], snr: f32) -> Vec<bool> {
    let n = v.len();
    let mut s: Vec<f32> = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let nd = n / 4;
    let xs: Vec<f64> = (nd..n - nd).map(|i| i as f64).collect();
    let ys: Vec<f64> = (nd..n - nd).map(|i| s[i] as f64).collect();
    let m = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / m, ys.iter().sum::<f64>() / m);
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let fit = |x: f64| my + slope * (x - mx);
    let (lo, hi) = (fit(0.0), fit((n - 1) as f64));
    let noise = (hi - lo).abs().max(1e-6);
    let mut mask = vec![false; n];
    if ((s[n - 1] as f64 - hi).abs() / noise) >= snr as f64 {
        let t = hi + noise * snr as f64 * 0.5;
        for (m, &x) in mask.iter_mut().zip(v) {
            *m |= x as f64 > t;
        }
    }
    if ((s[0] as f64 - lo).abs() / noise) >= snr as f64 {
        let t = lo - noise * snr as f64 * 0.5;
        for (m, &x) in mask.iter_mut().zip(v) {
            *m |= x as f64 <= t;
        }
    }
    mask
}

/// Vo et al. 2018 (algorithm 5): large stripes. Columns whose trimmed mean
/// over the sorted angles departs from its median-smoothed neighbourhood by
/// more than `snr` noise levels are replaced by the sort–filter result; all
/// columns are normalised by that ratio.
pub fn remove_large_stripe(mut sino: ArrayViewMut2<f32>, snr: f32, size: usize) {
    let (na, nc) = sino.dim();
    if na < 4 || nc < 3 {
        return;
    }
    let drop = (0.1 * na as f64 / 2.0) as usize;
    let mut sorted = sino.to_owned();
    for mut col in sorted.axis_iter_mut(Axis(1)) {
        let mut v = col.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        col.assign(&Array1::from(v));
    }
    let l1: Vec<f32> = (0..nc)
        .map(|c| sorted.column(c).iter().skip(drop).take(na - 2 * drop).sum::<f32>() / (na - 2 * drop) as f32)
        .collect();
    let l2 = median_1d(&l1, size.max(3) | 1);
    let fact: Vec<f32> = l1.iter().zip(&l2).map(|(a, b)| if *b != 0.0 { a / b } else { 1.0 }).collect();
    let mut mask = detect_stripes(&fact, snr);
    let m0 = mask.clone();
    for c in 0..nc {
        if m0[c] {
            if c > 0 {
                mask[c - 1] = true;
            }
            if c + 1 < nc {
                mask[c + 1] = true;
            }
        }
    }
    for c in 0..nc {
        if fact[c] != 0.0 {
            sino.column_mut(c).mapv_inplace(|v| v / fact[c]);
        }
    }
    let mut filtered = sino.to_owned();
    remove_stripe_sorting(filtered.view_mut(), size);
    for c in 0..nc {
        if mask[c] {
            sino.column_mut(c).assign(&filtered.column(c));
        }
    }
}

/// Daubechies-5 scaling filter (PyWavelets 1.8 `db5`, reconstruction low-pass).
const DB5: [f64; 10] = [
    0.16010239797419293,
    0.6038292697971896,
    0.7243085284377729,
    0.13842814590132074,
    -0.24229488706638203,
    -0.032244869584638375,
    0.07757149384004572,
    -0.006241490212798274,
    -0.012580751999081999,
    0.0033357252854737712,
];

/// One level of the periodic orthogonal DWT along a line.
fn dwt1(x: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = x.len();
    let l = DB5.len();
    let g: Vec<f64> = (0..l).map(|k| if k % 2 == 0 { 1.0 } else { -1.0 } * DB5[l - 1 - k]).collect();
    let mut a = vec![0.0; n / 2];
    let mut d = vec![0.0; n / 2];
    for k in 0..n / 2 {
        for m in 0..l {
            let v = x[(2 * k + m) % n];
            a[k] += DB5[m] * v;
            d[k] += g[m] * v;
        }
    }
    (a, d)
}

fn idwt1(a: &[f64], d: &[f64]) -> Vec<f64> {
    let n = 2 * a.len();
    let l = DB5.len();
    let g: Vec<f64> = (0..l).map(|k| if k % 2 == 0 { 1.0 } else { -1.0 } * DB5[l - 1 - k]).collect();
    let mut x = vec![0.0; n];
    for k in 0..a.len() {
        for m in 0..l {
            let i = (2 * k + m) % n;
            x[i] += DB5[m] * a[k] + g[m] * d[k];
        }
    }
    x
}

fn dwt_axis(m: &Array2<f64>, axis: usize) -> (Array2<f64>, Array2<f64>) {
    let (h, w) = m.dim();
    let (sh, sw) = if axis == 0 { (h / 2, w) } else { (h, w / 2) };
    let mut a = Array2::zeros((sh, sw));
    let mut d = Array2::zeros((sh, sw));
    for (i, line) in m.axis_iter(Axis(1 - axis)).enumerate() {
        let (la, ld) = dwt1(&line.to_vec());
        a.index_axis_mut(Axis(1 - axis), i).assign(&Array1::from(la));
        d.index_axis_mut(Axis(1 - axis), i).assign(&Array1::from(ld));
    }
    (a, d)
}

fn idwt_axis(a: &Array2<f64>, d: &Array2<f64>, axis: usize) -> Array2<f64> {
    let (h, w) = a.dim();
    let (oh, ow) = if axis == 0 { (2 * h, w) } else { (h, 2 * w) };
    let mut out = Array2::zeros((oh, ow));
    for i in 0..a.len_of(Axis(1 - axis)) {
        let x = idwt1(&a.index_axis(Axis(1 - axis), i).to_vec(), &d.index_axis(Axis(1 - axis), i).to_vec());
        out.index_axis_mut(Axis(1 - axis), i).assign(&Array1::from(x));
    }
    out
}

/// Münch et al. 2009 combined wavelet–Fourier ring removal: decompose the
/// sinogram (db5, `level` levels), damp the components that are constant
/// along the angles in each band that is high-pass across the detector
/// (Gaussian damping of width `sigma` in angular frequency), reconstruct.
pub fn remove_stripe_fw(mut sino: ArrayViewMut2<f32>, level: usize, sigma: f64) {
    let (na, nc) = sino.dim();
    let level = level.clamp(1, 10);
    let block = 1usize << level;
    // Pad (edge replication) to multiples of 2^level, then work in f64.
    let (ph, pw) = (na.div_ceil(block) * block, nc.div_ceil(block) * block);
    let mut a = Array2::<f64>::from_shape_fn((ph, pw), |(r, c)| sino[[r.min(na - 1), c.min(nc - 1)]] as f64);
    let mut bands = Vec::new();
    for _ in 0..level {
        // Along the detector (axis 1): low/high; then along angles (axis 0).
        let (lo, hi) = dwt_axis(&a, 1);
        let (ll, lh) = dwt_axis(&lo, 0);
        let (hl, hh) = dwt_axis(&hi, 0);
        // hl: high-pass across the detector, low-pass along angles — the stripes.
        let mut hl = hl;
        damp_along_angles(&mut hl, sigma);
        bands.push((lh, hl, hh));
        a = ll;
    }
    for (lh, hl, hh) in bands.into_iter().rev() {
        let lo = idwt_axis(&a, &lh, 0);
        let hi = idwt_axis(&hl, &hh, 0);
        a = idwt_axis(&lo, &hi, 1);
    }
    for r in 0..na {
        for c in 0..nc {
            sino[[r, c]] = a[[r, c]] as f32;
        }
    }
}

fn damp_along_angles(band: &mut Array2<f64>, sigma: f64) {
    let (h, w) = band.dim();
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(h);
    let inv = planner.plan_fft_inverse(h);
    let mut buf = fwd.make_input_vec();
    let mut spec = fwd.make_output_vec();
    for c in 0..w {
        for r in 0..h {
            buf[r] = band[[r, c]];
        }
        fwd.process(&mut buf, &mut spec).expect("sizes");
        for (k, s) in spec.iter_mut().enumerate() {
            *s *= 1.0 - (-(k as f64).powi(2) / (2.0 * sigma * sigma)).exp();
        }
        inv.process(&mut spec, &mut buf).expect("sizes");
        for r in 0..h {
            band[[r, c]] = buf[r] / h as f64;
        }
    }
}

/// Which ring removal to apply to every sinogram.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Rings {
    /// No ring removal.
    None,
    /// Vo et al.: sorting-based filter (window) then large-stripe removal (snr, window).
    Vo {
        /// Sorting-filter window across the detector (pixels).
        size: usize,
        /// Large-stripe threshold, in noise levels.
        snr: f32,
        /// Large-stripe median-smoothing window across the detector (pixels).
        large_size: usize,
    },
    /// Münch et al.: Fourier–wavelet (levels, σ).
    FourierWavelet {
        /// Wavelet (db5) decomposition levels.
        level: usize,
        /// Width σ of the Gaussian damping in angular frequency.
        sigma: f64,
    },
}

impl Rings {
    /// Vo et al.'s filters with their usual sizes: a 21-pixel sorting
    /// window, then large stripes above SNR 3 in a 51-pixel window.
    pub fn vo() -> Self {
        Rings::Vo { size: 21, snr: 3.0, large_size: 51 }
    }
    /// Münch et al.'s Fourier–wavelet filter: 5 levels, σ = 2.
    pub fn fourier_wavelet() -> Self {
        Rings::FourierWavelet { level: 5, sigma: 2.0 }
    }
}

/// Applies ring removal to all sinograms of line integrals `(angle, rows, cols)`.
pub fn remove_rings(proj: &mut Array3<f32>, rings: Rings) {
    if rings == Rings::None {
        return;
    }
    let nr = proj.shape()[1];
    let done: Vec<Array2<f32>> = (0..nr)
        .into_par_iter()
        .map(|r| {
            let mut s = proj.index_axis(Axis(1), r).to_owned();
            match rings {
                Rings::Vo { size, snr, large_size } => {
                    remove_stripe_sorting(s.view_mut(), size);
                    remove_large_stripe(s.view_mut(), snr, large_size);
                }
                Rings::FourierWavelet { level, sigma } => remove_stripe_fw(s.view_mut(), level, sigma),
                Rings::None => {}
            }
            s
        })
        .collect();
    for (r, s) in done.into_iter().enumerate() {
        proj.index_axis_mut(Axis(1), r).assign(&s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn normalises_with_interpolated_flats() {
        let data = Array3::from_elem((5, 2, 3), 510.0f32);
        let mut flats = Array3::from_elem((2, 2, 3), 1010.0f32);
        flats.index_axis_mut(Axis(0), 1).fill(2010.0);
        let darks = Array3::from_elem((1, 2, 3), 10.0f32);
        let (t, rep) =
            normalize(data.view(), Some(flats.view()), Some(darks.view()), Some(&[0.0, 4.0]), Combine::Mean).unwrap();
        assert_eq!(rep.flat_groups, 2);
        assert!((t[[0, 0, 0]] - 0.5).abs() < 1e-6);
        assert!((t[[2, 0, 0]] - 500.0 / 1500.0).abs() < 1e-6);
        assert!((t[[4, 1, 2]] - 0.25).abs() < 1e-6);
        assert!(normalize(data.view(), None, None, None, Combine::Mean).is_err());
    }

    #[test]
    fn minus_log_repairs_and_reports() {
        let mut t = Array3::from_elem((2, 1, 5), 0.5f32);
        t[[0, 0, 2]] = -1.0;
        t[[0, 0, 3]] = f32::NAN;
        t[[1, 0, 0]] = 0.0;
        let r = minus_log(&mut t).unwrap();
        assert_eq!((r.non_positive, r.non_finite, r.repaired), (2, 1, 3));
        assert!(t.iter().all(|v| (v - 0.5f32.ln().abs()).abs() < 1e-6));
        let mut bad = Array3::from_elem((2, 1, 3), f32::NAN);
        bad[[1, 0, 0]] = 0.5;
        assert!(minus_log(&mut bad).unwrap_err().to_string().contains("projection 0"));
    }

    #[test]
    fn removes_zingers() {
        let mut p = Array3::from_elem((1, 5, 5), 1.0f32);
        p[[0, 2, 2]] = 9.0;
        assert_eq!(remove_outliers(&mut p, 0.5), 1);
        assert_eq!(p[[0, 2, 2]], 1.0);
    }

    /// A sinogram of two smooth objects off the axis, plus three stripes.
    fn striped() -> (Array2<f32>, Array2<f32>, Vec<usize>) {
        let clean = Array2::from_shape_fn((360, 256), |(a, c)| {
            let th = a as f32 * std::f32::consts::PI / 360.0;
            let t1 = (c as f32 - 128.0) - 40.0 * th.cos();
            let t2 = (c as f32 - 128.0) + 25.0 * (th + 0.6).sin();
            (-(t1 * t1) / 3200.0).exp() + 0.6 * (-(t2 * t2) / 1800.0).exp()
        });
        let mut s = clean.clone();
        let cols = vec![60usize, 130, 131, 200];
        for (&c, v) in cols.iter().zip([0.03f32, -0.05, 0.02, 0.04]) {
            s.column_mut(c).mapv_inplace(|x| x + v);
        }
        (clean, s, cols)
    }

    /// (mean-over-angles error on the stripe columns, worst such error elsewhere)
    fn stripe_errors(s: &Array2<f32>, clean: &Array2<f32>, cols: &[usize]) -> (f32, f32) {
        let err: Vec<f32> =
            (0..s.ncols()).map(|c| ((s.column(c).to_owned() - clean.column(c)).mean().unwrap()).abs()).collect();
        let on: f32 = cols.iter().map(|&c| err[c]).sum();
        let off =
            (0..s.ncols()).filter(|c| !cols.iter().any(|k| k.abs_diff(*c) <= 1)).map(|c| err[c]).fold(0.0, f32::max);
        (on, off)
    }

    #[test]
    fn stripe_filters_remove_stripes_and_keep_structure() {
        let (clean, s, cols) = striped();
        let (before, _) = stripe_errors(&s, &clean, &cols);
        let mut a = s.clone();
        remove_stripe_sorting(a.view_mut(), 11);
        let (on, off) = stripe_errors(&a, &clean, &cols);
        // Measured: stripes 0.040 of 0.140 left; structure changed by ≤ 0.0085.
        assert!(on < 0.35 * before && off < 0.01, "sorting: stripes {on} of {before}, elsewhere {off}");
        let mut b = s.clone();
        remove_large_stripe(b.view_mut(), 3.0, 21);
        let (on, off) = stripe_errors(&b, &clean, &cols);
        assert!(on < 0.3 * before && off < 0.015, "large stripe: stripes {on} of {before}, elsewhere {off}");
        let mut c = s.clone();
        remove_stripe_sorting(c.view_mut(), 11);
        remove_large_stripe(c.view_mut(), 3.0, 21);
        let (on, off) = stripe_errors(&c, &clean, &cols);
        assert!(on < 0.35 * before && off < 0.015, "both: stripes {on} of {before}, elsewhere {off}");
        let mut f = s.clone();
        remove_stripe_fw(f.view_mut(), 5, 2.0);
        let (on, off) = stripe_errors(&f, &clean, &cols);
        assert!(on < 0.4 * before && off < 0.025, "fw: stripes {on} of {before}, elsewhere {off}");
    }

    #[test]
    fn wavelet_is_perfectly_invertible() {
        let x: Vec<f64> = (0..32).map(|i| (i as f64 * 0.7).sin() + i as f64 * 0.01).collect();
        let (a, d) = dwt1(&x);
        let y = idwt1(&a, &d);
        for (p, q) in x.iter().zip(&y) {
            assert!((p - q).abs() < 1e-10);
        }
    }
}
