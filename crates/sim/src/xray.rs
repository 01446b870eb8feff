//! X-ray optical constants from tabulated elemental data (Elam mass
//! attenuation; Chantler f′, f″), committed in `data/xray_tables.json` with
//! its generator script. Materials are formulas with a density, or mixtures
//! by mass of such formulas.

use chemomech_core::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Classical electron radius in cm.
const R_E_CM: f64 = 2.8179403262e-13;
/// Avogadro's number.
const N_A: f64 = 6.02214076e23;
/// h·c in eV·cm.
const HC_EV_CM: f64 = 12398.419843320026e-8;

#[derive(Deserialize)]
struct RawTables {
    energy_ev: Vec<f64>,
    k_edges_ev: BTreeMap<String, f64>,
    elements: BTreeMap<String, RawElement>,
}

#[derive(Deserialize)]
struct RawElement {
    z: u32,
    atomic_mass: f64,
    mu_total_cm2_g: Vec<f64>,
    f1_anomalous: Vec<f64>,
    f2: Vec<f64>,
}

fn tables() -> &'static RawTables {
    static T: OnceLock<RawTables> = OnceLock::new();
    T.get_or_init(|| {
        serde_json::from_str(include_str!("../data/xray_tables.json")).expect("embedded X-ray tables are valid JSON")
    })
}

fn element(sym: &str) -> Result<&'static RawElement> {
    tables().elements.get(sym).ok_or_else(|| {
        Error::param(format!(
            "no X-ray data for element '{sym}' (have {})",
            tables().elements.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })
}

/// Interpolates a tabulated quantity at `e` (log-log for positive values,
/// linear otherwise). The grid repeats points either side of K edges, so no
/// interval straddles an edge.
fn interp(values: &[f64], e: f64, log: bool) -> Result<f64> {
    let g = &tables().energy_ev;
    if !(g[0]..=g[g.len() - 1]).contains(&e) {
        return Err(Error::param(format!("energy {e} eV is outside the tabulated 4–40 keV")));
    }
    let i = g.partition_point(|&x| x <= e).clamp(1, g.len() - 1) - 1;
    let (e0, e1, v0, v1) = (g[i], g[i + 1], values[i], values[i + 1]);
    if log && v0 > 0.0 && v1 > 0.0 {
        let t = (e / e0).ln() / (e1 / e0).ln();
        Ok((v0.ln() + t * (v1.ln() - v0.ln())).exp())
    } else {
        Ok(v0 + (e - e0) / (e1 - e0) * (v1 - v0))
    }
}

/// Mass attenuation coefficient (total) of an element in cm²/g.
pub fn mu_mass(sym: &str, e: f64) -> Result<f64> {
    interp(&element(sym)?.mu_total_cm2_g, e, true)
}

/// Mass attenuation of an element below its K edge extrapolated above it
/// (power law through the last two tabulated points below the edge): the
/// smooth background on which an absorption edge sits.
pub fn mu_mass_below_edge(sym: &str, e: f64) -> Result<f64> {
    let edge = *tables().k_edges_ev.get(sym).ok_or_else(|| Error::param(format!("no K edge of {sym} in range")))?;
    if e < edge {
        return mu_mass(sym, e);
    }
    let (ea, eb) = (edge - 300.0, edge - 0.02);
    let (ma, mb) = (mu_mass(sym, ea)?, mu_mass(sym, eb)?);
    let slope = (mb / ma).ln() / (eb / ea).ln();
    Ok(mb * (e / eb).powf(slope))
}

/// K-edge energy of an element (eV), when within the tables.
pub fn k_edge(sym: &str) -> Option<f64> {
    tables().k_edges_ev.get(sym).copied()
}

/// A material: element mass fractions and a density.
#[derive(Debug, Clone, PartialEq)]
pub struct Material {
    /// Name of the material.
    pub name: String,
    /// (element, mass fraction); fractions sum to 1.
    pub mass_fractions: Vec<(String, f64)>,
    /// Density in g/cm³.
    pub density_g_cm3: f64,
}

/// Parses a chemical formula such as `LiNi0.6Mn0.2Co0.2O2` or `C2H2F2` into
/// (element, atoms per formula unit).
pub fn parse_formula(f: &str) -> Result<Vec<(String, f64)>> {
    let b = f.as_bytes();
    let mut out: Vec<(String, f64)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_uppercase() {
            return Err(Error::param(format!("formula '{f}': expected an element symbol at position {}", i + 1)));
        }
        let mut j = i + 1;
        while j < b.len() && b[j].is_ascii_lowercase() {
            j += 1;
        }
        let sym = &f[i..j];
        let mut k = j;
        while k < b.len() && (b[k].is_ascii_digit() || b[k] == b'.') {
            k += 1;
        }
        let n = if k > j {
            f[j..k].parse::<f64>().map_err(|_| Error::param(format!("formula '{f}': bad count '{}'", &f[j..k])))?
        } else {
            1.0
        };
        element(sym)?;
        match out.iter_mut().find(|(s, _)| s == sym) {
            Some(e) => e.1 += n,
            None => out.push((sym.to_string(), n)),
        }
        i = k;
    }
    if out.is_empty() {
        return Err(Error::param("empty formula"));
    }
    Ok(out)
}

impl Material {
    /// A compound from its formula and density (g/cm³).
    pub fn compound(name: &str, formula: &str, density: f64) -> Result<Self> {
        Self::mixture(name, &[(formula, 1.0)], density)
    }
    /// A mixture by mass of formulas, with the mixture's density.
    pub fn mixture(name: &str, parts: &[(&str, f64)], density: f64) -> Result<Self> {
        if !(density > 0.0 && density.is_finite()) {
            return Err(Error::param(format!("{name}: density must be positive, got {density}")));
        }
        let total: f64 = parts.iter().map(|p| p.1).sum();
        if !(total > 0.0) {
            return Err(Error::param(format!("{name}: mass fractions must be positive")));
        }
        let mut w: BTreeMap<String, f64> = BTreeMap::new();
        for (formula, frac) in parts {
            let atoms = parse_formula(formula)?;
            let m: f64 = atoms.iter().map(|(s, n)| n * element(s).map(|e| e.atomic_mass).unwrap_or(0.0)).sum();
            for (s, n) in atoms {
                *w.entry(s.clone()).or_default() += frac / total * n * element(&s)?.atomic_mass / m;
            }
        }
        Ok(Self { name: name.into(), mass_fractions: w.into_iter().collect(), density_g_cm3: density })
    }
    /// A material that does not attenuate (vacuum/air at this scale).
    pub fn vacuum() -> Self {
        Self { name: "vacuum".into(), mass_fractions: Vec::new(), density_g_cm3: 0.0 }
    }
    /// Linear attenuation coefficient μ in 1/cm.
    pub fn mu(&self, e: f64) -> Result<f64> {
        let mut m = 0.0;
        for (s, w) in &self.mass_fractions {
            m += w * mu_mass(s, e)?;
        }
        Ok(m * self.density_g_cm3)
    }
    /// μ (1/cm) with `edge_element`'s K-edge step removed (its below-edge
    /// branch extrapolated): the smooth background under the edge.
    pub fn mu_without_edge(&self, e: f64, edge_element: &str) -> Result<f64> {
        let mut m = 0.0;
        for (s, w) in &self.mass_fractions {
            m += w * if s == edge_element { mu_mass_below_edge(s, e)? } else { mu_mass(s, e)? };
        }
        Ok(m * self.density_g_cm3)
    }
    /// Mass fraction of an element.
    pub fn fraction(&self, sym: &str) -> f64 {
        self.mass_fractions.iter().find(|(s, _)| s == sym).map_or(0.0, |p| p.1)
    }
    /// Refractive index decrement δ and absorption index β at `e` (eV):
    /// n = 1 − δ + iβ, from Z + f′ and f″ (Chantler).
    pub fn delta_beta(&self, e: f64) -> Result<(f64, f64)> {
        let lambda = HC_EV_CM / e;
        let k = R_E_CM * lambda * lambda / (2.0 * std::f64::consts::PI) * N_A * self.density_g_cm3;
        let (mut d, mut b) = (0.0, 0.0);
        for (s, w) in &self.mass_fractions {
            let el = element(s)?;
            let per_gram = w / el.atomic_mass;
            d += per_gram * (el.z as f64 + interp(&el.f1_anomalous, e, false)?);
            b += per_gram * interp(&el.f2, e, true)?;
        }
        Ok((k * d, k * b))
    }
}

/// Photon wavelength in metres.
pub fn wavelength_m(e_ev: f64) -> f64 {
    HC_EV_CM / e_ev * 1e-2
}

#[cfg(test)]
mod tests {
    use super::*;
    // Golden values from xraydb 4.5.8 (make_xray_tables.py prints them).
    #[test]
    fn nmc622_matches_xraydb() {
        let m = Material::compound("NMC622", "LiNi0.6Mn0.2Co0.2O2", 4.7).unwrap();
        let rel = |a: f64, b: f64| (a - b).abs() / b;
        assert!(rel(m.mu(8000.0).unwrap(), 434.10851080591203) < 2e-3);
        assert!(rel(m.mu(8340.0).unwrap(), 875.5865547114022) < 5e-3);
        assert!(rel(m.mu(8330.0).unwrap(), 391.0227952117376) < 5e-3);
        let (d, b) = m.delta_beta(17050.0).unwrap();
        assert!(rel(d, 3.2235031028902005e-06) < 2e-3, "{d}");
        assert!(rel(b, 7.348678598854067e-08) < 5e-3, "{b}");
        // Below-edge extrapolation stays continuous and below the edge jump.
        let bg = m.mu_without_edge(8340.0, "Ni").unwrap();
        assert!(bg < 400.0 && bg > 350.0, "{bg}");
    }
    #[test]
    fn formulas() {
        assert_eq!(parse_formula("C2H2F2").unwrap(), vec![("C".into(), 2.0), ("H".into(), 2.0), ("F".into(), 2.0)]);
        assert!(parse_formula("Xx2").is_err());
        assert!(parse_formula("li").is_err());
        let cbd = Material::mixture("CBD", &[("C", 0.5), ("C2H2F2", 0.5)], 1.2).unwrap();
        let s: f64 = cbd.mass_fractions.iter().map(|p| p.1).sum();
        assert!((s - 1.0).abs() < 1e-12);
        assert!(Material::compound("x", "C", -1.0).is_err());
    }
}
