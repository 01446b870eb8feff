//! 3-D connected-component labelling with 6-, 18- or 26-connectivity:
//! union–find over voxels, slabs of z labelled in parallel and stitched.
//! Labels are numbered 1.. in raster (z, y, x) order of each component's
//! first voxel — the same order as cc3d, whatever the thread count.

use chemomech_core::{Error, Result};
use ndarray::{Array3, ArrayView3, Axis};
use rayon::prelude::*;
use std::str::FromStr;

/// Which neighbours touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Connectivity {
    /// Faces.
    C6,
    /// Faces and edges.
    C18,
    /// Faces, edges and corners.
    C26,
}

impl FromStr for Connectivity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "6" => Ok(Connectivity::C6),
            "18" => Ok(Connectivity::C18),
            "26" => Ok(Connectivity::C26),
            o => Err(Error::param(format!("connectivity must be 6, 18 or 26, got '{o}'"))),
        }
    }
}

impl Connectivity {
    /// Offsets to already-visited neighbours (earlier in raster order).
    pub fn backward(self) -> Vec<(isize, isize, isize)> {
        let mut v = Vec::new();
        for dz in -1..=0isize {
            for dy in -1..=1isize {
                for dx in -1..=1isize {
                    let before = dz < 0 || (dz == 0 && (dy < 0 || (dy == 0 && dx < 0)));
                    if !before {
                        continue;
                    }
                    let n = dz.abs() + dy.abs() + dx.abs();
                    let ok = match self {
                        Connectivity::C6 => n == 1,
                        Connectivity::C18 => n <= 2,
                        Connectivity::C26 => true,
                    };
                    if ok {
                        v.push((dz, dy, dx));
                    }
                }
            }
        }
        v
    }
    /// All neighbour offsets.
    pub fn all(self) -> Vec<(isize, isize, isize)> {
        let b = self.backward();
        b.iter().cloned().chain(b.iter().map(|&(a, c, d)| (-a, -c, -d))).collect()
    }
}

fn find(p: &mut [u32], mut x: u32) -> u32 {
    while p[x as usize] != x {
        p[x as usize] = p[p[x as usize] as usize];
        x = p[x as usize];
    }
    x
}

fn union(p: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(p, a), find(p, b));
    if ra != rb {
        // Keep the smaller root: roots stay the earliest voxel of a component.
        if ra < rb { p[rb as usize] = ra } else { p[ra as usize] = rb }
    }
}

/// Labels the `true` voxels of `mask`. Returns (labels, number of components).
///
/// ```
/// use chemomech_particles::{label, Connectivity};
/// let mut m = ndarray::Array3::from_elem((3, 3, 3), false);
/// m[[0, 0, 0]] = true;
/// m[[1, 1, 1]] = true;
/// assert_eq!(label(m.view(), Connectivity::C6).1, 2);
/// assert_eq!(label(m.view(), Connectivity::C26).1, 1);
/// ```
pub fn label(mask: ArrayView3<bool>, conn: Connectivity) -> (Array3<u32>, u32) {
    let (nz, ny, nx) = mask.dim();
    let n = nz * ny * nx;
    assert!(n < u32::MAX as usize, "volume too large for u32 labels");
    let idx = |z: usize, y: usize, x: usize| ((z * ny + y) * nx + x) as u32;
    let back = conn.backward();
    // Slabs labelled independently (provisional parents), then stitched.
    let slab = (nz / (rayon::current_num_threads() * 4).max(1)).max(4);
    let bounds: Vec<(usize, usize)> = (0..nz).step_by(slab).map(|z| (z, (z + slab).min(nz))).collect();
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let chunks: Vec<Vec<(u32, u32)>> = bounds
        .par_iter()
        .map(|&(z0, z1)| {
            // Local union-find over this slab's voxels, recorded as (child, root) pairs.
            let base = idx(z0, 0, 0) as usize;
            let len = (z1 - z0) * ny * nx;
            let mut p: Vec<u32> = (0..len as u32).collect();
            for z in z0..z1 {
                for y in 0..ny {
                    for x in 0..nx {
                        if !mask[[z, y, x]] {
                            continue;
                        }
                        let me = idx(z, y, x) as usize - base;
                        for &(dz, dy, dx) in &back {
                            let (zz, yy, xx) = (z as isize + dz, y as isize + dy, x as isize + dx);
                            if zz < z0 as isize || yy < 0 || xx < 0 || yy >= ny as isize || xx >= nx as isize {
                                continue;
                            }
                            if mask[[zz as usize, yy as usize, xx as usize]] {
                                let other = idx(zz as usize, yy as usize, xx as usize) as usize - base;
                                union(&mut p, me as u32, other as u32);
                            }
                        }
                    }
                }
            }
            let mut out = Vec::new();
            for i in 0..len as u32 {
                if p[i as usize] != i {
                    let r = find(&mut p, i);
                    out.push((i + base as u32, r + base as u32));
                }
            }
            out
        })
        .collect();
    for c in chunks {
        for (child, root) in c {
            parent[child as usize] = root;
        }
    }
    // Stitch across slab boundaries (neighbours in the slab before).
    for &(z0, _) in bounds.iter().skip(1) {
        let z = z0;
        for y in 0..ny {
            for x in 0..nx {
                if !mask[[z, y, x]] {
                    continue;
                }
                for &(dz, dy, dx) in back.iter().filter(|o| o.0 < 0) {
                    let (zz, yy, xx) = (z as isize + dz, y as isize + dy, x as isize + dx);
                    if yy < 0 || xx < 0 || yy >= ny as isize || xx >= nx as isize {
                        continue;
                    }
                    if mask[[zz as usize, yy as usize, xx as usize]] {
                        union(&mut parent, idx(z, y, x), idx(zz as usize, yy as usize, xx as usize));
                    }
                }
            }
        }
    }
    // Number components in raster order of their first voxel.
    let mut labels = Array3::<u32>::zeros((nz, ny, nx));
    let mut map = vec![0u32; n];
    let mut next = 0u32;
    let flat = labels.as_slice_mut().expect("standard layout");
    for (i, m) in mask.iter().enumerate() {
        if !*m {
            continue;
        }
        let r = find(&mut parent, i as u32) as usize;
        if map[r] == 0 {
            next += 1;
            map[r] = next;
        }
        flat[i] = map[r];
    }
    (labels, next)
}

/// Relabels `labels` to 1..n in raster order of first appearance (0 stays 0).
pub fn renumber(labels: &mut Array3<u32>) -> u32 {
    let mut map = std::collections::HashMap::new();
    let mut next = 0u32;
    for v in labels.iter_mut() {
        if *v == 0 {
            continue;
        }
        let e = map.entry(*v).or_insert_with(|| {
            next += 1;
            next
        });
        *v = *e;
    }
    next
}

/// The voxel count of every label (index = label).
pub fn sizes(labels: ArrayView3<u32>) -> Vec<u64> {
    let max = labels.iter().cloned().max().unwrap_or(0) as usize;
    labels
        .axis_iter(Axis(0))
        .into_par_iter()
        .map(|s| {
            let mut c = vec![0u64; max + 1];
            for &v in s.iter() {
                c[v as usize] += 1;
            }
            c
        })
        .reduce(|| vec![0u64; max + 1], |mut a, b| {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
            a
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn connectivities_and_order() {
        // Two voxels touching by an edge, one by a corner, one alone.
        let mut m = Array3::from_elem((4, 4, 4), false);
        m[[0, 0, 0]] = true;
        m[[0, 1, 1]] = true; // edge neighbour of (0,0,0)
        m[[1, 2, 2]] = true; // corner neighbour of (0,1,1)
        m[[3, 3, 3]] = true;
        assert_eq!(label(m.view(), Connectivity::C6).1, 4);
        assert_eq!(label(m.view(), Connectivity::C18).1, 3);
        let (l, n) = label(m.view(), Connectivity::C26);
        assert_eq!(n, 2);
        assert_eq!((l[[0, 0, 0]], l[[1, 2, 2]], l[[3, 3, 3]]), (1, 1, 2));
    }
    #[test]
    fn spans_slabs_and_is_thread_independent() {
        let m = Array3::from_shape_fn((40, 9, 9), |(z, y, x)| (x == 4 && y == 4) || (z % 7 == 0 && (x + y) % 3 == 0));
        let a = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| label(m.view(), Connectivity::C6));
        let b = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap().install(|| label(m.view(), Connectivity::C6));
        assert_eq!(a, b);
    }
}
