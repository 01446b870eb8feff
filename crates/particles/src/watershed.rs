//! Marker-controlled watershed by priority flooding (Meyer): labelled
//! markers grow through `mask` in order of increasing `cost`, ties in
//! insertion order (first in, first out), so the result does not depend on
//! threads.
//!
//! Written by hand (no kept crate floods 3-D volumes). The queue is a
//! bucket per distinct cost value, popped lowest first, each first in,
//! first out — the same order as a binary heap on (cost, insertion order),
//! at O(1) per voxel instead of O(log n). When the cost takes too many
//! distinct values for buckets, a binary heap does the same work.

use crate::grid::Padded;
use crate::label::Connectivity;
use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How many pops ahead the neighbourhood is prefetched.
const PREFETCH: usize = 16;

#[inline(always)]
fn prefetch<T>(v: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if i < v.len() {
        // SAFETY: a prefetch of an address inside `v`; it reads nothing.
        unsafe { std::arch::x86_64::_mm_prefetch(v.as_ptr().add(i) as *const i8, std::arch::x86_64::_MM_HINT_T0) };
    }
}

/// Marks the free neighbours of voxel `i` as taken by label `l` and hands
/// each (its level, its index) to `push`.
#[inline(always)]
fn claim(offs: &[isize], lv: &mut [u32], lab: &mut [u32], i: u32, l: u32, mut push: impl FnMut(u32, u32)) {
    for &o in offs {
        let j = (i as isize + o) as usize;
        let lj = lv[j];
        if lj != TAKEN {
            lv[j] = TAKEN;
            lab[j] = l;
            push(lj, j as u32);
        }
    }
}

/// Level of a voxel that is not free (outside the mask, or queued).
const TAKEN: u32 = u32::MAX;

/// Above this many distinct cost values the heap is used.
const MAX_BUCKETS: usize = 1 << 20;

/// Floods `markers` (labels > 0) over `mask` by increasing `cost`.
///
/// ```
/// use chemomech_particles::{watershed::watershed, Connectivity};
/// use ndarray::Array3;
/// // A valley between two markers: each side goes to its nearer marker.
/// let cost = Array3::from_shape_fn((1, 1, 7), |(_, _, x)| [0.0f32, 1.0, 2.0, 3.0, 2.0, 1.0, 0.0][x]);
/// let mut markers = Array3::<u32>::zeros((1, 1, 7));
/// markers[[0, 0, 0]] = 1;
/// markers[[0, 0, 6]] = 2;
/// let mask = Array3::from_elem((1, 1, 7), true);
/// let l = watershed(cost.view(), markers.view(), mask.view(), Connectivity::C6);
/// assert_eq!(l.iter().cloned().collect::<Vec<_>>(), vec![1, 1, 1, 1, 2, 2, 2]);
/// ```
pub fn watershed(cost: ArrayView3<f32>, markers: ArrayView3<u32>, mask: ArrayView3<bool>, conn: Connectivity) -> Array3<u32> {
    flood(cost, markers, mask, conn, false)
}

fn flood(cost: ArrayView3<f32>, markers: ArrayView3<u32>, mask: ArrayView3<bool>, conn: Connectivity, force_heap: bool) -> Array3<u32> {
    let g = Padded::new(cost.dim());
    let (back, fwd) = g.offsets(conn);
    let offs: Vec<isize> = back.into_iter().chain(fwd).collect();
    let mut lab = g.pad(markers, 0u32);
    // Cost levels: the rank of each voxel's cost among the distinct values
    // in the mask. `lv` holds the level of every voxel still free (in the
    // mask, not queued) and TAKEN otherwise, padding included: one load
    // decides a neighbour.
    let mut vals: Vec<f32> = cost.iter().zip(mask.iter()).filter(|(_, m)| **m).map(|(c, _)| *c).collect();
    vals.par_sort_unstable_by(|a, b| a.total_cmp(b));
    vals.dedup_by(|a, b| a.total_cmp(b).is_eq());
    let level_of = |c: f32| vals.binary_search_by(|v| v.total_cmp(&c)).unwrap_or_else(|i| i) as u32;
    let levels = ndarray::Zip::from(cost).and(mask).par_map_collect(|&c, &m| if m { level_of(c) } else { TAKEN });
    let mut lv = g.pad(levels.view(), TAKEN);
    drop(levels);
    // Seeds in raster order, with the level of their own cost.
    let mut seeds = Vec::new();
    for ((z, y, x), &l) in markers.indexed_iter() {
        if l > 0 {
            let i = g.at(z, y, x);
            seeds.push((level_of(cost[[z, y, x]]), i as u32, l));
            lv[i] = TAKEN;
        }
    }
    if vals.len() <= MAX_BUCKETS && !force_heap {
        // Entries carry their label, so popping reads no other array.
        let mut buckets: Vec<Vec<(u32, u32)>> = vec![Vec::new(); vals.len() + 1];
        for &(l, i, m) in &seeds {
            buckets[(l as usize).min(vals.len())].push((i, m));
        }
        // The nine rows of a voxel's neighbourhood, by index offset from it.
        let rows: Vec<isize> = g.row_offsets();
        for cur in 0..buckets.len() {
            let mut k = 0;
            while k < buckets[cur].len() {
                let (i, l) = buckets[cur][k];
                // Pops are scattered over the volume: fetch the
                // neighbourhood a few pops ahead so the misses overlap.
                if let Some(&(a, _)) = buckets[cur].get(k + PREFETCH) {
                    for &o in &rows {
                        prefetch(&lv, (a as isize + o) as usize);
                    }
                }
                k += 1;
                claim(&offs, &mut lv, &mut lab, i, l, |lj, j| buckets[(lj as usize).max(cur)].push((j, l)));
            }
            buckets[cur] = Vec::new();
        }
    } else {
        let mut heap = BinaryHeap::new();
        let mut order = 0u64;
        for &(l, i, m) in &seeds {
            heap.push(Reverse((l, order, i, m)));
            order += 1;
        }
        while let Some(Reverse((cur, _, i, l))) = heap.pop() {
            claim(&offs, &mut lv, &mut lab, i, l, |lj, j| {
                heap.push(Reverse((lj.max(cur), order, j, l)));
                order += 1;
            });
        }
    }
    g.unpad(&lab)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn buckets_and_heap_agree() {
        // Random costs with many ties: both queues must flood alike.
        let mut s = 7u64;
        let mut cost = Array3::from_shape_fn((9, 11, 13), |_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) % 17) as f32
        });
        let mut mask = cost.mapv(|c| c < 15.0);
        let mut markers = Array3::<u32>::zeros(cost.dim());
        for (k, at) in [[0, 0, 0], [4, 5, 6], [8, 10, 12], [2, 9, 3]].into_iter().enumerate() {
            markers[at] = k as u32 + 1;
            mask[at] = true;
            cost[at] = 0.0;
        }
        for conn in [Connectivity::C6, Connectivity::C26] {
            let a = flood(cost.view(), markers.view(), mask.view(), conn, false);
            let b = flood(cost.view(), markers.view(), mask.view(), conn, true);
            assert_eq!(a, b);
            assert!(a.iter().zip(mask.iter()).all(|(&l, &m)| (l > 0) <= m));
            let counts: Vec<usize> = (1..=4).map(|k| a.iter().filter(|&&l| l == k).count()).collect();
            assert!(counts.iter().filter(|&&c| c > 1).count() >= 3, "{counts:?}");
        }
    }
}
