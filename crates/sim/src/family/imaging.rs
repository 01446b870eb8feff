//! From the attenuation map to an image: an anisotropic Gaussian PSF,
//! phase-contrast fringes (a Laplacian-of-Gaussian edge term, what
//! single-distance phase retrieval leaves at edges), ring residues (per
//! radius about the rotation axis), a low-frequency residue (cupping and a
//! ramp), and Gaussian noise.

use super::config::Imaging;
use crate::rng::{Stream, uniform};
use chemomech_imgproc::filters::{correlate1d, gaussian_kernel, laplacian_of_gaussian};
use ndarray::{Array3, Axis};
use rayon::prelude::*;

/// Applies `im` to the attenuation map `a` (pore 0, solid 1); `seed` keys
/// the noise and the rings.
pub fn image(a: &Array3<f32>, im: &Imaging, seed: u64) -> Array3<f32> {
    let mut g = blur(a, im.psf_vox);
    if im.fringes > 0.0 {
        let lap = laplacian_of_gaussian(g.view(), 1.0, [1.0; 3]);
        g.zip_mut_with(&lap, |v, &l| *v -= im.fringes as f32 * l);
    }
    add_residues(&mut g, im, seed);
    add_noise(&mut g, im.noise, seed);
    g
}

fn blur(a: &Array3<f32>, sigma: [f64; 3]) -> Array3<f32> {
    let mut g = a.clone();
    for (axis, &s) in sigma.iter().enumerate() {
        if g.len_of(Axis(axis)) > 1 && s > 0.0 {
            g = correlate1d(&g, axis, &gaussian_kernel(s, 0));
        }
    }
    g
}

/// Rings: an offset per integer radius from the centre of each slice
/// (the rotation axis), varying slowly along z; low frequency: cupping
/// (darker centre) and a ramp along x.
fn add_residues(g: &mut Array3<f32>, im: &Imaging, seed: u64) {
    let (_, ny, nx) = g.dim();
    let (cy, cx) = ((ny as f64 - 1.0) / 2.0, (nx as f64 - 1.0) / 2.0);
    let rmax = (cy * cy + cx * cx).sqrt().max(1.0);
    let n_r = rmax as usize + 2;
    let ring: Vec<f64> = (0..n_r)
        .map(|r| {
            if uniform(seed, Stream::Flat, r as u64) < 0.15 {
                2.0 * uniform(seed, Stream::Flat, 10_000 + r as u64) - 1.0
            } else {
                0.0
            }
        })
        .collect();
    g.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(z, mut sl)| {
        let drift = 0.7 + 0.6 * uniform(seed, Stream::Flat, 20_000 + z as u64);
        for ((y, x), v) in sl.indexed_iter_mut() {
            let r = ((y as f64 - cy).powi(2) + (x as f64 - cx).powi(2)).sqrt();
            let rho = r / rmax;
            let mut add = im.rings * drift * ring[r.round() as usize];
            add += im.low_frequency * (-(1.0 - rho * rho) + 0.5 * (x as f64 / nx as f64 - 0.5));
            *v += add as f32;
        }
    });
}

/// Gaussian noise of σ `noise` (Box–Muller on keyed uniforms, so the same
/// seed gives the same noise whatever the thread count).
fn add_noise(g: &mut Array3<f32>, noise: f64, seed: u64) {
    if noise <= 0.0 {
        return;
    }
    g.as_slice_mut().expect("standard layout").par_iter_mut().enumerate().for_each(|(i, v)| {
        let u1 = uniform(seed, Stream::TomoNoise, 2 * i as u64).max(1e-300);
        let u2 = uniform(seed, Stream::TomoNoise, 2 * i as u64 + 1);
        let n = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        *v += (noise * n) as f32;
    });
}
