//! Propagation-based phase contrast (holotomography as at ESRF ID16A): the
//! exit wave ψ = exp(−k∫β) · exp(−ik∫δ) of each projection is propagated to
//! every recording distance with the Fresnel propagator, recorded at that
//! distance's cone-beam magnification (area-resampled onto the detector),
//! misaligned slightly, and counted with noise.

use crate::absorption::Materials;
use crate::config::SimConfig;
use crate::detector::{flat_pattern, poisson, to_u16};
use crate::electrode::Electrode;
use crate::rng::{Stream, rng};
use crate::xray::wavelength_m;
use chemomech_core::{DynArray, Metadata, Progress, ProjectionSet, Result};
use chemomech_imgproc::resample::rescale_area;
use chemomech_imgproc::{Fft2, fresnel_propagate};
use chemomech_tomo::geometry::full_detector_width;
use chemomech_tomo::{Geometry, project_volume};
use ndarray::{Array2, Array3, ArrayView2, Axis, Zip};

use num_complex::Complex;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

/// One recording distance's geometry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Distance {
    /// Effective propagation distance (m).
    pub effective_m: f64,
    /// Focus-to-sample distance (m) and magnification of the cone beam.
    pub focus_to_sample_m: f64,
    /// Cone-beam magnification (focus-to-detector over focus-to-sample distance).
    pub magnification: f64,
    /// Pixel size at the sample (µm).
    pub pixel_um: f64,
    /// Applied lateral misalignment (rows, cols) in detector pixels.
    pub shift_px: (f64, f64),
}

/// The holotomography scan and its truth.
pub struct HoloScan {
    /// The recorded projections, one set per distance.
    pub scans: Vec<ProjectionSet>,
    /// The geometry of each recording distance.
    pub distances: Vec<Distance>,
    /// True phase k∫δ dl (rad) on the first distance's pixel grid: (angle, row, col).
    pub phase_rad: Array3<f32>,
    /// True k∫β dl on the same grid (absorption part of the exit wave).
    pub absorption: Array3<f32>,
    /// (δ, β) of pore, carbon-binder, active.
    pub delta_beta: [(f64, f64); 3],
}

/// The padded wave-field grid: size and where the detector field sits in it.
struct PaddedGrid {
    /// Rows of the padded grid.
    ph: usize,
    /// Columns of the padded grid.
    pw: usize,
    /// Row offset of the detector field.
    oy: usize,
    /// Column offset of the detector field.
    ox: usize,
}

/// Everything needed to record the holograms of one angle.
struct Recorder<'a> {
    cfg: &'a SimConfig,
    dists: &'a [Distance],
    plan: Fft2,
    grid: PaddedGrid,
    /// Wavelength (m).
    lambda: f64,
    /// Wavenumber 2π/λ (1/m).
    k: f64,
    /// Voxel size (m).
    vm: f64,
    /// Voxel size (µm).
    voxel_um: f64,
    /// Detector rows and columns.
    nz: usize,
    n_det: usize,
    /// Incident counts per pixel.
    i0: f64,
    noisy: bool,
    /// The flat-field pattern on the detector.
    pattern: Array2<f64>,
}

/// Simulates the holograms of the electrode at every configured distance.
pub fn scan(el: &Electrode, cfg: &SimConfig, progress: &dyn Progress) -> Result<HoloScan> {
    let pc = &cfg.phase_contrast;
    let e_ev = pc.energy_kev * 1e3;
    let lambda = wavelength_m(e_ev);
    let k = std::f64::consts::TAU / lambda;
    let mats = Materials::from_config(cfg)?;
    let db = [mats.pore.delta_beta(e_ev)?, mats.cbd.delta_beta(e_ev)?, mats.active.delta_beta(e_ev)?];
    let (nz, _, nx) = el.shape;
    let n_det = full_detector_width(nx);
    let angles: Vec<f64> = (0..pc.angles).map(|a| a as f64 * 180.0 / pc.angles as f64).collect();
    let geom = Geometry::new(angles.clone(), n_det);
    progress.start("holography", (angles.len() + 2) as u64);
    let dproj = project_volume(mixed_index(el, &db, 0).view(), &geom);
    let bproj = project_volume(mixed_index(el, &db, 1).view(), &geom);
    progress.inc(2);
    let vm = el.voxel_um * 1e-6;
    let phase_rad = dproj.mapv(|d| (k * d as f64 * vm) as f32);
    let absorption = bproj.mapv(|b| (k * b as f64 * vm) as f32);
    let dists = recording_distances(cfg, el.voxel_um);
    let grid = padded_grid(cfg, &dists, el.voxel_um, lambda, (nz, n_det));
    let noisy = pc.photons > 0.0;
    let rec = Recorder {
        cfg,
        dists: &dists,
        plan: Fft2::new(grid.ph, grid.pw),
        grid,
        lambda,
        k,
        vm,
        voxel_um: el.voxel_um,
        nz,
        n_det,
        i0: if noisy { pc.photons } else { 1e4 },
        noisy,
        pattern: flat_pattern((nz, n_det), cfg.tomography.flat_variation, cfg.seed ^ 0x5a5a, 0.0),
    };

    // per_angle[angle][distance] = counts (nz x n_det)
    let mut per_angle: Vec<Vec<Vec<f64>>> = (0..angles.len())
        .into_par_iter()
        .map(|a| {
            let out = rec.record_angle(a, &dproj, &bproj);
            progress.inc(1);
            out
        })
        .collect();
    progress.finish();

    let mut scans = Vec::new();
    for (di, d) in dists.iter().enumerate() {
        let frames: Vec<Vec<f64>> = per_angle.iter_mut().map(|pa| std::mem::take(&mut pa[di])).collect();
        scans.push(ProjectionSet {
            data: rec.pack(frames)?,
            flats: Some(rec.pack(rec.reference_frames(1, di, cfg.tomography.flats, rec.i0))?),
            darks: Some(rec.pack(rec.reference_frames(2, di, cfg.tomography.darks, 0.0))?),
            angles_deg: angles.clone(),
            flat_positions: None,
            pixel_um: Some(d.pixel_um),
            energy_ev: Some(e_ev),
            distance_m: Some(d.effective_m),
            meta: scan_metadata(d, di, pc.focus_to_detector_m, geom.center),
        });
    }
    Ok(HoloScan { scans, distances: dists, phase_rad, absorption, delta_beta: db })
}

/// The voxels' mixed δ (`part` 0) or β (`part` 1) from their phase fractions.
fn mixed_index(el: &Electrode, db: &[(f64, f64); 3], part: usize) -> Array3<f32> {
    let mut out = Array3::<f32>::zeros(el.shape);
    let pick = |p: (f64, f64)| if part == 0 { p.0 } else { p.1 };
    Zip::from(&mut out).and(&el.frac_active).and(&el.frac_cbd).par_for_each(|o, &fa, &fc| {
        let fp = (1.0 - fa - fc).max(0.0) as f64;
        *o = (fa as f64 * pick(db[2]) + fc as f64 * pick(db[1]) + fp * pick(db[0])) as f32;
    });
    out
}

/// The cone-beam geometry of each distance (D = z1·z2/(z1 + z2) with
/// z1 + z2 = Z; M = Z/z1), its pixel size and a random misalignment (none at the first).
fn recording_distances(cfg: &SimConfig, voxel_um: f64) -> Vec<Distance> {
    let pc = &cfg.phase_contrast;
    let zt = pc.focus_to_detector_m;
    let mut sg = rng(cfg.seed, Stream::PhaseNoise, 9_999_999);
    let nrm = Normal::new(0.0, pc.misalignment_px.max(1e-12)).expect("valid");
    let mut dists: Vec<Distance> = pc
        .distances_m
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let z1 = (zt - (zt * zt - 4.0 * d * zt).max(0.0).sqrt()) / 2.0;
            let shift = if i == 0 { (0.0, 0.0) } else { (nrm.sample(&mut sg), nrm.sample(&mut sg)) };
            Distance { effective_m: d, focus_to_sample_m: z1, magnification: zt / z1, pixel_um: 0.0, shift_px: shift }
        })
        .collect();
    let m0 = dists[0].magnification;
    for d in dists.iter_mut() {
        d.pixel_um = voxel_um * m0 / d.magnification;
    }
    dists
}

/// Pads the detector field (`det`: rows, columns) so that the widest field of
/// view and the Fresnel fringes fit.
fn padded_grid(cfg: &SimConfig, dists: &[Distance], voxel_um: f64, lambda: f64, det: (usize, usize)) -> PaddedGrid {
    let (nz, n_det) = det;
    let vm = voxel_um * 1e-6;
    let zoom_max = dists.iter().map(|d| d.pixel_um / voxel_um).fold(1.0, f64::max);
    let fringe = (lambda * cfg.phase_contrast.distances_m.iter().cloned().fold(0.0, f64::max)).sqrt() / vm;
    // Same parity as the detector, so the magnification centre (the optical
    // axis) is exactly the detector centre (n − 1)/2.
    let ph = ((nz as f64 * zoom_max + 8.0 * fringe + 32.0).ceil() as usize).next_power_of_two() + nz % 2;
    let pw = ((n_det as f64 * zoom_max + 8.0 * fringe + 32.0).ceil() as usize).next_power_of_two() + n_det % 2;
    PaddedGrid { ph, pw, oy: (ph - nz) / 2, ox: (pw - n_det) / 2 }
}

/// Metadata of distance `di`'s projection set.
fn scan_metadata(d: &Distance, di: usize, focus_to_detector_m: f64, rotation_center: f64) -> Metadata {
    let mut meta = Metadata::new();
    meta.insert("simulated".into(), true.into());
    meta.insert("magnification".into(), d.magnification.into());
    meta.insert("focus_to_sample_m".into(), d.focus_to_sample_m.into());
    meta.insert("focus_to_detector_m".into(), focus_to_detector_m.into());
    meta.insert("distance_index".into(), di.into());
    meta.insert("rotation_center".into(), rotation_center.into());
    meta
}

impl Recorder<'_> {
    /// The holograms of angle `a` at every distance, from the projected δ and β.
    fn record_angle(&self, a: usize, dproj: &Array3<f32>, bproj: &Array3<f32>) -> Vec<Vec<f64>> {
        let psi0 = self.exit_wave(dproj.index_axis(Axis(0), a), bproj.index_axis(Axis(0), a));
        self.dists.iter().enumerate().map(|(di, d)| self.record_distance(&psi0, a, di, d)).collect()
    }

    /// The exit wave exp(−k∫β) · exp(−ik∫δ) on the padded grid (1 outside the field).
    fn exit_wave(&self, dp: ArrayView2<f32>, bp: ArrayView2<f32>) -> Array2<Complex<f64>> {
        let PaddedGrid { ph, pw, oy, ox } = self.grid;
        let (k, vm) = (self.k, self.vm);
        let mut psi0 = Array2::<Complex<f64>>::from_elem((ph, pw), Complex::new(1.0, 0.0));
        for r in 0..self.nz {
            for c in 0..self.n_det {
                let amp = (-k * bp[[r, c]] as f64 * vm).exp();
                let phs = -k * dp[[r, c]] as f64 * vm;
                psi0[[r + oy, c + ox]] = Complex::from_polar(amp, phs);
            }
        }
        psi0
    }

    /// The counts of angle `a` at distance `di`: propagated, resampled to the
    /// distance's pixels, under the flat pattern, with noise.
    fn record_distance(&self, psi0: &Array2<Complex<f64>>, a: usize, di: usize, d: &Distance) -> Vec<f64> {
        let PaddedGrid { ph, pw, oy, ox } = self.grid;
        let cfg = self.cfg;
        let mut psi = psi0.clone();
        fresnel_propagate(&mut psi, &self.plan, self.lambda, d.effective_m, self.vm);
        let inten = psi.mapv(|z| z.norm_sqr());
        // Centre of the padded grid is the optical axis; resample to this distance's pixels.
        let f = d.pixel_um / self.voxel_um;
        let full = rescale_area(inten.view(), (ph, pw), f, d.shift_px, 1.0);
        let mut g = rng(cfg.seed, Stream::PhaseNoise, (di as u64) << 32 | a as u64);
        let mut v = Vec::with_capacity(self.nz * self.n_det);
        for r in 0..self.nz {
            for c in 0..self.n_det {
                let m = self.i0 * self.pattern[[r, c]] * full[[r + oy, c + ox]];
                v.push(if self.noisy {
                    poisson(m, &mut g) + poisson(cfg.tomography.dark_counts, &mut g)
                } else {
                    m + cfg.tomography.dark_counts
                });
            }
        }
        v
    }

    /// `n` reference frames (`kind` 1: flats at `level` counts, 2: darks) of distance `di`.
    fn reference_frames(&self, kind: u64, di: usize, n: usize, level: f64) -> Vec<Vec<f64>> {
        let cfg = self.cfg;
        let n_det = self.n_det;
        (0..n)
            .map(|f| {
                let mut g = rng(cfg.seed, Stream::PhaseNoise, (kind << 40) | ((di as u64) << 32) | f as u64);
                (0..self.nz * n_det)
                    .map(|p| {
                        let m = level * self.pattern[[p / n_det, p % n_det]];
                        if self.noisy {
                            poisson(m, &mut g) + poisson(cfg.tomography.dark_counts, &mut g)
                        } else {
                            m + cfg.tomography.dark_counts
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// Frames as one array: counts (u16) when noisy, else intensities (f32).
    fn pack(&self, frames: Vec<Vec<f64>>) -> Result<DynArray> {
        let (nz, n_det) = (self.nz, self.n_det);
        let n = frames.len();
        let flat: Vec<f64> = frames.into_iter().flatten().collect();
        Ok(if self.noisy {
            DynArray::U16(ndarray::ArrayD::from_shape_vec(vec![n, nz, n_det], flat.into_iter().map(to_u16).collect())?)
        } else {
            DynArray::F32(ndarray::ArrayD::from_shape_vec(
                vec![n, nz, n_det],
                flat.into_iter().map(|x| x as f32).collect(),
            )?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chemomech_imgproc::fresnel_propagate;
    /// Fresnel integrals C(w), S(w) by Simpson's rule.
    fn fresnel_cs(w: f64) -> (f64, f64) {
        let n = 4000;
        let h = w / n as f64;
        let (mut c, mut s) = (0.0, 0.0);
        for i in 0..=n {
            let t = i as f64 * h;
            let wt = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            let a = std::f64::consts::FRAC_PI_2 * t * t;
            c += wt * a.cos();
            s += wt * a.sin();
        }
        (c * h / 3.0, s * h / 3.0)
    }

    #[test]
    fn conserves_intensity_and_places_the_edge_fringe() {
        // An opaque half-plane (knife edge) along the columns.
        let (h, w) = (8, 4096);
        let lambda = 1e-10;
        let z = 0.5;
        let px = 0.1e-6;
        let plan = Fft2::new(h, w);
        let mut psi = Array2::from_shape_fn((h, w), |(_, c)| {
            if (1024..3072).contains(&c) { Complex::new(1.0, 0.0) } else { Complex::new(0.0, 0.0) }
        });
        let before: f64 = psi.iter().map(|v| v.norm_sqr()).sum();
        fresnel_propagate(&mut psi, &plan, lambda, z, px);
        let after: f64 = psi.iter().map(|v| v.norm_sqr()).sum();
        assert!((before - after).abs() < 1e-9 * before, "intensity not conserved: {before} vs {after}");
        // First maximum beyond the edge at c = 1024: w = x·sqrt(2/(λz)) ≈ 1.2172.
        let row: Vec<f64> = (0..w).map(|c| psi[[0, c]].norm_sqr()).collect();
        let mut best = 1024;
        for c in 1025..1400 {
            if row[c] > row[best] {
                best = c;
            }
        }
        let x_num = (best as f64 - 1023.5) * px;
        let x_ana = 1.2172 * (lambda * z / 2.0).sqrt();
        assert!((x_num - x_ana).abs() < 1.5 * px, "first fringe at {x_num} m, analytic {x_ana} m");
        // And the intensity there matches the Fresnel-integral edge profile.
        let wv = x_num * (2.0 / (lambda * z)).sqrt();
        let (c, s) = fresnel_cs(wv);
        let ana = 0.5 * ((c + 0.5).powi(2) + (s + 0.5).powi(2));
        assert!((row[best] - ana).abs() < 0.02, "{} vs {ana}", row[best]);
    }
}
