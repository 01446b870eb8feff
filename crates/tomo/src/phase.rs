//! Single-distance phase retrieval (Paganin et al., J. Microsc. 206, 33,
//! 2002) in δ/β form. Units: energy in keV, propagation distance in metres,
//! pixel size in µm, δ/β dimensionless. (TomoPy's `alpha` is a different,
//! regularisation-style parameter; it is not δ/β.)

use chemomech_core::{Error, Result};
use chemomech_imgproc::{frequencies, Fft2};
use ndarray::{Array2, Array3, ArrayViewMut2, Axis, Zip};
use num_complex::Complex;
use rayon::prelude::*;

/// Paganin parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Paganin {
    pub energy_kev: f64,
    pub distance_m: f64,
    pub pixel_um: f64,
    pub delta_beta: f64,
}

impl Paganin {
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
