//! The discrete convex hull of a voxel set, never built: the set's extent
//! along 49 lattice directions bounds a polytope within a few per cent of
//! the hull's volume, whose voxels are counted row by row. Written by hand:
//! the kept crates have no voxel convex hull, and the extents make the hull
//! of a union free (the wider extent of the two).

/// Directions of the discrete convex hull: the primitive integer vectors
/// with components in −2..=2, one of each ± pair (49). Bounding a set by
/// its extent along each gives a polytope within a few per cent of its
/// convex hull's volume, and the hull of a union is then just the wider
/// extent of the two: no hull is ever built.
pub fn directions() -> Vec<[i32; 3]> {
    fn gcd(a: i32, b: i32) -> i32 {
        if b == 0 { a.abs() } else { gcd(b, a % b) }
    }
    let mut v = Vec::new();
    for a in -2..=2i32 {
        for b in -2..=2i32 {
            for c in -2..=2i32 {
                let first = if a != 0 {
                    a
                } else if b != 0 {
                    b
                } else {
                    c
                };
                if first > 0 && gcd(gcd(a, b), c) == 1 {
                    v.push([a, b, c]);
                }
            }
        }
    }
    v
}

/// A voxel set's extent along each hull direction (physical coordinates) and
/// its voxel count.
#[derive(Debug, Clone)]
pub struct Extent {
    /// (min, max) of the projection on each direction, µm.
    pub range: Vec<(f64, f64)>,
    /// Voxels of the set.
    pub voxels: usize,
}

impl Extent {
    /// From voxels `(z, y, x)` in raster order, with voxel `spacing_um` (µm): only each row's two ends can bound a
    /// linear function, so only they are visited.
    pub fn of(vox: &[(usize, usize, usize)], dirs: &[[i32; 3]], spacing_um: [f64; 3]) -> Self {
        let mut range = vec![(f64::INFINITY, f64::NEG_INFINITY); dirs.len()];
        let mut add = |q: (usize, usize, usize)| {
            let pt = [q.0 as f64 * spacing_um[0], q.1 as f64 * spacing_um[1], q.2 as f64 * spacing_um[2]];
            for (r, d) in range.iter_mut().zip(dirs) {
                let t = d[0] as f64 * pt[0] + d[1] as f64 * pt[1] + d[2] as f64 * pt[2];
                r.0 = r.0.min(t);
                r.1 = r.1.max(t);
            }
        };
        let mut i = 0;
        while i < vox.len() {
            let mut j = i;
            while j + 1 < vox.len() && vox[j + 1].0 == vox[i].0 && vox[j + 1].1 == vox[i].1 {
                j += 1;
            }
            add(vox[i]);
            add(vox[j]);
            i = j + 1;
        }
        Extent { range, voxels: vox.len() }
    }
    /// The extent of the union of two sets.
    pub fn union(&self, o: &Extent) -> Extent {
        Extent {
            range: self.range.iter().zip(&o.range).map(|(a, b)| (a.0.min(b.0), a.1.max(b.1))).collect(),
            voxels: self.voxels + o.voxels,
        }
    }
    /// Voxel centres inside the polytope (the discrete hull's volume).
    pub fn hull_voxels(&self, dirs: &[[i32; 3]], spacing_um: [f64; 3]) -> usize {
        const EPS: f64 = 1e-6;
        let axis = |k: usize| {
            dirs.iter().position(|d| d[k] == 1 && d.iter().map(|c| c.abs()).sum::<i32>() == 1).expect("axis directions")
        };
        let (rz, ry) = (self.range[axis(0)], self.range[axis(1)]);
        // Directions across rows only admit or reject a whole row; those
        // along rows bound x: r.0 ≤ base + c·x ≤ r.1 (c = d_x·s_x ≠ 0).
        let (mut across, mut along) = (Vec::new(), Vec::new());
        for (d, r) in dirs.iter().zip(&self.range) {
            let (cz, cy) = (d[0] as f64 * spacing_um[0], d[1] as f64 * spacing_um[1]);
            if d[2] == 0 {
                across.push((cz, cy, r.0 - EPS, r.1 + EPS));
            } else {
                along.push((cz, cy, r.0, r.1, 1.0 / (d[2] as f64 * spacing_um[2])));
            }
        }
        let mut n = 0usize;
        for z in (((rz.0 / spacing_um[0]) - EPS).ceil() as i64).max(0)..=((rz.1 / spacing_um[0]) + EPS).floor() as i64 {
            for y in
                (((ry.0 / spacing_um[1]) - EPS).ceil() as i64).max(0)..=((ry.1 / spacing_um[1]) + EPS).floor() as i64
            {
                let (zf, yf) = (z as f64, y as f64);
                if across.iter().any(|&(cz, cy, lo, hi)| {
                    let t = cz * zf + cy * yf;
                    t < lo || t > hi
                }) {
                    continue;
                }
                let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
                for &(cz, cy, r0, r1, inv) in &along {
                    let base = cz * zf + cy * yf;
                    let (a, b) = ((r0 - base) * inv, (r1 - base) * inv);
                    lo = lo.max(a.min(b));
                    hi = hi.min(a.max(b));
                }
                let (x0, x1) = ((lo - EPS).ceil(), (hi + EPS).floor());
                if x1 >= x0 {
                    n += (x1 - x0) as usize + 1;
                }
            }
        }
        n.max(1)
    }
}
