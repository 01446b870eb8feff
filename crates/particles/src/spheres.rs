//! Hands back the chunks of shattered particles that the watershed gave to
//! a neighbour. Cracks that meet leave voids wider than the crack closing
//! can fill; a chunk beyond such a void has no path through solid to its
//! own particle's marker, only through the contact with a neighbour, so the
//! neighbour's basin floods it. The outer surfaces tell: fit a sphere to
//! each particle's surface facing pore or binder (robustly, so that a
//! swallowed chunk's surface is an outlier) and move the connected chunks
//! that lie well outside their own particle's sphere and inside a touching
//! particle's sphere to that particle.
//!
//! Hand-written: a robust (RANSAC, then least squares) sphere fit over
//! voxel surfaces is a few dozen lines, and no kept crate fits spheres.

use chemomech_imgproc::label::{Connectivity, label};
use ndarray::{Array3, ArrayView3, s};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// A sphere fitted to a particle's outer surface (µm).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Sphere {
    /// Centre (z, y, x) in µm.
    pub centre_um: [f64; 3],
    /// Radius in µm.
    pub radius_um: f64,
    /// Fraction of the surface points within the fit's band.
    pub inliers: f64,
}

impl Sphere {
    /// Signed distance of `p` from the sphere (negative inside).
    pub fn distance(&self, p: [f64; 3]) -> f64 {
        off_sphere(self.centre_um, self.radius_um, p)
    }
}

fn off_sphere(c: [f64; 3], r: f64, p: [f64; 3]) -> f64 {
    ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)).sqrt() - r
}

/// RANSAC samples of four points: at most, and at least.
const SAMPLES: usize = 300;
const MIN_SAMPLES: usize = 30;
/// Consensus is counted on at most this many (evenly spaced) points.
const CONSENSUS_POINTS: usize = 1000;
/// Least-squares refinements on the inliers.
const REFINE: usize = 5;

fn mean(pts: &[[f64; 3]]) -> [f64; 3] {
    let n = pts.len() as f64;
    let mut m = [0.0; 3];
    for p in pts {
        for a in 0..3 {
            m[a] += p[a] / n;
        }
    }
    m
}

/// Least-squares sphere through `pts` (algebraic: |p|² = 2c·p + k, about
/// the points' mean for conditioning); None if degenerate.
fn algebraic(pts: &[[f64; 3]]) -> Option<([f64; 3], f64)> {
    if pts.len() < 4 {
        return None;
    }
    let m = mean(pts);
    // Normal equations of rows (2x, 2y, 2z, 1) against |x|².
    let mut a = [[0.0f64; 5]; 4];
    for p in pts {
        let q = [p[0] - m[0], p[1] - m[1], p[2] - m[2]];
        let row = [2.0 * q[0], 2.0 * q[1], 2.0 * q[2], 1.0];
        let y = q[0] * q[0] + q[1] * q[1] + q[2] * q[2];
        for i in 0..4 {
            for j in 0..4 {
                a[i][j] += row[i] * row[j];
            }
            a[i][4] += row[i] * y;
        }
    }
    // Gaussian elimination with partial pivoting.
    let scale = (0..4).map(|i| a[i][i].abs()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    for c in 0..4 {
        let piv = (c..4).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs())).unwrap();
        if a[piv][c].abs() <= 1e-12 * scale {
            return None;
        }
        a.swap(c, piv);
        for r in 0..4 {
            if r != c {
                let f = a[r][c] / a[c][c];
                for k in c..5 {
                    a[r][k] -= f * a[c][k];
                }
            }
        }
    }
    let x: Vec<f64> = (0..4).map(|i| a[i][4] / a[i][i]).collect();
    let c = [x[0], x[1], x[2]];
    let r2 = x[3] + c[0] * c[0] + c[1] * c[1] + c[2] * c[2];
    (r2 > 0.0 && r2.is_finite()).then(|| ([c[0] + m[0], c[1] + m[1], c[2] + m[2]], r2.sqrt()))
}

/// Robust sphere fit to surface points (µm): the four-point sphere that
/// most points lie within `band_um` of (RANSAC, `seed` makes it
/// reproducible), refined by least squares on those points. Radii under
/// `min_radius_um` or over the points' spread are not considered. None
/// when fewer than 10 points agree.
///
/// ```
/// use chemomech_particles::spheres::fit_sphere;
/// // A sphere of radius 5 about (10, 10, 10) and a quarter as many
/// // points of another surface stuck to it.
/// let mut pts = Vec::new();
/// for i in 0..400 {
///     let (t, f) = (std::f64::consts::PI * (i as f64 + 0.5) / 400.0, i as f64 * 2.4);
///     pts.push([10.0 + 5.0 * t.cos(), 10.0 + 5.0 * t.sin() * f.cos(), 10.0 + 5.0 * t.sin() * f.sin()]);
///     if i % 4 == 0 { pts.push([18.0 + 2.0 * t.cos(), 10.0 + 2.0 * t.sin() * f.cos(), 10.0 + 2.0 * t.sin() * f.sin()]); }
/// }
/// let s = fit_sphere(&pts, 0.3, 1.0, 7).unwrap();
/// assert!((s.radius_um - 5.0).abs() < 1e-6 && (s.centre_um[0] - 10.0).abs() < 1e-6);
/// assert!((s.inliers - 0.8).abs() < 0.02);
/// ```
pub fn fit_sphere(pts: &[[f64; 3]], band_um: f64, min_radius_um: f64, seed: u64) -> Option<Sphere> {
    if pts.len() < 10 {
        return None;
    }
    let n = pts.len() as f64;
    let m = mean(pts);
    let spread = pts.iter().map(|&p| off_sphere(m, 0.0, p)).fold(0.0, f64::max);
    let step = pts.len().div_ceil(CONSENSUS_POINTS);
    let votes: Vec<[f64; 3]> = pts.iter().step_by(step).cloned().collect();
    let agree =
        |c: [f64; 3], r: f64, set: &[[f64; 3]]| set.iter().filter(|p| off_sphere(c, r, **p).abs() < band_um).count();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut best: Option<(usize, [f64; 3], f64)> = None;
    // Adaptive RANSAC: stop once a sample of four inliers would have been
    // drawn with 99.9 % probability at the best consensus so far.
    let mut needed = SAMPLES;
    let mut drawn = 0;
    while drawn < needed {
        drawn += 1;
        let mut idx = [0usize; 4];
        for i in idx.iter_mut() {
            *i = rng.random_range(0..pts.len());
        }
        if (0..4).any(|i| (0..i).any(|j| idx[i] == idx[j])) {
            continue;
        }
        let Some((c, r)) = algebraic(&idx.map(|i| pts[i])) else { continue };
        if r < min_radius_um || r > spread {
            continue;
        }
        let k = agree(c, r, &votes);
        if best.is_none_or(|b| k > b.0) {
            best = Some((k, c, r));
            let w = (k as f64 / votes.len() as f64).powi(4);
            if w > 0.0 {
                needed =
                    needed.min((MIN_SAMPLES as f64).max((0.001f64).ln() / (1.0 - w).ln().min(-1e-12)).ceil() as usize);
            }
        }
    }
    let (_, mut c, mut r) = best?;
    for _ in 0..REFINE {
        let inl: Vec<[f64; 3]> = pts.iter().filter(|p| off_sphere(c, r, **p).abs() < band_um).cloned().collect();
        if inl.len() < 10 {
            return None;
        }
        match algebraic(&inl) {
            Some((c2, r2)) => (c, r) = (c2, r2),
            None => break,
        }
    }
    let k = agree(c, r, pts);
    (k >= 10).then_some(Sphere { centre_um: c, radius_um: r, inliers: k as f64 / n })
}

/// What [`reassign_chunks`] did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReassignReport {
    /// Particles with a sphere fit.
    pub fitted: u32,
    /// Chunks moved to another particle.
    pub chunks: u32,
    /// Voxels of the moved chunks.
    pub voxels: u64,
}

/// Thresholds in voxels (of the finest spacing): the fit's band; a chunk
/// lies farther than `OUT` outside its own sphere and nearer than `IN`
/// outside the receiving particle's; chunks have at least `MIN_CHUNK`
/// voxels; a fit needs `MIN_SURFACE` surface voxels.
const BAND_VOX: f64 = 1.5;
const OUT_VOX: f64 = 1.5;
const IN_VOX: f64 = 1.0;
const MIN_CHUNK: usize = 20;
const MIN_SURFACE: usize = 30;
const MIN_RADIUS_VOX: f64 = 2.0;

/// In up to `rounds` rounds (the next uses the fits of the particles the
/// last one completed): fits a sphere to each particle's outer surface (its voxels
/// with a face neighbour inside the volume that belongs to no particle),
/// then moves each connected chunk (26-connectivity, at least 20 voxels)
/// of a particle that lies more than 1.5 voxels outside that particle's
/// sphere and less than 1 voxel outside the sphere of a particle it
/// touches to that particle (the one most of its voxels lie deepest in).
/// Each round decides fits and moves on the labels as it found them, so
/// the result does not depend on the thread count.
///
/// Why spheres: on the 50-cycle simulated electrode at seed 2 (true
/// phases), five swallowed chunks of 330–953 voxels lie a median 4.4–6.9
/// voxels outside the swallowing particle's sphere and −0.9 to +3.4 from
/// their own particle's, while the swallowing particle's own voxels lie a
/// median 1.4–1.7 voxels inside its sphere. Ellipsoids fitted the same way
/// stretch over the chunk and swallow it too. A secondary particle is a
/// sphere give or take its ellipticity, which the band absorbs. What it
/// changes on simulated and real electrodes: `bench/README.md`.
///
/// ```
/// use chemomech_particles::spheres::reassign_chunks;
/// // Two balls of radius 8 touching; a wedge of the left one (x > 12,
/// // its far side from the right ball's centre excluded) labelled as the
/// // right one, as a flood across a crack would.
/// let ball = |c: f64, z: usize, y: usize, x: usize| ((z as f64 - 12.0).powi(2) + (y as f64 - 12.0).powi(2) + (x as f64 - c).powi(2)) <= 64.0;
/// let mut lab = ndarray::Array3::from_shape_fn((25, 25, 40), |(z, y, x)| {
///     if ball(10.0, z, y, x) { if x >= 15 && y < 12 { 2u32 } else { 1 } } else if ball(26.0, z, y, x) { 2 } else { 0 }
/// });
/// let before = lab.iter().filter(|&&l| l == 1).count();
/// let rep = reassign_chunks(&mut lab, [1.0; 3], 2);
/// assert_eq!(rep.chunks, 1);
/// assert_eq!(lab.iter().filter(|&&l| l == 1).count() as u64, before as u64 + rep.voxels);
/// assert_eq!(lab[[12, 8, 16]], 1);
/// ```
pub fn reassign_chunks(labels: &mut Array3<u32>, spacing_um: [f64; 3], rounds: usize) -> ReassignReport {
    if !labels.is_standard_layout() {
        *labels = labels.as_standard_layout().into_owned();
    }
    let unit = spacing_um.iter().cloned().fold(f64::INFINITY, f64::min);
    let mut rep = ReassignReport::default();
    let mut fits: Vec<Option<Sphere>> = Vec::new();
    // Particles that gave or took a chunk in the last round (None: all).
    // Only they are refitted, and only they and their neighbours can move
    // anything new: the others would repeat the last round's answer.
    let mut dirty: Option<Vec<bool>> = None;
    for _ in 0..rounds {
        let bbox = crate::separate::bounding_boxes(labels.view());
        let n = bbox.len() - 1;
        fits.resize(n + 1, None);
        let is_dirty = |l: usize| dirty.as_ref().is_none_or(|d| d[l]);
        let live: Vec<usize> = (1..=n).filter(|&l| bbox[l][0] != usize::MAX).collect();
        let refit: Vec<(usize, Option<Sphere>)> = live
            .par_iter()
            .filter(|&&l| is_dirty(l))
            .map(|&l| (l, surface_sphere(labels.view(), l as u32, bbox[l], spacing_um, unit)))
            .collect();
        for (l, s) in refit {
            fits[l] = s;
        }
        rep.fitted = fits.iter().filter(|f| f.is_some()).count() as u32;
        let mut touching: Vec<Vec<u32>> = vec![Vec::new(); n + 1];
        // In ascending order, so ties between spheres go to the smaller label.
        for (a, b) in crate::separate::touching_pairs(labels.view()) {
            touching[a as usize].push(b);
            touching[b as usize].push(a);
        }
        let moves: Vec<(u32, u32, Vec<[usize; 3]>)> = live
            .par_iter()
            .filter(|&&l| fits[l].is_some() && (is_dirty(l) || touching[l].iter().any(|&o| is_dirty(o as usize))))
            .flat_map_iter(|&l| {
                let near: Vec<(u32, Sphere)> =
                    touching[l].iter().filter_map(|&o| fits[o as usize].map(|s| (o, s))).collect();
                chunks_to_move(labels.view(), l as u32, bbox[l], fits[l].unwrap(), &near, spacing_um, unit)
                    .into_iter()
                    .map(move |(to, c)| (l as u32, to, c))
            })
            .collect();
        if moves.is_empty() {
            break;
        }
        let mut d = vec![false; n + 1];
        for (from, to, chunk) in moves {
            rep.chunks += 1;
            rep.voxels += chunk.len() as u64;
            d[from as usize] = true;
            d[to as usize] = true;
            for q in chunk {
                labels[q] = to;
            }
        }
        dirty = Some(d);
    }
    rep
}

/// The sphere fitted to particle `l`'s voxels (inside `b`) that have a
/// face neighbour inside the volume belonging to no particle.
fn surface_sphere(labels: ArrayView3<u32>, l: u32, b: [usize; 6], spacing_um: [f64; 3], unit: f64) -> Option<Sphere> {
    let (nz, ny, nx) = labels.dim();
    let flat = labels.as_slice().expect("standard layout");
    let mut pts = Vec::new();
    for z in b[0]..=b[3] {
        for y in b[1]..=b[4] {
            let o = (z * ny + y) * nx;
            for (x, &v) in flat[o + b[2]..=o + b[5]].iter().enumerate() {
                let x = x + b[2];
                let open = |dz: isize, dy: isize, dx: isize| {
                    let (zz, yy, xx) = (z as isize + dz, y as isize + dy, x as isize + dx);
                    zz >= 0
                        && yy >= 0
                        && xx >= 0
                        && (zz as usize) < nz
                        && (yy as usize) < ny
                        && (xx as usize) < nx
                        && flat[(zz as usize * ny + yy as usize) * nx + xx as usize] == 0
                };
                if v == l
                    && (open(-1, 0, 0)
                        || open(1, 0, 0)
                        || open(0, -1, 0)
                        || open(0, 1, 0)
                        || open(0, 0, -1)
                        || open(0, 0, 1))
                {
                    pts.push([z as f64 * spacing_um[0], y as f64 * spacing_um[1], x as f64 * spacing_um[2]]);
                }
            }
        }
    }
    if pts.len() < MIN_SURFACE {
        return None;
    }
    fit_sphere(&pts, BAND_VOX * unit, MIN_RADIUS_VOX * unit, l as u64)
}

/// The chunks of particle `l` (inside `b`, sphere `own`) to hand to a
/// touching particle of `near` (label and sphere, labels ascending), as
/// (receiving label, voxels).
fn chunks_to_move(
    labels: ArrayView3<u32>,
    l: u32,
    b: [usize; 6],
    own: Sphere,
    near: &[(u32, Sphere)],
    spacing_um: [f64; 3],
    unit: f64,
) -> Vec<(u32, Vec<[usize; 3]>)> {
    if near.is_empty() {
        return Vec::new();
    }
    let dim = labels.dim();
    let bl = labels.slice(s![b[0]..=b[3], b[1]..=b[4], b[2]..=b[5]]);
    // Each voxel's candidate: the index in `near` of the sphere it lies
    // deepest in, when that qualifies.
    let choice = Array3::from_shape_fn(bl.dim(), |(z, y, x)| {
        if bl[[z, y, x]] != l {
            return None;
        }
        let p =
            [(z + b[0]) as f64 * spacing_um[0], (y + b[1]) as f64 * spacing_um[1], (x + b[2]) as f64 * spacing_um[2]];
        if own.distance(p) <= OUT_VOX * unit {
            return None;
        }
        let (k, d) =
            near.iter().enumerate().map(|(k, (_, s))| (k, s.distance(p))).min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        (d < IN_VOX * unit).then_some(k)
    });
    if choice.iter().all(|c| c.is_none()) {
        return Vec::new();
    }
    // Connected chunks; each goes whole to the particle most of its voxels
    // chose (ties to the smaller label), if it touches that particle.
    let (comp, nc) = label(choice.map(|c| c.is_some()).view(), Connectivity::C26);
    let mut chunks: Vec<(Vec<usize>, Vec<[usize; 3]>)> = vec![(vec![0; near.len()], Vec::new()); nc as usize + 1];
    for ((z, y, x), &c) in comp.indexed_iter() {
        if c > 0 {
            let ch = &mut chunks[c as usize];
            ch.0[choice[[z, y, x]].unwrap()] += 1;
            ch.1.push([z + b[0], y + b[1], x + b[2]]);
        }
    }
    let around = Connectivity::C26.all();
    chunks
        .into_iter()
        .skip(1)
        .filter(|(_, vox)| vox.len() >= MIN_CHUNK)
        .filter_map(|(votes, vox)| {
            let k = (0..near.len()).max_by(|&i, &j| votes[i].cmp(&votes[j]).then(j.cmp(&i))).unwrap();
            let to = near[k].0;
            let touches = vox.iter().any(|q| {
                around.iter().any(|&(dz, dy, dx)| {
                    let (zz, yy, xx) = (q[0] as isize + dz, q[1] as isize + dy, q[2] as isize + dx);
                    zz >= 0
                        && yy >= 0
                        && xx >= 0
                        && (zz as usize) < dim.0
                        && (yy as usize) < dim.1
                        && (xx as usize) < dim.2
                        && labels[[zz as usize, yy as usize, xx as usize]] == to
                })
            });
            touches.then_some((to, vox))
        })
        .collect()
}
