//! Crofton surface-area estimation on the voxel lattice: the 13 undirected
//! lattice directions and their solid-angle weights (Legland et al. 2007).
//! A particle's surface area is the weighted count of phase transitions
//! along each direction.

/// The 13 undirected lattice directions.
pub const DIRECTIONS: [(isize, isize, isize); 13] = [
    (1, 0, 0),
    (0, 1, 0),
    (0, 0, 1),
    (1, 1, 0),
    (1, -1, 0),
    (1, 0, 1),
    (1, 0, -1),
    (0, 1, 1),
    (0, 1, -1),
    (1, 1, 1),
    (1, 1, -1),
    (1, -1, 1),
    (1, -1, -1),
];

/// Solid-angle weights of the 13 directions for a lattice of `spacing_um`
/// (each direction's share of the sphere of orientations closest to it,
/// from a 200 000-point Fibonacci sphere; isotropic voxels give Legland et
/// al.'s 0.0458 / 0.0370 / 0.0352 per direction sign).
pub fn crofton_weights(spacing_um: [f64; 3]) -> [f64; 13] {
    let dirs: Vec<[f64; 3]> = DIRECTIONS
        .iter()
        .map(|&(a, b, c)| {
            let v = [a as f64 * spacing_um[0], b as f64 * spacing_um[1], c as f64 * spacing_um[2]];
            let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            [v[0] / n, v[1] / n, v[2] / n]
        })
        .collect();
    let n = 200_000;
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    let mut counts = [0u64; 13];
    for i in 0..n {
        let y = 1.0 - 2.0 * (i as f64 + 0.5) / n as f64;
        let r = (1.0 - y * y).sqrt();
        let th = golden * i as f64;
        let u = [r * th.cos(), y, r * th.sin()];
        let (mut best, mut bi) = (-1.0, 0);
        for (k, d) in dirs.iter().enumerate() {
            let c = (u[0] * d[0] + u[1] * d[1] + u[2] * d[2]).abs();
            if c > best {
                best = c;
                bi = k;
            }
        }
        counts[bi] += 1;
    }
    counts.map(|c| c as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn weights_match_legland() {
        let w = crofton_weights([1.0; 3]);
        let s: f64 = w.iter().sum();
        assert!((s - 1.0).abs() < 1e-12);
        // Per direction (both signs): 2×0.04577789, 2×0.03698062, 2×0.03519563.
        assert!(
            (w[0] - 0.0915558).abs() < 2e-3 && (w[3] - 0.0739612).abs() < 2e-3 && (w[9] - 0.0703913).abs() < 2e-3,
            "{w:?}"
        );
    }
}
