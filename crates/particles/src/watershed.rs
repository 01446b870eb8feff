//! Marker-controlled watershed by priority flooding (Meyer): labelled
//! markers grow through `mask` in order of increasing `cost`; ties are
//! broken by insertion order, so the result does not depend on threads.

use crate::label::Connectivity;
use ndarray::{Array3, ArrayView3};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(PartialEq)]
struct Item {
    cost: f32,
    order: u64,
    idx: (usize, usize, usize),
    label: u32,
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    fn cmp(&self, o: &Self) -> Ordering {
        // Min-heap on (cost, order).
        o.cost.total_cmp(&self.cost).then(o.order.cmp(&self.order))
    }
}

/// Floods `markers` (labels > 0) over `mask` by increasing `cost`.
pub fn watershed(cost: ArrayView3<f32>, markers: ArrayView3<u32>, mask: ArrayView3<bool>, conn: Connectivity) -> Array3<u32> {
    let (nz, ny, nx) = cost.dim();
    let mut out = markers.to_owned();
    let offs = conn.all();
    let mut heap = BinaryHeap::new();
    let mut order = 0u64;
    let mut queued = Array3::<bool>::from_elem((nz, ny, nx), false);
    for ((z, y, x), &l) in markers.indexed_iter() {
        if l > 0 {
            queued[[z, y, x]] = true;
            heap.push(Item { cost: cost[[z, y, x]], order, idx: (z, y, x), label: l });
            order += 1;
        }
    }
    while let Some(Item { idx: (z, y, x), label, .. }) = heap.pop() {
        out[[z, y, x]] = label;
        for &(dz, dy, dx) in &offs {
            let (zz, yy, xx) = (z as isize + dz, y as isize + dy, x as isize + dx);
            if zz < 0 || yy < 0 || xx < 0 || zz as usize >= nz || yy as usize >= ny || xx as usize >= nx {
                continue;
            }
            let (a, b, c) = (zz as usize, yy as usize, xx as usize);
            if queued[[a, b, c]] || !mask[[a, b, c]] {
                continue;
            }
            queued[[a, b, c]] = true;
            heap.push(Item { cost: cost[[a, b, c]].max(cost[[z, y, x]]), order, idx: (a, b, c), label });
            order += 1;
        }
    }
    out
}
