//! The particles of a family member: irregular envelopes (ellipsoids with a
//! perturbed surface), primary grains (Voronoi cells of seeds inside the
//! envelope), and their voids (hollow or porous cores, intergranular and
//! radial cracks), all evaluated at a point with sub-voxel (box-filtered)
//! occupancy, so that cracks narrower than a voxel keep their true volume.

use super::config::{FamilyConfig, Kind};
use crate::electrode::DamageClass;
use crate::rng::{Stream, rng};
use rand::Rng;
use std::f64::consts::PI;

/// A point or direction (z, y, x), µm.
pub type V3 = [f64; 3];

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}

fn random_unit(r: &mut impl Rng) -> V3 {
    loop {
        let v = [r.random::<f64>() * 2.0 - 1.0, r.random::<f64>() * 2.0 - 1.0, r.random::<f64>() * 2.0 - 1.0];
        let n = norm(v);
        if n > 1e-3 && n <= 1.0 {
            return [v[0] / n, v[1] / n, v[2] / n];
        }
    }
}

/// A random rotation (rows: the particle's axes in the lab frame), by
/// Gram–Schmidt on two random directions.
fn random_rotation(r: &mut impl Rng) -> [V3; 3] {
    let a = random_unit(r);
    let mut b = random_unit(r);
    let k = dot(a, b);
    b = [b[0] - k * a[0], b[1] - k * a[1], b[2] - k * a[2]];
    let nb = norm(b).max(1e-9);
    b = [b[0] / nb, b[1] / nb, b[2] / nb];
    let c = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
    [a, b, c]
}

/// One surface undulation: amplitude × cos(k (u·n) + phase) on the unit
/// direction u.
#[derive(Debug, Clone)]
struct Bump {
    n: V3,
    k: f64,
    phase: f64,
    amp: f64,
}

/// A planar crack through the particle's centre, reaching `reach` of the
/// envelope radius.
#[derive(Debug, Clone)]
pub struct RadialCrack {
    /// Unit normal.
    pub normal: V3,
    /// Width, µm.
    pub width_um: f64,
    /// Radial reach as a fraction of the envelope radius.
    pub reach: f64,
}

/// One secondary particle.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Label in the truth (1-based).
    pub id: u32,
    /// Morphology.
    pub kind: Kind,
    /// Centre (z, y, x), µm.
    pub centre: V3,
    /// Envelope radius, µm (geometric mean of the semi-axes).
    pub radius_um: f64,
    axes: V3,
    rot: [V3; 3],
    bumps: Vec<Bump>,
    /// Bounding radius, µm.
    pub bound_um: f64,
    /// Core radius as a fraction of the envelope (hollow or porous; 0 none).
    pub core: f64,
    /// Grain seeds, in the lab frame relative to the centre, µm.
    grains: Vec<V3>,
    /// Probability that a grain boundary is cracked.
    pub boundary_crack_p: f64,
    /// Width of cracked grain boundaries, µm.
    pub boundary_width_um: f64,
    /// Radial cracks.
    pub radial: Vec<RadialCrack>,
    pore_waves: Vec<(V3, f64)>,
    /// Whether the carbon binder has let go of it (a pore gap all round).
    pub detached: bool,
    /// The damage class it was drawn for.
    pub target: DamageClass,
    /// The void fraction it was drawn for.
    pub target_void: f64,
    seed: u64,
}

/// What a point is, relative to one particle.
#[derive(Debug, Clone, Copy)]
pub struct Local {
    /// Normalised envelope radius: < 1 inside.
    pub s: f64,
    d: V3,
}

impl Shape {
    /// Where `p` lies relative to this particle.
    pub fn local(&self, p: V3) -> Local {
        let d = sub(p, self.centre);
        let q = [
            dot(d, self.rot[0]) / self.axes[0],
            dot(d, self.rot[1]) / self.axes[1],
            dot(d, self.rot[2]) / self.axes[2],
        ];
        let rho = norm(q);
        if rho < 1e-12 {
            return Local { s: 0.0, d };
        }
        let u = [q[0] / rho, q[1] / rho, q[2] / rho];
        let pert: f64 = self.bumps.iter().map(|b| b.amp * (b.k * dot(u, b.n) + b.phase).cos()).sum();
        Local { s: rho / (self.radius_um * (1.0 + pert)), d }
    }

    /// Void occupancy (0–1) of a cube of side `h` µm centred at the point,
    /// inside the envelope: the widest of core, grain-boundary and radial
    /// voids. Cracks are box-filtered across their normal, so a crack of
    /// width w < h occupies w / h of the cube it crosses.
    pub fn void(&self, l: Local, h: f64) -> f64 {
        let box_occ = |dist: f64, w: f64| {
            ((dist.abs() + h / 2.0).min(w / 2.0) - (dist.abs() - h / 2.0).max(-w / 2.0)).max(0.0) / h
        };
        let r = self.radius_um;
        let mut v: f64 = 0.0;
        if self.core > 0.0 {
            let into_core = (self.core - l.s) * r;
            let core_occ = (into_core / h + 0.5).clamp(0.0, 1.0);
            v = match self.kind {
                Kind::PorousCore => {
                    let f: f64 = self.pore_waves.iter().map(|(k, ph)| (dot(*k, l.d) + ph).cos()).sum();
                    if f > 0.35 * (self.pore_waves.len() as f64).sqrt() { core_occ } else { 0.0 }
                }
                _ => core_occ,
            };
        }
        for c in &self.radial {
            if l.s < c.reach && l.s > self.core * 0.8 {
                v = v.max(box_occ(dot(l.d, c.normal), c.width_um));
            }
        }
        if self.boundary_crack_p > 0.0 && self.grains.len() > 1 {
            let (i, j, db) = self.nearest_boundary(l.d);
            if self.boundary_cracked(i, j) {
                v = v.max(box_occ(db, self.boundary_width_um));
            }
        }
        v.min(1.0)
    }

    /// The two nearest grain seeds and the distance to their bisector.
    fn nearest_boundary(&self, d: V3) -> (usize, usize, f64) {
        let (mut i, mut j, mut di, mut dj) = (0, 0, f64::INFINITY, f64::INFINITY);
        for (k, g) in self.grains.iter().enumerate() {
            let e = sub(d, *g);
            let dd = dot(e, e);
            if dd < di {
                (j, dj) = (i, di);
                (i, di) = (k, dd);
            } else if dd < dj {
                (j, dj) = (k, dd);
            }
        }
        let sep = norm(sub(self.grains[i], self.grains[j])).max(1e-9);
        (i, j, (dj - di) / (2.0 * sep))
    }

    fn boundary_cracked(&self, i: usize, j: usize) -> bool {
        let (a, b) = (i.min(j) as u64, i.max(j) as u64);
        crate::rng::uniform(self.seed ^ ((self.id as u64) << 32), Stream::Damage, a * 1024 + b) < self.boundary_crack_p
    }
}

/// Draws the particles of `cfg` and places them by random sequential
/// addition, biggest first, until the packing fraction is reached.
pub fn place(cfg: &FamilyConfig) -> Vec<Shape> {
    let m = &cfg.morphology;
    let ext = cfg.extent_um();
    let two_d = cfg.shape[0] == 1;
    let margin = 0.5 * m.diameter_um[1];
    let box_volume: f64 =
        (0..3).map(|a| if two_d && a == 0 { m.diameter_um[1] } else { ext[a] + 2.0 * margin }).product();
    let mut sizes = rng(cfg.seed, Stream::Sizes, 0);
    let (lo, hi) = (m.diameter_um[0].ln(), m.diameter_um[1].ln());
    let mut radii = Vec::new();
    let mut vol = 0.0;
    while vol < m.packing * box_volume && radii.len() < 100_000 {
        let r = 0.5 * (lo + (hi - lo) * sizes.random::<f64>()).exp();
        vol += 4.0 / 3.0 * PI * r * r * r;
        radii.push(r);
    }
    radii.sort_by(|a, b| b.total_cmp(a));
    let mut pos = rng(cfg.seed, Stream::Positions, 0);
    let mut placed: Vec<Shape> = Vec::new();
    let mut grid = super::render::Buckets::new(ext, 2.0 * m.diameter_um[1]);
    for r in radii {
        let bound = r * (1.0 + m.aspect) * (1.0 + 2.5 * m.roughness);
        for _ in 0..60 {
            let c = [
                if two_d {
                    ext[0] / 2.0 + (pos.random::<f64>() - 0.5) * 2.0 * r
                } else {
                    -margin + pos.random::<f64>() * (ext[0] + 2.0 * margin)
                },
                -margin + pos.random::<f64>() * (ext[1] + 2.0 * margin),
                -margin + pos.random::<f64>() * (ext[2] + 2.0 * margin),
            ];
            let clash = grid.near(c, bound).any(|k| {
                let o: &Shape = &placed[k as usize];
                norm(sub(c, o.centre)) < (1.0 - m.overlap) * (o.radius_um + r)
            });
            if !clash {
                let id = placed.len() as u32 + 1;
                let s = draw_shape(cfg, id, c, r);
                grid.insert(c, s.bound_um, id - 1);
                placed.push(s);
                break;
            }
        }
    }
    placed
}

/// The shape, grains and voids of particle `id` with centre `c` and
/// radius `r`: its damage class follows its depth (more damage near the
/// separator, at depth 0 along the first axis of a volume, the second of a
/// slice), and its voids are sized for a void fraction inside the class.
fn draw_shape(cfg: &FamilyConfig, id: u32, c: V3, r: f64) -> Shape {
    let m = &cfg.morphology;
    let mut g = rng(cfg.seed, Stream::Shape, id as u64);
    let mut e = [1.0 + m.aspect * g.random::<f64>(), 1.0 + 0.5 * m.aspect * g.random::<f64>(), 1.0];
    let gm = (e[0] * e[1] * e[2]).cbrt();
    e = [e[0] / gm, e[1] / gm, e[2] / gm];
    let rot = random_rotation(&mut g);
    let bumps = (0..6)
        .map(|_| Bump {
            n: random_unit(&mut g),
            k: 2.0 + 3.0 * g.random::<f64>(),
            phase: 2.0 * PI * g.random::<f64>(),
            amp: m.roughness * (0.5 + g.random::<f64>()) / 6f64.sqrt(),
        })
        .collect();
    let bound_um = r * e.iter().cloned().fold(0.0, f64::max) * (1.0 + 2.5 * m.roughness);
    let kind = m.kinds.draw(g.random::<f64>());
    let mut d = rng(cfg.seed, Stream::Damage, id as u64);
    let ext = cfg.extent_um();
    let depth_axis = if cfg.shape[0] == 1 { 1 } else { 0 };
    let t = (c[depth_axis] / ext[depth_axis]).clamp(0.0, 1.0);
    let g_ = cfg.damage.gradient;
    let p_severe = (0.25 + g_ * (0.5 - t) * 0.5).clamp(0.02, 0.9);
    let p_mild = 0.35;
    let u: f64 = d.random();
    let target = if u < p_severe {
        DamageClass::Severe
    } else if u < p_severe + p_mild {
        DamageClass::Mild
    } else {
        DamageClass::Least
    };
    let f = match target {
        DamageClass::Least => 0.015 * d.random::<f64>(),
        DamageClass::Mild => 0.05 + 0.06 * d.random::<f64>(),
        DamageClass::Severe => 0.2 + 0.12 * d.random::<f64>(),
    };
    let w_vox = cfg.damage.width_vox[0] + (cfg.damage.width_vox[1] - cfg.damage.width_vox[0]) * d.random::<f64>();
    let w = w_vox * cfg.voxel_um;
    let mut s = Shape {
        id,
        kind,
        centre: c,
        radius_um: r,
        axes: e,
        rot,
        bumps,
        bound_um,
        core: 0.0,
        grains: Vec::new(),
        boundary_crack_p: 0.0,
        boundary_width_um: w,
        radial: Vec::new(),
        pore_waves: Vec::new(),
        detached: d.random::<f64>() < m.detached_fraction,
        target,
        target_void: f,
        seed: cfg.seed,
    };
    size_voids(&mut s, cfg, f, &mut d);
    s
}

/// Sizes the voids of `s` for a void fraction near `f`.
fn size_voids(s: &mut Shape, cfg: &FamilyConfig, f: f64, d: &mut impl Rng) {
    let (r, w) = (s.radius_um, s.boundary_width_um);
    match s.kind {
        Kind::Dense => radial_cracks(s, f, d),
        Kind::Agglomerate => {
            let grain = cfg.morphology.grain_um.max(r / 3.0);
            let n = ((r / grain).powi(3) * 1.0).clamp(4.0, 64.0) as usize;
            s.grains = (0..n)
                .map(|_| {
                    let u = random_unit(d);
                    let rr = 1.15 * r * d.random::<f64>().cbrt();
                    [u[0] * rr, u[1] * rr, u[2] * rr]
                })
                .collect();
            // Poisson–Voronoi boundary area per volume: 2.91 λ^(1/3).
            let lambda = n as f64 / (4.0 / 3.0 * PI * (1.15 * r).powi(3));
            let sv = 2.91 * lambda.cbrt();
            let p = f / (sv * w);
            if p > 0.85 {
                s.boundary_width_um = w * p / 0.85;
            }
            s.boundary_crack_p = p.min(0.85);
        }
        Kind::Hollow => {
            // Most of the void in the core, the rest in radial cracks.
            let core_part = 0.7 * f;
            s.core = core_part.cbrt().min(0.75);
            let rest = f - s.core.powi(3);
            radial_cracks(s, rest, d);
        }
        Kind::PorousCore => {
            s.core = (f / 0.33).cbrt().clamp(0.25, 0.8);
            let k = 2.0 * PI / (0.35 * r);
            s.pore_waves = (0..5)
                .map(|_| {
                    let u = random_unit(d);
                    ([u[0] * k, u[1] * k, u[2] * k], 2.0 * PI * d.random::<f64>())
                })
                .collect();
            let rest = f - 0.33 * s.core.powi(3);
            radial_cracks(s, rest, d);
        }
    }
}

/// Radial cracks through the centre for a void fraction `f`: a full plane
/// of width w holds 3w / 4r of a sphere; one reaching ρ of the radius, ρ²
/// of that.
fn radial_cracks(s: &mut Shape, f: f64, d: &mut impl Rng) {
    if f <= 0.002 {
        return;
    }
    let (r, w) = (s.radius_um, s.boundary_width_um);
    let reach = 0.75 + 0.35 * d.random::<f64>();
    let per = 0.75 * w / r * reach.min(1.0).powi(2);
    let n = (f / per).round().clamp(1.0, 8.0) as usize;
    let width = w * (f / (n as f64 * per)).clamp(0.5, 3.0);
    for _ in 0..n {
        s.radial.push(RadialCrack { normal: random_unit(d), width_um: width, reach });
    }
}
