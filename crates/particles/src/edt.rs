//! Exact Euclidean distance transform with anisotropic voxel spacing:
//! Felzenszwalb & Huttenlocher's lower-envelope algorithm applied along z,
//! then y, then x (separable, exact), parallel over lines.

use ndarray::{Array3, ArrayView3, Axis, Zip};
use rayon::prelude::*;

/// Squared 1-D distance transform of `f` with sample spacing `w` (in place),
/// using buffers `v`, `z`, `d`.
fn dt1(f: &mut [f64], w: f64, v: &mut Vec<usize>, z: &mut Vec<f64>, d: &mut Vec<f64>) {
    let n = f.len();
    v.clear();
    z.clear();
    d.clear();
    d.resize(n, 0.0);
    let w2 = w * w;
    // Points with infinite value are skipped (no parabola).
    let mut k: isize = -1;
    for q in 0..n {
        if !f[q].is_finite() {
            continue;
        }
        loop {
            if k < 0 {
                break;
            }
            let p = v[k as usize];
            let s = ((f[q] + w2 * (q * q) as f64) - (f[p] + w2 * (p * p) as f64)) / (2.0 * w2 * (q as f64 - p as f64));
            if s <= z[k as usize] {
                v.pop();
                z.pop();
                k -= 1;
            } else {
                break;
            }
        }
        if k < 0 {
            v.push(q);
            z.push(f64::NEG_INFINITY);
        } else {
            let p = v[k as usize];
            let s = ((f[q] + w2 * (q * q) as f64) - (f[p] + w2 * (p * p) as f64)) / (2.0 * w2 * (q as f64 - p as f64));
            v.push(q);
            z.push(s);
        }
        k += 1;
    }
    if v.is_empty() {
        return;
    }
    let mut j = 0usize;
    for q in 0..n {
        while j + 1 < v.len() && z[j + 1] < q as f64 {
            j += 1;
        }
        let p = v[j];
        d[q] = w2 * ((q as f64 - p as f64).powi(2)) + f[p];
    }
    f.copy_from_slice(d);
}

fn pass(a: &mut Array3<f64>, axis: usize, w: f64) {
    // Lines along `axis`, processed in parallel, each copied contiguous.
    let mut lanes: Vec<_> = a.lanes_mut(Axis(axis)).into_iter().collect();
    lanes.par_iter_mut().for_each_init(
        || (Vec::new(), Vec::new(), Vec::new(), Vec::new()),
        |(buf, v, z, d), lane| {
            buf.clear();
            buf.extend(lane.iter().cloned());
            dt1(buf, w, v, z, d);
            for (o, b) in lane.iter_mut().zip(buf.iter()) {
                *o = *b;
            }
        },
    );
}

/// Distance (µm, with voxel `spacing` (z, y, x)) from every `true` voxel of
/// `mask` to the nearest `false` voxel; 0 on `false` voxels. Voxels outside
/// the volume do not count as background (as scipy's
/// `distance_transform_edt`). With no background at all the result is +∞.
///
/// ```
/// let mut m = ndarray::Array3::from_elem((1, 1, 7), true);
/// m[[0, 0, 0]] = false;
/// let d = chemomech_particles::edt(m.view(), [1.0, 1.0, 0.5]);
/// assert_eq!(d[[0, 0, 4]], 2.0);
/// ```
pub fn edt(mask: ArrayView3<bool>, spacing: [f64; 3]) -> Array3<f32> {
    let mut a = mask.mapv(|m| if m { f64::INFINITY } else { 0.0 });
    for (axis, &w) in spacing.iter().enumerate() {
        pass(&mut a, axis, w);
    }
    let mut out = Array3::<f32>::zeros(mask.dim());
    Zip::from(&mut out).and(&a).par_for_each(|o, &v| *o = v.sqrt() as f32);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn matches_brute_force() {
        let m = Array3::from_shape_fn((6, 7, 8), |(z, y, x)| !((z * 3 + y * 5 + x * 7) % 11 == 0));
        let sp = [0.7, 1.0, 1.3];
        let d = edt(m.view(), sp);
        for ((z, y, x), &v) in d.indexed_iter() {
            let mut best = f64::INFINITY;
            for ((zz, yy, xx), &b) in m.indexed_iter() {
                if !b {
                    let dd = ((z as f64 - zz as f64) * sp[0]).powi(2) + ((y as f64 - yy as f64) * sp[1]).powi(2) + ((x as f64 - xx as f64) * sp[2]).powi(2);
                    best = best.min(dd);
                }
            }
            assert!((v as f64 - best.sqrt()).abs() < 1e-5, "({z},{y},{x}): {v} vs {}", best.sqrt());
        }
    }
}
