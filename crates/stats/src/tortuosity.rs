//! Tortuosity factor of a phase by steady-state diffusion (as TauFactor):
//! concentration 1 on the inlet face and 0 on the outlet face (both half a
//! voxel beyond the first and last slices), no flux through the other faces,
//! unit diffusivity in the phase and none elsewhere. Finite volumes on the
//! voxel grid (anisotropic spacing), solved by Jacobi-preconditioned
//! conjugate gradients on the percolating voxels only.
//! τ = ε · D / D_eff with ε the phase's volume fraction.

use chemomech_core::{Error, Result};
use chemomech_imgproc::label::{Connectivity, label};
use ndarray::ArrayView3;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Result of a tortuosity computation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tortuosity {
    /// Tortuosity factor τ = ε / (D_eff/D) (infinite when the phase does not percolate).
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub tau: f64,
    /// Volume fraction of the phase.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub volume_fraction: f64,
    /// Relative effective diffusivity D_eff/D.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub effective_diffusivity: f64,
    /// Fraction of the phase that connects inlet to outlet.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub percolating_fraction: f64,
    /// Conjugate-gradient iterations run.
    pub iterations: usize,
    /// Final residual norm relative to the right-hand side.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub relative_residual: f64,
    /// Flux in and flux out (their agreement checks convergence).
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub flux_in: f64,
    /// Flux through the outlet face.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub flux_out: f64,
}

/// Tortuosity factor of `phase` (true voxels conduct) along `axis` (0 = z).
///
/// Stops at `max_iter` iterations, when the residual falls to `rtol` of
/// the right-hand side, or, with `flux_tol` > 0, when the flux in and the
/// flux out agree within `flux_tol` (relative) and their mean changed by no
/// more than that over the last 10 iterations (on real electrodes
/// `flux_tol` = 1e-4 stops well before `rtol` = 1e-8 with τ within 1e-4 of
/// its converged value: `bench/README.md`).
///
/// ```
/// // Straight pores: τ = 1.
/// let p = ndarray::Array3::from_shape_fn((8, 6, 6), |(_, y, x)| (y + x) % 3 == 0);
/// let t = chemomech_stats::tortuosity::tortuosity(p.view(), [1.0; 3], 0, 1e-10, 1000, 1e-6).unwrap();
/// assert!((t.tau - 1.0).abs() < 1e-6);
/// ```
pub fn tortuosity(
    phase: ArrayView3<bool>,
    spacing_um: [f64; 3],
    axis: usize,
    rtol: f64,
    max_iter: usize,
    flux_tol: f64,
) -> Result<Tortuosity> {
    if axis > 2 {
        return Err(Error::param("axis must be 0 (z), 1 (y) or 2 (x)"));
    }
    // Work with the transport axis first.
    let p = phase.permuted_axes(match axis {
        0 => [0, 1, 2],
        1 => [1, 0, 2],
        _ => [2, 1, 0],
    });
    let spacing_um = match axis {
        0 => spacing_um,
        1 => [spacing_um[1], spacing_um[0], spacing_um[2]],
        _ => [spacing_um[2], spacing_um[1], spacing_um[0]],
    };
    let (nz, ny, nx) = p.dim();
    let total = p.iter().filter(|&&b| b).count();
    let eps = total as f64 / (nz * ny * nx) as f64;
    if total == 0 {
        return Err(Error::data("the phase is empty: tortuosity undefined"));
    }
    let (cells, index) = percolating_cells(p);
    let m = cells.len();
    if m == 0 {
        return Ok(Tortuosity {
            tau: f64::INFINITY,
            volume_fraction: eps,
            effective_diffusivity: 0.0,
            percolating_fraction: 0.0,
            iterations: 0,
            relative_residual: 0.0,
            flux_in: 0.0,
            flux_out: 0.0,
        });
    }
    let sys = System::new(&cells, &index, (nz, ny, nx), spacing_um);
    let (x, it, rel) = sys.solve(&cells, nz, rtol, max_iter, flux_tol);
    let (fin, fout) = sys.fluxes(&x);
    let flux = 0.5 * (fin + fout);
    let area = ny as f64 * spacing_um[1] * nx as f64 * spacing_um[2];
    let length = nz as f64 * spacing_um[0];
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

/// The voxels of 6-connected components touching both faces (z = 0 and
/// z = last), in raster order, and each voxel's index among them
/// (`u32::MAX` where none).
fn percolating_cells(p: ArrayView3<bool>) -> (Vec<(usize, usize, usize)>, Vec<u32>) {
    let (nz, ny, nx) = p.dim();
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
    (cells, index)
}

/// Vector sums go chunk by chunk in a fixed order, so the result does not
/// depend on the thread count.
const CHUNK: usize = 1 << 14;

/// The finite-volume system A x = b of the percolating voxels, with unit
/// concentration at the inlet face and zero at the outlet face.
struct System {
    /// The six face neighbours of each cell (`u32::MAX`: none).
    nbr: Vec<[u32; 6]>,
    /// Diagonal of A.
    diag: Vec<f64>,
    /// Conductance per axis (face area / centre distance).
    g: [f64; 3],
    /// Conductance to a Dirichlet face (area / half the distance).
    gb: f64,
    /// Right-hand side.
    b: Vec<f64>,
    /// Cells on the inlet and outlet faces.
    inlet: Vec<usize>,
    outlet: Vec<usize>,
}

impl System {
    fn new(
        cells: &[(usize, usize, usize)],
        index: &[u32],
        (nz, ny, nx): (usize, usize, usize),
        spacing_um: [f64; 3],
    ) -> Self {
        // Conductances: face area / centre distance; to a Dirichlet face: area / (d/2).
        let g = [
            spacing_um[1] * spacing_um[2] / spacing_um[0],
            spacing_um[0] * spacing_um[2] / spacing_um[1],
            spacing_um[0] * spacing_um[1] / spacing_um[2],
        ];
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
        let m = cells.len();
        let inlet: Vec<usize> = (0..m).filter(|&i| cells[i].0 == 0).collect();
        let outlet: Vec<usize> = (0..m).filter(|&i| cells[i].0 == nz - 1).collect();
        let b: Vec<f64> = cells.iter().map(|&(z, _, _)| if z == 0 { gb } else { 0.0 }).collect();
        System { nbr, diag, g, gb, b, inlet, outlet }
    }

    /// Flux in through the inlet face and out through the outlet face.
    fn fluxes(&self, x: &[f64]) -> (f64, f64) {
        let gb = self.gb;
        (self.inlet.iter().map(|&i| gb * (1.0 - x[i])).sum(), self.outlet.iter().map(|&i| gb * x[i]).sum())
    }

    /// out = A v; returns v·Av.
    fn apply(&self, v: &[f64], out: &mut [f64]) -> f64 {
        let (diag, nbr, g) = (&self.diag, &self.nbr, self.g);
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .map(|(c, o)| {
                let mut acc = 0.0;
                for (k, oi) in o.iter_mut().enumerate() {
                    let i = c * CHUNK + k;
                    let mut s = diag[i] * v[i];
                    for (e, &j) in nbr[i].iter().enumerate() {
                        if j != u32::MAX {
                            s -= g[e / 2] * v[j as usize];
                        }
                    }
                    *oi = s;
                    acc += v[i] * s;
                }
                acc
            })
            .collect::<Vec<f64>>()
            .iter()
            .sum()
    }

    /// (r·z, r·r) with z = r / diag.
    fn norms(&self, r: &[f64]) -> (f64, f64) {
        in_order(
            r.par_chunks(CHUNK)
                .zip(self.diag.par_chunks(CHUNK))
                .map(|(r, d)| r.iter().zip(d).fold((0.0, 0.0), |a, (ri, di)| (a.0 + ri * ri / di, a.1 + ri * ri)))
                .collect(),
        )
    }

    /// Jacobi-preconditioned conjugate gradients from the linear profile:
    /// (solution, iterations, relative residual). Memory-bound: each
    /// iteration streams the vectors three times (apply with p·Ap; x, r and
    /// the preconditioned r·z in one pass; the new direction), no z vector
    /// is stored (z = r / diag on the fly).
    fn solve(
        &self,
        cells: &[(usize, usize, usize)],
        nz: usize,
        rtol: f64,
        max_iter: usize,
        flux_tol: f64,
    ) -> (Vec<f64>, usize, f64) {
        let (m, diag) = (cells.len(), &self.diag);
        let mut last_flux = f64::INFINITY;
        // Initial guess: the linear profile.
        let mut x: Vec<f64> = cells.iter().map(|&(z, _, _)| 1.0 - (z as f64 + 0.5) / nz as f64).collect();
        let mut r = vec![0.0; m];
        self.apply(&x, &mut r);
        r.par_iter_mut().zip(self.b.par_iter()).for_each(|(ri, bi)| *ri = bi - *ri);
        let bnorm = self
            .b
            .par_chunks(CHUNK)
            .map(|c| c.iter().map(|v| v * v).sum::<f64>())
            .collect::<Vec<f64>>()
            .iter()
            .sum::<f64>()
            .sqrt()
            .max(1e-300);
        let mut pv: Vec<f64> = r.par_iter().zip(diag.par_iter()).map(|(ri, d)| ri / d).collect();
        let (mut rz, rr) = self.norms(&r);
        let mut ap = vec![0.0; m];
        let mut it = 0;
        let mut rel = rr.sqrt() / bnorm;
        while it < max_iter && rel > rtol {
            let alpha = rz / self.apply(&pv, &mut ap);
            let parts = x
                .par_chunks_mut(CHUNK)
                .zip(r.par_chunks_mut(CHUNK))
                .zip(pv.par_chunks(CHUNK).zip(ap.par_chunks(CHUNK)).zip(diag.par_chunks(CHUNK)))
                .map(|((x, r), ((p, a), d))| {
                    let (mut sz, mut sr) = (0.0, 0.0);
                    for k in 0..x.len() {
                        x[k] += alpha * p[k];
                        r[k] -= alpha * a[k];
                        sz += r[k] * r[k] / d[k];
                        sr += r[k] * r[k];
                    }
                    (sz, sr)
                })
                .collect();
            let (rz2, rr2) = in_order(parts);
            let beta = rz2 / rz;
            rz = rz2;
            pv.par_chunks_mut(CHUNK).zip(r.par_chunks(CHUNK).zip(diag.par_chunks(CHUNK))).for_each(|(p, (r, d))| {
                for k in 0..p.len() {
                    p[k] = r[k] / d[k] + beta * p[k];
                }
            });
            it += 1;
            rel = rr2.sqrt() / bnorm;
            if flux_tol > 0.0 && it % 10 == 0 {
                // Converged in what is measured: the flux in equals the flux
                // out, and the flux moved no more than that in 10 iterations.
                let (fi, fo) = self.fluxes(&x);
                let f = 0.5 * (fi + fo);
                if (fi - fo).abs() <= flux_tol * f && (f - last_flux).abs() <= flux_tol * f {
                    break;
                }
                last_flux = f;
            }
        }
        (x, it, rel)
    }
}

/// Chunk partial sums (r·z, r·r), added in chunk order.
fn in_order(parts: Vec<(f64, f64)>) -> (f64, f64) {
    parts.into_iter().fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
}

#[cfg(test)]
mod unit {
    use super::*;
    use ndarray::Array3;
    #[test]
    fn straight_channels_have_unit_tortuosity() {
        let p = Array3::from_shape_fn((20, 10, 10), |(_, y, x)| (y + x) % 3 == 0);
        let t = tortuosity(p.view(), [1.0; 3], 0, 1e-10, 1000, 0.0).unwrap();
        assert!((t.tau - 1.0).abs() < 1e-6, "{t:?}");
        // Across the channels nothing percolates.
        let q = Array3::from_shape_fn((10, 10, 20), |(z, _, _)| z % 2 == 0);
        let t = tortuosity(q.view(), [1.0; 3], 0, 1e-10, 1000, 0.0).unwrap();
        assert!(t.tau.is_infinite());
    }
    #[test]
    fn same_result_whatever_the_thread_count() {
        // A random pore space of ~38 000 voxels: its sums span several chunks.
        let mut s = 7u64;
        let p = Array3::from_shape_fn((40, 40, 40), |_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) % 100 < 60
        });
        let on = |n: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
                .install(|| tortuosity(p.view(), [1.0, 0.8, 0.8], 0, 1e-9, 5000, 0.0).unwrap())
        };
        let (a, b) = (on(1), on(3));
        assert!(a.tau > 1.0 && a.tau.is_finite() && a.relative_residual <= 1e-9, "{a:?}");
        assert_eq!((a.tau, a.iterations, a.flux_in, a.flux_out), (b.tau, b.iterations, b.flux_in, b.flux_out));
    }
    #[test]
    fn a_series_bottleneck() {
        // Full slab with one voxel-thick layer open on half its area: analytic in 1-D series.
        let p = Array3::from_shape_fn((3, 2, 2), |(z, y, _)| z != 1 || y == 0);
        let t = tortuosity(p.view(), [1.0; 3], 0, 1e-12, 1000, 0.0).unwrap();
        assert!((t.flux_in - t.flux_out).abs() < 1e-9);
        assert!(t.tau > 1.0);
    }
}
