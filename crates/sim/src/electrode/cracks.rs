//! Damage: each particle's class drawn from the depth profile, then fine and
//! wide intergranular cracks until its voxel crack fraction reaches a target
//! drawn within that class; severely cracked particles may detach.

use super::{Crack, DamageClass, Gap, Particle, V3, class_probabilities, class_range, perpendicular, random_unit, sub};
use crate::config::SimConfig;
use crate::rng::{Stream, rng};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Offsets (from the centre) of the voxel centres inside one particle's
/// envelope on the global grid (the particle alone).
fn envelope_voxels(p: &Particle, v: f64, lz: f64) -> Vec<V3> {
    let ext = p.extent_um();
    let idx = |x: f64| (x / v - 0.5).floor() as i64;
    let (z0, z1) = (idx(p.center_um[0] - ext).max(0), idx(p.center_um[0] + ext) + 1);
    let z1 = z1.min((lz / v).round() as i64 - 1);
    let (y0, y1) = (idx(p.center_um[1] - ext), idx(p.center_um[1] + ext) + 1);
    let (x0, x1) = (idx(p.center_um[2] - ext), idx(p.center_um[2] + ext) + 1);
    let mut out = Vec::new();
    for k in z0..=z1 {
        for j in y0..=y1 {
            for i in x0..=x1 {
                let x = [(k as f64 + 0.5) * v, (j as f64 + 0.5) * v, (i as f64 + 0.5) * v];
                let dd = sub(x, p.center_um);
                if p.q(dd) <= 1.0 {
                    out.push(dd);
                }
            }
        }
    }
    out
}

/// Crack voxels (majority rule) among the envelope voxels.
fn crack_count(p: &Particle, env: &[V3], v: f64) -> usize {
    env.iter().filter(|&&d| p.voxel_crack_fraction(d, v) >= 0.5).count()
}

/// Draws a damage class from the class probabilities at relative depth `t`.
fn draw_class(g: &mut ChaCha8Rng, profile: &str, t: f64) -> DamageClass {
    let pr = class_probabilities(profile, t);
    let u: f64 = g.random();
    if u < pr[2] {
        DamageClass::Severe
    } else if u < pr[2] + pr[1] {
        DamageClass::Mild
    } else {
        DamageClass::Least
    }
}

/// A random crack through a particle of radius `r`: a radial sector, or a full
/// plane with an intact ligament; reaching the surface or ending inside.
fn new_crack(g: &mut ChaCha8Rng, r: f64, width: f64, radial: bool, reach_surface: bool) -> Crack {
    let n = random_unit(g);
    let dir = perpendicular(n, g);
    let (sector_cos, sector_inside) = if radial {
        (g.random_range(-0.3..0.3), true)
    } else {
        (g.random_range(35f64..60.0).to_radians().cos(), false)
    };
    Crack {
        normal: n,
        offset_um: g.random_range(-0.15..0.15) * r,
        half_width_um: width / 2.0,
        sector_dir: dir,
        sector_cos,
        sector_inside,
        max_q: if reach_surface { 1.05 } else { g.random_range(0.82..0.95) },
    }
}

/// A particle's envelope voxels and its current count of crack voxels.
struct CrackTally {
    /// Offsets of the envelope voxel centres from the particle centre.
    env_vox: Vec<V3>,
    /// Number of envelope voxels (at least 1), as a divisor.
    env: f64,
    /// Crack voxels (majority rule) among them.
    ncrack: usize,
}

impl CrackTally {
    /// Counts the particle's crack voxels.
    fn new(p: &Particle, v: f64, lz: f64) -> Self {
        let env_vox = envelope_voxels(p, v, lz);
        let ncrack = crack_count(p, &env_vox, v);
        let env = env_vox.len().max(1) as f64;
        Self { env_vox, env, ncrack }
    }
}

/// Draws the particle's damage class from the depth profile, then adds fine
/// and wide intergranular cracks until its voxel crack fraction reaches a
/// target drawn within that class.
pub(super) fn crack_particle(p: &mut Particle, cfg: &SimConfig, lz: f64) {
    let d = &cfg.damage;
    let v = cfg.electrode.voxel_um;
    let mut g = rng(cfg.seed, Stream::Damage, p.id as u64);
    let t = (p.center_um[0] / lz).clamp(0.0, 1.0);
    let class = draw_class(&mut g, &d.profile, t);
    let (a, b) = class_range(class, d.mild_threshold, d.severe_threshold);
    let target = g.random_range(a..=b);
    p.target_class = class;
    p.target_crack_fraction = target;
    add_fine_cracks(p, cfg, &mut g);
    let mut tally = CrackTally::new(p, v, lz);
    // Fine cracks are texture: drop them if they alone overshoot the class.
    while tally.ncrack as f64 / tally.env > b && !p.cracks.is_empty() {
        p.cracks.pop();
        tally.ncrack = crack_count(p, &tally.env_vox, v);
    }
    add_wide_cracks(p, cfg, &mut g, &mut tally, target, b);
    let realised = DamageClass::of(tally.ncrack as f64 / tally.env, d.mild_threshold, d.severe_threshold);
    if realised == DamageClass::Severe && g.random_bool(d.detach_probability) {
        p.gap = Some(Gap { direction: random_unit(&mut g), cos_cap: 1.0 - 2.0 * d.gap_cap_fraction });
    }
}

/// Fine cracks: texture, sub-voxel, little volume.
fn add_fine_cracks(p: &mut Particle, cfg: &SimConfig, g: &mut ChaCha8Rng) {
    let d = &cfg.damage;
    let r = p.radius_um;
    let nf = g
        .random_range(d.fine_cracks_per_particle[0]..=d.fine_cracks_per_particle[1].max(d.fine_cracks_per_particle[0]));
    for _ in 0..nf {
        let w = g.random_range(d.fine_crack_um[0]..=d.fine_crack_um[1]);
        let reach = g.random_bool(0.5);
        let c = new_crack(g, r, w, true, reach);
        p.cracks.push(c);
    }
}

/// Wide cracks, sized to the remaining deficit, until the crack fraction is
/// within 0.004 of `target` (24 tries); a crack that would overshoot the
/// class's upper bound `b` is dropped.
fn add_wide_cracks(p: &mut Particle, cfg: &SimConfig, g: &mut ChaCha8Rng, tally: &mut CrackTally, target: f64, b: f64) {
    let d = &cfg.damage;
    let v = cfg.electrode.voxel_um;
    let r = p.radius_um;
    let env = tally.env;
    let mut tries = 0;
    while (tally.ncrack as f64) / env < target - 0.004 && tries < 24 {
        tries += 1;
        let remaining = target - tally.ncrack as f64 / env;
        // A full plane through a sphere takes ≈ 3w/(4r) of its volume; a radial half-plane about half that.
        let wmax = d.wide_crack_um[1];
        let full = remaining > 0.55 * 3.0 * wmax / (4.0 * r);
        let share = if full { 0.75 } else { 0.37 };
        let w = (remaining * r / share).clamp(d.wide_crack_um[0].min(v * 0.9), wmax).max(v * 0.6);
        let reach = g.random_bool(0.35);
        let c = new_crack(g, r, w, !full, reach);
        p.cracks.push(c);
        let nc = crack_count(p, &tally.env_vox, v);
        if (nc as f64) / env > b {
            p.cracks.pop();
            continue;
        }
        tally.ncrack = nc;
    }
}
