//! Binary morphology with exact Euclidean balls (via the distance
//! transform, so radii are in µm and anisotropic voxels are handled),
//! hole filling, and grey-level reconstruction for h-maxima.

use crate::edt::edt;
use crate::label::{label, Connectivity};
use ndarray::{Array3, ArrayView3, Zip};
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
/// (26-connected; Vincent 1993, queue-based).
pub fn reconstruct_dilation(marker: ArrayView3<f32>, mask: ArrayView3<f32>) -> Array3<f32> {
    let (nz, ny, nx) = mask.dim();
    let mut r = Zip::from(marker).and(mask).map_collect(|&a, &b| a.min(b));
    let offs = Connectivity::C26.all();
    let inb = |z: isize, y: isize, x: isize| z >= 0 && y >= 0 && x >= 0 && (z as usize) < nz && (y as usize) < ny && (x as usize) < nx;
    let mut q: VecDeque<(usize, usize, usize)> = VecDeque::new();
    // Raster and anti-raster sweeps, then a queue for what remains.
    let fw = Connectivity::C26.backward();
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let mut m = r[[z, y, x]];
                for &(dz, dy, dx) in &fw {
                    let (zz, yy, xx) = (z as isize + dz, y as isize + dy, x as isize + dx);
                    if inb(zz, yy, xx) {
                        m = m.max(r[[zz as usize, yy as usize, xx as usize]]);
                    }
                }
                r[[z, y, x]] = m.min(mask[[z, y, x]]);
            }
        }
    }
    for z in (0..nz).rev() {
        for y in (0..ny).rev() {
            for x in (0..nx).rev() {
                let mut m = r[[z, y, x]];
                for &(dz, dy, dx) in &fw {
                    let (zz, yy, xx) = (z as isize - dz, y as isize - dy, x as isize - dx);
                    if inb(zz, yy, xx) {
                        m = m.max(r[[zz as usize, yy as usize, xx as usize]]);
                    }
                }
                let v = m.min(mask[[z, y, x]]);
                r[[z, y, x]] = v;
                for &(dz, dy, dx) in &fw {
                    let (zz, yy, xx) = (z as isize - dz, y as isize - dy, x as isize - dx);
                    if inb(zz, yy, xx) {
                        let (a, b, c) = (zz as usize, yy as usize, xx as usize);
                        if r[[a, b, c]] < v && r[[a, b, c]] < mask[[a, b, c]] {
                            q.push_back((z, y, x));
                            break;
                        }
                    }
                }
            }
        }
    }
    while let Some((z, y, x)) = q.pop_front() {
        let v = r[[z, y, x]];
        for &(dz, dy, dx) in &offs {
            let (zz, yy, xx) = (z as isize + dz, y as isize + dy, x as isize + dx);
            if !inb(zz, yy, xx) {
                continue;
            }
            let (a, b, c) = (zz as usize, yy as usize, xx as usize);
            let lim = mask[[a, b, c]];
            if r[[a, b, c]] < v && r[[a, b, c]] != lim {
                r[[a, b, c]] = v.min(lim);
                q.push_back((a, b, c));
            }
        }
    }
    r
}

/// Regional maxima of `g`: connected (26) plateaus of equal value with
/// no higher neighbour, restricted to `g > floor`.
pub fn regional_maxima(g: ArrayView3<f32>, floor: f32) -> Array3<bool> {
    let (nz, ny, nx) = g.dim();
    let offs = Connectivity::C26.all();
    let mut seen = Array3::<bool>::from_elem((nz, ny, nx), false);
    let mut out = Array3::<bool>::from_elem((nz, ny, nx), false);
    let mut plateau = Vec::new();
    let mut stack = Vec::new();
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                if seen[[z, y, x]] || g[[z, y, x]] <= floor {
                    continue;
                }
                let v = g[[z, y, x]];
                plateau.clear();
                stack.clear();
                stack.push((z, y, x));
                seen[[z, y, x]] = true;
                let mut is_max = true;
                while let Some((a, b, c)) = stack.pop() {
                    plateau.push((a, b, c));
                    for &(dz, dy, dx) in &offs {
                        let (zz, yy, xx) = (a as isize + dz, b as isize + dy, c as isize + dx);
                        if zz < 0 || yy < 0 || xx < 0 || zz as usize >= nz || yy as usize >= ny || xx as usize >= nx {
                            continue;
                        }
                        let (zz, yy, xx) = (zz as usize, yy as usize, xx as usize);
                        let w = g[[zz, yy, xx]];
                        if w > v {
                            is_max = false;
                        } else if w == v && !seen[[zz, yy, xx]] {
                            seen[[zz, yy, xx]] = true;
                            stack.push((zz, yy, xx));
                        }
                    }
                }
                if is_max {
                    for &(a, b, c) in &plateau {
                        out[[a, b, c]] = true;
                    }
                }
            }
        }
    }
    out
}

/// h-maxima: the regional maxima of the reconstruction by dilation of
/// f − h under f, i.e. the maxima whose dynamic is at least `h`.
pub fn h_maxima(f: ArrayView3<f32>, h: f32) -> Array3<bool> {
    let shifted = f.mapv(|v| v - h);
    let rec = reconstruct_dilation(shifted.view(), f);
    regional_maxima(rec.view(), 0.0)
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
