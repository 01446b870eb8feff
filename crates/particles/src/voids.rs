//! Partial-volume void (crack) fractions from grey levels.
//!
//! A crack narrower than the point-spread function never reaches the pore
//! grey level, so counting voxels below a threshold misses most of its
//! volume. What it does keep is its grey-level *deficit*: blurring
//! conserves intensity, so a particle's voids lower the sum of its grey
//! values by (solid − pore) × void volume, wherever they are. The deficit is
//! measured against a model of the same electrode with intact particles:
//!
//! 1. levels: the pore, carbon-binder and solid medians of the phases, and
//!    each particle's own solid level (the median of its deep voxels above
//!    the pore–solid midpoint), so that density and low-frequency drifts
//!    do not read as voids;
//! 2. a piecewise-constant image M of intact particles (each at its own
//!    level), carbon binder and pore, blurred by a Gaussian whose σ (and a
//!    phase-contrast fringe term, a scaled Laplacian of Gaussian) is fitted
//!    by least squares to the image *outside* the particles, where no
//!    voids are;
//! 3. per particle, the void fraction f = Σ (model − grey) / ((solid −
//!    pore) × voxels) over its envelope, with a standard error from the
//!    noise (residual outside the particles) and from its solid level.
//!
//! Noise is not clipped per voxel, so it averages out instead of biasing
//! intact particles upwards.

use chemomech_imgproc::filters::{gaussian, laplacian_of_gaussian};
use ndarray::{Array3, ArrayView3, Zip};
use rayon::prelude::*;

/// Grey levels and blur fitted to a volume.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct VoidModel {
    /// Median grey value of the pore phase.
    pub pore_level: f64,
    /// Median grey value of the carbon-binder phase (pore level when absent).
    pub cbd_level: f64,
    /// Median grey value of the active phase.
    pub solid_level: f64,
    /// Fitted Gaussian blur σ, voxels.
    pub psf_sigma_vox: f64,
    /// Fitted fringe coefficient (of the Laplacian of Gaussian at σ = 1 voxel).
    pub fringe: f64,
    /// Noise σ: robust spread of the residual outside the particles.
    pub noise: f64,
}

/// One particle's void fraction.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ParticleVoids {
    /// Void fraction of the envelope.
    pub fraction: f64,
    /// Its standard error.
    pub sd: f64,
    /// The particle's own solid grey level.
    pub solid_level: f64,
}

/// Candidate blur σ (voxels) searched when fitting the model.
const SIGMAS: [f64; 10] = [0.3, 0.5, 0.7, 0.85, 1.0, 1.2, 1.4, 1.7, 2.0, 2.5];

/// Void fractions of every particle of `labels` (index = label; entry 0
/// unused) in `grey`, with `phases` (0 pore, 1 carbon binder, 2 active
/// outside the envelopes). `None` when the volume has no pore or no active
/// voxels to set the levels.
pub fn void_fractions(
    grey: ArrayView3<f32>,
    labels: ArrayView3<u32>,
    phases: ArrayView3<u8>,
) -> Option<(VoidModel, Vec<ParticleVoids>)> {
    let n = labels.iter().copied().max().unwrap_or(0) as usize;
    let levels = Levels::of(grey, labels, phases)?;
    let depth = chemomech_imgproc::edt::edt(labels.mapv(|l| l > 0).view(), [1.0; 3]);
    let outside = chemomech_imgproc::edt::edt(labels.mapv(|l| l == 0).view(), [1.0; 3]);
    let pore_noise = pore_noise(grey, phases, outside.view());
    let solid = own_solid_levels(grey, labels, depth.view(), &levels, pore_noise, n);
    let model_image = Zip::from(&labels).and(&phases).par_map_collect(|&l, &p| {
        (if l > 0 {
            solid[l as usize].0
        } else if p == 1 {
            levels.cbd
        } else if p == 2 {
            levels.solid
        } else {
            levels.pore
        }) as f32
    });
    let fit = fit_blur(grey, model_image.view(), outside.view());
    let m = VoidModel {
        pore_level: levels.pore,
        cbd_level: levels.cbd,
        solid_level: levels.solid,
        psf_sigma_vox: fit.sigma,
        fringe: fit.fringe,
        noise: fit.noise,
    };
    Some((m, deficits(grey, labels, depth.view(), &fit.expected, &solid, &m, n)))
}

/// The median of `v` (reordered; not empty).
fn median(v: &mut [f32]) -> f32 {
    let m = v.len() / 2;
    *v.select_nth_unstable_by(m, f32::total_cmp).1
}

/// Robust σ of `v`: 1.4826 × its median absolute deviation; NaN when it
/// has fewer than 16 values.
fn robust_sigma(v: &mut [f32]) -> f64 {
    if v.len() < 16 {
        return f64::NAN;
    }
    let med = median(v);
    let mut dev: Vec<f32> = v.iter().map(|x| (x - med).abs()).collect();
    1.4826 * median(&mut dev) as f64
}

struct Levels {
    pore: f64,
    cbd: f64,
    solid: f64,
}

impl Levels {
    fn of(grey: ArrayView3<f32>, labels: ArrayView3<u32>, phases: ArrayView3<u8>) -> Option<Self> {
        let median = |keep: &dyn Fn(u32, u8) -> bool| -> Option<f64> {
            let mut v: Vec<f32> = Zip::from(&grey).and(&labels).and(&phases).fold(Vec::new(), |mut acc, &g, &l, &p| {
                if keep(l, p) && g.is_finite() {
                    acc.push(g);
                }
                acc
            });
            (!v.is_empty()).then(|| median(&mut v) as f64)
        };
        let pore = median(&|l, p| l == 0 && p == 0)?;
        let solid = median(&|l, p| l > 0 && p == 2).or_else(|| median(&|_, p| p == 2))?;
        let cbd = median(&|l, p| l == 0 && p == 1).unwrap_or(pore);
        (solid > pore).then_some(Levels { pore, cbd, solid })
    }
}

/// Noise σ of the pore phase at least 3 voxels from any particle (1.4826 ×
/// median absolute deviation); 0 when there is too little of it.
fn pore_noise(grey: ArrayView3<f32>, phases: ArrayView3<u8>, outside: ArrayView3<f32>) -> f64 {
    let mut v: Vec<f32> = Zip::from(&grey).and(&phases).and(&outside).fold(Vec::new(), |mut a, &g, &p, &d| {
        if p == 0 && d > 3.0 && g.is_finite() {
            a.push(g);
        }
        a
    });
    let s = robust_sigma(&mut v);
    if s.is_nan() { 0.0 } else { s }
}

/// Per particle: its solid level, from the voxels at least two voxels deep
/// that are brighter than the pore–solid midpoint: their 95th percentile
/// less 1.645 σ of the solid (the 95th percentile of a noisy solid). σ is
/// the solid's own spread, from the upper quantiles only ((q95 − q85) /
/// 0.609, the median over the particles): in absorption tomography the
/// solid is noisier than the pore, and blur or cracks pull the lower
/// quantiles down, which drags a median or a full-width spread down too.
/// The global level when fewer than 8 voxels; with its standard error.
fn own_solid_levels(
    grey: ArrayView3<f32>,
    labels: ArrayView3<u32>,
    depth: ArrayView3<f32>,
    lv: &Levels,
    pore_noise: f64,
    n: usize,
) -> Vec<(f64, f64)> {
    let mid = 0.5 * (lv.pore + lv.solid);
    let mut per: Vec<Vec<f32>> = vec![Vec::new(); n + 1];
    Zip::from(&grey).and(&labels).and(&depth).for_each(|&g, &l, &d| {
        if l > 0 && d >= 2.0 && (g as f64) > mid {
            per[l as usize].push(g);
        }
    });
    // (q85, q95, voxels) per particle.
    let q: Vec<(f64, f64, usize)> = per
        .into_par_iter()
        .map(|mut v| {
            if v.len() < 8 {
                return (f64::NAN, f64::NAN, v.len());
            }
            let len = v.len();
            let k = |f: f64| ((len as f64 * f) as usize).min(len - 1);
            let q95 = *v.select_nth_unstable_by(k(0.95), f32::total_cmp).1 as f64;
            let q85 = *v.select_nth_unstable_by(k(0.85), f32::total_cmp).1 as f64;
            (q85, q95, v.len())
        })
        .collect();
    let mut spreads: Vec<f64> = q.iter().filter(|x| x.2 >= 30).map(|x| (x.1 - x.0) / 0.609).collect();
    let sigma = if spreads.is_empty() {
        pore_noise
    } else {
        let m = spreads.len() / 2;
        *spreads.select_nth_unstable_by(m, f64::total_cmp).1
    };
    q.into_iter()
        .map(|(_, q95, k)| {
            if k < 8 {
                return (lv.solid, f64::NAN);
            }
            // Standard error of a 95th percentile: σ √(0.0475 / n) / φ(1.645).
            (q95 - 1.6449 * sigma, 2.11 * sigma.max(1e-12) / (k as f64).sqrt())
        })
        .collect()
}

struct BlurFit {
    sigma: f64,
    fringe: f64,
    noise: f64,
    expected: Array3<f32>,
}

/// Fits σ (grid search) and the fringe term (linear least squares per σ)
/// on the voxels outside the particles but within 3 voxels of one, where
/// the blur shows and no voids are.
fn fit_blur(grey: ArrayView3<f32>, model: ArrayView3<f32>, outside: ArrayView3<f32>) -> BlurFit {
    let near: Vec<usize> =
        outside.iter().enumerate().filter(|(_, d)| **d > 0.0 && **d <= 3.0).map(|(i, _)| i).collect();
    let g = grey.as_standard_layout();
    let gs = g.as_slice().expect("standard layout");
    let mut best: Option<(f64, BlurFit)> = None;
    for &s in &SIGMAS {
        let b = gaussian(model, s, [1.0; 3]);
        let lap = laplacian_of_gaussian(b.view(), 1.0, [1.0; 3]);
        let (bs, ls) = (b.as_slice().expect("standard"), lap.as_slice().expect("standard"));
        let (mut num, mut den) = (0.0, 0.0);
        for &i in &near {
            let r = (gs[i] - bs[i]) as f64;
            num += r * ls[i] as f64;
            den += (ls[i] as f64).powi(2);
        }
        let a = if den > 0.0 { num / den } else { 0.0 };
        let sse: f64 = near.iter().map(|&i| ((gs[i] - bs[i]) as f64 - a * ls[i] as f64).powi(2)).sum();
        if best.as_ref().is_none_or(|(e, _)| sse < *e) {
            let mut expected = b;
            expected.zip_mut_with(&lap, |e, &l| *e += (a * l as f64) as f32);
            best = Some((sse, BlurFit { sigma: s, fringe: a, noise: 0.0, expected }));
        }
    }
    let (_, mut fit) = best.expect("at least one σ");
    let out = outside.as_standard_layout();
    fit.noise = residual_noise(gs, fit.expected.as_slice().expect("standard"), out.as_slice().expect("standard"));
    fit
}

/// Robust σ (1.4826 × median absolute deviation) of grey − model at least
/// 3 voxels outside the particles.
fn residual_noise(g: &[f32], e: &[f32], outside: &[f32]) -> f64 {
    let mut r: Vec<f32> = (0..g.len()).filter(|&i| outside[i] > 3.0).map(|i| g[i] - e[i]).collect();
    robust_sigma(&mut r)
}

/// Sums of one particle's deficit (expected − grey) by depth layer.
#[derive(Clone, Copy, Default)]
struct Layers {
    /// Deficit and voxels at least `DEEP` voxels deep.
    deep: (f64, u64),
    /// Deficit and voxels of the layer just under the shell.
    under: (f64, u64),
    /// Deficit and voxels of the outer shell.
    shell: (f64, u64),
}

/// Depth (voxels) from which the blur across the envelope's boundary and
/// the boundary's own sub-voxel placement no longer matter.
const DEEP: f32 = 2.0;
/// Thickness of the layer under the shell whose void density stands in for
/// the shell's.
const UNDER: f32 = 1.5;

/// Per particle: the deficit Σ (expected − grey) / (own solid − pore) of
/// its voxels at least [`DEEP`] voxels deep, plus the outer shell's voxels
/// times the void density of the layer just under it, over the envelope's
/// voxels. The shell is where the envelope's boundary lies at a sub-voxel
/// position that the labels round (a 0.2-voxel outward shift would read as
/// several per cent of void in a 10-voxel particle), so its voids are
/// extrapolated from the layer below: a hollow core leaves the shell
/// solid, cracks that cross it carry their density into it.
fn deficits(
    grey: ArrayView3<f32>,
    labels: ArrayView3<u32>,
    depth: ArrayView3<f32>,
    expected: &Array3<f32>,
    solid: &[(f64, f64)],
    m: &VoidModel,
    n: usize,
) -> Vec<ParticleVoids> {
    let mut sum = vec![Layers::default(); n + 1];
    Zip::from(&grey).and(&labels).and(expected).and(&depth).for_each(|&g, &l, &e, &d| {
        if l > 0 && g.is_finite() {
            let s = &mut sum[l as usize];
            let layer = if d >= DEEP {
                if d < DEEP + UNDER {
                    s.under.0 += (e - g) as f64;
                    s.under.1 += 1;
                }
                &mut s.deep
            } else {
                &mut s.shell
            };
            layer.0 += (e - g) as f64;
            layer.1 += 1;
        }
    });
    (0..=n)
        .map(|l| {
            let y = sum[l];
            let (s, s_err) = solid[l];
            let contrast = (s - m.pore_level).max(1e-6 * (m.solid_level - m.pore_level).abs());
            let k = y.deep.1 + y.shell.1;
            if k == 0 {
                return ParticleVoids { fraction: f64::NAN, sd: f64::NAN, solid_level: s };
            }
            // Small particles without a layer under the shell: every voxel.
            let (void, counted) = if y.under.1 >= 8 {
                (
                    y.deep.0 + y.shell.1 as f64 * y.under.0 / y.under.1 as f64,
                    y.deep.1 as f64 + y.shell.1 as f64 * y.shell.1 as f64 / y.under.1 as f64,
                )
            } else {
                (y.deep.0 + y.shell.0, k as f64)
            };
            let f = void / (contrast * k as f64);
            // Noise of the sums (the extrapolated shell weighs its layer's
            // voxels up), and the solid level's error (the model moves by
            // it over the whole envelope).
            let noise = if m.noise.is_finite() { m.noise * counted.sqrt() / (contrast * k as f64) } else { 0.0 };
            let level = if s_err.is_finite() { s_err / contrast } else { 0.0 };
            ParticleVoids { fraction: f, sd: (noise * noise + level * level).sqrt(), solid_level: s }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chemomech_imgproc::filters::gaussian;

    /// A ball of radius `r` voxels with a hollow core of radius `c`, sampled
    /// 4× per axis (partial volumes), blurred by σ and with noise; returns
    /// the image, the envelope label, and the true void fraction: the core's
    /// volume over the envelope's voxels (the envelope's own rim is
    /// partial volume, not void).
    fn hollow_ball(r: f64, c: f64, sigma: f64, noise: f32) -> (Array3<f32>, Array3<u32>, f64) {
        let n = 40;
        let ctr = (n as f64 - 1.0) / 2.0 + 0.3;
        let d = |z: f64, y: f64, x: f64| ((z - ctr).powi(2) + (y - ctr).powi(2) + (x - ctr).powi(2)).sqrt();
        let att = Array3::from_shape_fn((n, n, n), |(z, y, x)| {
            let mut s = 0.0;
            for k in 0..64 {
                let o = |i: usize| (i as f64 + 0.5) / 4.0 - 0.5;
                let dd = d(z as f64 + o(k / 16), y as f64 + o((k / 4) % 4), x as f64 + o(k % 4));
                s += (dd <= r && dd > c) as u8 as f64;
            }
            (s / 64.0) as f32
        });
        let labels = Array3::from_shape_fn((n, n, n), |(z, y, x)| (d(z as f64, y as f64, x as f64) <= r) as u32);
        let k = labels.iter().filter(|l| **l > 0).count() as f64;
        let void = 4.0 / 3.0 * std::f64::consts::PI * c.powi(3);
        let mut g = gaussian(att.view(), sigma, [1.0; 3]);
        let mut state = 12345u64;
        g.mapv_inplace(|v| {
            // A small LCG's uniform pair into a Gaussian (Box–Muller).
            let mut u = || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64).max(1e-12)
            };
            let (a, b) = (u(), u());
            v + noise * ((-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()) as f32
        });
        (g, labels, void / k)
    }

    #[test]
    fn deficit_measures_a_hollow_core_and_an_intact_ball() {
        for (c, sigma) in [(0.0, 0.8), (5.0, 0.8), (6.0, 1.0)] {
            let (g, labels, truth) = hollow_ball(12.0, c, sigma, 0.05);
            let phases = g.mapv(|v| if v > 0.5 { 2u8 } else { 0 });
            let (m, v) = void_fractions(g.view(), labels.view(), phases.view()).unwrap();
            let f = v[1];
            assert!((f.fraction - truth).abs() < 0.02 + 3.0 * f.sd, "core {c}: {f:?} vs {truth:.4} ({m:?})");
            assert!(f.sd > 0.0 && f.sd < 0.02);
            assert!((m.psf_sigma_vox - sigma).abs() <= 0.35, "{m:?}");
        }
    }

    #[test]
    fn thin_crack_counts_below_any_threshold() {
        // A 0.5-voxel slab through a ball never drops below the pore–solid
        // midpoint, yet its volume is in the deficit.
        let n = 36;
        let ctr = 17.6;
        let att = Array3::from_shape_fn((n, n, n), |(z, y, x)| {
            let d = ((z as f64 - ctr).powi(2) + (y as f64 - ctr).powi(2) + (x as f64 - ctr).powi(2)).sqrt();
            if d > 12.0 {
                0.0
            } else if (x as f64 - 17.0).abs() < 0.5 {
                0.5 // half of this voxel column is crack
            } else {
                1.0
            }
        });
        let labels = att.mapv(|a| (a > 0.0) as u32);
        let truth = labels.iter().zip(att.iter()).filter(|(l, _)| **l > 0).map(|(_, a)| 1.0 - *a as f64).sum::<f64>()
            / labels.iter().filter(|l| **l > 0).count() as f64;
        let g = gaussian(att.view(), 0.9, [1.0; 3]);
        assert!(g.iter().zip(labels.iter()).filter(|(_, l)| **l > 0).all(|(v, _)| *v > 0.3));
        let phases = g.mapv(|v| if v > 0.5 { 2u8 } else { 0 });
        let (_, v) = void_fractions(g.view(), labels.view(), phases.view()).unwrap();
        assert!((v[1].fraction - truth).abs() < 0.3 * truth, "{:?} vs {truth:.4}", v[1]);
    }
}
