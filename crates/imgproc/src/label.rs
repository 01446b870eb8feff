//! 3-D connected-component labelling with 6-, 18- or 26-connectivity:
//! union–find over the runs of each row.
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
    #[serde(rename = "6")]
    C6,
    /// Faces and edges.
    #[serde(rename = "18")]
    C18,
    /// Faces, edges and corners.
    #[serde(rename = "26")]
    C26,
}

impl Default for Connectivity {
    /// 26: the connectivity of particles in chemomech (and cc3d's default).
    fn default() -> Self {
        Connectivity::C26
    }
}

impl std::fmt::Display for Connectivity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Connectivity::C6 => "6",
            Connectivity::C18 => "18",
            Connectivity::C26 => "26",
        })
    }
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
        // Keep the smaller root: roots stay the earliest run of a component.
        if ra < rb { p[rb as usize] = ra } else { p[ra as usize] = rb }
    }
}

/// Bit k of the result is byte k of `w` (bytes 0 or 1): one multiply
/// gathers eight bools into a byte (the products land on distinct bits, so
/// nothing carries).
#[inline(always)]
fn pack8(w: u64) -> u64 {
    w.wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// The runs of `true` in one row, as half-open [start, end) columns,
/// appended to `out`. Sixty-four voxels at a time: their bools packed into
/// a bit mask, XOR with the mask shifted by one marks where runs start or
/// end, and only those bits are visited.
fn row_runs(row: &[bool], out: &mut Vec<(u32, u32)>) {
    // SAFETY: bool is one byte, 0 or 1.
    let b: &[u8] = unsafe { std::slice::from_raw_parts(row.as_ptr() as *const u8, row.len()) };
    let n = b.len();
    let (mut x, mut prev, mut start) = (0usize, 0u64, 0u32);
    let mut chunks = b.chunks_exact(64);
    for c in &mut chunks {
        let mut m = 0u64;
        for (k, w) in c.chunks_exact(8).enumerate() {
            m |= pack8(u64::from_le_bytes(w.try_into().unwrap())) << (8 * k);
        }
        let mut t = m ^ ((m << 1) | prev);
        prev = m >> 63;
        while t != 0 {
            let k = t.trailing_zeros();
            let pos = x as u32 + k;
            if (m >> k) & 1 != 0 {
                start = pos;
            } else {
                out.push((start, pos));
            }
            t &= t - 1;
        }
        x += 64;
    }
    let mut prev = prev as u8;
    for (pos, &v) in chunks.remainder().iter().enumerate() {
        if v != prev {
            if v != 0 {
                start = (x + pos) as u32;
            } else {
                out.push((start, (x + pos) as u32));
            }
            prev = v;
        }
    }
    if prev != 0 {
        out.push((start, n as u32));
    }
}

/// Runs of every row in raster order, and where each row's runs begin:
/// row r's runs are `runs[first[r]..first[r + 1]]`.
struct Runs {
    runs: Vec<(u32, u32)>,
    first: Vec<usize>,
}

impl Runs {
    fn of(flat: &[bool], ny: usize, nx: usize) -> Self {
        let planes: Vec<(Vec<(u32, u32)>, Vec<usize>)> = flat
            .par_chunks(ny * nx)
            .map(|plane| {
                let (mut runs, mut counts) = (Vec::new(), Vec::with_capacity(ny));
                for row in plane.chunks(nx) {
                    let before = runs.len();
                    row_runs(row, &mut runs);
                    counts.push(runs.len() - before);
                }
                (runs, counts)
            })
            .collect();
        let mut first = Vec::with_capacity(flat.len() / nx + 1);
        first.push(0usize);
        for (_, c) in &planes {
            for k in c {
                first.push(first.last().unwrap() + k);
            }
        }
        let mut runs = Vec::with_capacity(*first.last().unwrap());
        for (r, _) in planes {
            runs.extend_from_slice(&r);
        }
        assert!(runs.len() < u32::MAX as usize, "too many runs for u32 labels");
        Runs { runs, first }
    }

    /// Row index of (z + dz, y + dy) when that row lies in planes `zmin..`
    /// and inside the volume.
    fn row_at(z: usize, y: usize, ny: usize, dz: isize, dy: isize, zmin: usize) -> Option<usize> {
        let (zz, yy) = (z as isize + dz, y as isize + dy);
        (zz >= zmin as isize && yy >= 0 && yy < ny as isize).then(|| zz as usize * ny + yy as usize)
    }

    /// Joins each run of row (z, y), not yet joined to anything, with the
    /// touching runs of the earlier rows in `rows` (see [`label`]) that lie
    /// in planes `zmin..`; `parent` holds the union–find of runs `base..`.
    /// Run by run: the run takes the root of the first run it touches, and
    /// any other root it touches is linked to the smaller of the two, so a
    /// run's own parent is written once and never searched for.
    #[allow(clippy::too_many_arguments)]
    fn join_fresh(
        &self,
        z: usize,
        y: usize,
        ny: usize,
        rows: &[(isize, isize, u32)],
        zmin: usize,
        parent: &mut [u32],
        base: usize,
    ) {
        let r = z * ny + y;
        let (i0, i1) = (self.first[r], self.first[r + 1]);
        if i0 == i1 {
            return;
        }
        // Cursor, end and reach of each earlier row that has runs.
        let mut nb = [(0usize, 0usize, 0u32); 4];
        let mut k = 0;
        for &(dz, dy, reach) in rows {
            let Some(o) = Self::row_at(z, y, ny, dz, dy, zmin) else { continue };
            if self.first[o] < self.first[o + 1] {
                nb[k] = (self.first[o], self.first[o + 1], reach);
                k += 1;
            }
        }
        for i in i0..i1 {
            let (a0, a1) = self.runs[i];
            let mut root = u32::MAX;
            for (cur, end, reach) in nb[..k].iter_mut() {
                // Runs that end before this one can touch no later run either.
                let mut j = *cur;
                while j < *end && self.runs[j].1 + *reach <= a0 {
                    j += 1;
                }
                *cur = j;
                while j < *end && self.runs[j].0 < a1 + *reach {
                    // Most touching runs point straight at the root found.
                    let pj = parent[j - base];
                    if pj == root {
                        j += 1;
                        continue;
                    }
                    let rj = find(parent, pj);
                    if root == u32::MAX {
                        root = rj;
                    } else if rj < root {
                        parent[root as usize] = rj;
                        root = rj;
                    } else if rj > root {
                        parent[rj as usize] = root;
                    }
                    j += 1;
                }
            }
            parent[i - base] = if root == u32::MAX { (i - base) as u32 } else { root };
        }
    }

    /// Joins the runs of row (z, y) with the touching runs of the earlier
    /// rows in `rows` (see [`label`]) that lie in planes `zmin..`; `parent`
    /// holds the union–find of runs `base..`.
    #[allow(clippy::too_many_arguments)]
    fn join(
        &self,
        z: usize,
        y: usize,
        ny: usize,
        rows: &[(isize, isize, u32)],
        zmin: usize,
        parent: &mut [u32],
        base: usize,
    ) {
        let r = z * ny + y;
        let (i0, i1) = (self.first[r], self.first[r + 1]);
        if i0 == i1 {
            return;
        }
        for &(dz, dy, reach) in rows {
            let Some(o) = Self::row_at(z, y, ny, dz, dy, zmin) else { continue };
            let (mut i, mut j, jend) = (i0, self.first[o], self.first[o + 1]);
            // Two sorted interval lists: advance whichever ends first.
            while i < i1 && j < jend {
                let (a0, a1) = self.runs[i];
                let (b0, b1) = self.runs[j];
                if a0 < b1 + reach && b0 < a1 + reach {
                    union(parent, (i - base) as u32, (j - base) as u32);
                }
                if a1 < b1 {
                    i += 1;
                } else {
                    j += 1;
                }
            }
        }
    }
}

/// The runs of a mask and the label of each run (1.., in raster order of
/// each component's first voxel): what [`label`] and [`label_compact`]
/// paint into their outputs.
fn run_labels(mask: ArrayView3<bool>, conn: Connectivity) -> (Runs, Vec<u32>, u32) {
    let (nz, ny, nx) = mask.dim();
    let m = mask.as_standard_layout();
    let r = Runs::of(m.as_slice().expect("standard layout"), ny, nx);
    // Earlier rows that can touch row (z, y): (dz, dy, reach), where runs
    // touch when they overlap after widening by `reach` columns (1 where
    // the connectivity allows diagonal steps along x).
    let rows: Vec<(isize, isize, u32)> = match conn {
        Connectivity::C6 => vec![(0, -1, 0), (-1, 0, 0)],
        Connectivity::C18 => vec![(0, -1, 1), (-1, -1, 0), (-1, 0, 1), (-1, 1, 0)],
        Connectivity::C26 => vec![(0, -1, 1), (-1, -1, 1), (-1, 0, 1), (-1, 1, 1)],
    };
    let mut parent = vec![0u32; r.runs.len()];
    // Slabs of planes joined in parallel, each within its own runs; roots
    // stay the smallest run index, so the result does not depend on slabs.
    let slab = nz.div_ceil(rayon::current_num_threads().max(1)).max(1);
    let mut pieces = Vec::new();
    let mut rest = parent.as_mut_slice();
    let mut used = 0usize;
    for z0 in (0..nz).step_by(slab) {
        let z1 = (z0 + slab).min(nz);
        let end = r.first[z1 * ny];
        let (head, tail) = rest.split_at_mut(end - used);
        pieces.push((z0, z1, used, head));
        rest = tail;
        used = end;
    }
    pieces.into_par_iter().for_each(|(z0, z1, base, p)| {
        // Every run of the slab gets its parent as its row is joined.
        for z in z0..z1 {
            for y in 0..ny {
                r.join_fresh(z, y, ny, &rows, z0, p, base);
            }
        }
        // Back from slab-relative to global run indices.
        for v in p.iter_mut() {
            *v += base as u32;
        }
    });
    let down: Vec<_> = rows.iter().cloned().filter(|o| o.0 < 0).collect();
    for z0 in (slab..nz).step_by(slab) {
        for y in 0..ny {
            r.join(z0, y, ny, &down, 0, &mut parent, 0);
        }
    }
    // Number roots in run order; a run's root comes before it.
    let mut lab = vec![0u32; r.runs.len()];
    let mut next = 0u32;
    for i in 0..r.runs.len() {
        let root = find(&mut parent, i as u32) as usize;
        if root == i {
            next += 1;
            lab[i] = next;
        } else {
            lab[i] = lab[root];
        }
    }
    (r, lab, next)
}

/// The output volume: each row's runs painted with their labels, `zero`
/// between them (every voxel written once).
fn paint<T: Copy + Send + Sync>(
    r: &Runs,
    lab: &[u32],
    dim: (usize, usize, usize),
    zero: T,
    to: impl Fn(u32) -> T + Sync,
) -> Array3<T> {
    let (n, nx) = (dim.0 * dim.1 * dim.2, dim.2);
    let mut v = chemomech_core::bigmem::with_capacity::<T>(n);
    v.spare_capacity_mut()[..n].par_chunks_mut(nx).with_min_len(64).enumerate().for_each(|(row, o)| {
        let mut x = 0usize;
        let ks = r.first[row]..r.first[row + 1];
        for (&(a, b), &l) in r.runs[ks.clone()].iter().zip(&lab[ks]) {
            let (a, b) = (a as usize, b as usize);
            o[x..a].fill(std::mem::MaybeUninit::new(zero));
            o[a..b].fill(std::mem::MaybeUninit::new(to(l)));
            x = b;
        }
        o[x..].fill(std::mem::MaybeUninit::new(zero));
    });
    // SAFETY: every row of the first n elements was written in full above.
    unsafe { v.set_len(n) };
    Array3::from_shape_vec(dim, v).expect("length matches the shape")
}

/// Labels the `true` voxels of `mask`. Returns (labels, number of components).
///
/// Written by hand (no kept crate labels 3-D volumes): the runs of each row
/// are found 64 voxels at a time, touching runs of neighbouring rows are
/// joined by union–find over runs (not voxels) in parallel slabs of planes
/// that are then stitched, and rows are filled in parallel. A component's
/// root is its first run, so components are numbered in raster order of
/// their first voxel, as cc3d numbers them, whatever the thread count.
///
/// ```
/// use chemomech_imgproc::{label, Connectivity};
/// let mut m = ndarray::Array3::from_elem((3, 3, 3), false);
/// m[[0, 0, 0]] = true;
/// m[[1, 1, 1]] = true;
/// assert_eq!(label(m.view(), Connectivity::C6).1, 2);
/// assert_eq!(label(m.view(), Connectivity::C26).1, 1);
/// ```
pub fn label(mask: ArrayView3<bool>, conn: Connectivity) -> (Array3<u32>, u32) {
    let dim = mask.dim();
    if dim.0 * dim.1 * dim.2 == 0 {
        return (Array3::zeros(dim), 0);
    }
    let (r, lab, n) = run_labels(mask, conn);
    (paint(&r, &lab, dim, 0u32, |l| l), n)
}

/// Labels in the narrowest unsigned type that holds them.
#[derive(Debug, Clone, PartialEq)]
pub enum CompactLabels {
    /// Up to 65 535 components.
    U16(Array3<u16>),
    /// More than 65 535 components.
    U32(Array3<u32>),
}

/// [`label`], with 16-bit labels when there are at most 65 535 components
/// (as cc3d returns them): half the memory, and ImageJ/Fiji open 16-bit
/// TIFFs as integer labels where they turn 32-bit ones into floats.
///
/// ```
/// use chemomech_imgproc::label::{label_compact, CompactLabels, Connectivity};
/// let m = ndarray::Array3::from_shape_fn((2, 2, 5), |(_, _, x)| x != 2);
/// let (l, n) = label_compact(m.view(), Connectivity::C6);
/// assert_eq!(n, 2);
/// assert!(matches!(l, CompactLabels::U16(a) if a[[1, 1, 4]] == 2));
/// ```
pub fn label_compact(mask: ArrayView3<bool>, conn: Connectivity) -> (CompactLabels, u32) {
    let dim = mask.dim();
    if dim.0 * dim.1 * dim.2 == 0 {
        return (CompactLabels::U16(Array3::zeros(dim)), 0);
    }
    let (r, lab, n) = run_labels(mask, conn);
    let out = if n <= u16::MAX as u32 {
        CompactLabels::U16(paint(&r, &lab, dim, 0u16, |l| l as u16))
    } else {
        CompactLabels::U32(paint(&r, &lab, dim, 0u32, |l| l))
    };
    (out, n)
}

/// Relabels `labels` to 1..n in raster order of first appearance (0 stays 0).
pub fn renumber(labels: &mut Array3<u32>) -> u32 {
    let max = labels.iter().cloned().max().unwrap_or(0) as usize;
    let mut map = vec![0u32; max + 1];
    let mut next = 0u32;
    for v in labels.iter_mut() {
        if *v == 0 {
            continue;
        }
        let e = &mut map[*v as usize];
        if *e == 0 {
            next += 1;
            *e = next;
        }
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
        .reduce(
            || vec![0u64; max + 1],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
                a
            },
        )
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
    fn compact_labels_switch_to_32_bits_past_65535() {
        // Isolated voxels (6-connectivity): 81 920 components.
        let m = Array3::from_shape_fn((40, 64, 64), |(z, y, x)| (z + y + x) % 2 == 0);
        let (wide, n) = label(m.view(), Connectivity::C6);
        assert_eq!(n, 81_920);
        assert_eq!(label_compact(m.view(), Connectivity::C6), (CompactLabels::U32(wide), n));
        let few = m.slice(ndarray::s![..2, .., ..]);
        let (wide, n) = label(few, Connectivity::C6);
        assert_eq!(label_compact(few, Connectivity::C6), (CompactLabels::U16(wide.mapv(|v| v as u16)), n));
    }
    #[test]
    fn spans_slabs_and_is_thread_independent() {
        let m = Array3::from_shape_fn((40, 9, 9), |(z, y, x)| (x == 4 && y == 4) || (z % 7 == 0 && (x + y) % 3 == 0));
        let a = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| label(m.view(), Connectivity::C6));
        let b = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap()
            .install(|| label(m.view(), Connectivity::C6));
        assert_eq!(a, b);
    }
    /// Flood fill, one voxel at a time: the reference.
    fn flood(m: &Array3<bool>, conn: Connectivity) -> (Array3<u32>, u32) {
        let (nz, ny, nx) = m.dim();
        let mut l = Array3::<u32>::zeros(m.dim());
        let mut n = 0;
        for ((z, y, x), &v) in m.indexed_iter() {
            if !v || l[[z, y, x]] > 0 {
                continue;
            }
            n += 1;
            l[[z, y, x]] = n;
            let mut st = vec![(z, y, x)];
            while let Some((a, b, c)) = st.pop() {
                for (dz, dy, dx) in conn.all() {
                    let (p, q, r) = (a as isize + dz, b as isize + dy, c as isize + dx);
                    if p < 0 || q < 0 || r < 0 || p >= nz as isize || q >= ny as isize || r >= nx as isize {
                        continue;
                    }
                    let i = [p as usize, q as usize, r as usize];
                    if m[i] && l[i] == 0 {
                        l[i] = n;
                        st.push((i[0], i[1], i[2]));
                    }
                }
            }
        }
        (l, n)
    }
    #[test]
    fn equals_flood_fill_on_random_masks() {
        let mut s = 12345u64;
        for (k, conn) in [Connectivity::C6, Connectivity::C18, Connectivity::C26].into_iter().enumerate() {
            for density in [20u64, 45, 70] {
                let m = Array3::from_shape_fn((11, 13, 37 + k), |_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (s >> 33) % 100 < density
                });
                assert_eq!(label(m.view(), conn), flood(&m, conn), "{conn:?} density {density}");
                // A non-standard layout gives the same result.
                let t = m.clone().reversed_axes();
                let tt = t.as_standard_layout().to_owned();
                assert_eq!(label(t.view(), conn), label(tt.view(), conn));
            }
        }
    }
}
