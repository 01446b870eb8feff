//! From particles to the truth and the attenuation map: every image voxel
//! is sampled on a finer grid (`supersample`³ points; in a slice, ² in its
//! plane), each point is solid, void inside an envelope, carbon binder or
//! pore, and the voxel keeps the mean attenuation (partial volumes), the
//! majority label and phase, and each particle its envelope and void
//! volumes on the fine grid (the truth of the crack fraction).

use super::config::FamilyConfig;
use super::geometry::{Shape, V3};
use crate::rng::{Stream, rng};
use ndarray::{Array3, Axis};
use rand::Rng;
use rayon::prelude::*;

/// Particle indices by grid cell, for finding the particles near a point.
/// Hand-written: a uniform grid over a few hundred spheres is simpler and
/// faster here than a k-d tree, since queries need every sphere that may
/// contain the point, not the nearest centres.
pub struct Buckets {
    origin: f64,
    cell: f64,
    dims: [usize; 3],
    cells: Vec<Vec<u32>>,
}

impl Buckets {
    /// A grid over `extent_um` (with a margin of one cell) with cells of
    /// `cell_um`.
    pub fn new(extent_um: [f64; 3], cell_um: f64) -> Self {
        let dims = extent_um.map(|e| ((e + 2.0 * cell_um) / cell_um).ceil() as usize + 1);
        Buckets { origin: -cell_um, cell: cell_um, dims, cells: vec![Vec::new(); dims[0] * dims[1] * dims[2]] }
    }

    fn range(&self, c: f64, r: f64, a: usize) -> std::ops::RangeInclusive<usize> {
        let f = |x: f64| (((x - self.origin) / self.cell).floor().max(0.0) as usize).min(self.dims[a] - 1);
        f(c - r)..=f(c + r)
    }

    /// Registers `id` in every cell the box of half-side `r` around `c` meets.
    pub fn insert(&mut self, c: V3, r: f64, id: u32) {
        for z in self.range(c[0], r, 0) {
            for y in self.range(c[1], r, 1) {
                for x in self.range(c[2], r, 2) {
                    self.cells[(z * self.dims[1] + y) * self.dims[2] + x].push(id);
                }
            }
        }
    }

    /// The ids registered in the cells the box of half-side `r` around `c`
    /// meets (an id may repeat).
    pub fn near(&self, c: V3, r: f64) -> impl Iterator<Item = u32> + '_ {
        let (rz, ry, rx) = (self.range(c[0], r, 0), self.range(c[1], r, 1), self.range(c[2], r, 2));
        rz.flat_map(move |z| {
            let (ry, rx) = (ry.clone(), rx.clone());
            ry.flat_map(move |y| {
                rx.clone().flat_map(move |x| self.cells[(z * self.dims[1] + y) * self.dims[2] + x].iter().copied())
            })
        })
    }
}

/// Per-particle sums on the fine grid.
#[derive(Debug, Clone, Copy, Default)]
pub struct Acc {
    /// Fine points inside the envelope.
    pub envelope: f64,
    /// Void occupancy summed over them.
    pub void: f64,
    /// Sum of their positions (z, y, x), µm.
    pub centroid: [f64; 3],
}

/// The rasterised truth.
pub struct Raster {
    /// Mean attenuation per voxel (pore 0, carbon binder `cbd_level`, solid 1).
    pub attenuation: Array3<f32>,
    /// Envelope labels (the particle holding at least half of the voxel).
    pub labels: Array3<u32>,
    /// Phases 0 pore, 1 carbon binder, 2 active (voids inside envelopes are pore).
    pub phases: Array3<u8>,
    /// Per particle (index id − 1).
    pub acc: Vec<Acc>,
}

/// What one fine point is.
enum Point {
    /// Inside particle `index` with void occupancy.
    Particle(usize, f64),
    Cbd,
    Pore,
}

struct Scene<'a> {
    cfg: &'a FamilyConfig,
    shapes: &'a [Shape],
    buckets: Buckets,
    cbd_waves: Vec<(V3, f64)>,
    h: f64,
}

impl Scene<'_> {
    fn classify(&self, p: V3) -> Point {
        let mut best: Option<(usize, f64, super::geometry::Local)> = None;
        let (mut near_cbd, mut in_gap) = (false, false);
        let shell = self.cfg.morphology.cbd_shell_um;
        for i in self.buckets.near(p, 0.0) {
            let s = &self.shapes[i as usize];
            let l = s.local(p);
            if l.s < 1.0 {
                if best.as_ref().is_none_or(|b| l.s < b.1) {
                    best = Some((i as usize, l.s, l));
                }
            } else if s.detached {
                in_gap |= (l.s - 1.0) * s.radius_um < 0.6 * shell.max(self.h);
            } else {
                near_cbd |= (l.s - 1.0) * s.radius_um < shell;
            }
        }
        if let Some((i, _, l)) = best {
            return Point::Particle(i, self.shapes[i].void(l, self.h));
        }
        if in_gap {
            return Point::Pore;
        }
        let f: f64 = self.cbd_waves.iter().map(|(k, ph)| (k[0] * p[0] + k[1] * p[1] + k[2] * p[2] + ph).cos()).sum();
        let f = f / (self.cbd_waves.len() as f64 / 2.0).sqrt();
        if (near_cbd && f > -0.3) || f > 1.6 { Point::Cbd } else { Point::Pore }
    }
}

/// Samples `shapes` on the fine grid of `cfg`.
pub fn rasterise(cfg: &FamilyConfig, shapes: &[Shape]) -> Raster {
    let scene = Scene::new(cfg, shapes);
    let [nz, ny, nx] = cfg.shape;
    let mut att = Array3::<f32>::zeros((nz, ny, nx));
    let mut labels = Array3::<u32>::zeros((nz, ny, nx));
    let mut phases = Array3::<u8>::zeros((nz, ny, nx));
    let rows: Vec<Vec<(usize, Acc)>> = att
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(labels.axis_iter_mut(Axis(0)).into_par_iter())
        .zip(phases.axis_iter_mut(Axis(0)).into_par_iter())
        .enumerate()
        .map(|(z, ((mut a, mut l), mut ph))| {
            let mut accs: std::collections::HashMap<usize, Acc> = std::collections::HashMap::new();
            let mut owners: Vec<(usize, u32)> = Vec::new();
            for y in 0..ny {
                for x in 0..nx {
                    owners.clear();
                    let vox = scene.sample_voxel([z, y, x], &mut accs, &mut owners);
                    let n_fine = scene.n_fine();
                    a[[y, x]] = (vox.mu / n_fine) as f32;
                    if let Some(&(i, n)) = owners.iter().max_by_key(|o| (o.1, usize::MAX - o.0))
                        && 2 * n as usize >= n_fine as usize
                    {
                        l[[y, x]] = i as u32 + 1;
                    }
                    ph[[y, x]] = vox.phase(n_fine);
                }
            }
            accs.into_iter().collect()
        })
        .collect();
    let mut acc = vec![Acc::default(); shapes.len()];
    for row in rows {
        for (i, a) in row {
            let t = &mut acc[i];
            t.envelope += a.envelope;
            t.void += a.void;
            for k in 0..3 {
                t.centroid[k] += a.centroid[k];
            }
        }
    }
    Raster { attenuation: att, labels, phases, acc }
}

/// Sums over one voxel's fine points.
#[derive(Default)]
struct VoxelSums {
    /// Attenuation summed over the points.
    mu: f64,
    /// Carbon-binder points.
    cbd: f64,
    /// Solid occupancy (1 − void) summed over particle points.
    solid: f64,
}

impl VoxelSums {
    /// The majority phase of `n_fine` points: 2 solid, 1 carbon binder, 0 pore.
    fn phase(&self, n_fine: f64) -> u8 {
        let pore = n_fine - self.cbd - self.solid;
        if self.solid >= self.cbd && self.solid >= pore {
            2
        } else if self.cbd >= pore {
            1
        } else {
            0
        }
    }
}

impl<'a> Scene<'a> {
    /// The scene of `shapes`: neighbour buckets and the carbon-binder waves.
    fn new(cfg: &'a FamilyConfig, shapes: &'a [Shape]) -> Self {
        let mut buckets = Buckets::new(cfg.extent_um(), 0.5 * cfg.morphology.diameter_um[1].max(4.0 * cfg.voxel_um));
        for s in shapes {
            buckets.insert(s.centre, s.bound_um + cfg.morphology.cbd_shell_um + cfg.voxel_um, s.id - 1);
        }
        let mut g = rng(cfg.seed, Stream::CbdField, 0);
        let k = 2.0 * std::f64::consts::PI / (0.25 * cfg.morphology.diameter_um.iter().sum::<f64>());
        let cbd_waves = (0..8)
            .map(|_| {
                let u = [g.random::<f64>() - 0.5, g.random::<f64>() - 0.5, g.random::<f64>() - 0.5];
                let n = (u[0] * u[0] + u[1] * u[1] + u[2] * u[2]).sqrt().max(1e-6);
                ([u[0] / n * k, u[1] / n * k, u[2] / n * k], 2.0 * std::f64::consts::PI * g.random::<f64>())
            })
            .collect();
        Scene { cfg, shapes, buckets, cbd_waves, h: cfg.voxel_um / cfg.supersample as f64 }
    }

    /// Fine points per voxel along (z, y, x); one along z for a single slice.
    fn fine_counts(&self) -> [usize; 3] {
        let ss = self.cfg.supersample;
        [if self.cfg.shape[0] == 1 { 1 } else { ss }, ss, ss]
    }

    /// Fine points per voxel.
    fn n_fine(&self) -> f64 {
        let [ssz, ss, _] = self.fine_counts();
        (ssz * ss * ss) as f64
    }

    /// Classifies the fine points of voxel (z, y, x): their sums, each
    /// particle's accumulator in `accs`, and in `owners` each particle's point count.
    fn sample_voxel(
        &self,
        [z, y, x]: [usize; 3],
        accs: &mut std::collections::HashMap<usize, Acc>,
        owners: &mut Vec<(usize, u32)>,
    ) -> VoxelSums {
        let [ssz, ss, _] = self.fine_counts();
        let v = self.cfg.voxel_um;
        let mut sums = VoxelSums::default();
        for a_ in 0..ssz {
            for b in 0..ss {
                for c in 0..ss {
                    let p = [
                        (z as f64 + (a_ as f64 + 0.5) / ssz as f64) * v,
                        (y as f64 + (b as f64 + 0.5) / ss as f64) * v,
                        (x as f64 + (c as f64 + 0.5) / ss as f64) * v,
                    ];
                    match self.classify(p) {
                        Point::Particle(i, vo) => {
                            sums.mu += 1.0 - vo;
                            sums.solid += 1.0 - vo;
                            let e = accs.entry(i).or_default();
                            e.envelope += 1.0;
                            e.void += vo;
                            for k in 0..3 {
                                e.centroid[k] += p[k];
                            }
                            match owners.iter_mut().find(|o| o.0 == i) {
                                Some(o) => o.1 += 1,
                                None => owners.push((i, 1)),
                            }
                        }
                        Point::Cbd => {
                            sums.mu += self.cfg.imaging.cbd_level;
                            sums.cbd += 1.0;
                        }
                        Point::Pore => {}
                    }
                }
            }
        }
        sums
    }
}
