//! Phase-level statistics: volume fractions, specific surface areas and
//! interface areas (Crofton over 13 directions), and representativeness of
//! sub-volumes (two-sample KS tests of particle size and spacing).

use crate::network::nearest_distances;
use crate::tests::ks_2samp;
use chemomech_core::{Result, Table};
use chemomech_imgproc::crofton::{DIRECTIONS, crofton_weights};
use ndarray::ArrayView3;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Volume fraction of each phase code present.
pub fn volume_fractions(phases: ArrayView3<u8>) -> BTreeMap<u8, f64> {
    let mut c = [0u64; 256];
    for &p in phases.iter() {
        c[p as usize] += 1;
    }
    let n = phases.len() as f64;
    c.iter().enumerate().filter(|(_, k)| **k > 0).map(|(p, k)| (p as u8, *k as f64 / n)).collect()
}

/// Interface areas (µm²) between each pair of phase codes (a < b), and each
/// phase's total surface, by the Crofton formula.
pub fn interface_areas(phases: ArrayView3<u8>, spacing_um: [f64; 3]) -> BTreeMap<(u8, u8), f64> {
    let (nz, ny, nx) = phases.dim();
    let w = crofton_weights(spacing_um);
    let vox = spacing_um.iter().product::<f64>();
    let counts: Vec<BTreeMap<(u8, u8), [u64; 13]>> = (0..nz)
        .into_par_iter()
        .map(|z| {
            let mut m: BTreeMap<(u8, u8), [u64; 13]> = BTreeMap::new();
            for y in 0..ny {
                for x in 0..nx {
                    let a = phases[[z, y, x]];
                    for (k, &(dz, dy, dx)) in DIRECTIONS.iter().enumerate() {
                        let (zz, yy, xx) = (z as isize + dz, y as isize + dy, x as isize + dx);
                        if zz < 0 || yy < 0 || xx < 0 || zz as usize >= nz || yy as usize >= ny || xx as usize >= nx {
                            continue;
                        }
                        let b = phases[[zz as usize, yy as usize, xx as usize]];
                        if a != b {
                            m.entry((a.min(b), a.max(b))).or_insert([0; 13])[k] += 1;
                        }
                    }
                }
            }
            m
        })
        .collect();
    let mut total: BTreeMap<(u8, u8), [u64; 13]> = BTreeMap::new();
    for c in counts {
        for (k, v) in c {
            let e = total.entry(k).or_insert([0; 13]);
            for i in 0..13 {
                e[i] += v[i];
            }
        }
    }
    total
        .into_iter()
        .map(|(k, t)| {
            let s: f64 = (0..13)
                .map(|i| {
                    let (a, b, c) = DIRECTIONS[i];
                    let d = ((a as f64 * spacing_um[0]).powi(2)
                        + (b as f64 * spacing_um[1]).powi(2)
                        + (c as f64 * spacing_um[2]).powi(2))
                    .sqrt();
                    w[i] * t[i] as f64 * vox / d
                })
                .sum();
            (k, 2.0 * s)
        })
        .collect()
}

/// Representativeness of a centred sub-volume (lateral fraction `f` of the
/// extent along y and x, full depth): KS tests of particle volume, ESD and
/// nearest-neighbour distance, sub-volume vs the whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RveTest {
    /// Lateral fraction `f` of the sub-volume along y and x.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub lateral_fraction: f64,
    /// Particles whose centroid lies in the sub-volume.
    pub particles_inside: usize,
    /// (KS D, p-value) per quantity.
    #[serde(deserialize_with = "chemomech_core::nan::pair")]
    pub volume: (f64, f64),
    /// (KS D, p-value) for the equivalent spherical diameter.
    #[serde(deserialize_with = "chemomech_core::nan::pair")]
    pub esd: (f64, f64),
    /// (KS D, p-value) for the nearest-neighbour distance.
    #[serde(deserialize_with = "chemomech_core::nan::pair")]
    pub nearest: (f64, f64),
    /// All p-values above 0.05.
    pub representative: bool,
}

/// RVE tests for several lateral fractions.
pub fn rve_scan(t: &Table, extent_y_um: f64, extent_x_um: f64, fractions: &[f64]) -> Result<Vec<RveTest>> {
    let y = t.f64("centroid_y_um")?;
    let x = t.f64("centroid_x_um")?;
    let z = t.f64("centroid_z_um")?;
    let v = t.f64("volume_um3")?;
    let e = t.f64("esd_um")?;
    let pts: Vec<[f64; 3]> = (0..y.len()).map(|i| [z[i], y[i], x[i]]).collect();
    let nn = nearest_distances(&pts);
    Ok(fractions
        .iter()
        .map(|&f| {
            let (hy, hx) = (extent_y_um * f / 2.0, extent_x_um * f / 2.0);
            let inside: Vec<usize> = (0..y.len())
                .filter(|&i| (y[i] - extent_y_um / 2.0).abs() <= hy && (x[i] - extent_x_um / 2.0).abs() <= hx)
                .collect();
            let pick = |a: &[f64]| inside.iter().map(|&i| a[i]).collect::<Vec<_>>();
            let (a, b, c) = (ks_2samp(&pick(&v), &v), ks_2samp(&pick(&e), &e), ks_2samp(&pick(&nn), &nn));
            RveTest {
                lateral_fraction: f,
                particles_inside: inside.len(),
                volume: a,
                esd: b,
                nearest: c,
                representative: a.1 > 0.05 && b.1 > 0.05 && c.1 > 0.05,
            }
        })
        .collect())
}

/// Voxel faces of phase `a` shared with each other phase code (counts), the
/// "contact" statistic of voxel-based studies.
pub fn phase_face_counts(phases: ArrayView3<u8>, a: u8) -> BTreeMap<u8, u64> {
    let (nz, ny, nx) = phases.dim();
    let parts: Vec<[u64; 256]> = (0..nz)
        .into_par_iter()
        .map(|z| {
            let mut c = [0u64; 256];
            for y in 0..ny {
                for x in 0..nx {
                    if phases[[z, y, x]] != a {
                        continue;
                    }
                    for (dz, dy, dx) in
                        [(-1isize, 0isize, 0isize), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)]
                    {
                        let (zz, yy, xx) = (z as isize + dz, y as isize + dy, x as isize + dx);
                        if zz < 0 || yy < 0 || xx < 0 || zz as usize >= nz || yy as usize >= ny || xx as usize >= nx {
                            continue;
                        }
                        let b = phases[[zz as usize, yy as usize, xx as usize]];
                        if b != a {
                            c[b as usize] += 1;
                        }
                    }
                }
            }
            c
        })
        .collect();
    let mut out = BTreeMap::new();
    for p in parts {
        for (b, &k) in p.iter().enumerate() {
            if k > 0 {
                *out.entry(b as u8).or_insert(0) += k;
            }
        }
    }
    out
}
