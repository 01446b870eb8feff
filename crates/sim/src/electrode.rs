//! The virtual NMC composite cathode: packed secondary particles (log-normal
//! sizes, ellipsoids with rough surfaces), intergranular cracks, a porous
//! carbon-binder web in the necks between particles, detachment gaps, and a
//! state-of-charge field. Rendered with partial-volume fractions at phase
//! boundaries so that sub-voxel cracks attenuate as they should.

use crate::config::SimConfig;
use crate::rng::{Stream, rng};
pub use chemomech_core::DamageClass;
use chemomech_core::{Error, Progress, Result};
use ndarray::{Array3, Axis};
use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use rayon::prelude::*;
use serde::Serialize;

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
    fn sphere(center_um: V3, radius_um: f64) -> Self {
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

/// Neighbour grid over particle centres.
struct Grid {
    origin: V3,
    cell: f64,
    dims: [usize; 3],
    cells: Vec<Vec<u32>>,
}

impl Grid {
    fn new(ps: &[Particle], lo: V3, hi: V3) -> Self {
        // Cells as wide as the largest particle: neighbours are in the 27 around.
        let cell = ps.iter().map(|p| p.extent_um()).fold(1.0, f64::max) * 1.02;
        Self::new_with_cell(ps, lo, hi, cell)
    }
    /// Particles whose centres lie in the 27 cells around `x`.
    #[inline]
    fn near(&self, x: V3, mut f: impl FnMut(usize)) {
        let c = [0, 1, 2].map(|a| ((x[a] - self.origin[a]) / self.cell).floor() as isize);
        for dz in -1..=1isize {
            let z = c[0] + dz;
            if z < 0 || z >= self.dims[0] as isize {
                continue;
            }
            for dy in -1..=1isize {
                let y = c[1] + dy;
                if y < 0 || y >= self.dims[1] as isize {
                    continue;
                }
                for dx in -1..=1isize {
                    let xx = c[2] + dx;
                    if xx < 0 || xx >= self.dims[2] as isize {
                        continue;
                    }
                    for &i in &self.cells[(z as usize * self.dims[1] + y as usize) * self.dims[2] + xx as usize] {
                        f(i as usize);
                    }
                }
            }
        }
    }
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

/// Generates the electrode.
pub fn generate(cfg: &SimConfig, progress: &dyn Progress) -> Result<Electrode> {
    cfg.validate()?;
    let e = &cfg.electrode;
    let (nz, ny, nx) = cfg.shape();
    let v = e.voxel_um;
    let (lz, ly, lx) = (nz as f64 * v, ny as f64 * v, nx as f64 * v);
    let rmax = e.max_esd_um / 2.0;
    let margin = rmax * (1.0 + e.ellipticity);
    let lo = [0.0, -margin, -margin];
    let hi = [lz, ly + margin, lx + margin];

    // --- sizes and packing ---------------------------------------------------
    let mut sizes = rng(cfg.seed, Stream::Sizes, 0);
    let ln =
        LogNormal::new((e.median_esd_um).ln(), e.esd_log_sigma.max(1e-6)).map_err(|x| Error::param(x.to_string()))?;
    let draw_radius = |r: &mut rand_chacha::ChaCha8Rng| -> f64 {
        loop {
            let d: f64 = ln.sample(r);
            if d >= e.min_esd_um && d <= e.max_esd_um {
                return d / 2.0;
            }
        }
    };
    // Envelopes hold cracks too: aim the envelope fraction above the solid fraction.
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
    let target_env = (e.active_fraction / (1.0 - mean_cf)).min(0.62);
    let vol_ext = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
    let mut radii: Vec<f64> = Vec::new();
    let mut total = 0.0;
    while total < target_env * vol_ext * (1.0 + 1.5 * e.contact_overlap) {
        let r = draw_radius(&mut sizes);
        total += 4.0 / 3.0 * std::f64::consts::PI * r * r * r;
        radii.push(r);
    }
    radii.sort_by(|a, b| b.partial_cmp(a).expect("finite"));
    let mut pos_rng = rng(cfg.seed, Stream::Positions, 0);
    let place = |r: f64, g: &mut rand_chacha::ChaCha8Rng| -> V3 {
        let z = if lz > 2.0 * r { g.random_range(r..lz - r) } else { lz / 2.0 };
        [z, g.random_range(lo[1]..hi[1]), g.random_range(lo[2]..hi[2])]
    };
    // Each particle's shape (drawn by index, so packing and rendering agree).
    let shape_of = |i: usize| -> ([V3; 3], V3, Vec<(V3, f64, f64, f64)>) {
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
        ([a0, a1, a2], axes, roughness)
    };
    // Pack with each particle's reach (longest semi-axis, half the roughness),
    // so neighbours touch at small contacts instead of interpenetrating.
    let reach = |i: usize, r: f64| -> f64 {
        let (_, axes, rough) = shape_of(i);
        r * axes.iter().cloned().fold(0.0, f64::max) * (1.0 + 0.5 * rough.iter().map(|m| m.3).sum::<f64>())
    };
    let mut centers: Vec<V3> = radii.iter().map(|&r| place(r, &mut pos_rng)).collect();
    progress.start("packing", 4);
    for round in 0..4 {
        let pack: Vec<f64> = radii.iter().enumerate().map(|(i, &r)| reach(i, r)).collect();
        relax(&mut centers, &pack, e.contact_overlap, lo, hi, lz);
        progress.inc(1);
        let frac = sphere_fraction(&centers, &radii, [lz, ly, lx], cfg.seed, round);
        if frac >= target_env - 0.01 || round == 3 {
            break;
        }
        // Top up the deficit with more particles and relax again.
        let need = (target_env - frac) * lz * ly * lx * (1.0 + 2.0 * e.contact_overlap);
        let mut added = 0.0;
        while added < need {
            let r = draw_radius(&mut sizes);
            added += 4.0 / 3.0 * std::f64::consts::PI * r * r * r;
            centers.push(place(r, &mut pos_rng));
            radii.push(r);
        }
    }
    progress.finish();

    // --- shapes, cracks, detachment, chemistry per particle -----------------
    let mut particles: Vec<Particle> = centers
        .par_iter()
        .zip(radii.par_iter())
        .enumerate()
        .map(|(i, (&c, &r))| {
            let (rotation, axes, roughness) = shape_of(i);
            let [a0, a1, a2] = rotation;
            let mut gc = rng(cfg.seed, Stream::Chemistry, i as u64);
            let soc_offset = Normal::new(0.0, cfg.chemistry.particle_sigma.max(1e-12)).expect("valid").sample(&mut gc);
            Particle {
                id: 0,
                center_um: c,
                radius_um: r,
                rotation: [a0, a1, a2],
                axes,
                roughness,
                cracks: Vec::new(),
                target_class: DamageClass::Least,
                target_crack_fraction: 0.0,
                gap: None,
                soc_offset,
            }
        })
        .collect();

    // Keep the particles that reach into the volume, numbered 1.. in order.
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
    progress.start("cracking", particles.len() as u64);
    particles.par_iter_mut().for_each(|p| {
        crack_particle(p, cfg, lz);
        progress.inc(1);
    });
    progress.finish();

    // --- rendering ------------------------------------------------------------
    render(cfg, particles, (nz, ny, nx), lo, hi, progress)
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

impl Grid {
    fn new_with_cell(ps: &[Particle], lo: V3, hi: V3, cell: f64) -> Self {
        let dims = [0, 1, 2].map(|a| (((hi[a] - lo[a]) / cell).ceil() as usize).max(1));
        let mut cells = vec![Vec::new(); dims[0] * dims[1] * dims[2]];
        for (i, p) in ps.iter().enumerate() {
            let c = [0, 1, 2].map(|a| (((p.center_um[a] - lo[a]) / cell).floor().max(0.0) as usize).min(dims[a] - 1));
            cells[(c[0] * dims[1] + c[1]) * dims[2] + c[2]].push(i as u32);
        }
        Self { origin: lo, cell, dims, cells }
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

/// Draws the particle's damage class from the depth profile, then adds fine
/// and wide intergranular cracks until its voxel crack fraction reaches a
/// target drawn within that class.
fn crack_particle(p: &mut Particle, cfg: &SimConfig, lz: f64) {
    let d = &cfg.damage;
    let v = cfg.electrode.voxel_um;
    let mut g = rng(cfg.seed, Stream::Damage, p.id as u64);
    let t = (p.center_um[0] / lz).clamp(0.0, 1.0);
    let pr = class_probabilities(&d.profile, t);
    let u: f64 = g.random();
    let class = if u < pr[2] {
        DamageClass::Severe
    } else if u < pr[2] + pr[1] {
        DamageClass::Mild
    } else {
        DamageClass::Least
    };
    let (a, b) = class_range(class, d.mild_threshold, d.severe_threshold);
    let target = g.random_range(a..=b);
    p.target_class = class;
    p.target_crack_fraction = target;
    let r = p.radius_um;
    let new_crack = |g: &mut rand_chacha::ChaCha8Rng, width: f64, radial: bool, reach_surface: bool| -> Crack {
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
    };
    // Fine cracks: texture, sub-voxel, little volume.
    let nf = g
        .random_range(d.fine_cracks_per_particle[0]..=d.fine_cracks_per_particle[1].max(d.fine_cracks_per_particle[0]));
    for _ in 0..nf {
        let w = g.random_range(d.fine_crack_um[0]..=d.fine_crack_um[1]);
        let reach = g.random_bool(0.5);
        let c = new_crack(&mut g, w, true, reach);
        p.cracks.push(c);
    }
    let env_vox = envelope_voxels(p, v, lz);
    let mut ncrack = crack_count(p, &env_vox, v);
    let env = env_vox.len().max(1) as f64;
    // Fine cracks are texture: drop them if they alone overshoot the class.
    while ncrack as f64 / env > b && !p.cracks.is_empty() {
        p.cracks.pop();
        ncrack = crack_count(p, &env_vox, v);
    }
    let mut tries = 0;
    while (ncrack as f64) / env < target - 0.004 && tries < 24 {
        tries += 1;
        let remaining = target - ncrack as f64 / env;
        // A full plane through a sphere takes ≈ 3w/(4r) of its volume; a radial half-plane about half that.
        let wmax = d.wide_crack_um[1];
        let full = remaining > 0.55 * 3.0 * wmax / (4.0 * r);
        let share = if full { 0.75 } else { 0.37 };
        let w = (remaining * r / share).clamp(d.wide_crack_um[0].min(v * 0.9), wmax).max(v * 0.6);
        let reach = g.random_bool(0.35);
        let c = new_crack(&mut g, w, !full, reach);
        p.cracks.push(c);
        let nc = crack_count(p, &env_vox, v);
        if (nc as f64) / env > b {
            p.cracks.pop();
            continue;
        }
        ncrack = nc;
    }
    let realised = DamageClass::of(ncrack as f64 / env, d.mild_threshold, d.severe_threshold);
    if realised == DamageClass::Severe && g.random_bool(d.detach_probability) {
        p.gap = Some(Gap { direction: random_unit(&mut g), cos_cap: 1.0 - 2.0 * d.gap_cap_fraction });
    }
}

/// Smooth random field of unit variance (sum of plane waves, 0.8–2.5 µm wavelengths).
struct Noise {
    waves: Vec<(V3, f64)>,
}

impl Noise {
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

/// `voxel`: when Some(v), crack membership is the voxel-majority rule
/// (truth phases); when None, the point itself (sub-sample fractions).
fn point_info(x: V3, ps: &[Particle], grid: &Grid, noise: &Noise, cfg: &SimConfig, voxel: Option<f64>) -> PointInfo {
    let mut best: Option<(usize, f64)> = None;
    let (mut d1, mut d2) = (f64::INFINITY, f64::INFINITY);
    let mut i1 = usize::MAX;
    grid.near(x, |j| {
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
    match best {
        Some((j, q)) => {
            let p = &ps[j];
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
                surface_dist: d1.min(0.0),
            }
        }
        None => {
            // Necks between two particles and patches along surfaces; the noise
            // makes the web porous. Far from any surface it is never carbon-binder
            // (and the noise need not be evaluated there).
            let far = d1 + d2 > 2.0 * cfg.electrode.cbd_bridge_um && d1 > 0.6 * cfg.electrode.cbd_bridge_um;
            let mut score = (d1 + d2).min(2.0 * d1 + 0.5 * cfg.electrode.cbd_bridge_um);
            if far {
                score += 10.0;
            } else {
                score += 0.45 * noise.at(x);
            }
            if i1 != usize::MAX
                && let Some(gap) = &ps[i1].gap
            {
                let dd = unit(sub(x, ps[i1].center_um));
                if d1 < cfg.damage.gap_um && dot(dd, gap.direction) >= gap.cos_cap {
                    score = f64::INFINITY;
                }
            }
            PointInfo {
                owner: None,
                q: f64::INFINITY,
                in_crack: false,
                crack_dist: f64::INFINITY,
                cbd_score: score,
                surface_dist: d1,
            }
        }
    }
}

fn render(
    cfg: &SimConfig,
    particles: Vec<Particle>,
    shape: (usize, usize, usize),
    lo: V3,
    hi: V3,
    progress: &dyn Progress,
) -> Result<Electrode> {
    let (nz, ny, nx) = shape;
    let v = cfg.electrode.voxel_um;
    let lz = nz as f64 * v;
    let grid = Grid::new(&particles, lo, hi);
    let noise = Noise::new(cfg.seed);
    let ch = &cfg.chemistry;
    let mut labels = Array3::<u32>::zeros(shape);
    let mut phases = Array3::<u8>::zeros(shape);
    let mut soc = Array3::<f32>::from_elem(shape, f32::NAN);
    let mut score = Array3::<f32>::from_elem(shape, f32::INFINITY);

    progress.start("rendering", (2 * nz) as u64);
    // Pass 1: voxel centres.
    labels
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(phases.axis_iter_mut(Axis(0)))
        .zip(soc.axis_iter_mut(Axis(0)))
        .zip(score.axis_iter_mut(Axis(0)))
        .enumerate()
        .for_each(|(k, (((mut lab, mut ph), mut so), mut sc))| {
            let z = (k as f64 + 0.5) * v;
            let depth_soc = ch.soc_separator + (ch.soc_collector - ch.soc_separator) * (z / lz).powf(ch.depth_exponent);
            for j in 0..ny {
                for i in 0..nx {
                    let x = [z, (j as f64 + 0.5) * v, (i as f64 + 0.5) * v];
                    let info = point_info(x, &particles, &grid, &noise, cfg, Some(v));
                    if let Some(o) = info.owner {
                        let p = &particles[o];
                        lab[[j, i]] = p.id;
                        if !info.in_crack {
                            ph[[j, i]] = 2;
                            let crack_term = if info.crack_dist.is_finite() {
                                ch.crack_delta * (-info.crack_dist.max(0.0) / ch.crack_decay_um).exp()
                            } else {
                                0.0
                            };
                            let s = depth_soc + ch.shell_delta * info.q * info.q + p.soc_offset + crack_term;
                            so[[j, i]] = s.clamp(0.0, 1.0) as f32;
                        }
                    } else {
                        sc[[j, i]] = info.cbd_score as f32;
                    }
                }
            }
            progress.inc(1);
        });

    // Carbon-binder: the lowest scores, as many voxels as the target fraction.
    let mut scores: Vec<f32> = score.iter().cloned().filter(|s| s.is_finite()).collect();
    let want = ((cfg.electrode.cbd_fraction * (nz * ny * nx) as f64).round() as usize).min(scores.len());
    let threshold = if want == 0 {
        f32::NEG_INFINITY
    } else {
        let (_, t, _) = scores.select_nth_unstable_by(want - 1, |a, b| a.partial_cmp(b).expect("finite"));
        *t
    };
    ndarray::Zip::from(&mut phases).and(&score).par_for_each(|p, &s| {
        if s <= threshold {
            *p = 1;
        }
    });

    // Pass 2: partial-volume fractions, supersampled where a boundary is near.
    let ss = cfg.electrode.supersample.max(1);
    let mut frac_active = Array3::<f32>::zeros(shape);
    let mut frac_cbd = Array3::<f32>::zeros(shape);
    let near = 0.9 * v;
    frac_active.axis_iter_mut(Axis(0)).into_par_iter().zip(frac_cbd.axis_iter_mut(Axis(0))).enumerate().for_each(
        |(k, (mut fa, mut fc))| {
            for j in 0..ny {
                for i in 0..nx {
                    let c = [(k as f64 + 0.5) * v, (j as f64 + 0.5) * v, (i as f64 + 0.5) * v];
                    let info = point_info(c, &particles, &grid, &noise, cfg, None);
                    let boundary = ss > 1
                        && (info.surface_dist.abs() < near
                            || info.crack_dist.abs() < near
                            || (info.owner.is_none()
                                && info.cbd_score.is_finite()
                                && ((info.cbd_score as f32) - threshold).abs() < 2.0 * near as f32));
                    if !boundary {
                        match info.owner {
                            Some(_) if !info.in_crack => fa[[j, i]] = 1.0,
                            Some(_) => {}
                            None => {
                                if (info.cbd_score as f32) <= threshold {
                                    fc[[j, i]] = 1.0;
                                }
                            }
                        }
                        continue;
                    }
                    let (mut na, mut nc) = (0u32, 0u32);
                    for a in 0..ss {
                        for b in 0..ss {
                            for cc in 0..ss {
                                let off = |t: usize| ((t as f64 + 0.5) / ss as f64 - 0.5) * v;
                                let x = [c[0] + off(a), c[1] + off(b), c[2] + off(cc)];
                                let pi = point_info(x, &particles, &grid, &noise, cfg, None);
                                match pi.owner {
                                    Some(_) if !pi.in_crack => na += 1,
                                    Some(_) => {}
                                    None => {
                                        if (pi.cbd_score as f32) <= threshold {
                                            nc += 1;
                                        }
                                    }
                                }
                            }
                        }
                    }
                    let n3 = (ss * ss * ss) as f32;
                    fa[[j, i]] = na as f32 / n3;
                    fc[[j, i]] = nc as f32 / n3;
                }
            }
            progress.inc(1);
        },
    );
    progress.finish();

    Ok(Electrode { shape, voxel_um: v, particles, labels, phases, soc, frac_active, frac_cbd })
}
