//! 2-D TXM-XANES across the Ni K-edge: a slab of the electrode (thickness
//! `slab_um`, centred in x) imaged in projection along x at each energy.
//! Each active voxel's μ(E) is the smooth background of the cathode plus
//! the tabulated Ni K-edge jump times the normalised Ni spectrum of its
//! valence (NiO/LiNiO2 mixture, Ni⁴⁺ modelled as shifted LiNiO2). The
//! sample drifts by a random sub-pixel amount between energies; references
//! (flats) vary smoothly; counts are Poisson.

use crate::absorption::Materials;
use crate::config::{SimConfig, default_energy_grid};
use crate::detector::{flat_pattern, poisson, to_u16};
use crate::electrode::Electrode;
use crate::references::NiSpectra;
use crate::rng::{Stream, rng};
use chemomech_core::{DynArray, EnergyStack, Metadata, Progress, Result};
use chemomech_imgproc::fourier_shift;
use ndarray::Array2;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

/// The XANES stack and its truth, on the undrifted (z, y) grid.
pub struct XanesScan {
    /// Transmission images `(energy, z, y)` in counts, with references, darks and energies (eV).
    pub stack: EnergyStack,
    /// Ni-weighted LiNiO2 fraction per pixel (NaN without active material).
    pub fraction_ni3: Array2<f32>,
    /// Ni-weighted mean valence and SoC per pixel.
    pub valence: Array2<f32>,
    /// Ni-weighted mean SoC per pixel.
    pub soc: Array2<f32>,
    /// Active-material thickness along the beam (µm).
    pub active_thickness_um: Array2<f32>,
    /// Sample drift (rows, cols) in pixels at each energy.
    pub drift_px: Vec<(f64, f64)>,
    /// The slab imaged: x voxel range.
    pub slab: (usize, usize),
    /// Noise-free optical density at every energy (for tests).
    pub od_clean: Vec<Array2<f32>>,
    /// Per pixel, the particle with the longest active path along the beam
    /// (0 without active material): the 2-D particle labels of the view.
    pub dominant_label: Array2<u32>,
}

/// Projected sums along the beam (x) over the slab, per (z, y) pixel.
struct ProjectedSums {
    /// Active amount (voxels × fraction) per Ni end member (Ni²⁺, Ni³⁺, Ni⁴⁺).
    ni: [Array2<f64>; 3],
    /// Carbon-binder amount.
    cbd: Array2<f64>,
    /// Pore amount.
    pore: Array2<f64>,
    /// Active-weighted SoC sum.
    soc: Array2<f64>,
}

/// One z row of [`ProjectedSums`], summed in parallel.
struct RowSums {
    ni: [Vec<f64>; 3],
    cbd: Vec<f64>,
    pore: Vec<f64>,
    soc: Vec<f64>,
}

/// One energy's images: transmission and reference counts, noise-free optical density.
struct Frame {
    image: Vec<u16>,
    flat: Vec<u16>,
    od: Array2<f32>,
}

/// Attenuation coefficients (1/cm) at one energy.
struct EnergyMu {
    /// Active material without the Ni K-edge.
    background: f64,
    /// The tabulated Ni K-edge jump.
    jump: f64,
    /// Carbon-binder.
    cbd: f64,
    /// Pore.
    pore: f64,
}

/// Simulates the stack.
pub fn scan(el: &Electrode, cfg: &SimConfig, spectra: &NiSpectra, progress: &dyn Progress) -> Result<XanesScan> {
    let x = &cfg.xanes;
    let energies = if x.energies_ev.is_empty() { default_energy_grid() } else { x.energies_ev.clone() };
    let mats = Materials::from_config(cfg)?;
    let (nz, ny, nx) = el.shape;
    let v = el.voxel_um;
    let w = ((x.slab_um / v).round() as usize).clamp(1, nx);
    let x0 = (nx - w) / 2;
    let slab = (x0, x0 + w);

    let dominant_label = dominant_labels(el, slab);
    let sums = project_slab(el, cfg, slab);
    let active = &sums.ni[0] + &sums.ni[1] + &sums.ni[2];
    let ne = energies.len();
    let drift = draw_drift(cfg, ne);
    progress.start("xanes", ne as u64);
    let frames: Vec<Frame> = (0..ne)
        .into_par_iter()
        .map(|ei| {
            let mu = energy_mu(&mats, energies[ei]);
            let od = optical_density(&sums, &active, &mu, &spectra.end_members(energies[ei]), v * 1e-4);
            let frame = expose(cfg, ei, od, drift[ei]);
            progress.inc(1);
            frame
        })
        .collect();
    progress.finish();
    let mut data = Vec::with_capacity(ne * nz * ny);
    let mut flats = Vec::with_capacity(ne * nz * ny);
    let mut od_clean = Vec::with_capacity(ne);
    for f in frames {
        data.extend(f.image);
        flats.extend(f.flat);
        od_clean.push(f.od);
    }
    let noisy = x.photons > 0.0;
    let mut dg = rng(cfg.seed, Stream::XanesNoise, 1 << 40);
    let darks: Vec<u16> =
        (0..5 * nz * ny).map(|_| to_u16(if noisy { poisson(x.dark_counts, &mut dg) } else { x.dark_counts })).collect();
    let ni_total = &sums.ni[0] + &sums.ni[1] + &sums.ni[2];
    let ratio = |num: &Array2<f64>| -> Array2<f32> {
        ndarray::Zip::from(num).and(&ni_total).map_collect(|&a, &b| if b > 1e-6 { (a / b) as f32 } else { f32::NAN })
    };
    let fraction_ni3 = ratio(&sums.ni[1]);
    let val_num = &sums.ni[0] * 2.0 + &sums.ni[1] * 3.0 + &sums.ni[2] * 4.0;
    let valence = ratio(&val_num);
    let soc = ratio(&sums.soc);
    let stack = EnergyStack {
        data: DynArray::U16(ndarray::ArrayD::from_shape_vec(vec![ne, nz, ny], data)?),
        flats: Some(DynArray::U16(ndarray::ArrayD::from_shape_vec(vec![ne, nz, ny], flats)?)),
        darks: Some(DynArray::U16(ndarray::ArrayD::from_shape_vec(vec![5, nz, ny], darks)?)),
        energies_ev: energies,
        pixel_um: Some(v),
        meta: stack_metadata(slab),
    };
    let active_thickness_um = active.mapv(|a| (a * v) as f32);
    Ok(XanesScan {
        stack,
        fraction_ni3,
        valence,
        soc,
        active_thickness_um,
        drift_px: drift,
        slab,
        od_clean,
        dominant_label,
    })
}

/// Per pixel, the particle with the longest active path through the slab (0 when none).
fn dominant_labels(el: &Electrode, slab: (usize, usize)) -> Array2<u32> {
    let (nz, ny, _) = el.shape;
    let dominant: Vec<Vec<u32>> = (0..nz)
        .into_par_iter()
        .map(|k| {
            (0..ny)
                .map(|j| {
                    let mut counts: Vec<(u32, f64)> = Vec::new();
                    for i in slab.0..slab.1 {
                        let (l, fa) = (el.labels[[k, j, i]], el.frac_active[[k, j, i]] as f64);
                        if l > 0 && fa > 0.0 {
                            match counts.iter_mut().find(|c| c.0 == l) {
                                Some(c) => c.1 += fa,
                                None => counts.push((l, fa)),
                            }
                        }
                    }
                    counts.iter().fold((0u32, 0.0), |b, c| if c.1 > b.1 { *c } else { b }).0
                })
                .collect()
        })
        .collect();
    Array2::from_shape_fn((nz, ny), |(k, j)| dominant[k][j])
}

/// Sums the slab along x: active amount per end member (from each voxel's
/// valence), carbon-binder, pore and SoC.
fn project_slab(el: &Electrode, cfg: &SimConfig, slab: (usize, usize)) -> ProjectedSums {
    let (nz, ny, _) = el.shape;
    let rows: Vec<RowSums> = (0..nz).into_par_iter().map(|k| project_row(el, cfg, slab, k)).collect();
    let mut sums = ProjectedSums {
        ni: [Array2::<f64>::zeros((nz, ny)), Array2::<f64>::zeros((nz, ny)), Array2::<f64>::zeros((nz, ny))],
        cbd: Array2::<f64>::zeros((nz, ny)),
        pore: Array2::<f64>::zeros((nz, ny)),
        soc: Array2::<f64>::zeros((nz, ny)),
    };
    for (k, row) in rows.into_iter().enumerate() {
        for j in 0..ny {
            for m in 0..3 {
                sums.ni[m][[k, j]] = row.ni[m][j];
            }
            sums.cbd[[k, j]] = row.cbd[j];
            sums.pore[[k, j]] = row.pore[j];
            sums.soc[[k, j]] = row.soc[j];
        }
    }
    sums
}

/// [`project_slab`] for z row `k`.
fn project_row(el: &Electrode, cfg: &SimConfig, slab: (usize, usize), k: usize) -> RowSums {
    let ch = &cfg.chemistry;
    let (nz, ny, _) = el.shape;
    let v = el.voxel_um;
    let mut row = RowSums {
        ni: [vec![0.0; ny], vec![0.0; ny], vec![0.0; ny]],
        cbd: vec![0.0; ny],
        pore: vec![0.0; ny],
        soc: vec![0.0; ny],
    };
    let z = (k as f64 + 0.5) * v;
    let lz = nz as f64 * v;
    let depth = ch.soc_separator + (ch.soc_collector - ch.soc_separator) * (z / lz).powf(ch.depth_exponent);
    for j in 0..ny {
        for i in slab.0..slab.1 {
            let fa = el.frac_active[[k, j, i]] as f64;
            let fc = el.frac_cbd[[k, j, i]] as f64;
            row.cbd[j] += fc;
            row.pore[j] += (1.0 - fa - fc).max(0.0);
            if fa > 0.0 {
                let s = el.soc[[k, j, i]];
                let soc = if s.is_finite() { s as f64 } else { depth };
                let val = ch.valence_soc0 + (ch.valence_soc1 - ch.valence_soc0) * soc;
                let wts = NiSpectra::weights(val);
                for m in 0..3 {
                    row.ni[m][j] += fa * wts[m];
                }
                row.soc[j] += fa * soc;
            }
        }
    }
    row
}

/// The sample drift (rows, cols) in pixels at each of `ne` energies.
fn draw_drift(cfg: &SimConfig, ne: usize) -> Vec<(f64, f64)> {
    let x = &cfg.xanes;
    let mut drift_rng = rng(cfg.seed, Stream::Drift, 0);
    let nd = Normal::new(0.0, x.drift_px.max(1e-12)).expect("valid");
    (0..ne)
        .map(|_| if x.drift_px > 0.0 { (nd.sample(&mut drift_rng), nd.sample(&mut drift_rng)) } else { (0.0, 0.0) })
        .collect()
}

/// The materials' attenuation at energy `e` (eV).
fn energy_mu(mats: &Materials, e: f64) -> EnergyMu {
    let edge = crate::xray::k_edge("Ni").unwrap_or(8333.0);
    let background = mats.active.mu_without_edge(e, "Ni").expect("tabulated");
    // The tabulated edge jump, evaluated just above the edge below it.
    let ej = e.max(edge + 1.0);
    let jump = mats.active.mu(ej).expect("tabulated") - mats.active.mu_without_edge(ej, "Ni").expect("tabulated");
    let cbd = mats.cbd.mu(e).expect("tabulated");
    let pore = mats.pore.mu(e).expect("tabulated");
    EnergyMu { background, jump, cbd, pore }
}

/// Noise-free optical density of the slab; `em`: the end members' normalised
/// spectra at this energy; `vcm`: the voxel size in cm.
fn optical_density(sums: &ProjectedSums, active: &Array2<f64>, mu: &EnergyMu, em: &[f64; 3], vcm: f64) -> Array2<f64> {
    let w = &sums.ni;
    Array2::from_shape_fn(active.dim(), |(r, c)| {
        let ni = em[0] * w[0][[r, c]] + em[1] * w[1][[r, c]] + em[2] * w[2][[r, c]];
        (mu.background * active[[r, c]] + mu.jump * ni + mu.cbd * sums.cbd[[r, c]] + mu.pore * sums.pore[[r, c]]) * vcm
    })
}

/// The counts of energy `ei`: the drifted image and its reference under the
/// flat pattern, Poisson noise and dark counts.
fn expose(cfg: &SimConfig, ei: usize, od: Array2<f64>, drift: (f64, f64)) -> Frame {
    let x = &cfg.xanes;
    let (nz, ny) = od.dim();
    let noisy = x.photons > 0.0;
    let i0 = if noisy { x.photons } else { 1e4 };
    let shifted = if drift != (0.0, 0.0) { fourier_shift(od.view(), drift.0, drift.1) } else { od.clone() };
    let pattern = flat_pattern((nz, ny), x.flat_variation, cfg.seed, ei as f64);
    let mut g = rng(cfg.seed, Stream::XanesNoise, ei as u64);
    let mut image = Vec::with_capacity(nz * ny);
    let mut flat = Vec::with_capacity(nz * ny);
    for r in 0..nz {
        for c in 0..ny {
            let m = i0 * pattern[[r, c]];
            let t = (-shifted[[r, c]]).exp();
            if noisy {
                image.push(to_u16(poisson(m * t, &mut g) + poisson(x.dark_counts, &mut g)));
                flat.push(to_u16(poisson(m, &mut g) + poisson(x.dark_counts, &mut g)));
            } else {
                image.push(to_u16(m * t + x.dark_counts));
                flat.push(to_u16(m + x.dark_counts));
            }
        }
    }
    Frame { image, flat, od: od.mapv(|v| v as f32) }
}

/// The stack's metadata: simulated, the slab and the projection geometry.
fn stack_metadata(slab: (usize, usize)) -> Metadata {
    let mut meta = Metadata::new();
    meta.insert("simulated".into(), true.into());
    meta.insert("slab_x_voxels".into(), serde_json::json!([slab.0, slab.1]));
    meta.insert("projection_axis".into(), "x".into());
    meta.insert("image_axes".into(), "z (depth, separator at row 0), y".into());
    meta
}
