//! The k-nearest-neighbour network of severely damaged particles (as in the
//! seeds: each severe particle linked to its k nearest severe neighbours),
//! with edge lengths, degree distribution and nearest-neighbour distances.

pub use chemomech_imgproc::neighbours::k_nearest;
use serde::{Deserialize, Serialize};

/// The network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    /// Node positions (z, y, x) µm and their particle ids.
    pub nodes: Vec<[f64; 3]>,
    /// Particle id of every node.
    pub ids: Vec<u64>,
    /// Undirected edges (node index a < b) with length in µm.
    pub edges: Vec<(usize, usize, f64)>,
    /// degree_histogram[d] = number of nodes with degree d.
    pub degree_histogram: Vec<usize>,
    /// Mean node degree (0 without nodes).
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub mean_degree: f64,
    /// Mean distance from a node to its nearest neighbour (µm).
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub mean_nearest_um: f64,
    /// Mean edge length (µm).
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub mean_edge_um: f64,
}

/// Builds the k-NN graph (undirected union of the directed k-NN links).
pub fn knn_network(points: &[[f64; 3]], ids: &[u64], k: usize) -> Network {
    let n = points.len();
    let mut edges = std::collections::BTreeMap::new();
    let mut nearest = Vec::new();
    for (i, nb) in k_nearest(points, k).into_iter().enumerate() {
        if let Some(&(_, d)) = nb.first() {
            nearest.push(d);
        }
        for (j, d) in nb {
            edges.insert((i.min(j), i.max(j)), d);
        }
    }
    let edges: Vec<(usize, usize, f64)> = edges.into_iter().map(|((a, b), d)| (a, b, d)).collect();
    let mut deg = vec![0usize; n];
    for &(a, b, _) in &edges {
        deg[a] += 1;
        deg[b] += 1;
    }
    let maxd = deg.iter().cloned().max().unwrap_or(0);
    let mut hist = vec![0usize; maxd + 1];
    for &d in &deg {
        hist[d] += 1;
    }
    let mean = |v: &[f64]| if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
    Network {
        nodes: points.to_vec(),
        ids: ids.to_vec(),
        mean_degree: if n > 0 { 2.0 * edges.len() as f64 / n as f64 } else { 0.0 },
        mean_nearest_um: mean(&nearest),
        mean_edge_um: mean(&edges.iter().map(|e| e.2).collect::<Vec<_>>()),
        degree_histogram: hist,
        edges,
    }
}

/// The k-NN network of the severely damaged particles of a particle table
/// (rows whose `damage_class` is `severe`), at their centroids.
///
/// Parameters
/// ----------
/// t : particle table with `id`, `damage_class` and `centroid_z_um`,
///     `centroid_y_um`, `centroid_x_um` (µm).
/// k : neighbours linked to each severe particle (at least 1).
///
/// Returns
/// -------
/// The [`Network`] whose nodes are the severe particles (ids from `id`).
///
/// Errors
/// ------
/// `k` = 0; a missing or mistyped column.
pub fn severe_network(t: &chemomech_core::Table, k: usize) -> chemomech_core::Result<Network> {
    if k == 0 {
        return Err(chemomech_core::Error::param("k of the severe network must be at least 1"));
    }
    let cls = t.str("damage_class")?;
    let (z, y, x) = (t.f64("centroid_z_um")?, t.f64("centroid_y_um")?, t.f64("centroid_x_um")?);
    let ids = t.f64("id")?;
    let sev: Vec<usize> = (0..cls.len()).filter(|&i| cls[i] == "severe").collect();
    let pts: Vec<[f64; 3]> = sev.iter().map(|&i| [z[i], y[i], x[i]]).collect();
    Ok(knn_network(&pts, &sev.iter().map(|&i| ids[i] as u64).collect::<Vec<_>>(), k))
}

/// Nearest-neighbour distance of every point (µm).
pub fn nearest_distances(points: &[[f64; 3]]) -> Vec<f64> {
    k_nearest(points, 1).into_iter().map(|nb| nb.first().map_or(f64::NAN, |x| x.1)).collect()
}

#[cfg(test)]
mod unit {
    use super::*;
    #[test]
    fn a_line_of_points() {
        let pts: Vec<[f64; 3]> = (0..5).map(|i| [0.0, 0.0, i as f64 * 2.0]).collect();
        let ids: Vec<u64> = (1..=5).collect();
        let net = knn_network(&pts, &ids, 1);
        // Each links to its nearest: 0-1, 1-0/2, 2-1/3, 3-2/4, 4-3 → 4 edges.
        assert_eq!(net.edges.len(), 4);
        assert!((net.mean_nearest_um - 2.0).abs() < 1e-12);
        assert_eq!(nearest_distances(&pts), vec![2.0; 5]);
    }
}
