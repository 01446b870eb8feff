//! Statistical tests and estimators: bootstrap confidence intervals, the
//! two-sample Kolmogorov–Smirnov and Mann–Whitney tests, effect sizes, and
//! Spearman's rank correlation.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Mean of the finite values.
pub fn mean(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().cloned().filter(|x| x.is_finite()).collect();
    if f.is_empty() { f64::NAN } else { f.iter().sum::<f64>() / f.len() as f64 }
}

/// Percentile bootstrap 95 % confidence interval of `stat` over `v`
/// (`n` resamples, fixed seed, so results are reproducible); NaN for an
/// empty sample or no resamples.
pub fn bootstrap_ci(v: &[f64], stat: impl Fn(&[f64]) -> f64, n: usize, seed: u64) -> (f64, f64) {
    bootstrap_ci_with(v.len(), |i, _| v[i], stat, n, seed)
}

/// Percentile bootstrap 95 % confidence interval of `stat` over `len`
/// items whose resampled values come from `value`.
///
/// Parameters
/// ----------
/// len : number of items resampled (with replacement, `len` per resample).
/// value : `value(i, noise)` is the value of item `i` in a resample; `noise`
///     is a generator of its own (seeded from `seed`, separate stream) for
///     perturbing the value, e.g. by its measurement uncertainty.
/// stat : the statistic of a resample.
/// n : number of resamples.
/// seed : seed of both generators.
///
/// Returns
/// -------
/// (2.5th, 97.5th) percentiles of the resampled statistic, NaN for `len`
/// or `n` zero. The items drawn are those of [`bootstrap_ci`] with the same
/// seed, so a `value` that ignores `noise` gives its interval exactly.
pub fn bootstrap_ci_with(
    len: usize,
    mut value: impl FnMut(usize, &mut ChaCha8Rng) -> f64,
    stat: impl Fn(&[f64]) -> f64,
    n: usize,
    seed: u64,
) -> (f64, f64) {
    if len == 0 || n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut g = ChaCha8Rng::seed_from_u64(seed);
    let mut noise = ChaCha8Rng::seed_from_u64(seed);
    noise.set_stream(1);
    let mut s = Vec::with_capacity(n);
    let mut buf = vec![0.0; len];
    for _ in 0..n {
        for b in buf.iter_mut() {
            let i = g.random_range(0..len);
            *b = value(i, &mut noise);
        }
        s.push(stat(&buf));
    }
    s.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| s[((p * (n - 1) as f64).round() as usize).min(n - 1)];
    (q(0.025), q(0.975))
}

/// Two-sample Kolmogorov–Smirnov test: (D statistic, asymptotic p-value).
pub fn ks_2samp(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mut x: Vec<f64> = a.iter().cloned().filter(|v| v.is_finite()).collect();
    let mut y: Vec<f64> = b.iter().cloned().filter(|v| v.is_finite()).collect();
    if x.is_empty() || y.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    x.sort_by(|p, q| p.total_cmp(q));
    y.sort_by(|p, q| p.total_cmp(q));
    let (n, m) = (x.len() as f64, y.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < x.len() && j < y.len() {
        let v = x[i].min(y[j]);
        while i < x.len() && x[i] <= v {
            i += 1;
        }
        while j < y.len() && y[j] <= v {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    let en = (n * m / (n + m)).sqrt();
    (d, kolmogorov_q((en + 0.12 + 0.11 / en) * d))
}

/// Survival function of the Kolmogorov distribution.
fn kolmogorov_q(l: f64) -> f64 {
    if l < 1e-3 {
        return 1.0;
    }
    let mut s = 0.0;
    for k in 1..=100 {
        let t = 2.0 * (-1f64).powi(k - 1) * (-2.0 * (k as f64 * l).powi(2)).exp();
        s += t;
        if t.abs() < 1e-12 {
            break;
        }
    }
    s.clamp(0.0, 1.0)
}

/// Ranks (average ranks for ties), 1-based.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            r[idx[k]] = avg;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    sab / (saa * sbb).sqrt()
}

/// Spearman's rank correlation.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

/// Mann–Whitney U test: (U of `a`, two-sided p-value of the normal
/// approximation with the tie correction, without continuity correction:
/// SciPy's `mannwhitneyu(a, b, use_continuity=False, method="asymptotic")`).
///
/// Ties matter here: crack fractions of intact particles are all zero.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> (f64, f64) {
    let all: Vec<f64> = a.iter().chain(b).cloned().collect();
    let r = ranks(&all);
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if n1 == 0.0 || n2 == 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let r1: f64 = r[..a.len()].iter().sum();
    let u = r1 - n1 * (n1 + 1.0) / 2.0;
    let mu = n1 * n2 / 2.0;
    let n = n1 + n2;
    let ties = tie_sum(&all);
    let sd = (n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)))).sqrt();
    let z = (u - mu).abs() / sd.max(1e-300);
    (u, (2.0 * normal_sf(z)).min(1.0))
}

/// Σ (t³ − t) over the groups of `t` equal values (the tie correction of rank tests).
fn tie_sum(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s.chunk_by(|a, b| a == b).map(|g| (g.len() as f64).powi(3) - g.len() as f64).sum()
}

/// Upper tail of the standard normal distribution.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function (libm, the musl/FreeBSD implementation: within an ulp).
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// Cohen's d (pooled standard deviation).
pub fn cohens_d(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let va = a.iter().map(|x| (x - ma).powi(2)).sum::<f64>() / (a.len() as f64 - 1.0);
    let vb = b.iter().map(|x| (x - mb).powi(2)).sum::<f64>() / (b.len() as f64 - 1.0);
    let sp =
        (((a.len() as f64 - 1.0) * va + (b.len() as f64 - 1.0) * vb) / (a.len() as f64 + b.len() as f64 - 2.0)).sqrt();
    (ma - mb) / sp
}

/// Cliff's delta (P(a > b) − P(a < b)).
pub fn cliffs_delta(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for x in a {
        for y in b {
            s += if x > y {
                1.0
            } else if x < y {
                -1.0
            } else {
                0.0
            };
        }
    }
    s / (a.len() * b.len()).max(1) as f64
}

#[cfg(test)]
mod unit {
    use super::*;
    #[test]
    fn reference_values() {
        // scipy.stats.ks_2samp([1..10], [5.5..14.5]): D = 0.5.
        let a: Vec<f64> = (1..=10).map(|v| v as f64).collect();
        let b: Vec<f64> = (0..10).map(|v| v as f64 + 5.5).collect();
        assert!((ks_2samp(&a, &b).0 - 0.5).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]) - 0.8).abs() < 1e-12);
        assert!((erfc(0.5) - 0.4795001221869535).abs() < 1e-15, "{}", erfc(0.5));
        // scipy 1.17.1 mannwhitneyu(a, b, use_continuity=False, method="asymptotic"):
        // U = 15 (15 pairs with a > b), p = 0.008150971593502691.
        let (u, p) = mann_whitney(&a, &b);
        assert_eq!(u, 15.0);
        assert!((p - 0.008150971593502691).abs() < 1e-12, "{p}");
        // With ties (crack fractions, zeros among them), same call: U = 28.5, p = 0.05823160719215171.
        let c = [0.0, 0.0, 0.0, 0.0, 0.01, 0.02, 0.02, 0.05, 0.10, 0.20];
        let d = [0.0, 0.0, 0.02, 0.05, 0.05, 0.08, 0.12, 0.20, 0.30, 0.30, 0.41];
        let (u, p) = mann_whitney(&c, &d);
        assert_eq!(u, 28.5);
        assert!((p - 0.05823160719215171).abs() < 1e-12, "{p}");
        let (lo, hi) = bootstrap_ci(&a, mean, 2000, 1);
        assert!(lo < 5.5 && hi > 5.5 && hi - lo < 4.0);
    }
}
