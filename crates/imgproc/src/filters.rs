//! 3-D filters with anisotropic voxels: separable Gaussian (and its
//! derivatives), median, and an edge-preserving bilateral filter. Boundaries
//! are reflected (scipy's `mode='reflect'`); work is parallel over lines.

use chemomech_core::math::reflect;
use multiversion::multiversion;
use ndarray::{Array3, ArrayView3, Axis, Zip};
use rayon::prelude::*;

/// Gaussian (order 0), first (1) or second (2) derivative kernel of σ pixels,
/// truncated at 4σ, normalised like scipy.ndimage.
pub fn gaussian_kernel(sigma: f64, order: usize) -> Vec<f64> {
    if sigma <= 0.0 {
        return match order {
            0 => vec![1.0],
            1 => vec![0.5, 0.0, -0.5],
            _ => vec![1.0, -2.0, 1.0],
        };
    }
    let r = (4.0 * sigma + 0.5).floor().max(1.0) as isize;
    let s2 = sigma * sigma;
    let w: Vec<f64> = (-r..=r).map(|x| (-(x * x) as f64 / (2.0 * s2)).exp()).collect();
    let sum: f64 = w.iter().sum();
    let w: Vec<f64> = w.iter().map(|v| v / sum).collect();
    match order {
        0 => w,
        // Derivatives of the normalised Gaussian (correlation form: k[i] applies to x − i).
        1 => (-r..=r).zip(&w).map(|(x, g)| -(x as f64) / s2 * g).map(|v| -v).collect(),
        _ => (-r..=r).zip(&w).map(|(x, g)| ((x * x) as f64 - s2) / (s2 * s2) * g).collect(),
    }
}

/// Correlates every line along `axis` with `kernel` (centred), reflecting
/// at the ends.
pub fn correlate1d(a: &Array3<f32>, axis: usize, kernel: &[f64]) -> Array3<f32> {
    let mut out = Array3::<f32>::zeros(a.dim());
    let r = kernel.len() / 2;
    let n = a.len_of(Axis(axis));
    let mut lanes_out: Vec<_> = out.lanes_mut(Axis(axis)).into_iter().collect();
    let lanes_in: Vec<_> = a.lanes(Axis(axis)).into_iter().collect();
    lanes_out.par_iter_mut().zip(lanes_in.par_iter()).for_each_init(LineScratch::default, |sc, (o, i)| {
        sc.padded.clear();
        sc.padded.extend((0..n + 2 * r).map(|p| i[reflect(p as isize - r as isize, n)] as f64));
        sc.sums.resize(n, 0.0);
        correlate_line(&sc.padded, kernel, &mut sc.sums);
        o.iter_mut().zip(&sc.sums).for_each(|(o, &v)| *o = v as f32);
    });
    out
}

/// One line's scratch: the line padded by reflection, and its sums.
#[derive(Default)]
struct LineScratch {
    padded: Vec<f64>,
    sums: Vec<f64>,
}

/// `sums[k] = Σ_j kernel[j] · padded[k + j]`, added in j order for every k
/// (the same sums, bit for bit, as a tap-by-tap loop), as one multiply-add
/// sweep per tap so that the sweeps run in SIMD lanes (see the note on
/// `multiversion` below).
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn correlate_line(padded: &[f64], kernel: &[f64], sums: &mut [f64]) {
    sums.fill(0.0);
    let n = sums.len();
    for (j, &w) in kernel.iter().enumerate() {
        for (s, &v) in sums.iter_mut().zip(&padded[j..j + n]) {
            *s += w * v;
        }
    }
}

/// Gaussian filter (σ in µm per axis, voxel `spacing_um`) with derivative
/// `orders` per axis (0 smoothing, 1 first, 2 second derivative).
pub fn gaussian_derivative(
    vol: ArrayView3<f32>,
    sigma_um: f64,
    spacing_um: [f64; 3],
    orders: [usize; 3],
) -> Array3<f32> {
    let mut a = vol.to_owned();
    for axis in 0..3 {
        let s = sigma_um / spacing_um[axis];
        let mut k = gaussian_kernel(s, orders[axis]);
        // Derivatives per µm.
        let scale = spacing_um[axis].powi(orders[axis] as i32);
        if scale != 1.0 {
            k.iter_mut().for_each(|v| *v /= scale);
        }
        a = correlate1d(&a, axis, &k);
    }
    a
}

/// Laplacian of Gaussian: Σ ∂²/∂x² of the volume smoothed by σ µm, over
/// the axes longer than one voxel (a 2-D image is one slice).
pub fn laplacian_of_gaussian(vol: ArrayView3<f32>, sigma_um: f64, spacing_um: [f64; 3]) -> Array3<f32> {
    let mut out = Array3::<f32>::zeros(vol.dim());
    for axis in 0..3 {
        if vol.len_of(Axis(axis)) < 2 {
            continue;
        }
        let mut orders = [0; 3];
        orders[axis] = 2;
        out += &gaussian_derivative(vol, sigma_um, spacing_um, orders);
    }
    out
}

/// Gaussian smoothing with σ in µm.
///
/// ```
/// let v = ndarray::Array3::<f32>::from_elem((5, 6, 7), 2.0);
/// let g = chemomech_imgproc::filters::gaussian(v.view(), 1.0, [1.0; 3]);
/// assert!((g[[2, 3, 3]] - 2.0).abs() < 1e-5);
/// ```
pub fn gaussian(vol: ArrayView3<f32>, sigma_um: f64, spacing_um: [f64; 3]) -> Array3<f32> {
    gaussian_derivative(vol, sigma_um, spacing_um, [0, 0, 0])
}

/// Lanes of the median kernel (one AVX-512 register of f32).
const MED_LANES: usize = 16;

/// The median of one run of up to [`MED_LANES`] voxels: `rows` are the
/// (2r+1)² source rows, each read at `x0 + dx` for dx in 0..2r+1 (with at
/// least MED_LANES values from each read, so every load is a whole
/// register). Every lane keeps its `k` smallest values so far in a sorted
/// list and inserts each new value by compare-exchange down the list
/// (branch-free, so the lanes run in SIMD); the k-th smallest is the
/// median. With `K` > 0 the list has that constant length (14 for 3×3×3)
/// and lives in registers; `K` = 0 uses `best` (length k).
#[inline(always)]
fn median_lanes<const K: usize>(
    rows: &[&[f32]],
    x0: usize,
    w: usize,
    k: usize,
    best: &mut [[f32; MED_LANES]],
    out: &mut [f32],
) {
    #[inline(always)]
    fn insert(list: &mut [[f32; MED_LANES]], mut v: [f32; MED_LANES]) {
        for b in list.iter_mut() {
            for l in 0..MED_LANES {
                // min and max, written so that they compile to vminps/vmaxps.
                let lo = if b[l] < v[l] { b[l] } else { v[l] };
                let hi = if v[l] > b[l] { v[l] } else { b[l] };
                b[l] = lo;
                v[l] = hi;
            }
        }
    }
    let load = |row: &[f32], at: usize| -> [f32; MED_LANES] { row[at..at + MED_LANES].try_into().unwrap() };
    let len = out.len();
    if K > 0 {
        let mut list = [[f32::INFINITY; MED_LANES]; K];
        for row in rows {
            for dx in 0..w {
                insert(&mut list, load(row, x0 + dx));
            }
        }
        out.copy_from_slice(&list[K - 1][..len]);
    } else {
        let list = &mut best[..k];
        list.fill([f32::INFINITY; MED_LANES]);
        for row in rows {
            for dx in 0..w {
                insert(list, load(row, x0 + dx));
            }
        }
        out.copy_from_slice(&list[k - 1][..len]);
    }
}

/// Scratch of one worker: reflected windows for the chunks at the row ends,
/// and the sorted lists of larger cubes.
struct MedianScratch {
    wins: Vec<Vec<f32>>,
    best: Vec<[f32; MED_LANES]>,
}

/// One output row of the median from its (2r+1)² source rows `src`. Written
/// by hand: no kept crate has a 3-D median, and a per-voxel sort is 10–20×
/// slower than these SIMD lanes.
#[inline(always)]
fn median_row_body<const K: usize>(src: &[&[f32]], r: usize, sc: &mut MedianScratch, out: &mut [f32]) {
    let (w, nx) = (2 * r + 1, out.len());
    let k = w * w * w / 2 + 1;
    for (c, chunk) in out.chunks_mut(MED_LANES).enumerate() {
        let x0 = c * MED_LANES;
        if x0 >= r && x0 + MED_LANES + r <= nx {
            // Interior: straight from the source rows.
            median_lanes::<K>(src, x0 - r, w, k, &mut sc.best, chunk);
        } else {
            for (wj, s) in sc.wins.iter_mut().zip(src) {
                for (i, v) in wj[..chunk.len() + 2 * r].iter_mut().enumerate() {
                    *v = s[reflect((x0 + i) as isize - r as isize, nx)];
                }
            }
            let rows: Vec<&[f32]> = sc.wins.iter().map(|v| v.as_slice()).collect();
            median_lanes::<K>(&rows, 0, w, k, &mut sc.best, chunk);
        }
    }
}

// The row kernels compiled for AVX-512F (one register per 16 lanes) and AVX2
// as well as the baseline, the best the CPU supports chosen at run time by
// `multiversion` (0.8, as in xas: 0.9 would make the AVX-512 target require
// Ice Lake's extensions too). `median_row_body` is `#[inline(always)]` so
// that it is compiled with each target's features.

/// One output row of the 3×3×3 median (the sorted list of 14 in registers).
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn median_row_3(src: &[&[f32]], r: usize, sc: &mut MedianScratch, out: &mut [f32]) {
    median_row_body::<14>(src, r, sc, out)
}

/// One output row of the median of any radius (the sorted list in scratch).
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn median_row_any(src: &[&[f32]], r: usize, sc: &mut MedianScratch, out: &mut [f32]) {
    median_row_body::<0>(src, r, sc, out)
}

/// Median over a (2r+1)³ cube (r voxels), reflecting at the borders
/// (scipy's `median_filter(size=2r+1, mode='reflect')`, value for value).
/// Parallel over planes, 16 voxels of a row at a time in SIMD lanes. NaN
/// values give an unspecified result in their neighbourhood.
///
/// ```
/// let mut v = ndarray::Array3::<f32>::zeros((3, 3, 3));
/// v[[1, 1, 1]] = 9.0; // a lone spike is removed
/// assert_eq!(chemomech_imgproc::filters::median(v.view(), 1)[[1, 1, 1]], 0.0);
/// ```
pub fn median(vol: ArrayView3<f32>, r: usize) -> Array3<f32> {
    let (nz, ny, nx) = vol.dim();
    let mut out = Array3::<f32>::zeros((nz, ny, nx));
    if nz * ny * nx == 0 {
        return out;
    }
    let vol = vol.as_standard_layout();
    let flat = vol.as_slice().expect("standard layout");
    let (w, ri) = (2 * r + 1, r as isize);
    let row_fn = if r == 1 { median_row_3 } else { median_row_any };
    out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each_init(
        || MedianScratch {
            wins: vec![vec![0.0f32; 2 * MED_LANES + 2 * r]; w * w],
            best: vec![[0.0f32; MED_LANES]; w * w * w / 2 + 1],
        },
        |sc, (z, mut plane)| {
            let mut src: Vec<&[f32]> = Vec::with_capacity(w * w);
            for y in 0..ny {
                src.clear();
                for j in 0..w * w {
                    let zz = reflect(z as isize + (j / w) as isize - ri, nz);
                    let yy = reflect(y as isize + (j % w) as isize - ri, ny);
                    src.push(&flat[(zz * ny + yy) * nx..][..nx]);
                }
                let mut line = plane.index_axis_mut(Axis(0), y);
                row_fn(&src, r, sc, line.as_slice_mut().expect("rows of a standard-layout plane are contiguous"));
            }
        },
    );
    out
}

/// Bilateral filter: neighbours within `radius` voxels weighted by a spatial
/// Gaussian (σ_s µm) and a range Gaussian (σ_r in data units).
pub fn bilateral(
    vol: ArrayView3<f32>,
    sigma_spatial_um: f64,
    sigma_range: f64,
    spacing_um: [f64; 3],
    radius: usize,
) -> Array3<f32> {
    let (nz, ny, nx) = vol.dim();
    let r = radius as isize;
    let mut offs = Vec::new();
    for dz in -r..=r {
        for dy in -r..=r {
            for dx in -r..=r {
                let d2 = (dz as f64 * spacing_um[0]).powi(2)
                    + (dy as f64 * spacing_um[1]).powi(2)
                    + (dx as f64 * spacing_um[2]).powi(2);
                offs.push((dz, dy, dx, (-d2 / (2.0 * sigma_spatial_um * sigma_spatial_um)).exp()));
            }
        }
    }
    let inv = 1.0 / (2.0 * sigma_range * sigma_range);
    let mut out = Array3::<f32>::zeros((nz, ny, nx));
    out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(z, mut plane)| {
        for y in 0..ny {
            for x in 0..nx {
                let c = vol[[z, y, x]] as f64;
                let (mut s, mut w) = (0.0, 0.0);
                for &(dz, dy, dx, ws) in &offs {
                    let v = vol
                        [[reflect(z as isize + dz, nz), reflect(y as isize + dy, ny), reflect(x as isize + dx, nx)]]
                        as f64;
                    let ww = ws * (-(v - c) * (v - c) * inv).exp();
                    s += ww * v;
                    w += ww;
                }
                plane[[y, x]] = (s / w) as f32;
            }
        }
    });
    out
}

/// Gradient magnitude of the Gaussian-smoothed volume (per µm).
pub fn gradient_magnitude(vol: ArrayView3<f32>, sigma_um: f64, spacing_um: [f64; 3]) -> Array3<f32> {
    let gz = gaussian_derivative(vol, sigma_um, spacing_um, [1, 0, 0]);
    let gy = gaussian_derivative(vol, sigma_um, spacing_um, [0, 1, 0]);
    let gx = gaussian_derivative(vol, sigma_um, spacing_um, [0, 0, 1]);
    Zip::from(&gz).and(&gy).and(&gx).map_collect(|a, b, c| (a * a + b * b + c * c).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn derivatives_of_a_quadratic() {
        // f = 3x² + 2y: ∂f/∂x = 6x, ∂²f/∂x² = 6, ∂f/∂y = 2 (interior, σ = 1).
        let f = Array3::from_shape_fn((5, 20, 20), |(_, y, x)| (3.0 * (x as f64).powi(2) + 2.0 * y as f64) as f32);
        let dxx = gaussian_derivative(f.view(), 1.0, [1.0; 3], [0, 0, 2]);
        let dx = gaussian_derivative(f.view(), 1.0, [1.0; 3], [0, 0, 1]);
        let dy = gaussian_derivative(f.view(), 1.0, [1.0; 3], [0, 1, 0]);
        // The sampled Gaussian's moments differ slightly from the continuous ones (as scipy's).
        assert!((dxx[[2, 10, 10]] - 6.0).abs() < 0.06, "{}", dxx[[2, 10, 10]]);
        assert!((dx[[2, 10, 10]] - 60.0).abs() < 0.05, "{}", dx[[2, 10, 10]]);
        assert!((dy[[2, 10, 10]] - 2.0).abs() < 0.01);
    }
    #[test]
    fn median_equals_a_sort_per_voxel() {
        // Widths below, at and above the 16 SIMD lanes; radius 1 (register
        // kernel) and 2 (general kernel); ties and negative values.
        let mut s = 99u64;
        for (dim, r) in [((5, 6, 7), 1), ((4, 5, 33), 1), ((6, 7, 20), 2), ((3, 3, 16), 1)] {
            let v = Array3::from_shape_fn(dim, |_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 33) % 23) as f32 - 7.5
            });
            let m = median(v.view(), r);
            let (nz, ny, nx) = dim;
            let ri = r as isize;
            for ((z, y, x), &got) in m.indexed_iter() {
                let mut w = Vec::new();
                for dz in -ri..=ri {
                    for dy in -ri..=ri {
                        for dx in -ri..=ri {
                            w.push(
                                v[[
                                    reflect(z as isize + dz, nz),
                                    reflect(y as isize + dy, ny),
                                    reflect(x as isize + dx, nx),
                                ]],
                            );
                        }
                    }
                }
                w.sort_by(f32::total_cmp);
                assert_eq!(got, w[w.len() / 2], "{dim:?} r={r} at ({z},{y},{x})");
            }
        }
    }
    #[test]
    fn median_removes_salt() {
        let mut v = Array3::<f32>::from_elem((5, 5, 5), 1.0);
        v[[2, 2, 2]] = 100.0;
        assert_eq!(median(v.view(), 1)[[2, 2, 2]], 1.0);
        let b = bilateral(v.view(), 1.0, 0.5, [1.0; 3], 1);
        assert!((b[[2, 2, 2]] - 100.0).abs() < 1.0 && (b[[0, 0, 0]] - 1.0).abs() < 1e-6);
    }
}
