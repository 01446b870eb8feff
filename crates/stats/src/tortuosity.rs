//! Tortuosity factor of a phase by steady-state diffusion (as TauFactor):
//! concentration 1 on the inlet face and 0 on the outlet face (both half a
//! voxel beyond the first and last slices), no flux through the other faces,
//! unit diffusivity in the phase and none elsewhere. Finite volumes on the
//! voxel grid (anisotropic spacing), solved by Jacobi-preconditioned
//! conjugate gradients on the percolating voxels only.
//! τ = ε · D / D_eff with ε the phase's volume fraction.

use chemomech_core::{Error, Result};
use chemomech_particles::label::{label, Connectivity};
use ndarray::ArrayView3;
use rayon::prelude::*;
use serde::Serialize;

/// Result of a tortuosity computation.
#[derive(Debug, Clone, Serialize)]
pub struct Tortuosity {
    pub tau: f64,
    /// Volume fraction of the phase.
    pub volume_fraction: f64,
    /// Relative effective diffusivity D_eff/D.
    pub effective_diffusivity: f64,
    /// Fraction of the phase that connects inlet to outlet.
    pub percolating_fraction: f64,
    pub iterations: usize,
    pub relative_residual: f64,
    /// Flux in and flux out (their agreement checks convergence).
    pub flux_in: f64,
    pub flux_out: f64,
}

/// Tortuosity factor of `phase` (true voxels conduct) along `axis` (0 = z).
pub fn tortuosity(phase: ArrayView3<bool>, spacing: [f64; 3], axis: usize, rtol: f64, max_iter: usize) -> Result<Tortuosity> {
    if axis > 2 {
        return Err(Error::param("axis must be 0 (z), 1 (y) or 2 (x)"));
    }
    // Work with the transport axis first.
    let p = phase.permuted_axes(match axis {
        0 => [0, 1, 2],
        1 => [1, 0, 2],
        _ => [2, 1, 0],
    });
    let sp = match axis {
        0 => spacing,
        1 => [spacing[1], spacing[0], spacing[2]],
        _ => [spacing[2], spacing[1], spacing[0]],
    };
    let (nz, ny, nx) = p.dim();
    let total = p.iter().filter(|&&b| b).count();
    let eps = total as f64 / (nz * ny * nx) as f64;
    if total == 0 {
        return Err(Error::data("the phase is empty: tortuosity undefined"));
    }
    // Percolating voxels: 6-connected components touching both faces.
    let (lab, n) = label(p, Connectivity::C6);
    let mut at_in = vec![false; n as usize + 1];
    let mut at_out = vec![false; n as usize + 1];
    for y in 0..ny {
        for x in 0..nx {
            at_in[lab[[0, y, x]] as usize] = true;
            at_out[lab[[nz - 1, y, x]] as usize] = true;
        }
    }
    let keep: Vec<bool> = (0..=n as usize).map(|l| l > 0 && at_in[l] && at_out[l]).collect();
    let mut index = vec![u32::MAX; nz * ny * nx];
    let mut cells: Vec<(usize, usize, usize)> = Vec::new();
    for ((z, y, x), &l) in lab.indexed_iter() {
        if keep[l as usize] {
            index[(z * ny + y) * nx + x] = cells.len() as u32;
            cells.push((z, y, x));
        }
    }
    let m = cells.len();
    if m == 0 {
        return Ok(Tortuosity { tau: f64::INFINITY, volume_fraction: eps, effective_diffusivity: 0.0, percolating_fraction: 0.0, iterations: 0, relative_residual: 0.0, flux_in: 0.0, flux_out: 0.0 });
    }
    // Conductances: face area / centre distance; to a Dirichlet face: area / (d/2).
    let g = [sp[1] * sp[2] / sp[0], sp[0] * sp[2] / sp[1], sp[0] * sp[1] / sp[2]];
    let gb = 2.0 * g[0];
    let nbr: Vec<[u32; 6]> = cells
        .par_iter()
        .map(|&(z, y, x)| {
            let at = |zz: isize, yy: isize, xx: isize| -> u32 {
                if zz < 0 || yy < 0 || xx < 0 || zz as usize >= nz || yy as usize >= ny || xx as usize >= nx {
                    u32::MAX
                } else {
                    index[(zz as usize * ny + yy as usize) * nx + xx as usize]
                }
            };
            let (z, y, x) = (z as isize, y as isize, x as isize);
            [at(z - 1, y, x), at(z + 1, y, x), at(z, y - 1, x), at(z, y + 1, x), at(z, y, x - 1), at(z, y, x + 1)]
        })
        .collect();
    let diag: Vec<f64> = cells
        .par_iter()
        .zip(nbr.par_iter())
        .map(|(&(z, _, _), nb)| {
            let mut d = 0.0;
            for (k, &j) in nb.iter().enumerate() {
                if j != u32::MAX {
                    d += g[k / 2];
                }
            }
            if z == 0 {
                d += gb;
            }
            if z == nz - 1 {
                d += gb;
            }
            d
        })
        .collect();
    let b: Vec<f64> = cells.iter().map(|&(z, _, _)| if z == 0 { gb } else { 0.0 }).collect();
    // Line-Jacobi preconditioner: each contiguous run of conducting voxels
    // along the transport axis is solved exactly (Thomas algorithm); the
    // couplings along that axis carry most of the problem's stiffness.
    let lines = build_lines(&cells, &nbr, &diag, g[0]);
    let apply = |v: &[f64], out: &mut [f64]| {
        out.par_iter_mut().enumerate().for_each(|(i, o)| {
            let mut s = diag[i] * v[i];
            for (k, &j) in nbr[i].iter().enumerate() {
                if j != u32::MAX {
                    s -= g[k / 2] * v[j as usize];
                }
            }
            *o = s;
        });
    };
    let dot = |a: &[f64], c: &[f64]| -> f64 { a.par_chunks(1 << 16).zip(c.par_chunks(1 << 16)).map(|(x, y)| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>()).sum() };
    // Initial guess: the linear profile.
    let mut x: Vec<f64> = cells.iter().map(|&(z, _, _)| 1.0 - (z as f64 + 0.5) / nz as f64).collect();
    let mut r = vec![0.0; m];
    apply(&x, &mut r);
    r.par_iter_mut().zip(b.par_iter()).for_each(|(ri, bi)| *ri = bi - *ri);
    let bnorm = dot(&b, &b).sqrt().max(1e-300);
    let mut zv = vec![0.0; m];
    lines.apply(&r, &mut zv);
    let mut pv = zv.clone();
    let mut rz = dot(&r, &zv);
    let mut ap = vec![0.0; m];
    let mut it = 0;
    let mut rel = dot(&r, &r).sqrt() / bnorm;
    while it < max_iter && rel > rtol {
        apply(&pv, &mut ap);
        let alpha = rz / dot(&pv, &ap);
        x.par_iter_mut().zip(pv.par_iter()).for_each(|(xi, pi)| *xi += alpha * pi);
        r.par_iter_mut().zip(ap.par_iter()).for_each(|(ri, ai)| *ri -= alpha * ai);
        lines.apply(&r, &mut zv);
        let rz2 = dot(&r, &zv);
        let beta = rz2 / rz;
        rz = rz2;
        pv.par_iter_mut().zip(zv.par_iter()).for_each(|(pi, zi)| *pi = zi + beta * *pi);
        it += 1;
        if it % 10 == 0 || it < 10 {
            rel = dot(&r, &r).sqrt() / bnorm;
        }
    }
    rel = dot(&r, &r).sqrt() / bnorm;
    let (mut fin, mut fout) = (0.0, 0.0);
    for (i, &(z, _, _)) in cells.iter().enumerate() {
        if z == 0 {
            fin += gb * (1.0 - x[i]);
        }
        if z == nz - 1 {
            fout += gb * x[i];
        }
    }
    let flux = 0.5 * (fin + fout);
    let area = ny as f64 * sp[1] * nx as f64 * sp[2];
    let length = nz as f64 * sp[0];
    let deff = flux * length / area;
    Ok(Tortuosity {
        tau: eps / deff,
        volume_fraction: eps,
        effective_diffusivity: deff,
        percolating_fraction: m as f64 / total as f64,
        iterations: it,
        relative_residual: rel,
        flux_in: fin,
        flux_out: fout,
    })
}

/// Tridiagonal blocks along the transport axis, factorised once.
struct Lines {
    /// Unknown indices of each run, in order along the axis.
    runs: Vec<Vec<u32>>,
    /// Thomas factors per run: modified super-diagonal c′ and 1/denominator.
    cprime: Vec<Vec<f64>>,
    inv_den: Vec<Vec<f64>>,
    off: f64,
}

fn build_lines(cells: &[(usize, usize, usize)], nbr: &[[u32; 6]], diag: &[f64], gz: f64) -> Lines {
    // A run starts where there is no conducting neighbour below.
    let mut runs = Vec::new();
    for i in 0..cells.len() {
        if nbr[i][0] != u32::MAX {
            continue;
        }
        let mut run = vec![i as u32];
        let mut k = i;
        while nbr[k][1] != u32::MAX {
            k = nbr[k][1] as usize;
            run.push(k as u32);
        }
        runs.push(run);
    }
    let off = -gz;
    let (cprime, inv_den): (Vec<Vec<f64>>, Vec<Vec<f64>>) = runs
        .par_iter()
        .map(|run| {
            let n = run.len();
            let mut cp = vec![0.0; n];
            let mut inv = vec![0.0; n];
            let mut prev = 0.0;
            for (j, &u) in run.iter().enumerate() {
                let den = diag[u as usize] - if j > 0 { off * prev } else { 0.0 };
                inv[j] = 1.0 / den;
                cp[j] = if j + 1 < n { off * inv[j] } else { 0.0 };
                prev = cp[j];
            }
            (cp, inv)
        })
        .unzip();
    Lines { runs, cprime, inv_den, off }
}

impl Lines {
    fn apply(&self, r: &[f64], out: &mut [f64]) {
        let out_ptr = SyncPtr(out.as_mut_ptr());
        self.runs.par_iter().zip(self.cprime.par_iter().zip(self.inv_den.par_iter())).for_each(|(run, (cp, inv))| {
            let n = run.len();
            let mut d = vec![0.0; n];
            for j in 0..n {
                let rhs = r[run[j] as usize] - if j > 0 { self.off * d[j - 1] } else { 0.0 };
                d[j] = rhs * inv[j];
            }
            for j in (0..n.saturating_sub(1)).rev() {
                d[j] -= cp[j] * d[j + 1];
            }
            for (j, &u) in run.iter().enumerate() {
                // SAFETY: every unknown belongs to exactly one run, so writes never alias.
                unsafe { *out_ptr.get().add(u as usize) = d[j] };
            }
        });
    }
}

/// A raw pointer that may cross threads (writes are to disjoint indices).
#[derive(Clone, Copy)]
struct SyncPtr(*mut f64);
unsafe impl Send for SyncPtr {}
unsafe impl Sync for SyncPtr {}
impl SyncPtr {
    fn get(self) -> *mut f64 {
        self.0
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use ndarray::Array3;
    #[test]
    fn straight_channels_have_unit_tortuosity() {
        let p = Array3::from_shape_fn((20, 10, 10), |(_, y, x)| (y + x) % 3 == 0);
        let t = tortuosity(p.view(), [1.0; 3], 0, 1e-10, 1000).unwrap();
        assert!((t.tau - 1.0).abs() < 1e-6, "{t:?}");
        // Across the channels nothing percolates.
        let q = Array3::from_shape_fn((10, 10, 20), |(z, _, _)| z % 2 == 0);
        let t = tortuosity(q.view(), [1.0; 3], 0, 1e-10, 1000).unwrap();
        assert!(t.tau.is_infinite());
    }
    #[test]
    fn a_series_bottleneck() {
        // Full slab with one voxel-thick layer open on half its area: analytic in 1-D series.
        let p = Array3::from_shape_fn((3, 2, 2), |(z, y, _)| z != 1 || y == 0);
        let t = tortuosity(p.view(), [1.0; 3], 0, 1e-12, 1000).unwrap();
        assert!((t.flux_in - t.flux_out).abs() < 1e-9);
        assert!(t.tau > 1.0);
    }
}
