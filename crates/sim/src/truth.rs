//! The ground-truth particle table, computed from the label, phase and SoC
//! volumes so that it agrees with them exactly (voxel counts, centroids).

use crate::config::SimConfig;
use crate::electrode::{DamageClass, Electrode, Particle};
use chemomech_core::{Column, Result, Table};
use ndarray::Axis;
use rayon::prelude::*;

/// Sums over one particle's voxels, from which its row follows.
#[derive(Clone, Default)]
struct Acc {
    voxels: u64,
    /// Sums of the voxel indices (z, y, x).
    sum: [u64; 3],
    /// Pore (crack) voxels inside the envelope.
    crack: u64,
    /// Envelope faces towards carbon-binder, pore and other particles.
    faces_cbd: u64,
    faces_pore: u64,
    faces_particle: u64,
    /// The particle reaches the volume's border.
    border: bool,
    /// Sum and count of finite SoC values.
    soc_sum: f64,
    soc_n: u64,
}

impl Acc {
    /// Adds voxel (k, j, i) of particle `l`.
    fn add_voxel(&mut self, el: &Electrode, (k, j, i): (usize, usize, usize), l: usize) {
        let (nz, ny, nx) = el.shape;
        self.voxels += 1;
        self.sum[0] += k as u64;
        self.sum[1] += j as u64;
        self.sum[2] += i as u64;
        if el.phases[[k, j, i]] == 0 {
            self.crack += 1;
        }
        let s = el.soc[[k, j, i]];
        if s.is_finite() {
            self.soc_sum += s as f64;
            self.soc_n += 1;
        }
        if k == 0 || j == 0 || i == 0 || k == nz - 1 || j == ny - 1 || i == nx - 1 {
            self.border = true;
        }
        self.add_faces(el, (k, j, i), l);
    }

    /// Envelope surface: counts the faces of voxel (k, j, i) to voxels outside particle `l`.
    fn add_faces(&mut self, el: &Electrode, (k, j, i): (usize, usize, usize), l: usize) {
        let (nz, ny, nx) = el.shape;
        let nbrs = [
            (k.wrapping_sub(1), j, i),
            (k + 1, j, i),
            (k, j.wrapping_sub(1), i),
            (k, j + 1, i),
            (k, j, i.wrapping_sub(1)),
            (k, j, i + 1),
        ];
        for (kk, jj, ii) in nbrs {
            if kk >= nz || jj >= ny || ii >= nx {
                continue;
            }
            let ol = el.labels[[kk, jj, ii]] as usize;
            if ol == l {
                continue;
            }
            if ol != 0 {
                self.faces_particle += 1;
            } else if el.phases[[kk, jj, ii]] == 1 {
                self.faces_cbd += 1;
            } else {
                self.faces_pore += 1;
            }
        }
    }

    /// Adds another chunk's sums.
    fn merge(&mut self, b: Acc) {
        self.voxels += b.voxels;
        for d in 0..3 {
            self.sum[d] += b.sum[d];
        }
        self.crack += b.crack;
        self.faces_cbd += b.faces_cbd;
        self.faces_pore += b.faces_pore;
        self.faces_particle += b.faces_particle;
        self.border |= b.border;
        self.soc_sum += b.soc_sum;
        self.soc_n += b.soc_n;
    }

    /// Share of the envelope voxels that are pore (cracks).
    fn crack_fraction(&self) -> f64 {
        self.crack as f64 / self.voxels as f64
    }

    /// Number of envelope faces (at least 1, as a divisor).
    fn faces(&self) -> f64 {
        (self.faces_cbd + self.faces_pore + self.faces_particle).max(1) as f64
    }
}

/// Slices per reduction chunk: fixed, so sums do not depend on thread count.
const CHUNK: usize = 4;

/// One row per particle present in the volume.
pub fn particle_table(el: &Electrode, cfg: &SimConfig) -> Result<Table> {
    let acc = accumulate(el);
    let mut rows: Vec<(&Particle, &Acc)> =
        el.particles.iter().map(|p| (p, &acc[p.id as usize])).filter(|(_, a)| a.voxels > 0).collect();
    rows.sort_by_key(|(p, _)| p.id);
    build_table(&rows, el.voxel_um, cfg)
}

/// Per-label sums over the volume, in chunks of [`CHUNK`] slices merged in order.
fn accumulate(el: &Electrode) -> Vec<Acc> {
    let (nz, ny, nx) = el.shape;
    let nlab = el.particles.iter().map(|p| p.id).max().unwrap_or(0) as usize + 1;
    let chunks: Vec<Vec<Acc>> = (0..nz.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut acc = vec![Acc::default(); nlab];
            for k in c * CHUNK..((c + 1) * CHUNK).min(nz) {
                let lab = el.labels.index_axis(Axis(0), k);
                for j in 0..ny {
                    for i in 0..nx {
                        let l = lab[[j, i]] as usize;
                        if l != 0 {
                            acc[l].add_voxel(el, (k, j, i), l);
                        }
                    }
                }
            }
            acc
        })
        .collect();
    let mut acc = vec![Acc::default(); nlab];
    for ch in chunks {
        for (a, b) in acc.iter_mut().zip(ch) {
            a.merge(b);
        }
    }
    acc
}

/// The truth table of the particles' rows.
fn build_table(rows: &[(&Particle, &Acc)], v: f64, cfg: &SimConfig) -> Result<Table> {
    let d = &cfg.damage;
    let col_f = |f: &dyn Fn(&Particle, &Acc) -> f64| Column::F64(rows.iter().map(|(p, a)| f(p, a)).collect());
    let mut t = Table::default();
    t.push("id", Column::U64(rows.iter().map(|(p, _)| p.id as u64).collect()), None)?;
    t.push("voxels", Column::U64(rows.iter().map(|(_, a)| a.voxels).collect()), None)?;
    for (axis, name) in ["centroid_z_um", "centroid_y_um", "centroid_x_um"].iter().enumerate() {
        t.push(name, col_f(&|_, a| (a.sum[axis] as f64 / a.voxels as f64 + 0.5) * v), Some("µm"))?;
    }
    t.push("radius_um", col_f(&|p, _| p.radius_um), Some("µm"))?;
    t.push("volume_um3", col_f(&|_, a| a.voxels as f64 * v * v * v), Some("µm³"))?;
    t.push("esd_um", col_f(&|_, a| (6.0 * a.voxels as f64 * v * v * v / std::f64::consts::PI).cbrt()), Some("µm"))?;
    t.push("crack_fraction", col_f(&|_, a| a.crack_fraction()), None)?;
    t.push(
        "damage_class",
        Column::Str(
            rows.iter()
                .map(|(_, a)| {
                    DamageClass::of(a.crack_fraction(), d.mild_threshold, d.severe_threshold).name().to_string()
                })
                .collect(),
        ),
        None,
    )?;
    t.push("cbd_contact_fraction", col_f(&|_, a| a.faces_cbd as f64 / a.faces()), None)?;
    t.push("pore_contact_fraction", col_f(&|_, a| a.faces_pore as f64 / a.faces()), None)?;
    t.push("particle_contact_fraction", col_f(&|_, a| a.faces_particle as f64 / a.faces()), None)?;
    t.push("mean_soc", col_f(&|_, a| if a.soc_n > 0 { a.soc_sum / a.soc_n as f64 } else { f64::NAN }), None)?;
    t.push("touches_border", Column::Bool(rows.iter().map(|(_, a)| a.border).collect()), None)?;
    t.push("detached", Column::Bool(rows.iter().map(|(p, _)| p.gap.is_some()).collect()), None)?;
    t.push("target_class", Column::Str(rows.iter().map(|(p, _)| p.target_class.name().to_string()).collect()), None)?;
    t.push("target_crack_fraction", col_f(&|p, _| p.target_crack_fraction), None)?;
    t.push("n_cracks", Column::U64(rows.iter().map(|(p, _)| p.cracks.len() as u64).collect()), None)?;
    Ok(t)
}

/// Share of voxels in [`sparse_annotations`] written beside the truth.
pub const ANNOTATED_FRACTION: f64 = 0.003;

/// Sparse training labels for the trainable voxel classifier, drawn from the
/// true phases as an annotator would give them: `fraction` of the voxels,
/// picked at random, labelled 1 pore, 2 carbon-binder, 3 active; 0 elsewhere
/// (unlabelled). An annotator's brush strokes are clustered and avoid
/// ambiguous edges; these voxels are spread evenly and include edges (see
/// [`scribble_annotations`] for strokes).
/// Same seed, same voxels, whatever the thread count.
///
/// ```
/// use ndarray::Array3;
/// let phases = Array3::<u8>::from_elem((20, 20, 20), 1);
/// let a = chemomech_sim::truth::sparse_annotations(phases.view(), 0.01, 7);
/// let n = a.iter().filter(|&&v| v == 2).count();
/// assert!(n > 40 && n < 120 && a.iter().all(|&v| v == 0 || v == 2));
/// ```
pub fn sparse_annotations(phases: ndarray::ArrayView3<u8>, fraction: f64, seed: u64) -> ndarray::Array3<u8> {
    use crate::rng::{Stream, uniform};
    let mut out = ndarray::Array3::<u8>::zeros(phases.raw_dim());
    let ny_nx = phases.dim().1 * phases.dim().2;
    out.axis_iter_mut(Axis(0)).into_par_iter().zip(phases.axis_iter(Axis(0))).enumerate().for_each(
        |(z, (mut o, p))| {
            for ((i, v), &ph) in o.iter_mut().enumerate().zip(p.iter()) {
                if uniform(seed, Stream::Annotations, (z * ny_nx + i) as u64) < fraction {
                    *v = ph.min(2) + 1;
                }
            }
        },
    );
    out
}

/// Brush strokes in [`scribble_annotations`] written beside the truth: on
/// this many z-planes, …
pub const SCRIBBLE_PLANES: usize = 5;
/// … this many strokes per phase and plane, …
pub const SCRIBBLE_STROKES: usize = 4;
/// … each a walk of up to this many voxels.
pub const SCRIBBLE_LENGTH: usize = 30;

/// Training labels as an annotator paints them in ilastik: brush strokes on
/// a few z-planes, in the middle of each phase, nowhere near its edges.
/// On `planes` planes spread evenly through the volume, `strokes` strokes
/// per phase and plane, each a walk of up to `length` voxels that mostly
/// keeps its direction and stays in the phase's interior (voxels whose
/// in-plane 3×3 neighbourhood is all that phase), painted with a 3×3 brush
/// clipped to that interior. Labels as [`sparse_annotations`]: 1 pore,
/// 2 carbon-binder, 3 active, 0 unlabelled. A phase with no interior in a
/// plane gets no stroke there. The annotated voxels cluster in a few planes
/// and miss every interface, so a classifier trained on them must
/// generalise where [`sparse_annotations`]' evenly spread voxels need not.
/// Same seed, same strokes, whatever the thread count.
///
/// ```
/// use ndarray::Array3;
/// // Pore below y = 10, active above.
/// let phases = Array3::from_shape_fn((10, 20, 20), |(_, y, _)| if y < 10 { 0u8 } else { 2 });
/// let a = chemomech_sim::truth::scribble_annotations(phases.view(), 2, 3, 15, 7);
/// let painted: Vec<(usize, usize, u8)> = a.indexed_iter().filter(|&(_, &v)| v > 0).map(|((z, y, _), &v)| (z, y, v)).collect();
/// // Two planes, both phases, never on the interface rows y = 9 and 10.
/// assert!(painted.iter().all(|&(z, y, v)| (z == 2 || z == 7) && y != 9 && y != 10 && v == if y < 10 { 1 } else { 3 }));
/// assert!(painted.iter().any(|&(_, _, v)| v == 1) && painted.iter().any(|&(_, _, v)| v == 3));
/// ```
pub fn scribble_annotations(
    phases: ndarray::ArrayView3<u8>,
    planes: usize,
    strokes: usize,
    length: usize,
    seed: u64,
) -> ndarray::Array3<u8> {
    // In the interior of its phase, with a 3×3 brush.
    let (_, ny, nx) = phases.dim();
    let inside = |z: usize, y: usize, x: usize| {
        let c = phases[[z, y, x]];
        y > 0
            && x > 0
            && y + 1 < ny
            && x + 1 < nx
            && (y - 1..=y + 1).all(|yy| (x - 1..=x + 1).all(|xx| phases[[z, yy, xx]] == c))
    };
    strokes_on_planes(phases, planes, strokes, length, seed, 0, 1, &inside)
}

/// The strokes an annotator adds after looking at a prediction, as in
/// ilastik's live update: on the planes of [`scribble_annotations`],
/// `strokes` strokes per true phase and plane, each a walk of up to
/// `length` voxels along the voxels `predicted` gets wrong, painted with a
/// 1-voxel brush (thin cracks and edges, which the first strokes avoid).
/// `round` (1, 2, …) draws each round's strokes afresh. Codes as
/// [`sparse_annotations`].
///
/// ```
/// use ndarray::Array3;
/// let truth = Array3::from_shape_fn((10, 20, 20), |(_, y, _)| if y < 10 { 0u8 } else { 2 });
/// // The prediction puts the interface two rows too low.
/// let predicted = Array3::from_shape_fn((10, 20, 20), |(_, y, _)| if y < 12 { 0u8 } else { 2 });
/// let a = chemomech_sim::truth::correction_strokes(truth.view(), predicted.view(), 2, 3, 15, 7, 1).unwrap();
/// assert!(a.indexed_iter().all(|((_, y, _), &v)| v == 0 || (v == 3 && (10..12).contains(&y))));
/// assert!(a.iter().any(|&v| v == 3));
/// ```
pub fn correction_strokes(
    phases: ndarray::ArrayView3<u8>,
    predicted: ndarray::ArrayView3<u8>,
    planes: usize,
    strokes: usize,
    length: usize,
    seed: u64,
    round: u32,
) -> Result<ndarray::Array3<u8>> {
    if phases.dim() != predicted.dim() {
        return Err(chemomech_core::Error::param(format!(
            "prediction shape {:?} differs from the phases' {:?}",
            predicted.dim(),
            phases.dim()
        )));
    }
    Ok(strokes_on_planes(phases, planes, strokes, length, seed, round.max(1), 0, &|z, y, x| {
        phases[[z, y, x]].min(2) != predicted[[z, y, x]].min(2)
    }))
}

/// Strokes on `planes` evenly spread z-planes: per phase and plane,
/// `strokes` walks of up to `length` voxels from random voxels where
/// `ok`, mostly straight on, stopping where the next voxel is not `ok` or
/// of another phase; each step paints the voxels within `brush` (0: the
/// voxel, 1: 3×3) that are `ok` and of the walk's phase. `round` keys the
/// random stream, so later rounds draw afresh.
#[allow(clippy::too_many_arguments)]
fn strokes_on_planes(
    phases: ndarray::ArrayView3<u8>,
    planes: usize,
    strokes: usize,
    length: usize,
    seed: u64,
    round: u32,
    brush: usize,
    ok: &(dyn Fn(usize, usize, usize) -> bool + Sync),
) -> ndarray::Array3<u8> {
    use crate::rng::{Stream, rng};
    use rand::Rng;
    let (nz, ny, nx) = phases.dim();
    let mut out = ndarray::Array3::<u8>::zeros(phases.raw_dim());
    if nz == 0 || ny < 3 || nx < 3 {
        return out;
    }
    let planes = planes.min(nz);
    // Evenly spread, centred: plane k at (k + ½)·nz / planes.
    let zs: Vec<usize> = (0..planes).map(|k| ((2 * k + 1) * nz) / (2 * planes)).collect();
    // The eight in-plane directions in turning order, so ±1 is a 45° turn.
    const DIRS: [(isize, isize); 8] = [(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1)];
    let painted: Vec<(usize, ndarray::Array2<u8>)> = zs
        .par_iter()
        .map(|&z| {
            let ph = phases.index_axis(Axis(0), z);
            let mut g = rng(seed, Stream::Scribbles, ((round as u64) << 32) | z as u64);
            let mut plane = ndarray::Array2::<u8>::zeros((ny, nx));
            let good = |y: usize, x: usize, class: u8| ph[[y, x]].min(2) == class && ok(z, y, x);
            for class in 0..3u8 {
                let starts: Vec<(usize, usize)> =
                    ph.indexed_iter().filter(|&((y, x), _)| good(y, x, class)).map(|(i, _)| i).collect();
                if starts.is_empty() {
                    continue;
                }
                for _ in 0..strokes {
                    let (mut y, mut x) = starts[g.random_range(0..starts.len())];
                    let mut dir = g.random_range(0..8usize);
                    for _ in 0..length {
                        for yy in y.saturating_sub(brush)..=(y + brush).min(ny - 1) {
                            for xx in x.saturating_sub(brush)..=(x + brush).min(nx - 1) {
                                if good(yy, xx, class) {
                                    plane[[yy, xx]] = class + 1;
                                }
                            }
                        }
                        // Mostly straight on, a 45° turn one step in four;
                        // where that leaves the voxels to paint, the
                        // smallest turn (≤ 90°) that follows them.
                        dir = match g.random_range(0..8u8) {
                            0 => (dir + 1) % 8,
                            1 => (dir + 7) % 8,
                            _ => dir,
                        };
                        let step = |d: usize| {
                            let (dy, dx) = DIRS[d];
                            let (y2, x2) = (y as isize + dy, x as isize + dx);
                            (y2 >= 0
                                && x2 >= 0
                                && (y2 as usize) < ny
                                && (x2 as usize) < nx
                                && good(y2 as usize, x2 as usize, class))
                            .then_some((d, y2 as usize, x2 as usize))
                        };
                        match [dir, (dir + 1) % 8, (dir + 7) % 8, (dir + 2) % 8, (dir + 6) % 8]
                            .into_iter()
                            .find_map(step)
                        {
                            Some((d, y2, x2)) => (dir, y, x) = (d, y2, x2),
                            None => break,
                        }
                    }
                }
            }
            (z, plane)
        })
        .collect();
    for (z, plane) in painted {
        out.index_axis_mut(Axis(0), z).assign(&plane);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn strokes_do_not_depend_on_the_thread_count_and_miss_every_interface() {
        // Three phases in stepped bands along x.
        let phases = ndarray::Array3::from_shape_fn((12, 40, 60), |(_, y, x)| match (x + y / 8) % 20 {
            0..=7 => 0u8,
            8..=12 => 1,
            _ => 2,
        });
        let with = |n: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
                .install(|| scribble_annotations(phases.view(), 4, 3, 25, 5))
        };
        let a = with(1);
        assert_eq!(a, with(3));
        assert_ne!(a, scribble_annotations(phases.view(), 4, 3, 25, 6));
        for code in 1..=3u8 {
            assert!(a.iter().any(|&v| v == code), "phase {} has strokes", code - 1);
        }
        // Every painted voxel lies inside its phase, its 3×3 in-plane neighbourhood all that phase.
        for ((z, y, x), &v) in a.indexed_iter() {
            if v > 0 {
                assert!((y - 1..=y + 1).all(|yy| (x - 1..=x + 1).all(|xx| phases[[z, yy, xx]] + 1 == v)));
            }
        }
        // Corrections paint only wrong voxels, with their true phase.
        let predicted = phases.mapv(|p| if p == 1 { 0 } else { p });
        let c = correction_strokes(phases.view(), predicted.view(), 4, 3, 25, 5, 1).unwrap();
        assert!(c.iter().any(|&v| v == 2));
        assert!(c.iter().zip(phases.iter()).all(|(&v, &p)| v == 0 || (v == 2 && p == 1)));
        assert_ne!(c, correction_strokes(phases.view(), predicted.view(), 4, 3, 25, 5, 2).unwrap());
        assert!(correction_strokes(phases.view(), predicted.slice(ndarray::s![.., .., 1..]), 4, 3, 25, 5, 1).is_err());
    }
}
