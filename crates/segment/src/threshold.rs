//! Histogram thresholds: Otsu and multi-Otsu (exhaustive search of the
//! between-class variance on a 256-bin histogram, as scikit-image).

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
    let w = (hi - lo) as f64 / bins as f64;
    let mut c = vec![0.0; bins];
    for &v in values.iter().filter(|v| v.is_finite()) {
        let b = (((v - lo) as f64 / w) as usize).min(bins - 1);
        c[b] += 1.0;
    }
    let centres = (0..bins).map(|b| lo as f64 + (b as f64 + 0.5) * w).collect();
    Ok((c, centres))
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
