//! Exact Euclidean distance transform with anisotropic voxel spacing:
//! separable, exact passes along x (binary scans), y and z (Felzenszwalb &
//! Huttenlocher's lower envelope), parallel over planes.

use ndarray::{Array3, ArrayView3, Axis};
use rayon::prelude::*;

/// Lower envelope of parabolas for one lane: entry k is the parabola of
/// sample `idx[k]` (value `val[k]`, `val + w²·idx²` in `g[k]`), lowest from
/// `from[k]` on.
#[derive(Default)]
struct Envelope {
    idx: Vec<usize>,
    val: Vec<f64>,
    g: Vec<f64>,
    from: Vec<f64>,
}

/// Squared 1-D distance transform of `f` with sample spacing `w` (in place);
/// +∞ samples hold no parabola.
fn dt1(f: &mut [f64], w: f64, e: &mut Envelope) {
    let n = f.len();
    let w2 = w * w;
    for a in [&mut e.val, &mut e.g, &mut e.from] {
        a.resize(n + 1, 0.0);
    }
    e.idx.resize(n + 1, 0);
    let mut k: isize = -1;
    for (q, &fq) in f.iter().enumerate() {
        if fq == f64::INFINITY {
            continue;
        }
        let gq = fq + w2 * (q * q) as f64;
        if k < 0 {
            k = 0;
            (e.idx[0], e.val[0], e.g[0], e.from[0]) = (q, fq, gq, f64::NEG_INFINITY);
            continue;
        }
        let mut kk = k as usize;
        // from[0] = −∞, so the first parabola is never popped.
        let mut s = (gq - e.g[kk]) / (2.0 * w2 * (q - e.idx[kk]) as f64);
        while s <= e.from[kk] {
            kk -= 1;
            s = (gq - e.g[kk]) / (2.0 * w2 * (q - e.idx[kk]) as f64);
        }
        kk += 1;
        (e.idx[kk], e.val[kk], e.g[kk], e.from[kk]) = (q, fq, gq, s);
        k = kk as isize;
    }
    if k < 0 {
        return;
    }
    let (top, mut j) = (k as usize, 0usize);
    for (q, o) in f.iter_mut().enumerate() {
        while j < top && e.from[j + 1] < q as f64 {
            j += 1;
        }
        let dq = q as f64 - e.idx[j] as f64;
        *o = w2 * dq * dq + e.val[j];
    }
}

/// Squared distance along x within each row (binary: two scans), in µm²;
/// +∞ where the row holds no background.
fn pass_x(m: &[bool], d: &mut [f32], nx: usize, w: f64) {
    d.par_chunks_mut(nx).zip(m.par_chunks(nx)).for_each(|(row, mrow)| {
        let mut last: Option<usize> = None;
        for (x, (o, &v)) in row.iter_mut().zip(mrow).enumerate() {
            if !v {
                last = Some(x);
            }
            *o = match last {
                Some(l) => (x - l) as f32,
                None => f32::INFINITY,
            };
        }
        let mut next: Option<usize> = None;
        for x in (0..nx).rev() {
            if !mrow[x] {
                next = Some(x);
            }
            if let Some(n) = next {
                row[x] = row[x].min((n - x) as f32);
            }
            let v = row[x] as f64 * w;
            row[x] = (v * v) as f32;
        }
    });
}

/// Squared EDT (µm²) of `mask`, passes along x, then y, then z.
fn squared(mask: ArrayView3<bool>, spacing_um: [f64; 3]) -> Array3<f32> {
    let mut d = squared_along_x(mask, spacing_um[2]);
    envelope_along(&mut d, 1, spacing_um[1]);
    envelope_along(&mut d, 0, spacing_um[0]);
    d
}

/// The first pass of the separable EDT: squared distance (in units of
/// `w`², `w` the spacing along x) of every voxel to the nearest `false`
/// voxel of its row; +∞ where the row holds none. Rows are independent, so
/// a volume split into blocks of whole rows gives the same values.
pub fn squared_along_x(mask: ArrayView3<bool>, w: f64) -> Array3<f32> {
    let (nz, ny, nx) = mask.dim();
    let m = mask.as_standard_layout();
    let mut d = chemomech_core::bigmem::filled((nz, ny, nx), 0.0f32);
    if nz * ny * nx > 0 {
        pass_x(m.as_slice().expect("standard layout"), d.as_slice_mut().expect("standard layout"), nx, w);
    }
    d
}

/// A later pass of the separable EDT, in place: the exact lower envelope of
/// parabolas (Felzenszwalb & Huttenlocher) along `axis` (1: y, then 0: z)
/// with spacing `w` along it. Lanes along the axis are independent, so a
/// volume split into blocks holding whole lanes gives the same values.
///
/// # Panics
/// When `axis` is not 0 or 1, or `d` is not in standard layout.
pub fn envelope_along(d: &mut Array3<f32>, axis: usize, w: f64) {
    let (nz, ny, nx) = d.dim();
    assert!(axis < 2 && d.is_standard_layout(), "envelope passes run along z or y of a standard-layout volume");
    if nz * ny * nx == 0 || d.len_of(Axis(axis)) < 2 {
        return;
    }
    const BLOCK: usize = 16;
    let init = || (Vec::<f64>::new(), Envelope::default());
    if axis == 1 {
        // y: each plane (in cache) column by column.
        d.axis_iter_mut(Axis(0)).into_par_iter().for_each_init(init, |(buf, e), mut plane| {
            let p = plane.as_mut_ptr();
            for x0 in (0..nx).step_by(BLOCK) {
                // SAFETY: columns x0.. of this plane: offsets x + y·nx, y < ny.
                run_lanes(unsafe { p.add(x0) }, BLOCK.min(nx - x0), ny, nx, w, buf, e);
            }
        });
    } else {
        // z: each (z, x) slab of one y, lane by lane.
        d.axis_iter_mut(Axis(1)).into_par_iter().for_each_init(init, |(buf, e), mut slab| {
            let p = slab.as_mut_ptr();
            for x0 in (0..nx).step_by(BLOCK) {
                // SAFETY: lanes x0.. of this slab: offsets x + z·ny·nx, z < nz.
                run_lanes(unsafe { p.add(x0) }, BLOCK.min(nx - x0), nz, ny * nx, w, buf, e);
            }
        });
    }
}

/// Lanes x0..x0 + bw (consecutive in memory, one cache line) gathered
/// together from stride `step`, transformed one by one, scattered back.
fn run_lanes(p: *mut f32, bw: usize, len: usize, step: usize, w: f64, buf: &mut Vec<f64>, e: &mut Envelope) {
    buf.clear();
    buf.resize(bw * len, 0.0);
    for i in 0..len {
        for l in 0..bw {
            // SAFETY: callers pass lanes inside their own view.
            buf[l * len + i] = unsafe { *p.add(i * step + l) } as f64;
        }
    }
    for lane in buf.chunks_mut(len) {
        if lane.iter().any(|&v| v != 0.0) {
            dt1(lane, w, e);
        }
    }
    for i in 0..len {
        for l in 0..bw {
            // SAFETY: as above.
            unsafe { *p.add(i * step + l) = buf[l * len + i] as f32 };
        }
    }
}

/// The spacing unit of [`edt`]: squared distances are kept in units of
/// the finest spacing (exact integers for isotropic voxels).
pub fn edt_unit(spacing_um: [f64; 3]) -> f64 {
    spacing_um.iter().cloned().fold(f64::INFINITY, f64::min)
}

/// Distance (µm, with voxel `spacing_um` (z, y, x)) from every `true` voxel of
/// `mask` to the nearest `false` voxel; 0 on `false` voxels. Voxels outside
/// the volume do not count as background (as scipy's
/// `distance_transform_edt`). With no background at all the result is +∞.
///
/// Written by hand (no kept crate has an anisotropic 3-D EDT): a binary
/// scan along x, then Felzenszwalb & Huttenlocher's exact lower envelope
/// of parabolas along y and z, parallel over planes and slabs.
///
/// ```
/// let mut m = ndarray::Array3::from_elem((1, 1, 7), true);
/// m[[0, 0, 0]] = false;
/// let d = chemomech_imgproc::edt(m.view(), [1.0, 1.0, 0.5]);
/// assert_eq!(d[[0, 0, 4]], 2.0);
/// ```
pub fn edt(mask: ArrayView3<bool>, spacing_um: [f64; 3]) -> Array3<f32> {
    // Squared distances in units of the finest spacing: integers (exact in
    // f32 up to 4096 voxels) for isotropic voxels, so equal distances are
    // equal bit for bit whatever path the passes took — plateaus of the
    // distance map (h-maxima markers) depend on it.
    let unit = edt_unit(spacing_um);
    let mut d = squared(mask, spacing_um.map(|s| s / unit));
    d.par_mapv_inplace(|v| ((v as f64).sqrt() * unit) as f32);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn matches_brute_force() {
        // Widths below, at and above the 16-lane blocks of the y and z passes.
        for (dim, spacing_um) in
            [((6, 7, 8), [0.7, 1.0, 1.3]), ((5, 9, 37), [1.0, 0.5, 0.8]), ((4, 3, 16), [1.0, 1.0, 1.0])]
        {
            check(dim, spacing_um);
        }
    }
    fn check(dim: (usize, usize, usize), spacing_um: [f64; 3]) {
        let m = Array3::from_shape_fn(dim, |(z, y, x)| (z * 3 + y * 5 + x * 7) % 11 != 0);
        let d = edt(m.view(), spacing_um);
        for ((z, y, x), &v) in d.indexed_iter() {
            let mut best = f64::INFINITY;
            for ((zz, yy, xx), &b) in m.indexed_iter() {
                if !b {
                    let dd = ((z as f64 - zz as f64) * spacing_um[0]).powi(2)
                        + ((y as f64 - yy as f64) * spacing_um[1]).powi(2)
                        + ((x as f64 - xx as f64) * spacing_um[2]).powi(2);
                    best = best.min(dd);
                }
            }
            assert!((v as f64 - best.sqrt()).abs() < 1e-5, "({z},{y},{x}): {v} vs {}", best.sqrt());
        }
    }
}
