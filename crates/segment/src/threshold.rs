//! Histogram thresholds: Otsu and multi-Otsu (exhaustive search of the
//! between-class variance on a 256-bin histogram, as scikit-image), and
//! ISO-50 % edges between class medians.

use chemomech_core::{Error, Result};

/// A 256-bin histogram of the finite values: (counts, bin centres).
pub fn histogram(values: &[f32], bins: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for &v in values.iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !(lo < hi) {
        return Err(Error::data("cannot threshold: the volume has fewer than two distinct finite values"));
    }
    Ok((histogram_in(values, lo, hi, bins), bin_centres(lo, hi, bins)))
}

/// Counts of the finite values in `bins` equal bins over [`lo`, `hi`]
/// (the top value in the last bin; values outside the range are clamped
/// into the end bins). Histograms of parts of a volume with the whole
/// volume's range add up to the whole volume's histogram.
pub fn histogram_in(values: &[f32], lo: f32, hi: f32, bins: usize) -> Vec<f64> {
    let w = (hi - lo) as f64 / bins as f64;
    let mut c = vec![0.0; bins];
    for &v in values.iter().filter(|v| v.is_finite()) {
        // Casts saturate: values below `lo` land in bin 0.
        let b = (((v - lo) as f64 / w) as usize).min(bins - 1);
        c[b] += 1.0;
    }
    c
}

/// Centres of the bins of [`histogram_in`].
pub fn bin_centres(lo: f32, hi: f32, bins: usize) -> Vec<f64> {
    let w = (hi - lo) as f64 / bins as f64;
    (0..bins).map(|b| lo as f64 + (b as f64 + 0.5) * w).collect()
}

/// Otsu's threshold (values above it form the upper class).
pub fn otsu(values: &[f32]) -> Result<f64> {
    Ok(multi_otsu(values, 2)?[0])
}

/// Thresholds splitting the values into `classes` classes (2 or 3) by
/// maximal between-class variance.
///
/// ```
/// let v: Vec<f32> = (0..300).map(|i| (i / 100) as f32 * 10.0 + (i % 7) as f32 * 0.1).collect();
/// let t = chemomech_segment::multi_otsu(&v, 3).unwrap();
/// assert!(t[0] > 0.6 && t[0] < 10.0 && t[1] > 10.6 && t[1] < 20.0, "{t:?}");
/// ```
pub fn multi_otsu(values: &[f32], classes: usize) -> Result<Vec<f64>> {
    if !(2..=3).contains(&classes) {
        return Err(Error::param("multi-Otsu supports 2 or 3 classes"));
    }
    let (h, c) = histogram(values, 256)?;
    multi_otsu_histogram(&h, &c, classes)
}

/// [`multi_otsu`] of a histogram: counts `h` at bin centres `c` (at least
/// two bins); thresholds at the edges between bins.
pub fn multi_otsu_histogram(h: &[f64], c: &[f64], classes: usize) -> Result<Vec<f64>> {
    if !(2..=3).contains(&classes) {
        return Err(Error::param("multi-Otsu supports 2 or 3 classes"));
    }
    if h.len() != c.len() || h.len() < classes {
        return Err(Error::shape(format!("{} counts for {} bin centres ({classes} classes)", h.len(), c.len())));
    }
    let n = h.len();
    // Prefix sums of weights and first moments.
    let mut w = vec![0.0; n + 1];
    let mut m = vec![0.0; n + 1];
    for i in 0..n {
        w[i + 1] = w[i] + h[i];
        m[i + 1] = m[i] + h[i] * c[i];
    }
    let part = |a: usize, b: usize| -> f64 {
        let ww = w[b] - w[a];
        if ww <= 0.0 { 0.0 } else { (m[b] - m[a]).powi(2) / ww }
    };
    let edge = |k: usize| (c[k] + c[k + 1]) / 2.0;
    if classes == 2 {
        let (mut best, mut bk) = (f64::NEG_INFINITY, 0);
        for k in 1..n {
            let v = part(0, k) + part(k, n);
            if v > best {
                best = v;
                bk = k;
            }
        }
        return Ok(vec![edge(bk - 1)]);
    }
    let (mut best, mut bk) = (f64::NEG_INFINITY, (0, 0));
    for k1 in 1..n - 1 {
        for k2 in k1 + 1..n {
            let v = part(0, k1) + part(k1, k2) + part(k2, n);
            if v > best {
                best = v;
                bk = (k1, k2);
            }
        }
    }
    Ok(vec![edge(bk.0 - 1), edge(bk.1 - 1)])
}

/// ISO-50 % threshold between the lower and the upper population: starting
/// from Otsu's split, the threshold moves to the midpoint of the two
/// sides' medians until it settles (Ridler–Calvard iteration on medians).
///
/// On a blurred tomogram this is where an edge between the two phases
/// sits (half-way in grey level), unlike Otsu's and multi-Otsu's
/// variance splits, which follow the populations' sizes and put the
/// partial-volume rim of the bright phase in an intermediate class. Errors
/// when the values do not form two non-empty sides.
///
/// ```
/// // 70 % dark voxels near 0, 30 % bright near 100.
/// let v: Vec<f32> = (0..1000).map(|i| if i < 700 { (i % 11) as f32 } else { 95.0 + (i % 11) as f32 }).collect();
/// let t = chemomech_segment::iso50(&v).unwrap();
/// assert!((t - 52.5).abs() < 1.0, "{t}");
/// ```
pub fn iso50(values: &[f32]) -> Result<f64> {
    iso50_sorted(&sorted_finite(values))
}

fn sorted_finite(values: &[f32]) -> Vec<f32> {
    let mut v: Vec<f32> = values.iter().cloned().filter(|x| x.is_finite()).collect();
    v.sort_unstable_by(f32::total_cmp);
    v
}

/// [`iso50`] of finite values sorted ascending.
fn iso50_sorted(v: &[f32]) -> Result<f64> {
    let mut t = otsu(v)?;
    let median = |s: &[f32]| -> f64 {
        let n = s.len();
        if n % 2 == 1 { s[n / 2] as f64 } else { 0.5 * (s[n / 2 - 1] as f64 + s[n / 2] as f64) }
    };
    let tol = 1e-6 * (v[v.len() - 1] as f64 - v[0] as f64);
    for _ in 0..100 {
        let k = v.partition_point(|&x| (x as f64) <= t);
        if k == 0 || k == v.len() {
            return Err(Error::data("cannot place an ISO-50 % threshold: one side is empty"));
        }
        let next = 0.5 * (median(&v[..k]) + median(&v[k..]));
        let done = (next - t).abs() <= tol;
        t = next;
        if done {
            break;
        }
    }
    Ok(t)
}

/// Three-phase ISO-50 % thresholds `[t1, t2]`: `t2` splits the bright
/// (active) phase from the rest by [`iso50`], then `t1` splits the values
/// at or below `t2` into pore and carbon-binder the same way. Voxels above
/// `t2` are active, above `t1` carbon-binder, the rest pore.
///
/// ```
/// let v: Vec<f32> = (0..1000).map(|i| match i % 10 { 0..=4 => 0.0, 5 | 6 => 40.0, _ => 400.0 } + (i % 7) as f32).collect();
/// let t = chemomech_segment::iso50_3(&v).unwrap();
/// assert!(t[0] > 10.0 && t[0] < 35.0 && t[1] > 200.0 && t[1] < 240.0, "{t:?}");
/// ```
pub fn iso50_3(values: &[f32]) -> Result<[f64; 2]> {
    // One sort: the values at or below t2 are a prefix of the sorted ones.
    let v = sorted_finite(values);
    let t2 = iso50_sorted(&v)?;
    let t1 = iso50_sorted(&v[..v.partition_point(|&x| (x as f64) <= t2)])?;
    Ok([t1, t2])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blurred two-phase step: the ISO-50 threshold lands on the mean of
    /// the two plateaus whatever their proportions; Otsu's moves with them.
    #[test]
    fn iso50_is_the_half_way_level_of_a_blurred_edge() {
        for frac in [0.2, 0.5, 0.8] {
            let n = 20_000;
            let v: Vec<f32> = (0..n)
                .map(|i| {
                    let x = i as f64 / n as f64;
                    // Error-function-like ramp of width 0.05 around `frac`.
                    let s = 1.0 / (1.0 + (-(x - frac) / 0.01).exp());
                    (10.0 + 300.0 * s + 3.0 * ((i * 7919) % 13) as f64 / 13.0) as f32
                })
                .collect();
            let t = iso50(&v).unwrap();
            assert!((t - 161.5).abs() < 5.0, "fraction {frac}: {t}");
        }
        assert!(iso50(&[1.0, 1.0, 1.0]).is_err());
    }
}
