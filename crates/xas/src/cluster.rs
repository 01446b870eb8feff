//! Principal component analysis of spectra (eigenvalues, explained
//! variance, Malinowski's indicator function IND and the component count
//! it suggests) and k-means clustering with k chosen by the silhouette.
//!
//! Both are written here rather than taken from smartcore because they must
//! run on millions of pixel spectra with bounded memory, in a fixed
//! summation order (same result whatever the thread count), from a seed.

use crate::linalg::sym_eigen;
use chemomech_core::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

/// Silhouette gain below which more clusters are not worth it.
pub const SILHOUETTE_TOLERANCE: f64 = 0.02;

/// Fixed chunk size for deterministic parallel reductions.
const CHUNK: usize = 4096;

/// A principal component analysis of `n` spectra of `m` points.
#[derive(Debug, Clone, Serialize)]
pub struct Pca {
    /// Mean spectrum (one value per point), subtracted before projecting on the components.
    pub mean: Vec<f64>,
    /// Eigenvalues of the covariance, decreasing.
    pub eigenvalues: Vec<f64>,
    /// Components (rows), unit length, in the order of `eigenvalues`.
    pub components: Vec<Vec<f64>>,
    /// Fraction of the total variance explained by each component, in the order of `eigenvalues`.
    pub explained_variance_ratio: Vec<f64>,
    /// Malinowski's indicator function IND(k), k = 1 … m−1.
    pub ind: Vec<f64>,
    /// The k minimising IND: the number of significant components.
    pub suggested_components: usize,
    /// Number of spectra analysed.
    pub n_spectra: usize,
}

impl Pca {
    /// Scores of one spectrum on the first `k` components.
    pub fn scores(&self, y: &[f64], k: usize) -> Vec<f64> {
        self.components[..k]
            .iter()
            .map(|c| c.iter().zip(y).zip(&self.mean).map(|((a, b), m)| a * (b - m)).sum())
            .collect()
    }
}

/// PCA of the spectra in `rows` (each of length `m`, all finite).
///
/// ```
/// // Mixtures of two spectra: two significant components (one after centring).
/// let a: Vec<f64> = (0..20).map(|i| (i as f64 / 3.0).sin()).collect();
/// let b: Vec<f64> = (0..20).map(|i| (i as f64 / 5.0).cos()).collect();
/// let noise = |k: usize, i: usize| { // hash → uniform noise of ±5e-5
///     let mut h = (k * 1000 + i) as u64 ^ 0x9E37_79B9_7F4A_7C15;
///     h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
///     h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
///     1e-4 * ((h >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
/// };
/// let rows: Vec<Vec<f64>> = (0..50).map(|k| { let t = k as f64 / 49.0; a.iter().zip(&b).enumerate().map(|(i, (x, y))| t * x + (1.0 - t) * y + noise(k, i)).collect() }).collect();
/// let p = chemomech_xas::cluster::pca(&rows).unwrap();
/// assert!(p.explained_variance_ratio[0] > 0.999);
/// assert_eq!(p.suggested_components, 1);
/// ```
pub fn pca(rows: &[Vec<f64>]) -> Result<Pca> {
    let n = rows.len();
    if n < 3 {
        return Err(Error::data(format!("PCA needs at least 3 spectra, got {n}")));
    }
    let m = rows[0].len();
    if m < 2 || rows.iter().any(|r| r.len() != m) {
        return Err(Error::shape("PCA spectra must share one length ≥ 2"));
    }
    if rows.iter().any(|r| r.iter().any(|v| !v.is_finite())) {
        return Err(Error::data("PCA spectra contain NaN or infinite values"));
    }
    // Mean and covariance by fixed chunks, reduced in order.
    let partial: Vec<Vec<f64>> =
        rows.par_chunks(CHUNK).map(|c| (0..m).map(|j| c.iter().map(|r| r[j]).sum()).collect()).collect();
    let mean: Vec<f64> = (0..m).map(|j| partial.iter().map(|p| p[j]).sum::<f64>() / n as f64).collect();
    let partial: Vec<Vec<f64>> = rows
        .par_chunks(CHUNK)
        .map(|c| {
            let mut s = vec![0.0; m * m];
            let mut d = vec![0.0; m];
            for r in c {
                for j in 0..m {
                    d[j] = r[j] - mean[j];
                }
                for i in 0..m {
                    let di = d[i];
                    for j in i..m {
                        s[i * m + j] += di * d[j];
                    }
                }
            }
            s
        })
        .collect();
    let mut cov = vec![vec![0.0; m]; m];
    for i in 0..m {
        for j in i..m {
            let v = partial.iter().map(|p| p[i * m + j]).sum::<f64>() / (n as f64 - 1.0);
            cov[i][j] = v;
            cov[j][i] = v;
        }
    }
    let (vals, vecs) = sym_eigen(&cov);
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    let eigenvalues: Vec<f64> = order.iter().map(|&i| vals[i].max(0.0)).collect();
    let components: Vec<Vec<f64>> = order.iter().map(|&i| (0..m).map(|r| vecs[r][i]).collect()).collect();
    let total: f64 = eigenvalues.iter().sum::<f64>().max(1e-300);
    let explained_variance_ratio = eigenvalues.iter().map(|v| v / total).collect();
    // IND(k) = RE(k)/(c−k)², RE(k) = sqrt(Σ_{j>k} λ_j / (r (c−k))), with λ the
    // eigenvalues of the (uncentred-in-n) scatter: r spectra, c points.
    let (r, c) = (n.max(m) as f64, n.min(m));
    // Round-off eigenvalues count as zero, so that exact data of rank k
    // suggests k (IND is then zero from k on and the first minimum is k).
    let top = eigenvalues.first().copied().unwrap_or(0.0);
    let lam: Vec<f64> =
        eigenvalues.iter().map(|v| if *v <= 1e-13 * top { 0.0 } else { v * (n as f64 - 1.0) }).collect();
    let ind: Vec<f64> = (1..c)
        .map(|k| {
            let rest: f64 = lam[k..c.min(lam.len())].iter().sum();
            let re = (rest / (r * (c - k) as f64)).sqrt();
            re / ((c - k) as f64).powi(2)
        })
        .collect();
    let suggested_components =
        ind.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i + 1).unwrap_or(1);
    Ok(Pca { mean, eigenvalues, components, explained_variance_ratio, ind, suggested_components, n_spectra: n })
}

/// A k-means clustering.
#[derive(Debug, Clone, Serialize)]
pub struct KMeans {
    /// Number of clusters.
    pub k: usize,
    /// Cluster centres, one per cluster.
    pub centres: Vec<Vec<f64>>,
    /// Cluster of every point, 0-based.
    pub labels: Vec<usize>,
    /// Sum of squared distances from the points to their assigned centres.
    pub inertia: f64,
    /// Lloyd iterations run.
    pub iterations: usize,
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn nearest(p: &[f64], centres: &[Vec<f64>]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (i, c) in centres.iter().enumerate() {
        let d = dist2(p, c);
        if d < best.1 {
            best = (i, d);
        }
    }
    best
}

/// k-means (k-means++ seeding from `seed`, Lloyd iterations), deterministic
/// for a given seed whatever the thread count.
///
/// ```
/// let pts: Vec<Vec<f64>> = (0..40).map(|i| vec![if i < 20 { 0.0 } else { 5.0 } + (i % 5) as f64 * 0.1, 1.0]).collect();
/// let km = chemomech_xas::cluster::kmeans(&pts, 2, 7, 100).unwrap();
/// assert_eq!(km.labels[0] == km.labels[19], true);
/// assert_ne!(km.labels[0], km.labels[39]);
/// ```
pub fn kmeans(points: &[Vec<f64>], k: usize, seed: u64, max_iter: usize) -> Result<KMeans> {
    let n = points.len();
    if k == 0 || k > n {
        return Err(Error::param(format!("k-means with k = {k} on {n} points")));
    }
    let d = points[0].len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut centres: Vec<Vec<f64>> = vec![points[rng.random_range(0..n)].clone()];
    let mut dmin: Vec<f64> = points.par_iter().map(|p| dist2(p, &centres[0])).collect();
    while centres.len() < k {
        let total: f64 = dmin.chunks(CHUNK).map(|c| c.iter().sum::<f64>()).sum();
        let pick = if total <= 0.0 {
            rng.random_range(0..n)
        } else {
            let t = rng.random::<f64>() * total;
            let mut acc = 0.0;
            let mut idx = n - 1;
            for (i, v) in dmin.iter().enumerate() {
                acc += v;
                if acc >= t {
                    idx = i;
                    break;
                }
            }
            idx
        };
        centres.push(points[pick].clone());
        let c = centres.last().expect("pushed").clone();
        dmin.par_iter_mut().zip(points.par_iter()).for_each(|(m, p)| *m = m.min(dist2(p, &c)));
    }
    let mut labels = vec![0usize; n];
    let mut iterations = 0;
    let mut inertia = 0.0;
    for it in 0..max_iter.max(1) {
        iterations = it + 1;
        let assigned: Vec<(usize, f64)> = points.par_iter().map(|p| nearest(p, &centres)).collect();
        let changed = assigned.iter().zip(&labels).filter(|(a, l)| a.0 != **l).count();
        for (l, a) in labels.iter_mut().zip(&assigned) {
            *l = a.0;
        }
        inertia = assigned.chunks(CHUNK).map(|c| c.iter().map(|a| a.1).sum::<f64>()).sum();
        // Centres by fixed chunks, reduced in order.
        let partial: Vec<(Vec<f64>, Vec<usize>)> = points
            .par_chunks(CHUNK)
            .zip(labels.par_chunks(CHUNK))
            .map(|(pc, lc)| {
                let mut s = vec![0.0; k * d];
                let mut cnt = vec![0usize; k];
                for (p, &l) in pc.iter().zip(lc) {
                    cnt[l] += 1;
                    for j in 0..d {
                        s[l * d + j] += p[j];
                    }
                }
                (s, cnt)
            })
            .collect();
        for (ci, c) in centres.iter_mut().enumerate() {
            let cnt: usize = partial.iter().map(|p| p.1[ci]).sum();
            if cnt > 0 {
                for (j, v) in c.iter_mut().enumerate() {
                    *v = partial.iter().map(|p| p.0[ci * d + j]).sum::<f64>() / cnt as f64;
                }
            }
        }
        if changed == 0 && it > 0 {
            break;
        }
    }
    Ok(KMeans { k, centres, labels, inertia, iterations })
}

/// Mean silhouette of a clustering (exact, O(n²): pass a sample).
pub fn silhouette(points: &[Vec<f64>], labels: &[usize], k: usize) -> f64 {
    let n = points.len();
    if k < 2 || n < 3 {
        return 0.0;
    }
    let s: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut sum = vec![0.0; k];
            let mut cnt = vec![0usize; k];
            for j in 0..n {
                if j != i {
                    sum[labels[j]] += dist2(&points[i], &points[j]).sqrt();
                    cnt[labels[j]] += 1;
                }
            }
            let own = labels[i];
            if cnt[own] == 0 {
                return 0.0;
            }
            let a = sum[own] / cnt[own] as f64;
            let b = (0..k)
                .filter(|&c| c != own && cnt[c] > 0)
                .map(|c| sum[c] / cnt[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if !b.is_finite() {
                return 0.0;
            }
            (b - a) / a.max(b).max(1e-300)
        })
        .collect();
    s.iter().sum::<f64>() / n as f64
}

/// `m` distinct indices of 0..n drawn with the seed (all when m ≥ n), sorted:
/// a random sample cannot alias with the raster order as a stride could.
pub fn sample_indices(n: usize, m: usize, seed: u64) -> Vec<usize> {
    if m >= n {
        return (0..n).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5a5a_5a5a);
    let mut idx = rand::seq::index::sample(&mut rng, n, m).into_vec();
    idx.sort_unstable();
    idx
}

/// k-means for k = 2 … `max_k`, choosing the fewest clusters whose mean
/// silhouette is within [`SILHOUETTE_TOLERANCE`] of the best
/// (computed on a seeded random sample of at most `sample` points).
/// Returns the chosen clustering and the silhouette of every k tried.
pub fn kmeans_auto(points: &[Vec<f64>], max_k: usize, seed: u64, sample: usize) -> Result<(KMeans, Vec<(usize, f64)>)> {
    let n = points.len();
    if n < 4 {
        return Err(Error::data(format!("clustering needs at least 4 spectra, got {n}")));
    }
    let max_k = max_k.clamp(2, (n - 1).min(20));
    let idx = sample_indices(n, sample.max(10), seed);
    let sub: Vec<Vec<f64>> = idx.iter().map(|&i| points[i].clone()).collect();
    let mut scores = Vec::new();
    let mut fits = Vec::new();
    for k in 2..=max_k {
        let km = kmeans(points, k, seed.wrapping_add(k as u64), 100)?;
        let sl: Vec<usize> = idx.iter().map(|&i| km.labels[i]).collect();
        scores.push((k, silhouette(&sub, &sl, k)));
        fits.push(km);
    }
    // The fewest clusters whose silhouette is within SILHOUETTE_TOLERANCE of
    // the best: on weakly structured data the silhouette creeps up with k
    // without the extra clusters meaning anything.
    let best = scores.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
    let pick = scores.iter().position(|s| s.1 >= best - SILHOUETTE_TOLERANCE).unwrap_or(0);
    Ok((fits.swap_remove(pick), scores))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn three_groups_are_found_and_results_do_not_depend_on_threads() {
        let centres = [[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]];
        let pts: Vec<Vec<f64>> = (0..3000)
            .map(|i| {
                let c = centres[i % 3];
                let t = i as f64 * 0.618;
                vec![c[0] + 0.5 * (t * 7.1).sin(), c[1] + 0.5 * (t * 3.3).cos()]
            })
            .collect();
        let (km, scores) = kmeans_auto(&pts, 6, 3, 500).unwrap();
        assert_eq!(km.k, 3, "{scores:?}");
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| kmeans_auto(&pts, 6, 3, 500).unwrap());
        assert_eq!(one.0.labels, km.labels);
        assert_eq!(one.0.centres, km.centres);
    }
}
