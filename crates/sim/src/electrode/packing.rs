//! Particle sizes and packing: log-normal sizes drawn until the envelopes
//! fill the target fraction, random placement, then relaxation of overlaps
//! with top-ups where the packed fraction falls short.

use super::grid::Grid;
use super::particle::particle_shape;
use super::{DamageClass, Domain, Particle, V3, class_probabilities, class_range, norm, sub, unit};
use crate::config::SimConfig;
use crate::rng::{Stream, rng};
use chemomech_core::{Error, Progress, Result};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use rayon::prelude::*;

/// Particle centres and nominal radii, in drawing order.
pub(super) struct Packing {
    /// Centres (z, y, x) in µm.
    pub centers: Vec<V3>,
    /// Nominal (equivalent-sphere) radii in µm.
    pub radii: Vec<f64>,
}

/// Log-normal equivalent-sphere diameters, truncated to the configured range by rejection.
struct SizeDraw {
    ln: LogNormal<f64>,
    min_esd_um: f64,
    max_esd_um: f64,
}

impl SizeDraw {
    /// The size distribution of the configuration.
    fn new(cfg: &SimConfig) -> Result<Self> {
        let e = &cfg.electrode;
        let ln = LogNormal::new((e.median_esd_um).ln(), e.esd_log_sigma.max(1e-6))
            .map_err(|x| Error::param(x.to_string()))?;
        Ok(Self { ln, min_esd_um: e.min_esd_um, max_esd_um: e.max_esd_um })
    }
    /// One radius (half a diameter drawn within the range).
    fn radius(&self, r: &mut ChaCha8Rng) -> f64 {
        loop {
            let d: f64 = self.ln.sample(r);
            if d >= self.min_esd_um && d <= self.max_esd_um {
                return d / 2.0;
            }
        }
    }
}

/// Volume of a sphere of radius `r`.
fn sphere_volume(r: f64) -> f64 {
    4.0 / 3.0 * std::f64::consts::PI * r * r * r
}

/// Envelope volume fraction to aim for: envelopes hold cracks too, so the
/// active fraction is raised by the mean crack fraction of the depth profile.
fn envelope_target(cfg: &SimConfig) -> f64 {
    let mean_cf: f64 = (0..5)
        .map(|k| {
            let p = class_probabilities(&cfg.damage.profile, k as f64 / 4.0);
            let m = |c| {
                let (a, b) = class_range(c, cfg.damage.mild_threshold, cfg.damage.severe_threshold);
                (a + b) / 2.0
            };
            p[0] * m(DamageClass::Least) + p[1] * m(DamageClass::Mild) + p[2] * m(DamageClass::Severe)
        })
        .sum::<f64>()
        / 5.0;
    (cfg.electrode.active_fraction / (1.0 - mean_cf)).min(0.62)
}

/// A particle's packing reach: longest semi-axis and half the roughness, so
/// neighbours touch at small contacts instead of interpenetrating.
fn reach(cfg: &SimConfig, i: usize, r: f64) -> f64 {
    let shape = particle_shape(cfg, i);
    r * shape.axes.iter().cloned().fold(0.0, f64::max) * (1.0 + 0.5 * shape.roughness.iter().map(|m| m.3).sum::<f64>())
}

/// Draws sizes until the envelopes fill the domain, places the particles and
/// relaxes them, topping up for at most four rounds.
pub(super) fn pack(cfg: &SimConfig, dom: &Domain, progress: &dyn Progress) -> Result<Packing> {
    let e = &cfg.electrode;
    let (lz, ly, lx) = (dom.lz, dom.ly, dom.lx);
    let (lo, hi) = (dom.lo, dom.hi);
    let mut sizes = rng(cfg.seed, Stream::Sizes, 0);
    let size = SizeDraw::new(cfg)?;
    let target_env = envelope_target(cfg);
    let vol_ext = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
    let mut radii: Vec<f64> = Vec::new();
    let mut total = 0.0;
    while total < target_env * vol_ext * (1.0 + 1.5 * e.contact_overlap) {
        let r = size.radius(&mut sizes);
        total += sphere_volume(r);
        radii.push(r);
    }
    radii.sort_by(|a, b| b.partial_cmp(a).expect("finite"));
    let mut pos_rng = rng(cfg.seed, Stream::Positions, 0);
    let centers: Vec<V3> = radii.iter().map(|&r| dom.place(r, &mut pos_rng)).collect();
    let mut packing = Packing { centers, radii };
    progress.start("packing", 4);
    for round in 0..4 {
        let pack: Vec<f64> = packing.radii.iter().enumerate().map(|(i, &r)| reach(cfg, i, r)).collect();
        relax(&mut packing.centers, &pack, e.contact_overlap, lo, hi, lz);
        progress.inc(1);
        let frac = sphere_fraction(&packing.centers, &packing.radii, [lz, ly, lx], cfg.seed, round);
        if frac >= target_env - 0.01 || round == 3 {
            break;
        }
        // Top up the deficit with more particles and relax again.
        let need = (target_env - frac) * lz * ly * lx * (1.0 + 2.0 * e.contact_overlap);
        let mut added = 0.0;
        while added < need {
            let r = size.radius(&mut sizes);
            added += sphere_volume(r);
            packing.centers.push(dom.place(r, &mut pos_rng));
            packing.radii.push(r);
        }
    }
    progress.finish();
    Ok(packing)
}

/// Pushes overlapping spheres apart (Jacobi iterations on a neighbour grid),
/// allowing interpenetration up to `overlap` of the sum of radii.
fn relax(c: &mut [V3], r: &[f64], overlap: f64, lo: V3, hi: V3, lz: f64) {
    let rmax = r.iter().cloned().fold(0.0, f64::max);
    for _ in 0..400 {
        let tmp: Vec<Particle> = c.iter().zip(r).map(|(&cc, &rr)| Particle::sphere(cc, rr)).collect();
        let grid = Grid::new_with_cell(&tmp, lo, hi, 2.0 * rmax);
        let moves: Vec<(V3, f64)> = (0..c.len())
            .into_par_iter()
            .map(|i| {
                let mut m = [0.0; 3];
                let mut worst = 0.0f64;
                grid.near(c[i], |j| {
                    if j == i {
                        return;
                    }
                    let dv = sub(c[i], c[j]);
                    let dist = norm(dv);
                    let contact = (r[i] + r[j]) * (1.0 - overlap);
                    if dist < contact {
                        let n = if dist > 1e-9 {
                            [dv[0] / dist, dv[1] / dist, dv[2] / dist]
                        } else {
                            unit([(i as f64).sin(), (j as f64).cos(), 0.3])
                        };
                        // Smaller particles move more (share by inverse volume).
                        let w = r[j].powi(3) / (r[i].powi(3) + r[j].powi(3));
                        let push = (contact - dist) * w * 1.05;
                        for a in 0..3 {
                            m[a] += n[a] * push;
                        }
                        worst = worst.max((contact - dist) / contact);
                    }
                });
                (m, worst)
            })
            .collect();
        let worst = moves.iter().map(|m| m.1).fold(0.0, f64::max);
        for (i, (m, _)) in moves.into_iter().enumerate() {
            for a in 0..3 {
                c[i][a] += m[a];
            }
            let rz = r[i];
            c[i][0] = if lz > 2.0 * rz { c[i][0].clamp(rz, lz - rz) } else { lz / 2.0 };
            c[i][1] = c[i][1].clamp(lo[1], hi[1]);
            c[i][2] = c[i][2].clamp(lo[2], hi[2]);
        }
        if worst < 0.003 {
            break;
        }
    }
}

/// Fraction of the box [0, L] covered by the spheres (Monte Carlo, 200k points).
fn sphere_fraction(c: &[V3], r: &[f64], l: V3, seed: u64, round: usize) -> f64 {
    let tmp: Vec<Particle> = c.iter().zip(r).map(|(&cc, &rr)| Particle::sphere(cc, rr)).collect();
    let rmax = r.iter().cloned().fold(0.0, f64::max);
    let grid = Grid::new_with_cell(&tmp, [0.0, -rmax, -rmax], [l[0], l[1] + rmax, l[2] + rmax], 2.0 * rmax);
    let n = 200_000u64;
    let hits: u64 = (0..64u64)
        .into_par_iter()
        .map(|chunk| {
            let mut g = rng(seed, Stream::Fill, (round as u64) << 32 | chunk);
            let mut h = 0u64;
            for _ in 0..n / 64 {
                let x = [g.random_range(0.0..l[0]), g.random_range(0.0..l[1]), g.random_range(0.0..l[2])];
                let mut inside = false;
                grid.near(x, |j| {
                    if !inside && norm(sub(x, c[j])) <= r[j] {
                        inside = true;
                    }
                });
                h += inside as u64;
            }
            h
        })
        .sum();
    hits as f64 / n as f64
}
