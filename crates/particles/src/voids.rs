//! Partial-volume void (crack) fractions from grey levels.
//!
//! A crack narrower than the point-spread function never reaches the pore
//! grey level, so counting voxels below a threshold misses most of its
//! volume. What it does keep is its grey-level *deficit*: blurring
//! conserves intensity, so a particle's voids lower the sum of its grey
//! values by (solid − pore) × void volume, wherever they are. The deficit is
//! measured against a model of the same electrode with intact particles:
//!
//! 1. levels: the pore and solid medians of the phases, and each
//!    particle's own solid level (an upper quantile of its deep voxels, see
//!    `own_solid_levels`), raised to its neighbourhood's where cracks finer
//!    than the blur leave none of its voxels at the solid level; so that
//!    density and low-frequency drifts do not read as voids;
//! 2. a piecewise-constant image M of intact particles (each at its own
//!    level) over pore, blurred by a Gaussian whose σ, a phase-contrast
//!    fringe term (a scaled Laplacian of Gaussian) and the carbon binder's
//!    contrast are fitted by least squares to the image *outside* the
//!    particles, where no voids are; the binder itself is re-found from
//!    what the particles' blurred image leaves unexplained, since a
//!    threshold calls every particle's blurred rim binder;
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
    /// Grey value of the carbon-binder phase, fitted (pore level when absent).
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

/// Rounds of carbon-binder unblending and blur refitting (fewer when σ
/// stops moving). The alternation has no fixed point at the true blur
/// under phase contrast: on a 256³ dense+holo member (true σ 1.0 voxel) σ
/// goes 0.5 → 0.7 → 0.85, then a third and fourth round run off to 1.2 as
/// the binder shrinks and its fitted contrast hits the solid's. Two rounds
/// is what the accuracy matrix measured (bench/README.md).
const BINDER_ROUNDS: usize = 2;

/// What [`void_fractions`] finds.
#[derive(Debug, Clone)]
pub struct VoidAnalysis {
    /// Levels and blur fitted to the volume.
    pub model: VoidModel,
    /// Per particle (index = label; entry 0 unused).
    pub particles: Vec<ParticleVoids>,
    /// The phases with the carbon binder outside the envelopes told apart
    /// from the particles' own blur halo (see [`unblend_binder`]).
    pub phases: Array3<u8>,
}

/// Void fractions of every particle of `labels` (index = label; entry 0
/// unused) in `grey`, with `phases` (0 pore, 1 carbon binder, 2 active
/// outside the envelopes). `None` when the volume has no pore or no active
/// voxels to set the levels.
///
/// The carbon binder of `phases` is only a starting point: a threshold
/// segmentation calls the blurred rim around every particle carbon binder
/// (its grey level lies between pore and solid), which would both bias the
/// blur fit and make every particle look attached. The binder is
/// re-found from the residual of the particles' own blurred image
/// ([`unblend_binder`]) and the blur refitted, [`BINDER_ROUNDS`] times.
pub fn void_fractions(grey: ArrayView3<f32>, labels: ArrayView3<u32>, phases: ArrayView3<u8>) -> Option<VoidAnalysis> {
    let n = labels.iter().copied().max().unwrap_or(0) as usize;
    let depth = chemomech_imgproc::edt::edt(labels.mapv(|l| l > 0).view(), [1.0; 3]);
    let outside = chemomech_imgproc::edt::edt(labels.mapv(|l| l == 0).view(), [1.0; 3]);
    let levels = Levels::of(grey, labels, phases)?;
    let pore_noise = pore_noise(grey, phases, outside.view());
    let solid = own_solid_levels(grey, labels, depth.view(), &levels, pore_noise, n);
    let bare = model_image(labels, phases, &levels, &solid);
    let binder_of =
        |ph: &Array3<u8>| Zip::from(ph).and(&labels).par_map_collect(|&p, &l| (l == 0 && p == 1) as u8 as f32);
    let max_contrast = levels.solid - levels.pore;
    let mut phases = phases.to_owned();
    let mut binder = binder_of(&phases);
    let mut fit = fit_blur(grey, bare.view(), binder.view(), outside.view(), max_contrast);
    for _ in 0..BINDER_ROUNDS {
        if fit.binder <= 0.0 {
            break;
        }
        unblend_binder(grey, labels, blurred(bare.view(), fit.sigma, fit.fringe).view(), fit.binder, phases.view_mut());
        binder = binder_of(&phases);
        let next = fit_blur(grey, bare.view(), binder.view(), outside.view(), max_contrast);
        let settled = next.sigma == fit.sigma;
        fit = next;
        if settled {
            break;
        }
    }
    let mut expected = blurred(bare.view(), fit.sigma, fit.fringe);
    if fit.binder != 0.0 {
        let c = gaussian(binder.view(), fit.sigma, [1.0; 3]);
        expected.zip_mut_with(&c, |e, &k| *e += (fit.binder * k as f64) as f32);
    }
    let noise = residual_noise(grey, expected.view(), outside.view());
    let m = VoidModel {
        pore_level: levels.pore,
        cbd_level: levels.pore + fit.binder.max(0.0),
        solid_level: levels.solid,
        psf_sigma_vox: fit.sigma,
        fringe: fit.fringe,
        noise,
    };
    let particles = deficits(grey, labels, depth.view(), &expected, &solid, &m, n);
    Some(VoidAnalysis { model: m, particles, phases })
}

/// The piecewise-constant image of intact particles over pore: each
/// envelope at its own solid level, active voxels outside the envelopes at
/// the solid's, everything else at the pore's.
fn model_image(labels: ArrayView3<u32>, phases: ArrayView3<u8>, lv: &Levels, solid: &[(f64, f64)]) -> Array3<f32> {
    Zip::from(&labels).and(&phases).par_map_collect(|&l, &p| {
        (if l > 0 {
            solid[l as usize].0
        } else if p == 2 {
            lv.solid
        } else {
            lv.pore
        }) as f32
    })
}

/// `model` blurred by a Gaussian of `sigma` voxels plus `fringe` times the
/// Laplacian of Gaussian (σ = 1 voxel) of that blur: the imaging model.
fn blurred(model: ArrayView3<f32>, sigma: f64, fringe: f64) -> Array3<f32> {
    let mut b = gaussian(model, sigma, [1.0; 3]);
    let lap = laplacian_of_gaussian(b.view(), 1.0, [1.0; 3]);
    b.zip_mut_with(&lap, |e, &l| *e += (fringe * l as f64) as f32);
    b
}

/// Re-finds the carbon binder outside the envelopes: a voxel there is
/// binder when what the particles' own blurred image `bare` (particles over
/// pore) leaves of its grey value, lightly smoothed (σ = 0.5 voxel, as the
/// segmentation's denoising), is above half the binder's `contrast` to
/// the pore. Without this, the blurred rim of every particle (grey between
/// pore and solid) reads as binder: on the simulator family every particle
/// then touched binder on ~93 % of its surface, attached or detached alike.
fn unblend_binder(
    grey: ArrayView3<f32>,
    labels: ArrayView3<u32>,
    bare: ArrayView3<f32>,
    contrast: f64,
    mut phases: ndarray::ArrayViewMut3<u8>,
) {
    let residual = Zip::from(&grey).and(&bare).par_map_collect(|&g, &b| if g.is_finite() { g - b } else { 0.0 });
    let residual = gaussian(residual.view(), 0.5, [1.0; 3]);
    let cut = (0.5 * contrast) as f32;
    Zip::from(&mut phases).and(&labels).and(&residual).par_for_each(|p, &l, &r| {
        if l == 0 && *p < 2 {
            *p = (r > cut) as u8;
        }
    });
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
        (solid > pore).then_some(Levels { pore, solid })
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
    let mut sums = vec![[0.0f64; 4]; n + 1];
    Zip::indexed(&grey).and(&labels).and(&depth).for_each(|(z, y, x), &g, &l, &d| {
        let s = &mut sums[l as usize];
        *s = [s[0] + z as f64, s[1] + y as f64, s[2] + x as f64, s[3] + 1.0];
        if l > 0 && d >= 2.0 && (g as f64) > mid {
            per[l as usize].push(g);
        }
    });
    let centroids: Vec<[f64; 3]> = sums.iter().map(|s| [s[0] / s[3], s[1] / s[3], s[2] / s[3]]).collect();
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
    let sigma = solid_spread(&q).unwrap_or(pore_noise);
    let own: Vec<(f64, f64)> = q
        .iter()
        .map(|&(_, q95, k)| {
            if k < 8 {
                return (lv.solid, f64::NAN);
            }
            // Standard error of a 95th percentile: σ √(0.0475 / n) / φ(1.645).
            (q95 - 1.6449 * sigma, 2.11 * sigma.max(1e-12) / (k as f64).sqrt())
        })
        .collect();
    let reliable: Vec<bool> = q.iter().enumerate().map(|(l, x)| l > 0 && x.2 >= RELIABLE_VOXELS).collect();
    neighbourhood_levels(own, &centroids, &reliable)
}

/// Deep voxels a particle needs for its own level to count as a neighbour's.
const RELIABLE_VOXELS: usize = 100;
/// Neighbours whose levels set a particle's neighbourhood level.
const LEVEL_NEIGHBOURS: usize = 8;

/// Raises each particle's own level to its neighbourhood's when that is
/// higher: the upper quartile of the own levels of its
/// [`LEVEL_NEIGHBOURS`] nearest reliable particles. Cracks finer than the
/// PSF can leave no voxel of a cracked particle at the solid level, so its
/// own 95th percentile reads low and hides its voids (on the simulator's
/// clean members, cracked particles read 1–3 % below intact ones, and a
/// correct level halves the crack-fraction bias). Voids only lower a level,
/// so the neighbourhood's upper quartile bounds it from below, while a
/// particle denser than its neighbours keeps its own. Low-frequency drifts
/// across the volume are followed, as the neighbours are near. Unchanged
/// when fewer than [`LEVEL_NEIGHBOURS`] particles are reliable.
fn neighbourhood_levels(mut own: Vec<(f64, f64)>, centroids: &[[f64; 3]], reliable: &[bool]) -> Vec<(f64, f64)> {
    if reliable.iter().filter(|&&r| r).count() < LEVEL_NEIGHBOURS {
        return own;
    }
    let idx: Vec<usize> = (1..own.len()).filter(|&l| centroids[l].iter().all(|c| c.is_finite())).collect();
    let pts: Vec<[f64; 3]> = idx.iter().map(|&l| centroids[l]).collect();
    let near = chemomech_imgproc::neighbours::k_nearest(&pts, 4 * LEVEL_NEIGHBOURS);
    let raised: Vec<(usize, f64, f64)> = idx
        .iter()
        .zip(near)
        .filter_map(|(&l, nb)| {
            let m: Vec<usize> =
                nb.iter().map(|&(j, _)| idx[j]).filter(|&m| reliable[m]).take(LEVEL_NEIGHBOURS).collect();
            if m.len() < LEVEL_NEIGHBOURS / 2 {
                return None;
            }
            let mut v: Vec<f64> = m.iter().map(|&m| own[m].0).collect();
            let mut se: Vec<f64> = m.iter().map(|&m| own[m].1).filter(|e| e.is_finite()).collect();
            let k = (v.len() - 1) * 3 / 4;
            // The upper quartile of noisy estimates sits ≈ 0.67 of their
            // standard error above the level they estimate.
            let mid = se.len() / 2;
            let noise = if se.is_empty() { 0.0 } else { *se.select_nth_unstable_by(mid, f64::total_cmp).1 };
            let upper = *v.select_nth_unstable_by(k, f64::total_cmp).1 - 0.67 * noise;
            let q1 = (v.len() - 1) / 4;
            let lower = *v.select_nth_unstable_by(q1, f64::total_cmp).1;
            // Its error: the estimates' noise and how much the neighbours'
            // levels differ (robust σ from their interquartile range).
            let se = noise.hypot((upper + 0.67 * noise - lower) / 1.349);
            (upper > own[l].0).then_some((l, upper, se))
        })
        .collect();
    for (l, level, se) in raised {
        own[l] = (level, se);
    }
    own
}

/// The solid's own noise σ from per-particle upper-tail spreads
/// ((q95 − q85) / 0.609, over particles with enough deep voxels): their
/// lower quartile, i.e. the spread of the least damaged particles. Voids
/// blurred into a particle's deep voxels widen its spread, and a level of
/// q95 − 1.645 σ then falls below the solid: with the median spread, the
/// clean members of the simulator family read their solid 2 % low and
/// their crack fractions 0.016 low. `None` when too few particles.
fn solid_spread(q: &[(f64, f64, usize)]) -> Option<f64> {
    for (min_voxels, rank, z) in [(100, 0.25, 0.674), (30, 0.5, 0.0)] {
        let mut s: Vec<f64> = q.iter().filter(|x| x.2 >= min_voxels).map(|x| (x.1 - x.0) / 0.609).collect();
        if s.len() >= 5 || (min_voxels == 30 && !s.is_empty()) {
            let k = ((s.len() - 1) as f64 * rank).round() as usize;
            let low = *s.select_nth_unstable_by(k, f64::total_cmp).1;
            // Each spread is an estimate with a standard error of ≈ 2.98 σ
            // / √n (the variances and covariance of the two quantiles of a
            // normal), so their lower quartile sits z = 0.674 of that below
            // σ: 11 % at 300 deep voxels (2-D slices), 4 % at 3000.
            let mut n: Vec<usize> = q.iter().filter(|x| x.2 >= min_voxels).map(|x| x.2).collect();
            let mid = n.len() / 2;
            let n_mid = *n.select_nth_unstable(mid).1 as f64;
            return Some(low / (1.0 - z * 2.98 / n_mid.sqrt()).max(0.5));
        }
    }
    None
}

/// The fitted imaging model.
struct BlurFit {
    sigma: f64,
    fringe: f64,
    /// Binder − pore grey contrast (0 without binder).
    binder: f64,
}

/// Voxels per axis of the central block the blur search works on. σ, the
/// fringe and the binder's contrast are global, and such a block holds
/// tens of thousands of boundary voxels: blurring the whole volume once per
/// candidate σ would cost most of the stage at 256³ and up.
const FIT_BLOCK: usize = 96;
/// Margin (voxels) at the block's cut faces left out of the fit: blurs
/// there see the block's edge, not the image.
const FIT_MARGIN: usize = 8;

/// Per axis: the block (in the volume) and the fitted part (in the block).
fn fit_block(dim: (usize, usize, usize)) -> [(std::ops::Range<usize>, std::ops::Range<usize>); 3] {
    let axis = |n: usize| {
        if n <= FIT_BLOCK {
            (0..n, 0..n)
        } else {
            let a = (n - FIT_BLOCK) / 2;
            (a..a + FIT_BLOCK, FIT_MARGIN..FIT_BLOCK - FIT_MARGIN)
        }
    };
    [axis(dim.0), axis(dim.1), axis(dim.2)]
}

/// Fits σ (search over [`SIGMAS`]) and, per σ, the fringe term and the
/// binder's contrast by linear least squares, on the voxels outside the
/// particles but within 3 voxels of one, where the blur shows and no voids
/// are, in a central block ([`FIT_BLOCK`]). The image model is
/// blur(`bare`) + fringe × LoG(blur(`bare`)) + contrast × blur(`binder`):
/// `bare` holds the particles over pore and `binder` the binder's
/// indicator. The binder's contrast is fitted rather than taken from a
/// median because a thin binder shell never reaches its own level in a
/// blurred image, and kept within [0, `max_contrast`] (pore to solid).
fn fit_blur(
    grey: ArrayView3<f32>,
    bare: ArrayView3<f32>,
    binder: ArrayView3<f32>,
    outside: ArrayView3<f32>,
    max_contrast: f64,
) -> BlurFit {
    let [(bz, fz), (by, fy), (bx, fx)] = fit_block(grey.dim());
    let block = ndarray::s![bz, by, bx];
    let (g, bare_b, binder_b, out_b) =
        (grey.slice(block), bare.slice(block), binder.slice(block), outside.slice(block));
    let near: Vec<(usize, usize, usize)> = ndarray::indices(out_b.dim())
        .into_iter()
        .filter(|&(z, y, x)| {
            let d = out_b[[z, y, x]];
            fz.contains(&z) && fy.contains(&y) && fx.contains(&x) && d > 0.0 && d <= 3.0 && g[[z, y, x]].is_finite()
        })
        .collect();
    let has_binder = binder_b.iter().any(|&b| b > 0.0);
    let mut best: Option<(f64, [f64; 3])> = None;
    for &s in &SIGMAS {
        let b = gaussian(bare_b, s, [1.0; 3]);
        let lap = laplacian_of_gaussian(b.view(), 1.0, [1.0; 3]);
        let c = if has_binder { gaussian(binder_b, s, [1.0; 3]) } else { Array3::zeros(b.dim()) };
        let row = |&i: &(usize, usize, usize)| ((g[i] - b[i]) as f64, lap[i] as f64, c[i] as f64);
        let [mut fringe, mut contrast] = least_squares_2(near.iter().map(row));
        if !(0.0..=max_contrast).contains(&contrast) {
            // The binder lies between pore and solid: clamp its contrast
            // and fit the fringe alone.
            contrast = contrast.clamp(0.0, max_contrast);
            fringe = least_squares_2(near.iter().map(row).map(|(r, l, k)| (r - contrast * k, l, 0.0)))[0];
        }
        let sse: f64 = near.iter().map(row).map(|(r, l, k)| (r - fringe * l - contrast * k).powi(2)).sum();
        if best.as_ref().is_none_or(|(e, _)| sse < *e) {
            best = Some((sse, [s, fringe, contrast]));
        }
    }
    let (_, [sigma, fringe, binder]) = best.expect("at least one σ");
    BlurFit { sigma, fringe, binder }
}

/// Least squares of r ≈ a x + b y over `(r, x, y)`: `[a, b]`; `b` = 0 (and
/// `a` alone) when y carries nothing or the system is singular.
fn least_squares_2(rows: impl Iterator<Item = (f64, f64, f64)>) -> [f64; 2] {
    let (mut xx, mut xy, mut yy, mut rx, mut ry) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (r, x, y) in rows {
        (xx, xy, yy, rx, ry) = (xx + x * x, xy + x * y, yy + y * y, rx + r * x, ry + r * y);
    }
    let det = xx * yy - xy * xy;
    if yy > 0.0 && det > 1e-9 * xx * yy {
        [(rx * yy - ry * xy) / det, (ry * xx - rx * xy) / det]
    } else {
        [if xx > 0.0 { rx / xx } else { 0.0 }, 0.0]
    }
}

/// Robust σ (1.4826 × median absolute deviation) of grey − model at least
/// 3 voxels outside the particles.
fn residual_noise(grey: ArrayView3<f32>, expected: ArrayView3<f32>, outside: ArrayView3<f32>) -> f64 {
    let mut r: Vec<f32> = Zip::from(&grey).and(&expected).and(&outside).fold(Vec::new(), |mut r, &g, &e, &d| {
        if d > 3.0 && g.is_finite() {
            r.push(g - e);
        }
        r
    });
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

    /// Adds Gaussian noise of σ `sigma` to `g`: a small LCG's uniform pairs
    /// into Box–Muller, seeded, so the tests' images are fixed.
    fn add_noise(g: &mut Array3<f32>, sigma: f32, seed: u64) {
        let mut state = seed;
        g.mapv_inplace(|v| {
            let mut u = || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64).max(1e-12)
            };
            let (a, b) = (u(), u());
            v + sigma * ((-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()) as f32
        });
    }

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
        add_noise(&mut g, noise, 12345);
        (g, labels, void / k)
    }

    #[test]
    fn deficit_measures_a_hollow_core_and_an_intact_ball() {
        for (c, sigma) in [(0.0, 0.8), (5.0, 0.8), (6.0, 1.0)] {
            let (g, labels, truth) = hollow_ball(12.0, c, sigma, 0.05);
            let phases = g.mapv(|v| if v > 0.5 { 2u8 } else { 0 });
            let VoidAnalysis { model: m, particles: v, .. } =
                void_fractions(g.view(), labels.view(), phases.view()).unwrap();
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
        let v = void_fractions(g.view(), labels.view(), phases.view()).unwrap().particles;
        assert!((v[1].fraction - truth).abs() < 0.3 * truth, "{:?} vs {truth:.4}", v[1]);
    }

    /// Fraction of the voxels just outside particle `k` (6-neighbours of
    /// it, in no particle) that `phases` calls carbon binder.
    fn binder_contact(labels: &Array3<u32>, phases: &Array3<u8>, k: u32) -> f64 {
        let (nz, ny, nx) = labels.dim();
        let (mut touch, mut cbd) = (0usize, 0usize);
        for ((z, y, x), &l) in labels.indexed_iter() {
            if l != 0 {
                continue;
            }
            let nb = [(-1i64, 0i64, 0i64), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)];
            let near = nb.iter().any(|&(dz, dy, dx)| {
                let (a, b, c) = (z as i64 + dz, y as i64 + dy, x as i64 + dx);
                a >= 0
                    && b >= 0
                    && c >= 0
                    && (a as usize) < nz
                    && (b as usize) < ny
                    && (c as usize) < nx
                    && labels[[a as usize, b as usize, c as usize]] == k
            });
            if near {
                touch += 1;
                cbd += (phases[[z, y, x]] == 1) as usize;
            }
        }
        cbd as f64 / touch.max(1) as f64
    }

    #[test]
    fn binder_is_told_apart_from_the_blur_halo() {
        // Two balls of radius 9 voxels: one wrapped in a 2.5-voxel binder
        // shell, one detached (a 1.2-voxel pore gap, then binder), sampled
        // 2× per axis, blurred by σ = 1 voxel, with noise. A three-level
        // threshold calls the blurred rim of both binder.
        let (nz, ny, nx) = (40, 40, 80);
        let centres = [[20.0, 20.0, 20.0], [20.0, 20.0, 58.0]];
        let att = Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
            let mut s = 0.0;
            for k in 0..8 {
                let o = |i: usize| (i as f64 + 0.5) / 2.0 - 0.5;
                let p = [z as f64 + o(k / 4), y as f64 + o((k / 2) % 2), x as f64 + o(k % 2)];
                for (i, c) in centres.iter().enumerate() {
                    let d = ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)).sqrt();
                    let (gap, shell) = if i == 0 { (0.0, 2.5) } else { (1.2, 1.8) };
                    if d <= 9.0 {
                        s += 1.0;
                    } else if d > 9.0 + gap && d <= 9.0 + gap + shell {
                        s += 0.3;
                    }
                }
            }
            (s / 8.0) as f32
        });
        let mut g = gaussian(att.view(), 1.0, [1.0; 3]);
        add_noise(&mut g, 0.04, 99);
        let labels = Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
            let p = [z as f64, y as f64, x as f64];
            let d = |c: &[f64; 3]| ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)).sqrt();
            if d(&centres[0]) <= 9.0 {
                1
            } else if d(&centres[1]) <= 9.0 {
                2
            } else {
                0
            }
        });
        let phases = g.mapv(|v| {
            if v > 0.65 {
                2u8
            } else if v > 0.15 {
                1
            } else {
                0
            }
        });
        let before = (binder_contact(&labels, &phases, 1), binder_contact(&labels, &phases, 2));
        assert!(before.0 > 0.9 && before.1 > 0.9, "the threshold's halo: {before:?}");
        let a = void_fractions(g.view(), labels.view(), phases.view()).unwrap();
        let after = (binder_contact(&labels, &a.phases, 1), binder_contact(&labels, &a.phases, 2));
        assert!(after.0 > 0.8 && after.1 < 0.25, "attached, detached: {after:?}");
        assert!((a.model.psf_sigma_vox - 1.0).abs() <= 0.2, "{:?}", a.model);
        assert!(
            a.particles[1].fraction.abs() < 0.02 && a.particles[2].fraction.abs() < 0.02,
            "{:?} {:?}",
            a.particles,
            a.model
        );
    }
}
