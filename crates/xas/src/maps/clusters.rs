//! PCA and k-means clusters of the masked pixels' normalised μ in the LCF
//! (or edge) window: fitted on a seeded sample, then every masked pixel
//! assigned; clusters numbered by the edge energy of their mean spectrum.

use super::ClusterSpectrum;
use super::params::ClusterParams;
use super::plan::Plan;
use crate::cluster::{KMeans, Pca, kmeans_auto, pca, sample_indices};
use chemomech_core::Result;
use ndarray::{ArrayD, ArrayView2, IxDyn};
use rayon::prelude::*;

/// What the clustering found: the summary's PCA and cluster fields, and the
/// cluster map (empty and `None` without clustering).
#[derive(Debug, Default)]
pub(super) struct Clustering {
    /// PCA eigenvalues of the sampled pixel spectra.
    pub(super) pca_eigenvalues: Vec<f64>,
    /// Fraction of the variance explained by each principal component.
    pub(super) pca_explained: Vec<f64>,
    /// Malinowski's indicator function IND(k).
    pub(super) pca_ind: Vec<f64>,
    /// Number of components IND suggests.
    pub(super) pca_suggested_components: usize,
    /// Principal components used for clustering.
    pub(super) cluster_components: usize,
    /// Mean silhouette of every k tried.
    pub(super) silhouettes: Vec<(usize, f64)>,
    /// Mean spectrum of every cluster, ordered by edge energy.
    pub(super) clusters: Vec<ClusterSpectrum>,
    /// Cluster per pixel (1 … k; 0 outside the mask).
    pub(super) map: Option<ArrayD<u8>>,
}

/// PCA and clusters of normalised μ in the LCF (or edge) window of the
/// masked pixels `masked_idx` of `od2` (energies × pixels), the map of
/// shape `shape`. Nothing when fewer than 10 sampled spectra are finite.
pub(super) fn cluster_pixels(
    plan: &Plan,
    od2: ArrayView2<f32>,
    masked_idx: &[usize],
    cp: &ClusterParams,
    shape: &IxDyn,
) -> Result<Clustering> {
    let win: Vec<usize> =
        if plan.lcf_idx.is_empty() { (plan.edge.0..=plan.wl.1).collect() } else { plan.lcf_idx.clone() };
    let sample: Vec<usize> =
        sample_indices(masked_idx.len(), cp.sample, cp.seed).into_iter().map(|i| masked_idx[i]).collect();
    let rows: Vec<Vec<f64>> = sample
        .par_iter()
        .map(|&i| {
            let nb = normalised(plan, od2, i);
            win.iter().map(|&w| nb[w]).collect()
        })
        .collect();
    let rows: Vec<Vec<f64>> = rows.into_iter().filter(|r| r.iter().all(|v| v.is_finite())).collect();
    if rows.len() < 10 {
        return Ok(Clustering::default());
    }
    let pc = pca(&rows)?;
    let nc = cp.components.unwrap_or(pc.suggested_components.max(2)).clamp(1, win.len());
    let scores: Vec<Vec<f64>> = rows.par_iter().map(|r| pc.scores(r, nc)).collect();
    let (km, sil) = kmeans_auto(&scores, cp.max_k, cp.seed, cp.silhouette_sample)?;
    // Assign every masked pixel; accumulate mean spectra per cluster in fixed chunks.
    let assigned = assign(plan, od2, masked_idx, &win, (&pc, nc), &km);
    let (means, counts) = cluster_means(&assigned, km.k, plan.e.len());
    let e0s: Vec<f64> = means.iter().map(|m| half_height_e0(plan, m)).collect();
    let kk = km.k;
    let mut order: Vec<usize> = (0..kk).collect();
    order.sort_by(|&a, &b| e0s[a].total_cmp(&e0s[b]));
    let mut rank = vec![0u8; kk];
    for (r, &c) in order.iter().enumerate() {
        rank[c] = r as u8 + 1;
    }
    let mut cm = vec![0u8; od2.ncols()];
    for (&i, (c, _)) in masked_idx.iter().zip(&assigned) {
        cm[i] = rank[*c];
    }
    let clusters = order
        .iter()
        .enumerate()
        .map(|(r, &c)| ClusterSpectrum {
            cluster: r as u8 + 1,
            pixels: counts[c],
            e0_half_ev: e0s[c],
            norm: means[c].clone(),
        })
        .collect();
    Ok(Clustering {
        pca_eigenvalues: pc.eigenvalues.clone(),
        pca_explained: pc.explained_variance_ratio.clone(),
        pca_ind: pc.ind.clone(),
        pca_suggested_components: pc.suggested_components,
        cluster_components: nc,
        silhouettes: sil,
        clusters,
        map: Some(ArrayD::from_shape_vec(shape.clone(), cm).expect("shape")),
    })
}

/// Normalised μ of pixel `px` of `od2` at every energy.
fn normalised(plan: &Plan, od2: ArrayView2<f32>, px: usize) -> Vec<f64> {
    let ne = plan.e.len();
    let y: Vec<f64> = (0..ne).map(|kk| od2[[kk, px]] as f64).collect();
    let (mut nb, mut fb) = (vec![0.0; ne], vec![0.0; ne]);
    plan.normalise(&y, &mut nb, &mut fb, &mut vec![0.0; ne]);
    nb
}

/// Every masked pixel's cluster (the k-means centre nearest to its scores
/// on the first `nc` principal components of `pc`) and its normalised μ.
fn assign(
    plan: &Plan,
    od2: ArrayView2<f32>,
    masked_idx: &[usize],
    win: &[usize],
    (pc, nc): (&Pca, usize),
    km: &KMeans,
) -> Vec<(usize, Vec<f64>)> {
    masked_idx
        .par_iter()
        .map(|&i| {
            let nb = normalised(plan, od2, i);
            let r: Vec<f64> = win.iter().map(|&w| nb[w]).collect();
            let s = pc.scores(&r, nc);
            let c = km
                .centres
                .iter()
                .enumerate()
                .map(|(ci, c)| (ci, c.iter().zip(&s).map(|(a, b)| (a - b) * (a - b)).sum::<f64>()))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|x| x.0)
                .unwrap_or(0);
            (c, nb)
        })
        .collect()
}

/// Mean normalised μ (over `ne` energies) and count of the finite spectra
/// of each of the `kk` clusters, summed in pixel order.
fn cluster_means(assigned: &[(usize, Vec<f64>)], kk: usize, ne: usize) -> (Vec<Vec<f64>>, Vec<usize>) {
    let mut sums = vec![vec![0.0; ne]; kk];
    let mut counts = vec![0usize; kk];
    for (c, nb) in assigned {
        if nb.iter().all(|v| v.is_finite()) {
            counts[*c] += 1;
            for (s, v) in sums[*c].iter_mut().zip(nb) {
                *s += v;
            }
        }
    }
    let means = sums.iter().zip(&counts).map(|(s, &n)| s.iter().map(|v| v / n.max(1) as f64).collect()).collect();
    (means, counts)
}

/// Half-height edge energy of a mean spectrum `m` in the edge window (NaN: none).
fn half_height_e0(plan: &Plan, m: &[f64]) -> f64 {
    let e = &plan.e;
    (plan.edge.0.max(1)..=plan.edge.1).find(|&i| m[i] >= 0.5 && m[i - 1] < 0.5).map_or(f64::NAN, |i| {
        let t = (0.5 - m[i - 1]) / (m[i] - m[i - 1]);
        e[i - 1] + t * (e[i] - e[i - 1])
    })
}
