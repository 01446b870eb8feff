//! Nearest neighbours of points: a k-d tree (kiddo) for the k nearest.

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use std::num::NonZeroUsize;

/// For each point, its `k` nearest other points (index, distance), nearest
/// first: a k-d tree (kiddo), or a direct search where no tree can be built.
///
/// ```
/// let nb = chemomech_imgproc::neighbours::k_nearest(&[[0.0; 3], [0.0, 0.0, 1.0], [0.0, 0.0, 3.0]], 1);
/// assert_eq!(nb[2], vec![(1, 2.0)]);
/// ```
pub fn k_nearest(points: &[[f64; 3]], k: usize) -> Vec<Vec<(usize, f64)>> {
    let n = points.len();
    if n < 2 || k == 0 {
        return vec![Vec::new(); n];
    }
    let want = (k + 1).min(n);
    match ImmutableKdTree::<f64, 3>::new_from_slice(points) {
        Ok(tree) => points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                tree.query(p)
                    .nearest_n::<SquaredEuclidean<f64>>(NonZeroUsize::new(want).expect("≥ 1"))
                    .execute()
                    .into_iter()
                    .map(|r| (r.item as usize, r.distance.sqrt()))
                    .filter(|&(j, _)| j != i)
                    .take(k)
                    .collect()
            })
            .collect(),
        Err(_) => points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut d: Vec<(usize, f64)> = points
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(j, q)| (j, ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()))
                    .collect();
                d.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
                d.truncate(k);
                d
            })
            .collect(),
    }
}
