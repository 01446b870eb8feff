//! A neighbour grid over particle centres.

use super::{Particle, V3};

/// Neighbour grid over particle centres.
pub(super) struct Grid {
    origin: V3,
    cell: f64,
    dims: [usize; 3],
    cells: Vec<Vec<u32>>,
}

impl Grid {
    /// A grid whose cells are as wide as the largest particle.
    pub(super) fn new(ps: &[Particle], lo: V3, hi: V3) -> Self {
        // Cells as wide as the largest particle: neighbours are in the 27 around.
        let cell = ps.iter().map(|p| p.extent_um()).fold(1.0, f64::max) * 1.02;
        Self::new_with_cell(ps, lo, hi, cell)
    }
    /// A grid with cells of side `cell` over the box [lo, hi].
    pub(super) fn new_with_cell(ps: &[Particle], lo: V3, hi: V3, cell: f64) -> Self {
        let dims = [0, 1, 2].map(|a| (((hi[a] - lo[a]) / cell).ceil() as usize).max(1));
        let mut cells = vec![Vec::new(); dims[0] * dims[1] * dims[2]];
        for (i, p) in ps.iter().enumerate() {
            let c = [0, 1, 2].map(|a| (((p.center_um[a] - lo[a]) / cell).floor().max(0.0) as usize).min(dims[a] - 1));
            cells[(c[0] * dims[1] + c[1]) * dims[2] + c[2]].push(i as u32);
        }
        Self { origin: lo, cell, dims, cells }
    }
    /// Particles whose centres lie in the 27 cells around `x`.
    #[inline]
    pub(super) fn near(&self, x: V3, mut f: impl FnMut(usize)) {
        let c = [0, 1, 2].map(|a| ((x[a] - self.origin[a]) / self.cell).floor() as isize);
        for dz in -1..=1isize {
            let z = c[0] + dz;
            if z < 0 || z >= self.dims[0] as isize {
                continue;
            }
            for dy in -1..=1isize {
                let y = c[1] + dy;
                if y < 0 || y >= self.dims[1] as isize {
                    continue;
                }
                for dx in -1..=1isize {
                    let xx = c[2] + dx;
                    if xx < 0 || xx >= self.dims[2] as isize {
                        continue;
                    }
                    for &i in &self.cells[(z as usize * self.dims[1] + y as usize) * self.dims[2] + xx as usize] {
                        f(i as usize);
                    }
                }
            }
        }
    }
}
