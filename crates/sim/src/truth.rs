//! The ground-truth particle table, computed from the label, phase and SoC
//! volumes so that it agrees with them exactly (voxel counts, centroids).

use crate::config::SimConfig;
use crate::electrode::{DamageClass, Electrode};
use chemomech_core::{Column, Result, Table};
use ndarray::Axis;
use rayon::prelude::*;

#[derive(Clone, Default)]
struct Acc {
    voxels: u64,
    sum: [u64; 3],
    crack: u64,
    faces_cbd: u64,
    faces_pore: u64,
    faces_particle: u64,
    border: bool,
    soc_sum: f64,
    soc_n: u64,
}

/// Slices per reduction chunk: fixed, so sums do not depend on thread count.
const CHUNK: usize = 4;

/// One row per particle present in the volume.
pub fn particle_table(el: &Electrode, cfg: &SimConfig) -> Result<Table> {
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
                        if l == 0 {
                            continue;
                        }
                        let a = &mut acc[l];
                        a.voxels += 1;
                        a.sum[0] += k as u64;
                        a.sum[1] += j as u64;
                        a.sum[2] += i as u64;
                        if el.phases[[k, j, i]] == 0 {
                            a.crack += 1;
                        }
                        let s = el.soc[[k, j, i]];
                        if s.is_finite() {
                            a.soc_sum += s as f64;
                            a.soc_n += 1;
                        }
                        if k == 0 || j == 0 || i == 0 || k == nz - 1 || j == ny - 1 || i == nx - 1 {
                            a.border = true;
                        }
                        // Envelope surface: faces to voxels outside this particle.
                        let nbrs = [(k.wrapping_sub(1), j, i), (k + 1, j, i), (k, j.wrapping_sub(1), i), (k, j + 1, i), (k, j, i.wrapping_sub(1)), (k, j, i + 1)];
                        for (kk, jj, ii) in nbrs {
                            if kk >= nz || jj >= ny || ii >= nx {
                                continue;
                            }
                            let ol = el.labels[[kk, jj, ii]] as usize;
                            if ol == l {
                                continue;
                            }
                            if ol != 0 {
                                a.faces_particle += 1;
                            } else if el.phases[[kk, jj, ii]] == 1 {
                                a.faces_cbd += 1;
                            } else {
                                a.faces_pore += 1;
                            }
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
            a.voxels += b.voxels;
            for d in 0..3 {
                a.sum[d] += b.sum[d];
            }
            a.crack += b.crack;
            a.faces_cbd += b.faces_cbd;
            a.faces_pore += b.faces_pore;
            a.faces_particle += b.faces_particle;
            a.border |= b.border;
            a.soc_sum += b.soc_sum;
            a.soc_n += b.soc_n;
        }
    }
    let v = el.voxel_um;
    let d = &cfg.damage;
    let mut rows: Vec<(&crate::electrode::Particle, &Acc)> = el.particles.iter().map(|p| (p, &acc[p.id as usize])).filter(|(_, a)| a.voxels > 0).collect();
    rows.sort_by_key(|(p, _)| p.id);
    let col_f = |f: &dyn Fn(&crate::electrode::Particle, &Acc) -> f64| Column::F64(rows.iter().map(|(p, a)| f(p, a)).collect());
    let mut t = Table::default();
    t.push("id", Column::U64(rows.iter().map(|(p, _)| p.id as u64).collect()), None)?;
    t.push("voxels", Column::U64(rows.iter().map(|(_, a)| a.voxels).collect()), None)?;
    for (axis, name) in ["centroid_z_um", "centroid_y_um", "centroid_x_um"].iter().enumerate() {
        t.push(name, col_f(&|_, a| (a.sum[axis] as f64 / a.voxels as f64 + 0.5) * v), Some("µm"))?;
    }
    t.push("radius_um", col_f(&|p, _| p.radius_um), Some("µm"))?;
    t.push("volume_um3", col_f(&|_, a| a.voxels as f64 * v * v * v), Some("µm³"))?;
    t.push("esd_um", col_f(&|_, a| (6.0 * a.voxels as f64 * v * v * v / std::f64::consts::PI).cbrt()), Some("µm"))?;
    let cf = |a: &Acc| a.crack as f64 / a.voxels as f64;
    t.push("crack_fraction", col_f(&|_, a| cf(a)), None)?;
    t.push("damage_class", Column::Str(rows.iter().map(|(_, a)| DamageClass::of(cf(a), d.mild_threshold, d.severe_threshold).name().to_string()).collect()), None)?;
    let faces = |a: &Acc| (a.faces_cbd + a.faces_pore + a.faces_particle).max(1) as f64;
    t.push("cbd_contact_fraction", col_f(&|_, a| a.faces_cbd as f64 / faces(a)), None)?;
    t.push("pore_contact_fraction", col_f(&|_, a| a.faces_pore as f64 / faces(a)), None)?;
    t.push("particle_contact_fraction", col_f(&|_, a| a.faces_particle as f64 / faces(a)), None)?;
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
/// ambiguous edges; these voxels are spread evenly and include edges.
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
    use crate::rng::{uniform, Stream};
    let mut out = ndarray::Array3::<u8>::zeros(phases.raw_dim());
    let ny_nx = phases.dim().1 * phases.dim().2;
    out.axis_iter_mut(Axis(0)).into_par_iter().zip(phases.axis_iter(Axis(0))).enumerate().for_each(|(z, (mut o, p))| {
        for ((i, v), &ph) in o.iter_mut().enumerate().zip(p.iter()) {
            if uniform(seed, Stream::Annotations, (z * ny_nx + i) as u64) < fraction {
                *v = ph.min(2) + 1;
            }
        }
    });
    out
}
