//! Binary morphology with exact Euclidean balls (via the distance
//! transform, so radii are in µm and anisotropic voxels are handled),
//! hole filling, and grey-level reconstruction for h-maxima.

use crate::edt::edt;
use crate::label::{label, Connectivity};
use crate::grid::Padded;
use ndarray::{Array3, ArrayView3, Zip};
use rayon::prelude::*;
use std::collections::VecDeque;

/// Dilation by a ball of radius `r` µm.
pub fn dilate(mask: ArrayView3<bool>, r: f64, spacing: [f64; 3]) -> Array3<bool> {
    let inv = mask.mapv(|m| !m);
    let d = edt(inv.view(), spacing);
    d.mapv(|v| (v as f64) <= r)
}

/// Erosion by a ball of radius `r` µm (outside the volume counts as inside
/// the mask, so borders do not erode).
pub fn erode(mask: ArrayView3<bool>, r: f64, spacing: [f64; 3]) -> Array3<bool> {
    let d = edt(mask, spacing);
    d.mapv(|v| (v as f64) > r)
}

/// Closing (dilation then erosion) by a ball of radius `r` µm.
pub fn close(mask: ArrayView3<bool>, r: f64, spacing: [f64; 3]) -> Array3<bool> {
    let d = dilate(mask, r, spacing);
    let mut c = erode(d.view(), r, spacing);
    // Closing never removes voxels of the original.
    Zip::from(&mut c).and(mask).for_each(|c, &m| *c |= m);
    c
}

/// Fills cavities: background components that do not touch the border.
pub fn fill_holes(mask: ArrayView3<bool>) -> Array3<bool> {
    let bg = mask.mapv(|m| !m);
    let (lab, n) = label(bg.view(), Connectivity::C6);
    let (nz, ny, nx) = mask.dim();
    let mut touches = vec![false; n as usize + 1];
    for ((z, y, x), &l) in lab.indexed_iter() {
        if l > 0 && (z == 0 || y == 0 || x == 0 || z == nz - 1 || y == ny - 1 || x == nx - 1) {
            touches[l as usize] = true;
        }
    }
    Zip::from(&lab).and(mask).map_collect(|&l, &m| m || (l > 0 && !touches[l as usize]))
}

/// Morphological reconstruction by dilation of `marker` under `mask`
/// (26-connected; Vincent 1993: a raster and an anti-raster sweep, then a
/// FIFO queue for what remains). Written by hand: no kept crate has it in
/// 3-D. Padded so that neighbour steps need no bounds checks; the padding
/// holds −∞ in both volumes and so never propagates.
pub fn reconstruct_dilation(marker: ArrayView3<f32>, mask: ArrayView3<f32>) -> Array3<f32> {
    let g = Padded::new(mask.dim());
    let (back, fwd) = g.offsets(Connectivity::C26);
    let lim = g.pad(mask, f32::NEG_INFINITY);
    let mut r = g.pad(marker, f32::NEG_INFINITY);
    r.par_iter_mut().zip(lim.par_iter()).for_each(|(a, &b)| *a = a.min(b));
    // A voxel already at its limit cannot rise: no neighbour scan.
    g.for_each(|i| {
        if r[i] == lim[i] {
            return;
        }
        let mut m = r[i];
        for &o in &back {
            m = m.max(r[(i as isize + o) as usize]);
        }
        r[i] = m.min(lim[i]);
    });
    let mut q: VecDeque<usize> = VecDeque::new();
    g.for_each_rev(|i| {
        if lim[i] == f32::NEG_INFINITY {
            return;
        }
        let mut m = r[i];
        for &o in &fwd {
            m = m.max(r[(i as isize + o) as usize]);
        }
        let v = m.min(lim[i]);
        r[i] = v;
        if fwd.iter().any(|&o| {
            let j = (i as isize + o) as usize;
            r[j] < v && r[j] < lim[j]
        }) {
            q.push_back(i);
        }
    });
    let all: Vec<isize> = back.iter().chain(&fwd).cloned().collect();
    while let Some(i) = q.pop_front() {
        let v = r[i];
        for &o in &all {
            let j = (i as isize + o) as usize;
            if r[j] < v && r[j] != lim[j] {
                r[j] = v.min(lim[j]);
                q.push_back(j);
            }
        }
    }
    g.unpad(&r)
}

/// Regional maxima of `g`: connected (26) plateaus of equal value with
/// no higher neighbour, restricted to `g > floor`.
pub fn regional_maxima(g: ArrayView3<f32>, floor: f32) -> Array3<bool> {
    let grid = Padded::new(g.dim());
    let (back, fwd) = grid.offsets(Connectivity::C26);
    let all: Vec<isize> = back.into_iter().chain(fwd).collect();
    let v = grid.pad(g, f32::NEG_INFINITY);
    // A voxel with a higher neighbour is no maximum, nor is its plateau:
    // most voxels are settled by this test alone, in parallel. Only voxels
    // above `floor` are tested, never the −∞ padding, so every neighbour
    // index is inside the padded volume.
    let higher: Vec<bool> = (0..v.len())
        .into_par_iter()
        .map(|i| v[i] > floor && all.iter().any(|&o| v[(i as isize + o) as usize] > v[i]))
        .collect();
    let mut seen = vec![false; v.len()];
    let mut out = vec![false; v.len()];
    let (mut plateau, mut stack) = (Vec::new(), Vec::new());
    grid.for_each(|i| {
        if seen[i] || v[i] <= floor || higher[i] {
            return;
        }
        let val = v[i];
        plateau.clear();
        stack.clear();
        stack.push(i);
        seen[i] = true;
        let mut is_max = true;
        while let Some(a) = stack.pop() {
            plateau.push(a);
            is_max &= !higher[a];
            for &o in &all {
                let j = (a as isize + o) as usize;
                if v[j] == val && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        if is_max {
            for &a in &plateau {
                out[a] = true;
            }
        }
    });
    grid.unpad(&out)
}

/// h-maxima of f over its domain f > 0: the regional maxima of the
/// reconstruction by dilation of f − h under f, i.e. the maxima whose
/// dynamic is at least `h` (and the highest plateau of any component of the
/// domain whose peak is shallower than that).
pub fn h_maxima(f: ArrayView3<f32>, h: f32) -> Array3<bool> {
    // The domain is f > 0 (a distance map's mask); the background is left
    // out (−∞), which lets the sweeps skip it. Every component of the domain
    // keeps at least one maximum, however shallow its peak.
    let f = f.mapv(|v| if v > 0.0 { v } else { f32::NEG_INFINITY });
    let shifted = f.mapv(|v| v - h);
    let rec = reconstruct_dilation(shifted.view(), f.view());
    regional_maxima(rec.view(), f32::NEG_INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn closing_fills_a_slit_and_holes_fill() {
        let mut m = Array3::from_shape_fn((9, 9, 9), |(z, y, x)| ((z as f64 - 4.0).powi(2) + (y as f64 - 4.0).powi(2) + (x as f64 - 4.0).powi(2)) <= 16.0);
        for y in 0..9 {
            for z in 0..9 {
                m[[z, y, 4]] = false; // a one-voxel slit through the ball
            }
        }
        let c = close(m.view(), 1.5, [1.0; 3]);
        assert!(c[[4, 4, 4]] && c[[2, 3, 4]]);
        let mut h = Array3::from_elem((5, 5, 5), true);
        h[[2, 2, 2]] = false;
        h[[0, 0, 0]] = false;
        let f = fill_holes(h.view());
        assert!(f[[2, 2, 2]] && !f[[0, 0, 0]]);
    }
    #[test]
    fn h_maxima_keeps_deep_peaks_only() {
        // Peaks of 5.0 (x = 5) and 5.5 (x = 13) joined by a ridge whose
        // lowest point is 4.0 (dynamic of the first: 1.0), and a bump of 0.3.
        let vals = [1.0, 1.0, 1.0, 3.0, 4.5, 5.0, 4.6, 4.3, 4.1, 4.0, 4.2, 4.6, 5.0, 5.5, 5.0, 2.0, 1.0, 1.3, 1.0, 1.0];
        let f = Array3::from_shape_fn((1, 1, 20), |(_, _, x)| vals[x] as f32);
        // Markers are the plateaus where f − h is reconstructed (extended maxima).
        let m = h_maxima(f.view(), 0.8);
        assert_eq!((0..20).filter(|&x| m[[0, 0, x]]).collect::<Vec<_>>(), vec![4, 5, 6, 7, 12, 13, 14]);
        assert_eq!(label(m.view(), Connectivity::C26).1, 2);
        let m2 = h_maxima(f.view(), 1.2);
        assert_eq!((0..20).filter(|&x| m2[[0, 0, x]]).collect::<Vec<_>>(), vec![11, 12, 13, 14]);
    }
}
