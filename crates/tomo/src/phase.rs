//! Single-distance phase retrieval (Paganin et al., J. Microsc. 206, 33,
//! 2002) in δ/β form. Units: energy in keV, propagation distance in metres,
//! pixel size in µm, δ/β dimensionless. (TomoPy's `alpha` is a different,
//! regularisation-style parameter; it is not δ/β.)

use chemomech_core::{Error, Result};
use chemomech_imgproc::{Fft2, frequencies};
use ndarray::{Array2, Array3, ArrayViewMut2, Axis, Zip};
use num_complex::Complex;
use rayon::prelude::*;

/// Paganin parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Paganin {
    /// Photon energy in keV.
    pub energy_kev: f64,
    /// Sample-to-detector propagation distance in metres.
    pub distance_m: f64,
    /// Pixel size in µm.
    pub pixel_um: f64,
    /// Ratio δ/β of the material (dimensionless).
    pub delta_beta: f64,
}

impl Paganin {
    /// Checks that all parameters are positive, finite and in plausible ranges (keV, m, µm).
    pub fn validate(&self) -> Result<()> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if !(ok(self.energy_kev) && ok(self.distance_m) && ok(self.pixel_um) && ok(self.delta_beta)) {
            return Err(Error::param("Paganin needs positive energy (keV), distance (m), pixel size (µm) and δ/β"));
        }
        if self.energy_kev > 200.0 || self.distance_m > 100.0 || self.pixel_um > 1e4 {
            return Err(Error::param(format!("Paganin parameters look wrong: {self:?} (units: keV, m, µm)")));
        }
        Ok(())
    }
    /// Wavelength in metres.
    pub fn lambda_m(&self) -> f64 {
        12.398419843320026e-10 / self.energy_kev
    }
}

/// Filters one normalised projection (transmission, flat = 1) in place:
/// I ← F⁻¹[F[I] / (1 + πλz(δ/β)|f|²)], padded by edge replication so nothing wraps.
pub fn paganin_filter(mut img: ArrayViewMut2<f32>, p: &Paganin) {
    let (h, w) = img.dim();
    let (ph, pw) = ((2 * h).next_power_of_two(), (2 * w).next_power_of_two());
    let (oy, ox) = ((ph - h) / 2, (pw - w) / 2);
    let mut a = Array2::<Complex<f64>>::from_shape_fn((ph, pw), |(r, c)| {
        let rr = (r as isize - oy as isize).clamp(0, h as isize - 1) as usize;
        let cc = (c as isize - ox as isize).clamp(0, w as isize - 1) as usize;
        Complex::new(img[[rr, cc]] as f64, 0.0)
    });
    let plan = Fft2::new(ph, pw);
    plan.forward(&mut a);
    let px = p.pixel_um * 1e-6;
    let k = std::f64::consts::PI * p.lambda_m() * p.distance_m * p.delta_beta / (px * px);
    let (fy, fx) = (frequencies(ph), frequencies(pw));
    Zip::indexed(&mut a).for_each(|(r, c), v| *v /= 1.0 + k * (fy[r] * fy[r] + fx[c] * fx[c]));
    plan.inverse(&mut a);
    for r in 0..h {
        for c in 0..w {
            img[[r, c]] = a[[r + oy, c + ox]].re as f32;
        }
    }
}

/// Paganin-filters every projection `(angle, rows, cols)` of transmission.
pub fn paganin(t: &mut Array3<f32>, p: &Paganin) -> Result<()> {
    p.validate()?;
    t.axis_iter_mut(Axis(0)).into_par_iter().for_each(|f| paganin_filter(f, p));
    Ok(())
}

/// Multi-distance contrast-transfer-function retrieval for homogeneous
/// objects (Cloetens et al. 1999; Zabler et al. 2005). With our sign
/// conventions (exit wave exp(−k∫β − ik∫δ), propagator exp(−iπλD|f|²)),
/// the linearised hologram at distance D_k obeys
/// Ĩ_k(f) − δ(f) = 2·[sin χ_k + (β/δ)·cos χ_k]·φ̃(f), χ_k = πλD_k|f|²,
/// φ = −k∫δ; φ̃ is the regularised least-squares solution over distances.
/// The model is fitted to ln I rather than I − 1 (equal to first order),
/// which keeps the absorption (zero-frequency) term exact for thick samples.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ctf {
    /// Photon energy in keV.
    pub energy_kev: f64,
    /// Effective propagation distances (m), magnification already accounted for.
    pub distances_m: Vec<f64>,
    /// Pixel size of the common (reference) grid, µm.
    pub pixel_um: f64,
    /// Ratio δ/β of the homogeneous object (dimensionless).
    pub delta_beta: f64,
    /// Regularisation at low and high spatial frequencies.
    pub alpha_low: f64,
    /// Regularisation at high spatial frequencies.
    pub alpha_high: f64,
    /// Pixel size of each distance's recording relative to the common grid
    /// (cone-beam magnification): its detector transfer function (box
    /// pixel) weights that distance, and it contributes nothing above its
    /// own Nyquist frequency. Empty: all 1.
    #[serde(default)]
    pub zoom: Vec<f64>,
}

impl Ctf {
    /// Wavelength in metres.
    pub fn lambda_m(&self) -> f64 {
        12.398419843320026e-10 / self.energy_kev
    }
    /// Checks energy, distances, pixel size, δ/β and regularisation (positive distances, non-negative regularisation).
    pub fn validate(&self) -> Result<()> {
        Paganin {
            energy_kev: self.energy_kev,
            distance_m: self.distances_m.first().copied().unwrap_or(0.0),
            pixel_um: self.pixel_um,
            delta_beta: self.delta_beta,
        }
        .validate()?;
        if self.distances_m.is_empty() || self.distances_m.iter().any(|d| !(d.is_finite() && *d > 0.0)) {
            return Err(Error::param("CTF needs one or more positive distances (m)"));
        }
        if !(self.alpha_low >= 0.0 && self.alpha_high >= 0.0) {
            return Err(Error::param("CTF regularisation must be non-negative"));
        }
        Ok(())
    }
}

/// Retrieves k∫δ dl (radians, positive) from normalised holograms of one
/// projection, one per distance, already on a common grid and aligned.
pub fn ctf_retrieve(images: &[ndarray::ArrayView2<f32>], p: &Ctf) -> Result<Array2<f32>> {
    p.validate()?;
    if images.len() != p.distances_m.len() {
        return Err(Error::shape(format!("{} images for {} distances", images.len(), p.distances_m.len())));
    }
    let (h, w) = images[0].dim();
    if images.iter().any(|i| i.dim() != (h, w)) {
        return Err(Error::shape("holograms of one projection differ in size"));
    }
    let (ph, pw) = ((2 * h).next_power_of_two(), (2 * w).next_power_of_two());
    let (oy, ox) = ((ph - h) / 2, (pw - w) / 2);
    let plan = Fft2::new(ph, pw);
    let spectra: Vec<Array2<Complex<f64>>> = images
        .iter()
        .map(|img| {
            let mut a = Array2::<Complex<f64>>::from_shape_fn((ph, pw), |(r, c)| {
                let rr = (r as isize - oy as isize).clamp(0, h as isize - 1) as usize;
                let cc = (c as isize - ox as isize).clamp(0, w as isize - 1) as usize;
                Complex::new((img[[rr, cc]].max(1e-6) as f64).ln(), 0.0)
            });
            plan.forward(&mut a);
            a
        })
        .collect();
    let lambda = p.lambda_m();
    let px = p.pixel_um * 1e-6;
    let (fy, fx) = (frequencies(ph), frequencies(pw));
    let bd = 1.0 / p.delta_beta;
    let mut phi = Array2::<Complex<f64>>::zeros((ph, pw));
    Zip::indexed(&mut phi).for_each(|(r, c), out| {
        let f2 = (fy[r] * fy[r] + fx[c] * fx[c]) / (px * px);
        let (mut num, mut den) = (Complex::new(0.0, 0.0), 0.0);
        let sinc =
            |x: f64| if x.abs() < 1e-12 { 1.0 } else { (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x) };
        for (k, d) in p.distances_m.iter().enumerate() {
            let z = p.zoom.get(k).copied().unwrap_or(1.0);
            if fy[r].abs() > 0.5 / z || fx[c].abs() > 0.5 / z {
                continue;
            }
            let mtf = sinc(z * fy[r]) * sinc(z * fx[c]);
            let chi = std::f64::consts::PI * lambda * d * f2;
            let a = (chi.sin() + bd * chi.cos()) * mtf;
            num += spectra[k][[r, c]] * a;
            den += a * a;
        }
        // Regularisation: α_low at the lowest frequencies rising to α_high at Nyquist.
        let q = (fy[r] * fy[r] + fx[c] * fx[c]).sqrt() / 0.5;
        let alpha = p.alpha_low + (p.alpha_high - p.alpha_low) * (1.0 - (-(q * q) / 0.02).exp());
        *out = num / (2.0 * den + alpha);
    });
    plan.inverse(&mut phi);
    // φ = −k∫δ: return its magnitude.
    Ok(Array2::from_shape_fn((h, w), |(r, c)| -phi[[r + oy, c + ox]].re as f32))
}

/// Paganin-retrieved k∫δ dl (radians, positive) of one normalised hologram:
/// for a homogeneous object the filtered transmission is exp(−2k∫β) and
/// ∫δ = (δ/β)·∫β.
pub fn paganin_phase(img: ndarray::ArrayView2<f32>, p: &Paganin) -> Array2<f32> {
    let mut t = img.to_owned();
    paganin_filter(t.view_mut(), p);
    t.mapv(|v| (-(v.max(1e-6) as f64).ln() * p.delta_beta / 2.0) as f32)
}

/// The hologram at distance `k` predicted from retrieved k∫δ (radians) for a
/// homogeneous object (k∫β = k∫δ·β/δ), with that distance's detector pixel
/// transfer function, on the common grid.
pub fn predict_hologram(phi: ndarray::ArrayView2<f32>, p: &Ctf, k: usize) -> Array2<f64> {
    let (h, w) = phi.dim();
    let (ph, pw) = ((2 * h).next_power_of_two(), (2 * w).next_power_of_two());
    let (oy, ox) = ((ph - h) / 2, (pw - w) / 2);
    let bd = 1.0 / p.delta_beta;
    let mut psi = Array2::<Complex<f64>>::from_shape_fn((ph, pw), |(r, c)| {
        let rr = (r as isize - oy as isize).clamp(0, h as isize - 1) as usize;
        let cc = (c as isize - ox as isize).clamp(0, w as isize - 1) as usize;
        let f = phi[[rr, cc]] as f64;
        Complex::from_polar((-f * bd).exp(), -f)
    });
    let plan = Fft2::new(ph, pw);
    chemomech_imgproc::fresnel_propagate(&mut psi, &plan, p.lambda_m(), p.distances_m[k], p.pixel_um * 1e-6);
    let mut inten = psi.mapv(|z| Complex::new(z.norm_sqr(), 0.0));
    let z = p.zoom.get(k).copied().unwrap_or(1.0);
    if z != 1.0 {
        plan.forward(&mut inten);
        let (fy, fx) = (frequencies(ph), frequencies(pw));
        let sinc =
            |x: f64| if x.abs() < 1e-12 { 1.0 } else { (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x) };
        Zip::indexed(&mut inten).for_each(|(r, c), v| *v *= sinc(z * fy[r]) * sinc(z * fx[c]));
        plan.inverse(&mut inten);
    }
    Array2::from_shape_fn((h, w), |(r, c)| inten[[r + oy, c + ox]].re)
}
