//! Rendering the particles onto the voxel grid: labels, phases and SoC from
//! the voxel centres, the carbon-binder web from the lowest scores outside
//! the particles, and partial-volume fractions supersampled near boundaries.

use super::grid::Grid;
use super::{Electrode, Particle, V3, dot, random_unit, sub, unit};
use crate::config::{ChemistryConfig, SimConfig};
use crate::rng::{Stream, rng};
use chemomech_core::{Progress, Result};
use ndarray::{Array3, ArrayViewMut2, Axis};
use rand::Rng;
use rayon::prelude::*;

/// Smooth random field of unit variance (sum of plane waves, 0.8–2.5 µm wavelengths).
struct Noise {
    waves: Vec<(V3, f64)>,
}

impl Noise {
    /// The carbon-binder field of a seed.
    fn new(seed: u64) -> Self {
        let mut g = rng(seed, Stream::CbdField, 0);
        let waves = (0..32)
            .map(|_| {
                let k = std::f64::consts::TAU / g.random_range(0.8..2.5);
                let d = random_unit(&mut g);
                ([d[0] * k, d[1] * k, d[2] * k], g.random_range(0.0..std::f64::consts::TAU))
            })
            .collect();
        Self { waves }
    }
    /// The field at `x` (µm).
    #[inline]
    fn at(&self, x: V3) -> f64 {
        let s: f64 = self.waves.iter().map(|(k, ph)| (dot(*k, x) + ph).cos()).sum();
        s * (2.0 / self.waves.len() as f64).sqrt()
    }
}

/// What a point is: owner particle and its q, crack membership, the two
/// nearest surface distances and the carbon-binder score.
struct PointInfo {
    owner: Option<usize>,
    q: f64,
    in_crack: bool,
    crack_dist: f64,
    /// Carbon-binder score (lower = more likely carbon-binder); +∞ inside particles or gaps.
    cbd_score: f64,
    /// Approximate signed distance to the nearest particle surface (µm, negative inside).
    surface_dist: f64,
}

/// The particles around a point: the innermost one containing it, and the
/// two nearest surfaces.
struct Nearby {
    /// Containing particle with the smallest q, and that q.
    best: Option<(usize, f64)>,
    /// Nearest surface distance (µm, negative inside).
    d1: f64,
    /// Second-nearest surface distance.
    d2: f64,
    /// The particle of the nearest surface (`usize::MAX` when none).
    i1: usize,
}

/// Everything rendering needs at every point.
struct Scene<'a> {
    cfg: &'a SimConfig,
    particles: &'a [Particle],
    grid: Grid,
    noise: Noise,
}

impl Scene<'_> {
    /// The particles near `x` (see [`Nearby`]).
    fn nearby(&self, x: V3) -> Nearby {
        let ps = self.particles;
        let mut best: Option<(usize, f64)> = None;
        let (mut d1, mut d2) = (f64::INFINITY, f64::INFINITY);
        let mut i1 = usize::MAX;
        self.grid.near(x, |j| {
            let p = &ps[j];
            let dd = sub(x, p.center_um);
            if dot(dd, dd) > (p.extent_um() + 3.0).powi(2) {
                return;
            }
            let q = p.q(dd);
            if q <= 1.0 && best.is_none_or(|(_, bq)| q < bq) {
                best = Some((j, q));
            }
            let dist = (q - 1.0) * p.radius_um;
            if dist < d1 {
                d2 = d1;
                d1 = dist;
                i1 = j;
            } else if dist < d2 {
                d2 = dist;
            }
        });
        Nearby { best, d1, d2, i1 }
    }

    /// `voxel`: when Some(v), crack membership is the voxel-majority rule
    /// (truth phases); when None, the point itself (sub-sample fractions).
    fn point_info(&self, x: V3, voxel: Option<f64>) -> PointInfo {
        let near = self.nearby(x);
        match near.best {
            Some((j, q)) => {
                let p = &self.particles[j];
                let dd = sub(x, p.center_um);
                let cd = p.crack_distance(dd);
                let in_crack = match voxel {
                    Some(v) => p.voxel_crack_fraction(dd, v) >= 0.5,
                    None => cd <= 0.0,
                };
                PointInfo {
                    owner: Some(j),
                    q,
                    in_crack,
                    crack_dist: cd,
                    cbd_score: f64::INFINITY,
                    surface_dist: near.d1.min(0.0),
                }
            }
            None => PointInfo {
                owner: None,
                q: f64::INFINITY,
                in_crack: false,
                crack_dist: f64::INFINITY,
                cbd_score: self.cbd_score(x, &near),
                surface_dist: near.d1,
            },
        }
    }

    /// Carbon-binder score of a point outside the particles. Necks between two
    /// particles and patches along surfaces; the noise makes the web porous.
    /// Far from any surface it is never carbon-binder (and the noise need not
    /// be evaluated there); inside a detachment gap it is +∞.
    fn cbd_score(&self, x: V3, near: &Nearby) -> f64 {
        let (d1, d2) = (near.d1, near.d2);
        let bridge = self.cfg.electrode.cbd_bridge_um;
        let far = d1 + d2 > 2.0 * bridge && d1 > 0.6 * bridge;
        let mut score = (d1 + d2).min(2.0 * d1 + 0.5 * bridge);
        if far {
            score += 10.0;
        } else {
            score += 0.45 * self.noise.at(x);
        }
        if near.i1 != usize::MAX
            && let Some(gap) = &self.particles[near.i1].gap
        {
            let dd = unit(sub(x, self.particles[near.i1].center_um));
            if d1 < self.cfg.damage.gap_um && dot(dd, gap.direction) >= gap.cos_cap {
                score = f64::INFINITY;
            }
        }
        score
    }
}

/// What occupies a point once the carbon-binder threshold is known.
#[derive(PartialEq)]
enum Occupant {
    /// Active material (in a particle, outside its cracks).
    Active,
    /// Carbon-binder.
    Cbd,
    /// Pore or crack.
    Void,
}

/// The occupant of a point of `info` under the carbon-binder `threshold`.
fn occupant(info: &PointInfo, threshold: f32) -> Occupant {
    match info.owner {
        Some(_) if !info.in_crack => Occupant::Active,
        Some(_) => Occupant::Void,
        None if (info.cbd_score as f32) <= threshold => Occupant::Cbd,
        None => Occupant::Void,
    }
}

/// The truth volumes rendered from the voxel centres (pass 1).
struct CentreVolumes {
    labels: Array3<u32>,
    phases: Array3<u8>,
    soc: Array3<f32>,
    /// Carbon-binder score outside the particles, +∞ elsewhere.
    score: Array3<f32>,
}

/// One z slice of [`CentreVolumes`].
struct CentreSlice<'a> {
    labels: ArrayViewMut2<'a, u32>,
    phases: ArrayViewMut2<'a, u8>,
    soc: ArrayViewMut2<'a, f32>,
    score: ArrayViewMut2<'a, f32>,
}

/// Partial-volume fractions of active material and carbon-binder (pass 2).
struct Fractions {
    active: Array3<f32>,
    cbd: Array3<f32>,
}

/// Renders the particles into the electrode's truth volumes.
pub(super) fn render(
    cfg: &SimConfig,
    particles: Vec<Particle>,
    shape: (usize, usize, usize),
    lo: V3,
    hi: V3,
    progress: &dyn Progress,
) -> Result<Electrode> {
    let v = cfg.electrode.voxel_um;
    let scene = Scene { cfg, particles: &particles, grid: Grid::new(&particles, lo, hi), noise: Noise::new(cfg.seed) };
    progress.start("rendering", (2 * shape.0) as u64);
    let CentreVolumes { labels, mut phases, soc, score } = render_centres(&scene, shape, progress);
    let threshold = cbd_threshold(&score, cfg.electrode.cbd_fraction);
    ndarray::Zip::from(&mut phases).and(&score).par_for_each(|p, &s| {
        if s <= threshold {
            *p = 1;
        }
    });
    let fractions = render_fractions(&scene, shape, threshold, progress);
    progress.finish();
    Ok(Electrode {
        shape,
        voxel_um: v,
        particles,
        labels,
        phases,
        soc,
        frac_active: fractions.active,
        frac_cbd: fractions.cbd,
    })
}

/// Pass 1: labels, phases (active or pore), SoC and carbon-binder scores at the voxel centres.
fn render_centres(scene: &Scene, shape: (usize, usize, usize), progress: &dyn Progress) -> CentreVolumes {
    let mut labels = Array3::<u32>::zeros(shape);
    let mut phases = Array3::<u8>::zeros(shape);
    let mut soc = Array3::<f32>::from_elem(shape, f32::NAN);
    let mut score = Array3::<f32>::from_elem(shape, f32::INFINITY);
    labels
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(phases.axis_iter_mut(Axis(0)))
        .zip(soc.axis_iter_mut(Axis(0)))
        .zip(score.axis_iter_mut(Axis(0)))
        .enumerate()
        .for_each(|(k, (((labels, phases), soc), score))| {
            render_centre_slice(scene, shape, k, CentreSlice { labels, phases, soc, score });
            progress.inc(1);
        });
    CentreVolumes { labels, phases, soc, score }
}

/// Pass 1 on z slice `k`.
fn render_centre_slice(scene: &Scene, shape: (usize, usize, usize), k: usize, mut s: CentreSlice) {
    let (nz, ny, nx) = shape;
    let v = scene.cfg.electrode.voxel_um;
    let lz = nz as f64 * v;
    let ch = &scene.cfg.chemistry;
    let z = (k as f64 + 0.5) * v;
    let depth_soc = ch.soc_separator + (ch.soc_collector - ch.soc_separator) * (z / lz).powf(ch.depth_exponent);
    for j in 0..ny {
        for i in 0..nx {
            let x = [z, (j as f64 + 0.5) * v, (i as f64 + 0.5) * v];
            let info = scene.point_info(x, Some(v));
            if let Some(o) = info.owner {
                let p = &scene.particles[o];
                s.labels[[j, i]] = p.id;
                if !info.in_crack {
                    s.phases[[j, i]] = 2;
                    s.soc[[j, i]] = active_soc(ch, depth_soc, p, &info);
                }
            } else {
                s.score[[j, i]] = info.cbd_score as f32;
            }
        }
    }
}

/// SoC of an active voxel: the depth value, the core–shell term, the
/// particle's offset and the term that decays away from cracks.
fn active_soc(ch: &ChemistryConfig, depth_soc: f64, p: &Particle, info: &PointInfo) -> f32 {
    let crack_term = if info.crack_dist.is_finite() {
        ch.crack_delta * (-info.crack_dist.max(0.0) / ch.crack_decay_um).exp()
    } else {
        0.0
    };
    let s = depth_soc + ch.shell_delta * info.q * info.q + p.soc_offset + crack_term;
    s.clamp(0.0, 1.0) as f32
}

/// Carbon-binder score threshold: the lowest scores, as many voxels as the target fraction.
fn cbd_threshold(score: &Array3<f32>, cbd_fraction: f64) -> f32 {
    let mut scores: Vec<f32> = score.iter().cloned().filter(|s| s.is_finite()).collect();
    let want = ((cbd_fraction * score.len() as f64).round() as usize).min(scores.len());
    if want == 0 {
        f32::NEG_INFINITY
    } else {
        let (_, t, _) = scores.select_nth_unstable_by(want - 1, |a, b| a.partial_cmp(b).expect("finite"));
        *t
    }
}

/// Pass 2: partial-volume fractions, supersampled where a boundary is near.
fn render_fractions(scene: &Scene, shape: (usize, usize, usize), threshold: f32, progress: &dyn Progress) -> Fractions {
    let (_, ny, nx) = shape;
    let v = scene.cfg.electrode.voxel_um;
    let mut active = Array3::<f32>::zeros(shape);
    let mut cbd = Array3::<f32>::zeros(shape);
    active.axis_iter_mut(Axis(0)).into_par_iter().zip(cbd.axis_iter_mut(Axis(0))).enumerate().for_each(
        |(k, (mut fa, mut fc))| {
            for j in 0..ny {
                for i in 0..nx {
                    let c = [(k as f64 + 0.5) * v, (j as f64 + 0.5) * v, (i as f64 + 0.5) * v];
                    let (a, b) = voxel_fractions(scene, c, threshold);
                    fa[[j, i]] = a;
                    fc[[j, i]] = b;
                }
            }
            progress.inc(1);
        },
    );
    Fractions { active, cbd }
}

/// Active and carbon-binder fractions of the voxel centred at `c`: from the
/// centre alone away from boundaries, else from ss³ sub-samples.
fn voxel_fractions(scene: &Scene, c: V3, threshold: f32) -> (f32, f32) {
    let v = scene.cfg.electrode.voxel_um;
    let ss = scene.cfg.electrode.supersample.max(1);
    let near = 0.9 * v;
    let info = scene.point_info(c, None);
    let boundary = ss > 1
        && (info.surface_dist.abs() < near
            || info.crack_dist.abs() < near
            || (info.owner.is_none()
                && info.cbd_score.is_finite()
                && ((info.cbd_score as f32) - threshold).abs() < 2.0 * near as f32));
    if !boundary {
        return match occupant(&info, threshold) {
            Occupant::Active => (1.0, 0.0),
            Occupant::Cbd => (0.0, 1.0),
            Occupant::Void => (0.0, 0.0),
        };
    }
    let (mut na, mut nc) = (0u32, 0u32);
    for a in 0..ss {
        for b in 0..ss {
            for cc in 0..ss {
                let off = |t: usize| ((t as f64 + 0.5) / ss as f64 - 0.5) * v;
                let x = [c[0] + off(a), c[1] + off(b), c[2] + off(cc)];
                match occupant(&scene.point_info(x, None), threshold) {
                    Occupant::Active => na += 1,
                    Occupant::Cbd => nc += 1,
                    Occupant::Void => {}
                }
            }
        }
    }
    let n3 = (ss * ss * ss) as f32;
    (na as f32 / n3, nc as f32 / n3)
}
