//! One secondary particle: its ellipsoidal, rough envelope, its intergranular
//! cracks and its detachment gap.

use super::{DamageClass, V3, dot, norm, perpendicular, random_unit, sub};
use crate::config::SimConfig;
use crate::rng::{Stream, rng};
use rand::Rng;
use serde::Serialize;

/// A planar intergranular crack: a slab through the particle.
#[derive(Debug, Clone, Serialize)]
pub struct Crack {
    /// Unit normal of the crack plane in (z, y, x).
    pub normal: V3,
    /// Plane offset from the particle centre along the normal (µm).
    pub offset_um: f64,
    /// Half the crack width (µm).
    pub half_width_um: f64,
    /// In-plane direction of the sector the crack covers (radial cracks) or
    /// leaves intact (a ligament that keeps a fully cracked particle whole).
    pub sector_dir: V3,
    /// cos of the sector half-angle.
    pub sector_cos: f64,
    /// true: crack only inside the sector; false: everywhere but the sector.
    pub sector_inside: bool,
    /// The crack stops at this normalised radius (≥ 1 reaches the surface).
    pub max_q: f64,
}

impl Crack {
    /// Signed distance of `d` (relative to the particle centre) from the crack
    /// mid-plane, or None where this crack does not extend.
    #[inline]
    fn plane_distance(&self, d: V3, q: f64) -> Option<f64> {
        if q > self.max_q {
            return None;
        }
        let h = dot(d, self.normal) - self.offset_um;
        let inplane = sub(d, [self.normal[0] * h, self.normal[1] * h, self.normal[2] * h]);
        let n = norm(inplane);
        if n > 1e-9 {
            let in_sector = dot(inplane, self.sector_dir) >= n * self.sector_cos;
            if in_sector != self.sector_inside {
                return None;
            }
        }
        Some(h)
    }
}

/// Where a detached particle has lost its carbon-binder.
#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    /// Unit vector (z, y, x) towards the centre of the cap where the gap opens.
    pub direction: V3,
    /// cos of the cap's half-angle about `direction`.
    pub cos_cap: f64,
}

/// One secondary particle.
#[derive(Debug, Clone, Serialize)]
pub struct Particle {
    /// Particle id (from 1; 0 marks no particle in the labels).
    pub id: u32,
    /// Centre (z, y, x) in µm from the volume origin (z = 0 at the separator).
    pub center_um: V3,
    /// Nominal (equivalent-sphere) radius.
    pub radius_um: f64,
    /// Rows: the ellipsoid's principal axes in (z, y, x).
    pub rotation: [V3; 3],
    /// Semi-axis factors (product 1).
    pub axes: V3,
    /// Roughness modes: (direction, frequency, phase, amplitude).
    pub roughness: Vec<(V3, f64, f64, f64)>,
    /// Intergranular cracks.
    pub cracks: Vec<Crack>,
    /// Damage class drawn from the depth profile.
    pub target_class: DamageClass,
    /// Voxel crack fraction aimed for, drawn within the target class.
    pub target_crack_fraction: f64,
    /// Detachment gap from the carbon-binder, for detached particles.
    pub gap: Option<Gap>,
    /// Particle-to-particle SoC offset (normal, σ = `particle_sigma`).
    pub soc_offset: f64,
}

impl Particle {
    /// A plain sphere (used while packing).
    pub(super) fn sphere(center_um: V3, radius_um: f64) -> Self {
        Particle {
            id: 0,
            center_um,
            radius_um,
            rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            axes: [1.0; 3],
            roughness: Vec::new(),
            cracks: Vec::new(),
            target_class: DamageClass::Least,
            target_crack_fraction: 0.0,
            gap: None,
            soc_offset: 0.0,
        }
    }
    /// Normalised ellipsoidal radius without roughness (where cracks end).
    #[inline]
    pub fn q_smooth(&self, d: V3) -> f64 {
        let l = [
            dot(self.rotation[0], d) / self.axes[0],
            dot(self.rotation[1], d) / self.axes[1],
            dot(self.rotation[2], d) / self.axes[2],
        ];
        norm(l) / self.radius_um
    }
    /// Normalised radius q of a point at offset `d` from the centre: q ≤ 1 inside.
    #[inline]
    pub fn q(&self, d: V3) -> f64 {
        let l = [
            dot(self.rotation[0], d) / self.axes[0],
            dot(self.rotation[1], d) / self.axes[1],
            dot(self.rotation[2], d) / self.axes[2],
        ];
        let q0 = norm(l) / self.radius_um;
        if q0 < 1e-12 {
            return 0.0;
        }
        let u = [l[0] / (q0 * self.radius_um), l[1] / (q0 * self.radius_um), l[2] / (q0 * self.radius_um)];
        let mut rho = 1.0;
        for (dir, f, ph, a) in &self.roughness {
            rho += a * (f * dot(u, *dir) + ph).sin();
        }
        q0 / rho
    }
    /// Largest distance of the surface from the centre (for neighbour search).
    pub fn extent_um(&self) -> f64 {
        let amax = self.axes.iter().cloned().fold(0.0, f64::max);
        let rough: f64 = self.roughness.iter().map(|m| m.3).sum();
        self.radius_um * amax * (1.0 + rough)
    }
    /// Fraction of the voxel of side `v` centred at offset `d` that lies in a
    /// crack (3×3×3 sub-samples where a crack passes near, else by the centre).
    /// A voxel is a crack voxel when this is at least ½: sub-voxel cracks
    /// thus stay solid in the truth, as they would in any measurement.
    pub fn voxel_crack_fraction(&self, d: V3, v: f64) -> f64 {
        let cd = self.crack_distance(d);
        if cd.is_infinite() || cd > 0.9 * v {
            return 0.0;
        }
        if cd < -0.9 * v {
            return 1.0;
        }
        let mut n = 0;
        for a in 0..3 {
            for b in 0..3 {
                for c in 0..3 {
                    let o = |t: usize| ((t as f64 + 0.5) / 3.0 - 0.5) * v;
                    let x = [d[0] + o(a), d[1] + o(b), d[2] + o(c)];
                    if self.crack_distance(x) <= 0.0 {
                        n += 1;
                    }
                }
            }
        }
        n as f64 / 27.0
    }
    /// Signed distance from the crack slabs (negative inside a crack), µm; +∞ when none.
    /// Cracks end at a smooth ellipsoidal radius (`max_q` of `q_smooth`).
    #[inline]
    pub fn crack_distance(&self, d: V3) -> f64 {
        if self.cracks.is_empty() {
            return f64::INFINITY;
        }
        let q = self.q_smooth(d);
        let mut best = f64::INFINITY;
        for c in &self.cracks {
            if let Some(h) = c.plane_distance(d, q) {
                best = best.min(h.abs() - c.half_width_um);
            }
        }
        best
    }
}

/// A particle's drawn shape: principal axes, semi-axis factors and roughness modes.
pub(super) struct ParticleShape {
    /// Rows: the ellipsoid's principal axes in (z, y, x).
    pub rotation: [V3; 3],
    /// Semi-axis factors (product 1).
    pub axes: V3,
    /// Roughness modes: (direction, frequency, phase, amplitude).
    pub roughness: Vec<(V3, f64, f64, f64)>,
}

/// Particle `i`'s shape (drawn by index, so packing and rendering agree).
pub(super) fn particle_shape(cfg: &SimConfig, i: usize) -> ParticleShape {
    let e = &cfg.electrode;
    let mut g = rng(cfg.seed, Stream::Shape, i as u64);
    let ea = g.random_range(-e.ellipticity..=e.ellipticity);
    let eb = g.random_range(-e.ellipticity..=e.ellipticity);
    let axes = [1.0 + ea, 1.0 + eb, 1.0 / ((1.0 + ea) * (1.0 + eb))];
    let a0 = random_unit(&mut g);
    let a1 = perpendicular(a0, &mut g);
    let a2 = [a0[1] * a1[2] - a0[2] * a1[1], a0[2] * a1[0] - a0[0] * a1[2], a0[0] * a1[1] - a0[1] * a1[0]];
    let amp = e.roughness / (5f64).sqrt();
    let roughness = (0..5)
        .map(|_| {
            (
                random_unit(&mut g),
                g.random_range(2.0..5.0),
                g.random_range(0.0..std::f64::consts::TAU),
                amp * g.random_range(0.5..1.5),
            )
        })
        .collect();
    ParticleShape { rotation: [a0, a1, a2], axes, roughness }
}
