//! The virtual NMC composite cathode: packed secondary particles (log-normal
//! sizes, ellipsoids with rough surfaces), intergranular cracks, a porous
//! carbon-binder web in the necks between particles, detachment gaps, and a
//! state-of-charge field. Rendered with partial-volume fractions at phase
//! boundaries so that sub-voxel cracks attenuate as they should.

mod cracks;
mod grid;
mod packing;
mod particle;
mod render;

use crate::config::SimConfig;
use crate::rng::{Stream, rng};
pub use chemomech_core::DamageClass;
use chemomech_core::{Progress, Result};
use ndarray::Array3;
pub use particle::{Crack, Gap, Particle};
use rand::Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

type V3 = [f64; 3];

#[inline]
fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
#[inline]
fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
#[inline]
fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}
fn unit(a: V3) -> V3 {
    let n = norm(a).max(1e-300);
    [a[0] / n, a[1] / n, a[2] / n]
}
fn random_unit(r: &mut impl Rng) -> V3 {
    let n = Normal::new(0.0, 1.0).expect("valid");
    unit([n.sample(r), n.sample(r), n.sample(r)])
}
/// A unit vector perpendicular to `n`.
fn perpendicular(n: V3, r: &mut impl Rng) -> V3 {
    let v = random_unit(r);
    let p = sub(v, [n[0] * dot(v, n), n[1] * dot(v, n), n[2] * dot(v, n)]);
    unit(p)
}

/// The generated electrode and its ground-truth volumes.
pub struct Electrode {
    /// (z, y, x) voxels.
    pub shape: (usize, usize, usize),
    /// Voxel edge length (µm).
    pub voxel_um: f64,
    /// The secondary particles.
    pub particles: Vec<Particle>,
    /// Particle id per voxel (envelope incl. cracks), 0 = none.
    pub labels: Array3<u32>,
    /// 0 pore (cracks included), 1 carbon-binder, 2 active.
    pub phases: Array3<u8>,
    /// State of charge in active voxels, NaN elsewhere.
    pub soc: Array3<f32>,
    /// Volume fractions of active material and carbon-binder per voxel (partial volumes).
    pub frac_active: Array3<f32>,
    /// Carbon-binder volume fraction per voxel.
    pub frac_cbd: Array3<f32>,
}

/// The class probabilities (least, mild, severe) at relative depth t ∈ [0, 1]
/// (0 = separator) for a damage profile.
pub fn class_probabilities(profile: &str, t: f64) -> [f64; 3] {
    match profile {
        // After 10 fast-charge cycles: damage concentrated near the separator.
        "fast_charge_10" => {
            let severe = 0.05 + 0.40 * (1.0 - t).powf(1.5);
            let mild = 0.30;
            [1.0 - severe - mild, mild, severe]
        }
        // After 50 cycles: heavier and homogeneous through the depth.
        _ => [0.15, 0.40, 0.45],
    }
}

/// Crack-fraction interval drawn for a target class (margins keep targets
/// off the class thresholds, where voxelisation would decide the class).
fn class_range(c: DamageClass, mild: f64, severe: f64) -> (f64, f64) {
    match c {
        DamageClass::Least => (0.0, 0.7 * mild),
        DamageClass::Mild => (1.35 * mild, 0.9 * severe),
        DamageClass::Severe => (1.12 * severe, (2.2 * severe).min(0.4)),
    }
}

/// The simulated box and the wider domain particles are packed in.
struct Domain {
    /// (z, y, x) voxels.
    shape: (usize, usize, usize),
    /// Extent along z (µm).
    lz: f64,
    /// Extent along y (µm).
    ly: f64,
    /// Extent along x (µm).
    lx: f64,
    /// Lower corner of the packing domain (wider than the box in y and x).
    lo: V3,
    /// Upper corner of the packing domain.
    hi: V3,
}

impl Domain {
    /// The box of the configuration, with a margin of the largest particle's reach in y and x.
    fn new(cfg: &SimConfig) -> Self {
        let e = &cfg.electrode;
        let (nz, ny, nx) = cfg.shape();
        let v = e.voxel_um;
        let (lz, ly, lx) = (nz as f64 * v, ny as f64 * v, nx as f64 * v);
        let rmax = e.max_esd_um / 2.0;
        let margin = rmax * (1.0 + e.ellipticity);
        let lo = [0.0, -margin, -margin];
        let hi = [lz, ly + margin, lx + margin];
        Self { shape: (nz, ny, nx), lz, ly, lx, lo, hi }
    }
    /// A random centre for a particle of radius `r` (inside the box along z).
    fn place(&self, r: f64, g: &mut rand_chacha::ChaCha8Rng) -> V3 {
        let lz = self.lz;
        let z = if lz > 2.0 * r { g.random_range(r..lz - r) } else { lz / 2.0 };
        [z, g.random_range(self.lo[1]..self.hi[1]), g.random_range(self.lo[2]..self.hi[2])]
    }
}

/// Generates the electrode.
pub fn generate(cfg: &SimConfig, progress: &dyn Progress) -> Result<Electrode> {
    cfg.validate()?;
    let dom = Domain::new(cfg);
    let packing = packing::pack(cfg, &dom, progress)?;
    let mut particles = shaped_particles(cfg, &packing);
    keep_in_volume(&mut particles, dom.ly, dom.lx);
    progress.start("cracking", particles.len() as u64);
    particles.par_iter_mut().for_each(|p| {
        cracks::crack_particle(p, cfg, dom.lz);
        progress.inc(1);
    });
    progress.finish();
    render::render(cfg, particles, dom.shape, dom.lo, dom.hi, progress)
}

/// The packed particles with their shapes and SoC offsets (not yet numbered or cracked).
fn shaped_particles(cfg: &SimConfig, packing: &packing::Packing) -> Vec<Particle> {
    packing
        .centers
        .par_iter()
        .zip(packing.radii.par_iter())
        .enumerate()
        .map(|(i, (&c, &r))| {
            let particle::ParticleShape { rotation, axes, roughness } = particle::particle_shape(cfg, i);
            let mut gc = rng(cfg.seed, Stream::Chemistry, i as u64);
            let soc_offset = Normal::new(0.0, cfg.chemistry.particle_sigma.max(1e-12)).expect("valid").sample(&mut gc);
            Particle {
                id: 0,
                center_um: c,
                radius_um: r,
                rotation,
                axes,
                roughness,
                cracks: Vec::new(),
                target_class: DamageClass::Least,
                target_crack_fraction: 0.0,
                gap: None,
                soc_offset,
            }
        })
        .collect()
}

/// Keeps the particles that reach into the volume (`ly` × `lx` laterally), numbered 1.. in order.
fn keep_in_volume(particles: &mut Vec<Particle>, ly: f64, lx: f64) {
    particles.retain(|p| {
        let ext = p.extent_um();
        p.center_um[1] + ext > 0.0
            && p.center_um[1] - ext < ly
            && p.center_um[2] + ext > 0.0
            && p.center_um[2] - ext < lx
    });
    for (k, p) in particles.iter_mut().enumerate() {
        p.id = k as u32 + 1;
    }
}
