//! Absorption tomography: Beer–Lambert projections of the μ volume over
//! 180°, with flat and dark fields and counting noise, in DXchange order.

use crate::config::SimConfig;
use crate::detector::{flat_pattern, poisson, to_u16};
use crate::electrode::Electrode;
use crate::rng::{Stream, rng};
use crate::xray::Material;
use chemomech_core::{DynArray, Metadata, Progress, ProjectionSet, Result};
use chemomech_tomo::geometry::full_detector_width;
use chemomech_tomo::{Geometry, project_volume};
use ndarray::{Array3, Axis, Zip};
use rayon::prelude::*;

/// The three phases' materials.
#[derive(Debug, Clone)]
pub struct Materials {
    /// The active material (configured formula and density).
    pub active: Material,
    /// The carbon-binder (carbon black and PVDF).
    pub cbd: Material,
    /// The pore filling: electrolyte, or vacuum for a dry electrode.
    pub pore: Material,
}

impl Materials {
    /// From the electrode configuration.
    pub fn from_config(cfg: &SimConfig) -> Result<Self> {
        let e = &cfg.electrode;
        let active = Material::compound("active", &e.active_formula, e.active_density)?;
        let cbd = Material::mixture(
            "carbon-binder",
            &[("C", e.cbd_carbon_mass_fraction), ("C2H2F2", 1.0 - e.cbd_carbon_mass_fraction)],
            e.cbd_density,
        )?;
        let pore = if e.pore_fill == "electrolyte" {
            // 1 M LiPF6 in EC:DMC 1:1 (by mass), ~1.3 g/cm³.
            Material::mixture("electrolyte", &[("LiPF6", 0.12), ("C3H4O3", 0.44), ("C3H6O3", 0.44)], 1.3)?
        } else {
            Material::vacuum()
        };
        Ok(Self { active, cbd, pore })
    }
    /// μ (1/cm) of pore, carbon-binder and active at `e` eV (phase order 0, 1, 2).
    pub fn mu(&self, e: f64) -> Result<[f64; 3]> {
        Ok([self.pore.mu(e)?, self.cbd.mu(e)?, self.active.mu(e)?])
    }
}

/// μ (1/cm) per voxel from the partial-volume fractions.
pub fn mu_volume(el: &Electrode, mu: [f64; 3]) -> Array3<f32> {
    let mut out = Array3::<f32>::zeros(el.shape);
    Zip::from(&mut out).and(&el.frac_active).and(&el.frac_cbd).par_for_each(|o, &fa, &fc| {
        let fp = (1.0 - fa - fc).max(0.0);
        *o = (fa as f64 * mu[2] + fc as f64 * mu[1] + fp as f64 * mu[0]) as f32;
    });
    out
}

/// Simulated absorption scan and its truth.
pub struct AbsorptionScan {
    /// Projections `(angle, row, column)` with flats, darks, angles (degrees), pixel size (µm) and energy (eV).
    pub projections: ProjectionSet,
    /// μ (1/cm) of pore, carbon-binder, active at the scan energy.
    pub phase_mu: [f64; 3],
    /// The μ volume (1/cm) that was projected.
    pub mu: Array3<f32>,
    /// Displacement (rows, cols) of the sample in each projection (pixels):
    /// `fourier_shift(projection, −rows, −cols)` undoes it.
    pub jitter_px: Vec<(f64, f64)>,
}

/// Independent uniform displacements of up to ±`jitter_px` per projection.
fn draw_jitter(cfg: &SimConfig) -> Vec<(f64, f64)> {
    let t = &cfg.tomography;
    (0..t.angles as u64)
        .map(|k| {
            let u = |i: u64| crate::rng::uniform(cfg.seed, Stream::Jitter, 2 * k + i);
            if t.jitter_px > 0.0 {
                (t.jitter_px * (2.0 * u(0) - 1.0), t.jitter_px * (2.0 * u(1) - 1.0))
            } else {
                (0.0, 0.0)
            }
        })
        .collect()
}

/// The microscope's effect on the line integrals `(angle, rows, cols)`:
/// each projection displaced by its jitter (exact Fourier shift) and
/// blurred by a Gaussian point-spread function of σ `psf_px` (applied to
/// the line integrals, a small-attenuation approximation).
fn txm_optics(mut line: Array3<f32>, jitter: &[(f64, f64)], psf_px: f64) -> Array3<f32> {
    if psf_px <= 0.0 && jitter.iter().all(|j| *j == (0.0, 0.0)) {
        return line;
    }
    line.axis_iter_mut(Axis(0)).into_par_iter().zip(jitter.par_iter()).for_each(|(mut p, &(dy, dx))| {
        let mut img = p.to_owned();
        if psf_px > 0.0 {
            img = chemomech_imgproc::filters::gaussian(img.insert_axis(Axis(0)).view(), psf_px, [1.0; 3])
                .index_axis_move(Axis(0), 0);
        }
        if (dy, dx) != (0.0, 0.0) {
            let moved = chemomech_imgproc::fourier_shift(img.mapv(|v| v as f64).view(), dy, dx);
            img = moved.mapv(|v| v as f32);
        }
        p.assign(&img);
    });
    line
}

/// Projects the electrode at the configured energy and adds detector effects.
pub fn scan(el: &Electrode, cfg: &SimConfig, progress: &dyn Progress) -> Result<AbsorptionScan> {
    let t = &cfg.tomography;
    let e_ev = t.energy_kev * 1e3;
    let mats = Materials::from_config(cfg)?;
    let phase_mu = mats.mu(e_ev)?;
    let mu = mu_volume(el, phase_mu);
    let (nz, _ny, nx) = el.shape;
    let n_det = full_detector_width(nx);
    let angles: Vec<f64> = (0..t.angles).map(|k| k as f64 * t.arc_deg / t.angles as f64).collect();
    let geom = Geometry::new(angles.clone(), n_det);
    progress.start("projecting", 2);
    let jitter = draw_jitter(cfg);
    let line = txm_optics(project_volume(mu.view(), &geom), &jitter, t.psf_px);
    progress.inc(1);
    let voxel_cm = el.voxel_um * 1e-4;
    let noisy = t.photons > 0.0;
    let i0 = if noisy { t.photons } else { 1e4 };
    let pattern = flat_pattern((nz, n_det), t.flat_variation, cfg.seed, 0.0);
    let dark = t.dark_counts;
    let mk = |k: u64, f: &dyn Fn(usize, usize) -> f64| -> Vec<f64> {
        let mut g = rng(cfg.seed, Stream::TomoNoise, k);
        let mut v = Vec::with_capacity(nz * n_det);
        for r in 0..nz {
            for c in 0..n_det {
                let m = f(r, c);
                v.push(if noisy { poisson(m, &mut g) + poisson(dark, &mut g) } else { m + dark });
            }
        }
        v
    };
    let frames: Vec<Vec<f64>> = (0..angles.len())
        .into_par_iter()
        .map(|a| {
            let p = line.index_axis(Axis(0), a);
            mk(a as u64, &|r, c| i0 * pattern[[r, c]] * (-(p[[r, c]] as f64) * voxel_cm).exp())
        })
        .collect();
    let flats: Vec<Vec<f64>> =
        (0..t.flats).into_par_iter().map(|f| mk(1_000_000 + f as u64, &|r, c| i0 * pattern[[r, c]])).collect();
    let darks: Vec<Vec<f64>> = (0..t.darks).into_par_iter().map(|f| mk(2_000_000 + f as u64, &|_, _| 0.0)).collect();
    progress.inc(1);
    progress.finish();
    let pack = |v: Vec<Vec<f64>>| -> Result<DynArray> {
        let n = v.len();
        let flat: Vec<f64> = v.into_iter().flatten().collect();
        Ok(if noisy {
            DynArray::U16(ndarray::ArrayD::from_shape_vec(vec![n, nz, n_det], flat.into_iter().map(to_u16).collect())?)
        } else {
            DynArray::F32(ndarray::ArrayD::from_shape_vec(
                vec![n, nz, n_det],
                flat.into_iter().map(|x| x as f32).collect(),
            )?)
        })
    };
    let mut meta = Metadata::new();
    meta.insert("simulated".into(), true.into());
    meta.insert("rotation_center".into(), geom.center.into());
    meta.insert("data_units".into(), "counts".into());
    let projections = ProjectionSet {
        data: pack(frames)?,
        flats: Some(pack(flats)?),
        darks: Some(pack(darks)?),
        angles_deg: angles,
        flat_positions: None,
        pixel_um: Some(el.voxel_um),
        energy_ev: Some(e_ev),
        distance_m: None,
        meta,
    };
    Ok(AbsorptionScan { projections, phase_mu, mu, jitter_px: jitter })
}
