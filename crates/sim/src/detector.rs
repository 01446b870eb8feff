//! Detector models: counting noise and smooth flat-field patterns.

use crate::rng::{Stream, rng};
use ndarray::Array2;
use rand::Rng;
use rand_distr::{Distribution, Normal, Poisson};

/// A Poisson count with mean `lambda` (Gaussian with matched variance above
/// 10⁴ counts, where the two agree to well below the noise itself).
#[inline]
pub fn poisson(lambda: f64, g: &mut impl Rng) -> f64 {
    if !(lambda > 0.0) {
        return 0.0;
    }
    if lambda > 1e4 {
        let n = Normal::new(lambda, lambda.sqrt()).expect("finite");
        n.sample(g).max(0.0).round()
    } else {
        Poisson::new(lambda).expect("positive").sample(g)
    }
}

/// A smooth flat-field pattern of mean ≈ 1 and relative amplitude `amp`,
/// slowly changing with `t` (frame index / energy).
pub fn flat_pattern(shape: (usize, usize), amp: f64, seed: u64, t: f64) -> Array2<f64> {
    let mut g = rng(seed, Stream::Flat, 0);
    // The phase range stays 0..6.28 (not TAU): simulated flats, and every
    // seeded result downstream, are kept as they were.
    #[allow(clippy::approx_constant)]
    let modes: Vec<(f64, f64, f64, f64)> = (0..4)
        .map(|_| {
            (g.random_range(0.3..1.5), g.random_range(0.3..1.5), g.random_range(0.0..6.28), g.random_range(-1.0..1.0))
        })
        .collect();
    let (h, w) = shape;
    Array2::from_shape_fn(shape, |(r, c)| {
        let (y, x) = (r as f64 / h as f64, c as f64 / w as f64);
        let s: f64 = modes
            .iter()
            .map(|(fy, fx, ph, dr)| (std::f64::consts::TAU * (fy * y + fx * x) + ph + dr * t * 0.05).cos())
            .sum();
        1.0 + amp * s / 2.0
    })
}

/// Counts to u16 (saturating, as a 16-bit detector).
#[inline]
pub fn to_u16(v: f64) -> u16 {
    v.round().clamp(0.0, 65535.0) as u16
}
