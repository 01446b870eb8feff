//! Ni K-edge reference spectra for the simulated XANES: the real NiO (Ni²⁺)
//! and LiNiO2 (Ni³⁺) standards when the caller supplies them, else built-in
//! models fitted to those standards (`data/fit_model_references.py`).
//!
//! Valence v ∈ [2, 3] mixes NiO and LiNiO2 linearly (weight of LiNiO2 =
//! v − 2). No Ni⁴⁺ standard is at hand, so for v > 3 the Ni⁴⁺ end member is
//! LiNiO2 shifted up in energy by the NiO→LiNiO2 half-height edge shift
//! (about 1.8 eV per valence unit), and v ∈ [3, 4] mixes LiNiO2 with it.

use chemomech_core::{Error, Result};

/// A normalised reference spectrum (pre-edge 0, post-edge 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// Name of the spectrum (file or model).
    pub name: String,
    /// Energies in eV, strictly increasing.
    pub energy_ev: Vec<f64>,
    /// Normalised μ at each energy.
    pub mu: Vec<f64>,
}

/// Built-in model parameters (see the module doc and the fit script).
const MODEL_NIO: [f64; 18] = [
    8340.42, 1.96352, 0.382507, 8347.56, 2.17402, 0.334501, 8365.0, -3.81642, 82.0805, 0.104143, 25.6654, -0.326529,
    0.322165, 52.449, 1.46851, -0.170777, 74.2311, -1.37053,
];
const MODEL_LINIO2: [f64; 18] = [
    8342.18, 2.30997, 0.469577, 8349.71, 2.12248, 0.245761, 8367.54, 3.91795, 86.4943, 0.0522438, 27.0796, -0.771861,
    0.154837, 54.5936, 1.16377, -0.161935, 81.123, -7.56773,
];

fn model(p: &[f64; 18], e: f64) -> f64 {
    let (e0, g, a1, e1, w1, a2, e2, w2, tau) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]);
    let mut s = 0.5 + ((e - e0) / g).atan() / std::f64::consts::PI;
    s += a1 * (-(e - e1).powi(2) / (2.0 * w1 * w1)).exp() + a2 * (-(e - e2).powi(2) / (2.0 * w2 * w2)).exp();
    let h = 1.0 / (1.0 + (-(e - e0 - 4.0) / 2.0).exp());
    for k in 0..3 {
        let (b, per, ph) = (p[9 + 3 * k], p[10 + 3 * k], p[11 + 3 * k]);
        s += h * b * (std::f64::consts::TAU * (e - e0) / per + ph).sin() * (-(e - e0).max(0.0) / tau).exp();
    }
    s
}

impl Reference {
    /// A reference from arrays (energies increasing, in eV).
    pub fn new(name: &str, energy_ev: Vec<f64>, mu: Vec<f64>) -> Result<Self> {
        if energy_ev.len() != mu.len() || energy_ev.len() < 10 {
            return Err(Error::data(format!("reference {name}: need ≥ 10 points with one μ per energy")));
        }
        chemomech_core::types::check_increasing(&energy_ev, &format!("reference {name} energies"))?;
        Ok(Self { name: name.into(), energy_ev, mu })
    }
    /// The built-in NiO model on 8200–9000 eV (0.5 eV steps).
    pub fn model_nio() -> Self {
        Self::from_model("NiO (model)", &MODEL_NIO)
    }
    /// The built-in LiNiO2 model.
    pub fn model_linio2() -> Self {
        Self::from_model("LiNiO2 (model)", &MODEL_LINIO2)
    }
    fn from_model(name: &str, p: &[f64; 18]) -> Self {
        let e: Vec<f64> = (0..=1600).map(|i| 8200.0 + 0.5 * i as f64).collect();
        let mu = e.iter().map(|&x| model(p, x)).collect();
        Self { name: name.into(), energy_ev: e, mu }
    }
    /// μ at `e` (linear interpolation; clamped to the end values outside).
    pub fn at(&self, e: f64) -> f64 {
        let x = &self.energy_ev;
        if e <= x[0] {
            return self.mu[0];
        }
        if e >= x[x.len() - 1] {
            return self.mu[x.len() - 1];
        }
        let i = x.partition_point(|&v| v <= e) - 1;
        let t = (e - x[i]) / (x[i + 1] - x[i]);
        self.mu[i] + t * (self.mu[i + 1] - self.mu[i])
    }
    /// Energy where the normalised μ first reaches ½ (edge position).
    pub fn half_height_energy(&self) -> f64 {
        for i in 1..self.mu.len() {
            if self.mu[i] >= 0.5 && self.mu[i - 1] < 0.5 {
                let t = (0.5 - self.mu[i - 1]) / (self.mu[i] - self.mu[i - 1]);
                return self.energy_ev[i - 1] + t * (self.energy_ev[i] - self.energy_ev[i - 1]);
            }
        }
        self.energy_ev[self.energy_ev.len() / 2]
    }
}

/// The end members and how a valence mixes them.
#[derive(Debug, Clone)]
pub struct NiSpectra {
    /// The Ni²⁺ (NiO) end member.
    pub ni2: Reference,
    /// The Ni³⁺ (LiNiO2) end member.
    pub ni3: Reference,
    /// NiO→LiNiO2 edge shift, also used to model Ni⁴⁺ (eV).
    pub shift_ev: f64,
}

impl NiSpectra {
    /// The end members, with the edge shift taken between their half-height energies.
    pub fn new(ni2: Reference, ni3: Reference) -> Self {
        let shift_ev = ni3.half_height_energy() - ni2.half_height_energy();
        Self { ni2, ni3, shift_ev }
    }
    /// Weights of (Ni²⁺, Ni³⁺, Ni⁴⁺) end members at valence v.
    pub fn weights(v: f64) -> [f64; 3] {
        let v = v.clamp(2.0, 4.0);
        if v <= 3.0 { [3.0 - v, v - 2.0, 0.0] } else { [0.0, 4.0 - v, v - 3.0] }
    }
    /// The three end-member spectra at energy e.
    pub fn end_members(&self, e: f64) -> [f64; 3] {
        [self.ni2.at(e), self.ni3.at(e), self.ni3.at(e - self.shift_ev)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn models_look_like_ni_k_edges() {
        let (a, b) = (Reference::model_nio(), Reference::model_linio2());
        let s = NiSpectra::new(a.clone(), b.clone());
        assert!(s.shift_ev > 1.0 && s.shift_ev < 3.0, "{}", s.shift_ev);
        assert!(a.at(8250.0).abs() < 0.05 && (a.at(8900.0) - 1.0).abs() < 0.1);
        assert_eq!(NiSpectra::weights(2.25), [0.75, 0.25, 0.0]);
        assert_eq!(NiSpectra::weights(3.5), [0.0, 0.5, 0.5]);
    }
}
