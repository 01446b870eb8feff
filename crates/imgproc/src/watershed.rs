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
//!
//! Long stretches of one bucket (rounds of ≥ 8192 voxels: a
//! distance map's shells near the surfaces, most of the volume) are claimed
//! on all threads with the same result as one by one (`parallel_round`):
//! the flood is memory-latency bound, and two cores overlap twice the
//! misses (measurements: `bench/README.md`).

use crate::grid::Padded;
use crate::label::Connectivity;
use ndarray::{Array3, ArrayView3, s};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

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

/// Pops are scattered over the volume: fetch the neighbourhood (its rows
/// at offsets `rows`) of the entry `PREFETCH` pops after entry `k`, so
/// the misses overlap.
#[inline(always)]
fn prefetch_ahead<T>(st: &[T], entries: &[u32], k: usize, rows: &[isize]) {
    if let Some(&a) = entries.get(k + PREFETCH) {
        for &o in rows {
            prefetch(st, (a as isize + o) as usize);
        }
    }
}

/// Claims the free neighbours of voxel `i` for label `l` and hands each
/// (its level, its index) to `push`.
#[inline(always)]
fn claim(offs: &[isize], st: &mut [u32], i: u32, l: u32, mut push: impl FnMut(u32, u32)) {
    for &o in offs {
        let j = (i as isize + o) as usize;
        let s = st[j];
        if s & TAKEN == 0 {
            st[j] = TAKEN | l;
            push(s, j as u32);
        }
    }
}

/// One word per voxel: the cost level of a free voxel (in the mask, not yet
/// queued), or this bit and the label of a taken one (queued, a seed, or
/// outside the mask with label 0). A neighbour is decided and claimed with
/// one load and one store in one cache line.
const TAKEN: u32 = 1 << 31;

/// Up to this many distinct cost values, levels are found by hashing.
const FEW: usize = 1 << 16;

/// Fast fixed-seed hashing of f32 bits (foldhash, hashbrown's own).
type Fold = foldhash::fast::FixedState;

/// The distinct values of `cost` in `mask`, in `total_cmp` order. Counted
/// with a small hash set per chunk while they are few (a distance map's
/// few hundred), else by sorting every value.
fn distinct(cost: ArrayView3<f32>, mask: ArrayView3<bool>, negate: bool) -> Vec<f32> {
    let key = |c: f32| if negate { -c } else { c };
    type Set = HashSet<u32, Fold>;
    let (c, m) = (cost.as_standard_layout(), mask.as_standard_layout());
    let (c, m) = (c.as_slice().expect("standard layout"), m.as_slice().expect("standard layout"));
    let few: Option<Set> = c
        .par_chunks(1 << 16)
        .zip(m.par_chunks(1 << 16))
        .map(|(c, m)| {
            let mut s = Set::default();
            for (&v, &k) in c.iter().zip(m) {
                if k {
                    s.insert(key(v).to_bits());
                    if s.len() > FEW {
                        return None;
                    }
                }
            }
            Some(s)
        })
        .try_reduce(Set::default, |mut a, b| {
            a.extend(b);
            (a.len() <= FEW).then_some(a)
        });
    let mut vals: Vec<f32> = match few {
        Some(s) => s.into_iter().map(f32::from_bits).collect(),
        None => c.iter().zip(m).filter(|(_, k)| **k).map(|(v, _)| key(*v)).collect(),
    };
    vals.par_sort_unstable_by(|a, b| a.total_cmp(b));
    vals.dedup_by(|a, b| a.total_cmp(b).is_eq());
    vals
}

/// Above this many distinct cost values the heap is used.
const MAX_BUCKETS: usize = 1 << 20;

/// Floods `markers` (labels > 0) over `mask` by increasing `cost`.
///
/// ```
/// use chemomech_imgproc::{watershed::watershed, Connectivity};
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
pub fn watershed(
    cost: ArrayView3<f32>,
    markers: ArrayView3<u32>,
    mask: ArrayView3<bool>,
    conn: Connectivity,
) -> Array3<u32> {
    flood(cost, markers, mask, conn, false, false)
}

/// [`watershed`] by decreasing `height` (the same as flooding `-height`,
/// without making that volume): on a distance map, particles grow from
/// their centres outwards.
///
/// ```
/// use chemomech_imgproc::{watershed::{watershed, watershed_from_peaks}, Connectivity};
/// use ndarray::Array3;
/// let d = Array3::from_shape_fn((1, 1, 7), |(_, _, x)| [3.0f32, 2.0, 1.0, 0.5, 1.0, 2.0, 3.0][x]);
/// let mut markers = Array3::<u32>::zeros((1, 1, 7));
/// markers[[0, 0, 0]] = 1;
/// markers[[0, 0, 6]] = 2;
/// let mask = Array3::from_elem((1, 1, 7), true);
/// let a = watershed_from_peaks(d.view(), markers.view(), mask.view(), Connectivity::C6);
/// assert_eq!(a, watershed(d.mapv(|v| -v).view(), markers.view(), mask.view(), Connectivity::C6));
/// ```
pub fn watershed_from_peaks(
    height: ArrayView3<f32>,
    markers: ArrayView3<u32>,
    mask: ArrayView3<bool>,
    conn: Connectivity,
) -> Array3<u32> {
    flood(height, markers, mask, conn, true, false)
}

/// Rounds at least this long are claimed in parallel.
const PAR_ROUND: usize = 8192;
/// A free voxel claimed in a parallel round: this bit, the claiming chunk
/// (bits 21–29) and the voxel's level (bits 0–20; levels are at most
/// [`MAX_BUCKETS`]).
const CLAIMED: u32 = 1 << 30;
const OWNER_SHIFT: u32 = 21;
const LEVEL: u32 = (1 << OWNER_SHIFT) - 1;
const MAX_CHUNKS: usize = 1 << (30 - OWNER_SHIFT);

/// One round of the flood — entries `round`, all at the current level, in
/// queue order — on all threads, with the sequential loop's result: each
/// free neighbour goes to the first entry of the round next to it. The
/// claims come back in `out`, chunk after chunk, as (level, index) in the
/// order the sequential loop would have queued them (entry by entry,
/// neighbour offset by offset); `out`'s buffers are reused from round to
/// round (fresh memory costs page faults).
///
/// The round is cut into chunks. Each chunk claims in order, taking a
/// voxel that is free or claimed by a later chunk (compare-and-swap, so the
/// earliest chunk wins whatever the timing); then each chunk labels the
/// voxels it still owns. The result does not depend on the thread count.
fn parallel_round(
    round: &[u32],
    offs: &[isize],
    rows: &[isize],
    st: &mut [u32],
    out: &mut Vec<Vec<(u32, u32)>>,
) -> usize {
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    // SAFETY: AtomicU32 has u32's size and alignment, and `st` is borrowed
    // mutably for as long as this shared atomic view lives.
    let sa: &[AtomicU32] = unsafe { &*(st as *mut [u32] as *const [AtomicU32]) };
    let size = round.len().div_ceil((4 * rayon::current_num_threads()).min(MAX_CHUNKS)).max(1);
    let n = round.len().div_ceil(size);
    out.resize_with(n.max(out.len()), Vec::new);
    let out = &mut out[..n];
    out.par_iter_mut().zip(round.par_chunks(size)).enumerate().for_each(|(c, (mine, entries))| {
        let c = c as u32;
        mine.clear();
        for (k, &i) in entries.iter().enumerate() {
            prefetch_ahead(sa, entries, k, rows);
            let l = sa[i as usize].load(Relaxed) & !TAKEN;
            for &o in offs {
                let j = (i as isize + o) as usize;
                let mut w = sa[j].load(Relaxed);
                while w & TAKEN == 0 && (w & CLAIMED == 0 || (w & !CLAIMED) >> OWNER_SHIFT > c) {
                    match sa[j].compare_exchange_weak(w, CLAIMED | c << OWNER_SHIFT | (w & LEVEL), Relaxed, Relaxed) {
                        Ok(_) => {
                            // Holds the label until the claim is settled.
                            mine.push((l, j as u32));
                            break;
                        }
                        Err(now) => w = now,
                    }
                }
            }
        }
    });
    // Every claim is settled (rayon's join orders the two passes).
    out.par_iter_mut().enumerate().for_each(|(c, mine)| {
        let owned = CLAIMED | (c as u32) << OWNER_SHIFT;
        mine.retain_mut(|(l, j)| {
            let w = sa[*j as usize].load(Relaxed);
            let kept = w & !LEVEL == owned;
            if kept {
                sa[*j as usize].store(TAKEN | *l, Relaxed);
                *l = w & LEVEL;
            }
            kept
        });
    });
    n
}

fn flood(
    cost: ArrayView3<f32>,
    markers: ArrayView3<u32>,
    mask: ArrayView3<bool>,
    conn: Connectivity,
    negate: bool,
    force_heap: bool,
) -> Array3<u32> {
    let key = |c: f32| if negate { -c } else { c };
    let g = Padded::new(cost.dim());
    let (back, fwd) = g.offsets(conn);
    let offs: Vec<isize> = back.into_iter().chain(fwd).collect();
    // Cost levels: the rank of each voxel's cost among the distinct values
    // in the mask, looked up by the value's bits where they are few (a
    // distance map has a few hundred), else by binary search.
    let vals = distinct(cost, mask, negate);
    let rank: Option<HashMap<u32, u32, Fold>> =
        (vals.len() <= FEW).then(|| vals.iter().enumerate().map(|(k, v)| (v.to_bits(), k as u32)).collect());
    let level_of = |c: f32| match rank.as_ref().and_then(|r| r.get(&c.to_bits())) {
        Some(&k) => k,
        None => vals.binary_search_by(|v| v.total_cmp(&c)).unwrap_or_else(|i| i) as u32,
    };
    // The state words, written straight into the padded layout.
    let mut st = chemomech_core::bigmem::filled_vec(g.len(), TAKEN);
    let (nx, ny) = (g.dim.2, g.dim.1);
    let plane = g.at(1, 0, 0) - g.at(0, 0, 0);
    // Plane by plane, with each plane's seeds (level of their own cost,
    // index) in raster order.
    let seeds: Vec<Vec<(u32, u32)>> = st
        .par_chunks_mut(plane)
        .enumerate()
        .filter(|(pz, _)| *pz >= 1 && *pz <= g.dim.0)
        .map(|(pz, p)| {
            let z = pz - 1;
            let mut seeds = Vec::new();
            for y in 0..ny {
                let o = g.at(z, y, 0) - pz * plane;
                let (l, m, c) = (markers.slice(s![z, y, ..]), mask.slice(s![z, y, ..]), cost.slice(s![z, y, ..]));
                for (x, ((w, &l), (&m, &c))) in p[o..o + nx].iter_mut().zip(l).zip(m.iter().zip(c)).enumerate() {
                    *w = if l > 0 {
                        assert!(l < TAKEN, "marker labels must be below 2³¹");
                        seeds.push((level_of(key(c)), (pz * plane + o + x) as u32));
                        TAKEN | l
                    } else if m {
                        level_of(key(c))
                    } else {
                        TAKEN
                    };
                }
            }
            seeds
        })
        .collect();
    let seeds: Vec<(u32, u32)> = seeds.into_iter().flatten().collect();
    if vals.len() <= MAX_BUCKETS && !force_heap {
        // Entries are voxel indices; a voxel's label is in its own word.
        let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); vals.len() + 1];
        for &(l, i) in &seeds {
            buckets[(l as usize).min(vals.len())].push(i);
        }
        // The nine rows of a voxel's neighbourhood, by index offset from it.
        let rows: Vec<isize> = g.row_offsets();
        let par = rayon::current_num_threads() > 1;
        let mut claims = Vec::new();
        for cur in 0..buckets.len() {
            let mut k = 0;
            while k < buckets[cur].len() {
                let end = buckets[cur].len();
                if par && end - k >= PAR_ROUND {
                    // A round: the entries queued so far at this level.
                    // What they claim is queued after them, in order.
                    let n = parallel_round(&buckets[cur][k..end], &offs, &rows, &mut st, &mut claims);
                    for &(lj, j) in claims[..n].iter().flatten() {
                        buckets[(lj as usize).max(cur)].push(j);
                    }
                    k = end;
                    continue;
                }
                let i = buckets[cur][k];
                prefetch_ahead(&st, &buckets[cur], k, &rows);
                k += 1;
                let l = st[i as usize] & !TAKEN;
                claim(&offs, &mut st, i, l, |lj, j| buckets[(lj as usize).max(cur)].push(j));
            }
            buckets[cur] = Vec::new();
        }
    } else {
        let mut heap = BinaryHeap::new();
        let mut order = 0u64;
        for &(l, i) in &seeds {
            heap.push(Reverse((l, order, i)));
            order += 1;
        }
        while let Some(Reverse((cur, _, i))) = heap.pop() {
            let l = st[i as usize] & !TAKEN;
            claim(&offs, &mut st, i, l, |lj, j| {
                heap.push(Reverse((lj.max(cur), order, j)));
                order += 1;
            });
        }
    }
    // A voxel no marker reached (a part of the mask without markers) still
    // holds its level: label 0.
    g.unpad_in_place(st, |s| if s & TAKEN != 0 { s & !TAKEN } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn distinct_values_by_hashing_and_by_sorting_agree() {
        // 17 values (hashed) and ~100 000 (past FEW: sorted), half masked out.
        let mut s = 3u64;
        for modulus in [17u64, 1 << 40] {
            let cost = Array3::from_shape_fn((60, 60, 80), |_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 20) % modulus) as f32 * 0.37 - 3.0
            });
            let mask = Array3::from_shape_fn(cost.dim(), |(z, y, x)| (z + y + x) % 2 == 0);
            let mut want: Vec<f32> = cost.iter().zip(mask.iter()).filter(|(_, m)| **m).map(|(c, _)| *c).collect();
            want.sort_by(|a, b| a.total_cmp(b));
            want.dedup();
            assert_eq!(distinct(cost.view(), mask.view(), false), want);
            let mut neg: Vec<f32> = want.iter().rev().map(|v| -v).collect();
            neg.dedup();
            assert_eq!(distinct(cost.view(), mask.view(), true), neg);
            assert_eq!(want.len() > FEW, modulus > 17);
        }
    }
    #[test]
    fn parallel_rounds_flood_as_the_sequential_loop() {
        // Four plateaus of 24 × 120 × 120 voxels, a sixth of them masked
        // out: markers race across each plateau in wavefronts (rounds) of
        // thousands of voxels, where who comes first decides. Claimed in
        // parallel (3 and 4 threads) and one by one.
        let mut s = 11u64;
        let cost = Array3::from_shape_fn((96, 120, 120), |(z, _, _)| (z / 24) as f32);
        let mask = Array3::from_shape_fn(cost.dim(), |_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            !(s >> 40).is_multiple_of(6)
        });
        let mut markers = Array3::<u32>::zeros(cost.dim());
        for k in 0..40u32 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            markers[[(s >> 20) as usize % 96, (s >> 30) as usize % 120, (s >> 40) as usize % 120]] = k + 1;
        }
        let run = |threads: usize, heap: bool| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| flood(cost.view(), markers.view(), mask.view(), Connectivity::C26, false, heap))
        };
        let one = run(1, false);
        assert!(mask.iter().filter(|&&m| m).count() > 8 * PAR_ROUND);
        assert_eq!(one, run(1, true));
        assert_eq!(one, run(3, false));
        assert_eq!(one, run(4, false));
    }
    #[test]
    fn mask_without_a_marker_stays_unlabelled() {
        // Two bars; only the first has a marker. The second keeps label 0
        // (it used to come out as its voxels' cost levels).
        let cost = Array3::from_shape_fn((1, 3, 9), |(_, _, x)| x as f32);
        let mask = Array3::from_shape_fn(cost.dim(), |(_, y, _)| y != 1);
        let mut markers = Array3::<u32>::zeros(cost.dim());
        markers[[0, 0, 0]] = 1;
        for heap in [false, true] {
            let l = flood(cost.view(), markers.view(), mask.view(), Connectivity::C6, false, heap);
            assert!(l.slice(s![0, 0, ..]).iter().all(|&v| v == 1), "{l:?}");
            assert!(l.slice(s![0, 1..3, ..]).iter().all(|&v| v == 0), "{l:?}");
        }
    }
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
            let a = flood(cost.view(), markers.view(), mask.view(), conn, false, false);
            let b = flood(cost.view(), markers.view(), mask.view(), conn, false, true);
            let up = cost.mapv(|c| -c);
            assert_eq!(flood(up.view(), markers.view(), mask.view(), conn, true, false), a);
            assert_eq!(a, b);
            assert!(a.iter().zip(mask.iter()).all(|(&l, &m)| (l > 0) <= m));
            let counts: Vec<usize> = (1..=4).map(|k| a.iter().filter(|&&l| l == k).count()).collect();
            assert!(counts.iter().filter(|&&c| c > 1).count() >= 3, "{counts:?}");
        }
    }
}
