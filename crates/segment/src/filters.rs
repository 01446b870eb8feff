//! 3-D filters with anisotropic voxels: separable Gaussian (and its
//! derivatives), median, and an edge-preserving bilateral filter. Boundaries
//! are reflected (scipy's `mode='reflect'`); work is parallel over lines.

use chemomech_core::math::reflect;
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


/// Correlates every line along `axis` with `kernel` (centred).
pub fn correlate1d(a: &Array3<f32>, axis: usize, kernel: &[f64]) -> Array3<f32> {
    let mut out = Array3::<f32>::zeros(a.dim());
    let r = (kernel.len() / 2) as isize;
    let n = a.len_of(Axis(axis)) as isize;
    let mut lanes_out: Vec<_> = out.lanes_mut(Axis(axis)).into_iter().collect();
    let lanes_in: Vec<_> = a.lanes(Axis(axis)).into_iter().collect();
    lanes_out.par_iter_mut().zip(lanes_in.par_iter()).for_each_init(Vec::new, |buf, (o, i)| {
        buf.clear();
        buf.extend(i.iter().map(|&v| v as f64));
        for (k, ov) in o.iter_mut().enumerate() {
            let mut s = 0.0;
            for (j, &w) in kernel.iter().enumerate() {
                s += w * buf[reflect(k as isize + j as isize - r, n as usize)];
            }
            *ov = s as f32;
        }
    });
    out
}

/// Gaussian filter (σ in µm per axis, voxel `spacing` in µm) with derivative
/// `orders` per axis (0 smoothing, 1 first, 2 second derivative).
pub fn gaussian_derivative(vol: ArrayView3<f32>, sigma_um: f64, spacing: [f64; 3], orders: [usize; 3]) -> Array3<f32> {
    let mut a = vol.to_owned();
    for axis in 0..3 {
        let s = sigma_um / spacing[axis];
        let mut k = gaussian_kernel(s, orders[axis]);
        // Derivatives per µm.
        let scale = spacing[axis].powi(orders[axis] as i32);
        if scale != 1.0 {
            k.iter_mut().for_each(|v| *v /= scale);
        }
        a = correlate1d(&a, axis, &k);
    }
    a
}

/// Gaussian smoothing with σ in µm.
///
/// ```
/// let v = ndarray::Array3::<f32>::from_elem((5, 6, 7), 2.0);
/// let g = chemomech_segment::filters::gaussian(v.view(), 1.0, [1.0; 3]);
/// assert!((g[[2, 3, 3]] - 2.0).abs() < 1e-5);
/// ```
pub fn gaussian(vol: ArrayView3<f32>, sigma_um: f64, spacing: [f64; 3]) -> Array3<f32> {
    gaussian_derivative(vol, sigma_um, spacing, [0, 0, 0])
}

/// Median over a (2r+1)³ cube (r voxels), reflecting at the borders.
pub fn median(vol: ArrayView3<f32>, r: usize) -> Array3<f32> {
    let (nz, ny, nx) = vol.dim();
    let mut out = Array3::<f32>::zeros((nz, ny, nx));
    let ri = r as isize;
    out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each_init(Vec::new, |buf, (z, mut plane)| {
        for y in 0..ny {
            for x in 0..nx {
                buf.clear();
                for dz in -ri..=ri {
                    let zz = reflect(z as isize + dz, nz);
                    for dy in -ri..=ri {
                        let yy = reflect(y as isize + dy, ny);
                        for dx in -ri..=ri {
                            buf.push(vol[[zz, yy, reflect(x as isize + dx, nx)]]);
                        }
                    }
                }
                let m = buf.len() / 2;
                let (_, v, _) = buf.select_nth_unstable_by(m, |a, b| a.total_cmp(b));
                plane[[y, x]] = *v;
            }
        }
    });
    out
}

/// Bilateral filter: neighbours within `radius` voxels weighted by a spatial
/// Gaussian (σ_s µm) and a range Gaussian (σ_r in data units).
pub fn bilateral(vol: ArrayView3<f32>, sigma_spatial_um: f64, sigma_range: f64, spacing: [f64; 3], radius: usize) -> Array3<f32> {
    let (nz, ny, nx) = vol.dim();
    let r = radius as isize;
    let mut offs = Vec::new();
    for dz in -r..=r {
        for dy in -r..=r {
            for dx in -r..=r {
                let d2 = (dz as f64 * spacing[0]).powi(2) + (dy as f64 * spacing[1]).powi(2) + (dx as f64 * spacing[2]).powi(2);
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
                    let v = vol[[reflect(z as isize + dz, nz), reflect(y as isize + dy, ny), reflect(x as isize + dx, nx)]] as f64;
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
pub fn gradient_magnitude(vol: ArrayView3<f32>, sigma_um: f64, spacing: [f64; 3]) -> Array3<f32> {
    let gz = gaussian_derivative(vol, sigma_um, spacing, [1, 0, 0]);
    let gy = gaussian_derivative(vol, sigma_um, spacing, [0, 1, 0]);
    let gx = gaussian_derivative(vol, sigma_um, spacing, [0, 0, 1]);
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
    fn median_removes_salt() {
        let mut v = Array3::<f32>::from_elem((5, 5, 5), 1.0);
        v[[2, 2, 2]] = 100.0;
        assert_eq!(median(v.view(), 1)[[2, 2, 2]], 1.0);
        let b = bilateral(v.view(), 1.0, 0.5, [1.0; 3], 1);
        assert!((b[[2, 2, 2]] - 100.0).abs() < 1.0 && (b[[0, 0, 0]] - 1.0).abs() < 1e-6);
    }
}
