//! Binary morphology with exact Euclidean balls (via the distance
//! transform, so radii are in µm and anisotropic voxels are handled),
//! hole filling, and grey-level reconstruction for h-maxima.

use crate::edt::edt;
use crate::grid::Padded;
use crate::label::{Connectivity, label};
use chemomech_core::bigmem::{filled_vec, map, with_capacity};
use ndarray::{Array3, ArrayView3, Zip};
use rayon::prelude::*;
use std::collections::VecDeque;

/// Dilation by a ball of radius `r` µm.
pub fn dilate(mask: ArrayView3<bool>, r: f64, spacing_um: [f64; 3]) -> Array3<bool> {
    let inv = map(mask, |m| !m);
    let d = edt(inv.view(), spacing_um);
    map(d.view(), |&v| (v as f64) <= r)
}

/// Erosion by a ball of radius `r` µm (outside the volume counts as inside
/// the mask, so borders do not erode).
pub fn erode(mask: ArrayView3<bool>, r: f64, spacing_um: [f64; 3]) -> Array3<bool> {
    let d = edt(mask, spacing_um);
    map(d.view(), |&v| (v as f64) > r)
}

/// Closing (dilation then erosion) by a ball of radius `r` µm.
pub fn close(mask: ArrayView3<bool>, r: f64, spacing_um: [f64; 3]) -> Array3<bool> {
    let d = dilate(mask, r, spacing_um);
    let mut c = erode(d.view(), r, spacing_um);
    // Closing never removes voxels of the original.
    Zip::from(&mut c).and(mask).for_each(|c, &m| *c |= m);
    c
}

/// Fills cavities: background components that do not touch the border.
/// An axis one voxel long has no border (a 2-D image is one slice, and
/// its holes are the holes in its plane).
pub fn fill_holes(mask: ArrayView3<bool>) -> Array3<bool> {
    fill_selected(mask, None)
}

/// A cavity of a mask: its voxels and its solidity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hole {
    /// Voxels of the cavity.
    pub voxels: u64,
    /// Voxels over the voxels of its discrete convex hull
    /// ([`hull`](crate::hull)): 0.97–1 for a disc, ellipse, square or
    /// ball, 0.6–0.75 for the concave pockets that touching particles
    /// enclose.
    pub solidity: f64,
}

/// Minimum [`Hole::solidity`] of a cavity taken for a particle's core:
/// round, elliptic and square cores read 0.97–1, the pore pockets between
/// three or four slightly overlapping discs 0.74 and 0.63 (tested). Tiny
/// pockets between strongly overlapping particles read convex, and are
/// filled: they only thicken a junction.
pub const CORE_MIN_SOLIDITY: f64 = 0.85;

/// Fills the cavities (background components, 6-connected, that do not
/// touch the border; see [`fill_holes`]) that `keep` accepts.
pub fn fill_holes_where(mask: ArrayView3<bool>, mut keep: impl FnMut(&Hole) -> bool) -> Array3<bool> {
    fill_selected(mask, Some(&mut keep))
}

/// [`fill_holes_where`], or every cavity without measuring them (`None`).
fn fill_selected(mask: ArrayView3<bool>, keep: Option<&mut dyn FnMut(&Hole) -> bool>) -> Array3<bool> {
    let bg = map(mask, |m| !m);
    let (lab, n) = label(bg.view(), Connectivity::C6);
    let (nz, ny, nx) = mask.dim();
    let mut touches = vec![false; n as usize + 1];
    for ((z, y, x), &l) in lab.indexed_iter() {
        if l > 0 && crate::grid::on_face([z, y, x], [nz, ny, nx]) {
            touches[l as usize] = true;
        }
    }
    let Some(keep) = keep else {
        return Zip::from(&lab).and(mask).map_collect(|&l, &m| m || (l > 0 && !touches[l as usize]));
    };
    // The cavities' voxels, in raster order.
    let mut voxels: Vec<Vec<(usize, usize, usize)>> = vec![Vec::new(); n as usize + 1];
    for (p, &l) in lab.indexed_iter() {
        if l > 0 && !touches[l as usize] {
            voxels[l as usize].push(p);
        }
    }
    let dirs = crate::hull::directions();
    let fill: Vec<bool> = voxels
        .iter()
        .map(|v| {
            !v.is_empty() && {
                let hull = crate::hull::Extent::of(v, &dirs, [1.0; 3]).hull_voxels(&dirs, [1.0; 3]);
                keep(&Hole { voxels: v.len() as u64, solidity: v.len() as f64 / hull as f64 })
            }
        })
        .collect();
    Zip::from(&lab).and(mask).map_collect(|&l, &m| m || fill[l as usize])
}

/// Morphological reconstruction by dilation of `marker` under `mask`
/// (26-connected; Vincent 1993: a raster and an anti-raster sweep, then a
/// FIFO queue for what remains). Written by hand: no kept crate has it in
/// 3-D. Padded so that neighbour steps need no bounds checks; the padding
/// holds −∞ in both volumes and so never propagates.
pub fn reconstruct_dilation(marker: ArrayView3<f32>, mask: ArrayView3<f32>) -> Array3<f32> {
    let g = Padded::new(mask.dim());
    let lim = g.pad(mask, f32::NEG_INFINITY);
    let mut r = g.pad(marker, f32::NEG_INFINITY);
    r.par_iter_mut().zip(lim.par_iter()).for_each(|(a, &b)| *a = a.min(b));
    reconstruct_padded(&g, &mut r, &lim);
    g.unpad(&r)
}

/// [`reconstruct_dilation`] on padded volumes, `r` (the marker, already
/// at most `lim`) raised in place.
fn reconstruct_padded(g: &Padded, r: &mut [f32], lim: &[f32]) {
    let (back, fwd) = g.offsets(Connectivity::C26);
    // Both sweeps go row by row. The neighbours in other rows are final
    // for the sweep, so their 3-wide maxima over the four rows come first,
    // a loop the compiler vectorises; only the step along the row itself is
    // sequential. Same order of updates as voxel by voxel, so the same result.
    let (nz, ny, nx) = g.dim;
    let (sz, sy) = (g.at(1, 0, 0) - g.at(0, 0, 0), g.at(0, 1, 0) - g.at(0, 0, 0));
    let mut m = vec![0f32; nx];
    // The row of b's voxels shifted by −1, 0 and +1 along x.
    let max3 = |m: &mut [f32], r: &[f32], rows: [usize; 4]| {
        m.fill(f32::NEG_INFINITY);
        for b in rows {
            let (a, c, d) = tri(r, b, nx);
            for (((mx, &a), &c), &d) in m.iter_mut().zip(a).zip(c).zip(d) {
                *mx = fmax(*mx, fmax(a, fmax(c, d)));
            }
        }
    };
    for z in 0..nz {
        for y in 0..ny {
            let o = g.at(z, y, 0);
            max3(&mut m, r, [o - sz - sy, o - sz, o - sz + sy, o - sy]);
            let mut prev = r[o - 1];
            for x in 0..nx {
                let v = fmin(fmax(fmax(r[o + x], m[x]), prev), lim[o + x]);
                r[o + x] = v;
                prev = v;
            }
        }
    }
    let mut q: VecDeque<usize> = VecDeque::new();
    // Lowest value among the later neighbours that can still rise.
    let mut low = vec![0f32; nx];
    let mut queue_me = vec![false; nx];
    for z in (0..nz).rev() {
        for y in (0..ny).rev() {
            let o = g.at(z, y, 0);
            let rows = [o + sz + sy, o + sz, o + sz - sy, o + sy];
            max3(&mut m, r, rows);
            low.fill(f32::INFINITY);
            for b in rows {
                let ((a, c, d), (la, lc, ld)) = (tri(r, b, nx), tri(lim, b, nx));
                lower_rising(&mut low, [a, c, d], [la, lc, ld]);
            }
            let mut next = r[o + nx];
            for x in (0..nx).rev() {
                let i = o + x;
                let v = fmin(fmax(fmax(r[i], m[x]), next), lim[i]);
                r[i] = v;
                // A later neighbour below v that can rise: queue this voxel
                // (flagged here, queued below, so that the queue's growth
                // does not sit inside this sequential chain: 6× slower).
                queue_me[x] = low[x] < v || (next < v && next < lim[i + 1]);
                next = v;
            }
            for x in (0..nx).rev() {
                if queue_me[x] {
                    q.push_back(o + x);
                }
            }
        }
    }
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
}

/// `low[x]` lowered to each `v[k][x]` below its limit `l[k][x]`. A
/// function of its own so that its slices are known not to overlap and the
/// loop vectorises.
#[inline(never)]
fn lower_rising(low: &mut [f32], v: [&[f32]; 3], l: [&[f32]; 3]) {
    let n = low.len();
    let rise = |v: f32, l: f32| if v < l { v } else { f32::INFINITY };
    let ([a, c, d], [la, lc, ld]) = (v.map(|s| &s[..n]), l.map(|s| &s[..n]));
    for x in 0..n {
        low[x] = fmin(low[x], fmin(rise(a[x], la[x]), fmin(rise(c[x], lc[x]), rise(d[x], ld[x]))));
    }
}

/// The `n` voxels of the row starting at `b`, shifted by −1, 0 and +1.
#[inline(always)]
fn tri(v: &[f32], b: usize, n: usize) -> (&[f32], &[f32], &[f32]) {
    (&v[b - 1..b - 1 + n], &v[b..b + n], &v[b + 1..b + 1 + n])
}

/// max and min without NaN handling (there are no NaNs here), so that
/// loops over them vectorise.
#[inline(always)]
fn fmax(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}
#[inline(always)]
fn fmin(a: f32, b: f32) -> f32 {
    if a < b { a } else { b }
}

/// Regional maxima of `g`: connected (26) plateaus of equal value with
/// no higher neighbour, restricted to `g > floor`.
///
/// ```
/// use chemomech_imgproc::morph::regional_maxima;
/// // A plateau peak (x = 1, 2), a plateau on a slope (x = 4, 5), a peak at
/// // x = 7, and one under the floor (x = 9).
/// let vals = [1.0, 3.0, 3.0, 2.0, 2.5, 2.5, 2.6, 4.0, 0.0, 0.5, 0.0];
/// let g = ndarray::Array3::from_shape_fn((1, 1, 11), |(_, _, x)| vals[x]);
/// let m = regional_maxima(g.view(), 1.0);
/// assert_eq!((0..11).filter(|&x| m[[0, 0, x]]).collect::<Vec<_>>(), vec![1, 2, 7]);
/// ```
pub fn regional_maxima(g: ArrayView3<f32>, floor: f32) -> Array3<bool> {
    let grid = Padded::new(g.dim());
    let v = grid.pad(g, f32::NEG_INFINITY);
    maxima_padded(&grid, &v, floor, &mut filled_vec(v.len(), 0u8))
}

/// [`regional_maxima`] of a padded volume (−∞ in the padding); `state` is
/// scratch of `v.len()` bytes, whatever it holds.
fn maxima_padded(grid: &Padded, v: &[f32], floor: f32, state: &mut [u8]) -> Array3<bool> {
    let (back, fwd) = grid.offsets(Connectivity::C26);
    let all: Vec<isize> = back.into_iter().chain(fwd).collect();
    // Per voxel: 0 open, 1 in the current search, 2 on a plateau that is no
    // maximum, 3 on a maximum. A voxel with a higher neighbour is no
    // maximum, nor is its plateau: most voxels are settled (2) by this test
    // alone, in parallel. Only voxels above `floor` are tested, never the
    // −∞ padding, so every neighbour index is inside the padded volume.
    // A search stops as soon as its plateau touches a settled voxel: the
    // wide low plateaus (a particle's one-voxel-deep shell can be a million
    // voxels) are then never walked in full.
    state.par_iter_mut().enumerate().for_each(|(i, s)| {
        *s = if v[i] > floor && all.iter().any(|&o| v[(i as isize + o) as usize] > v[i]) { 2 } else { 0 }
    });
    let (mut plateau, mut stack) = (Vec::new(), Vec::new());
    grid.for_each(|i| {
        if state[i] != 0 || v[i] <= floor {
            return;
        }
        let val = v[i];
        plateau.clear();
        stack.clear();
        stack.push(i);
        state[i] = 1;
        let mut is_max = true;
        'search: while let Some(a) = stack.pop() {
            plateau.push(a);
            for &o in &all {
                let j = (a as isize + o) as usize;
                if v[j] == val {
                    match state[j] {
                        0 => {
                            state[j] = 1;
                            stack.push(j);
                        }
                        2 => {
                            is_max = false;
                            break 'search;
                        }
                        _ => {}
                    }
                }
            }
        }
        let mark = if is_max { 3 } else { 2 };
        for &a in plateau.iter().chain(&stack) {
            state[a] = mark;
        }
    });
    grid.unpad_map(state, |&s| s == 3)
}

/// h-maxima of f over its domain f > 0: the regional maxima of the
/// reconstruction by dilation of f − h under f, i.e. the maxima whose
/// dynamic is at least `h` (and the highest plateau of any component of the
/// domain whose peak is shallower than that).
pub fn h_maxima(f: ArrayView3<f32>, h: f32) -> Array3<bool> {
    // The domain is f > 0 (a distance map's mask); the background is left
    // out (−∞), which lets the sweeps skip it. Every component of the domain
    // keeps at least one maximum, however shallow its peak.
    // All in the padded layout: two volumes instead of a copy per step.
    let g = Padded::new(f.dim());
    let mut lim = g.pad_map(f, f32::NEG_INFINITY, |&v| if v > 0.0 { v } else { f32::NEG_INFINITY });
    let mut r: Vec<f32> = with_capacity(lim.len());
    r.par_extend(lim.par_iter().map(|&v| v - h));
    reconstruct_padded(&g, &mut r, &lim);
    // The maxima's search state lives in the limit's first quarter (its
    // pages are resident; a fresh volume costs a page fault per page).
    let n = lim.len();
    // SAFETY: n bytes inside lim's 4n; u8 has no alignment or validity
    // requirement, and lim is not used as f32 again.
    let state = unsafe { std::slice::from_raw_parts_mut(lim.as_mut_ptr() as *mut u8, n) };
    maxima_padded(&g, &r, f32::NEG_INFINITY, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn closing_fills_a_slit_and_holes_fill() {
        let mut m = Array3::from_shape_fn((9, 9, 9), |(z, y, x)| {
            ((z as f64 - 4.0).powi(2) + (y as f64 - 4.0).powi(2) + (x as f64 - 4.0).powi(2)) <= 16.0
        });
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
        // A ring in a one-slice image (2-D) encloses its hole.
        let ring = Array3::from_shape_fn((1, 9, 9), |(_, y, x)| {
            let r2 = (y as f64 - 4.0).powi(2) + (x as f64 - 4.0).powi(2);
            (4.0..=16.0).contains(&r2)
        });
        let f = fill_holes(ring.view());
        assert!(f[[0, 4, 4]] && !f[[0, 0, 0]]);
    }
    /// Convex cavities are solid; the pockets that touching discs enclose
    /// are not.
    #[test]
    fn hole_solidity() {
        let solidity_of = |inside: &dyn Fn(f64, f64) -> bool| {
            let m = Array3::from_shape_fn((1, 120, 120), |(_, y, x)| !inside(y as f64, x as f64));
            let mut got = Vec::new();
            fill_holes_where(m.view(), |h| {
                got.push((h.voxels, h.solidity));
                true
            });
            // The shape's cavity (stray pixels at sharp corners aside).
            got.iter().max_by_key(|h| h.0).unwrap().1
        };
        let disc = solidity_of(&|y, x| (y - 60.0).hypot(x - 59.6) < 30.0);
        let ellipse = solidity_of(&|y, x| ((y - 60.0) / 40.0).hypot((x - 60.0) / 15.0) < 1.0);
        let square = solidity_of(&|y, x| (y - 60.0).abs() < 25.0 && (x - 60.0).abs() < 25.0);
        // Pockets between touching discs (radius 31, slightly overlapping,
        // centres on a triangle and on a square of side 60).
        let r = 31.0;
        let c3 = [(40.0, 30.0), (40.0, 90.0), (40.0 + 60.0 * 0.75f64.sqrt(), 60.0)];
        let p3 = solidity_of(&|y, x| {
            c3.iter().all(|c| (y - c.0).hypot(x - c.1) > r)
                && y > 40.0
                && (x - 60.0).abs() < 30.0 - (y - 40.0) / 3f64.sqrt()
        });
        let c4 = [(30.0, 30.0), (30.0, 90.0), (90.0, 30.0), (90.0, 90.0)];
        let p4 = solidity_of(&|y, x| {
            c4.iter().all(|c| (y - c.0).hypot(x - c.1) > r) && (y - 60.0).abs() < 30.0 && (x - 60.0).abs() < 30.0
        });
        for (name, v) in [("disc", disc), ("ellipse", ellipse), ("square", square)] {
            assert!(v > 0.9 && v <= 1.0, "{name} {v}");
        }
        assert!(p3 < 0.8 && p4 < 0.8, "pockets {p3} {p4}");
        // A hollow ball's core in a volume.
        let m = Array3::from_shape_fn((30, 30, 30), |(z, y, x)| {
            (z as f64 - 14.5).hypot(y as f64 - 14.5).hypot(x as f64 - 14.5) > 9.0
        });
        let mut ball = 0.0;
        fill_holes_where(m.view(), |h| {
            ball = h.solidity;
            true
        });
        assert!(ball > 0.9, "ball {ball}");
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
