//! Simulator configuration: TOML-readable, every field with a default, and
//! named presets. `validate` rejects absurd values with one-line errors.

use chemomech_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Everything the simulator needs. Lengths in µm unless named otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Random seed: the same seed gives the same arrays, whatever the thread count.
    pub seed: u64,
    /// The composite cathode.
    pub electrode: ElectrodeConfig,
    /// Cracking and detachment.
    pub damage: DamageConfig,
    /// State-of-charge field and Ni valence.
    pub chemistry: ChemistryConfig,
    /// Absorption tomography.
    pub tomography: TomographyConfig,
    /// Phase contrast (holotomography).
    pub phase_contrast: PhaseContrastConfig,
    /// TXM-XANES across the Ni K-edge.
    pub xanes: XanesConfig,
}

/// The composite cathode: box, particles, carbon-binder, pores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElectrodeConfig {
    /// Electrode thickness along z (separator at z = 0, current collector at z = max).
    pub thickness_um: f64,
    /// Lateral extent along y and x.
    pub lateral_um: f64,
    /// Voxel edge length.
    pub voxel_um: f64,
    /// Median equivalent-sphere diameter of secondary particles.
    pub median_esd_um: f64,
    /// σ of ln(ESD) of the log-normal size distribution.
    pub esd_log_sigma: f64,
    /// Smallest equivalent-sphere diameter of secondary particles.
    pub min_esd_um: f64,
    /// Largest equivalent-sphere diameter of secondary particles.
    pub max_esd_um: f64,
    /// Target active-material volume fraction.
    pub active_fraction: f64,
    /// Target carbon-binder volume fraction.
    pub cbd_fraction: f64,
    /// Largest relative deviation of the ellipsoid semi-axes from the sphere.
    pub ellipticity: f64,
    /// Amplitude of the surface roughness (relative radius).
    pub roughness: f64,
    /// How deep touching particles may interpenetrate (fraction of the sum of radii).
    pub contact_overlap: f64,
    /// Carbon-binder bridge reach between two particle surfaces (µm).
    pub cbd_bridge_um: f64,
    /// Sub-samples per voxel edge for partial-volume fractions at boundaries.
    pub supersample: usize,
    /// Active material formula and density (g/cm³).
    pub active_formula: String,
    /// Active material density (g/cm³).
    pub active_density: f64,
    /// Carbon-binder: carbon black mass fraction (rest PVDF) and density (g/cm³, incl. nano-porosity).
    pub cbd_carbon_mass_fraction: f64,
    /// Carbon-binder density (g/cm³, incl. nano-porosity).
    pub cbd_density: f64,
    /// Pore filling: "vacuum" (dry electrode) or "electrolyte" (LiPF6 in EC/DMC).
    pub pore_fill: String,
}

/// Intergranular cracking and detachment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DamageConfig {
    /// "fast_charge_10" (more damage near the separator) or "cycles_50" (homogeneous, heavier).
    pub profile: String,
    /// Crack-fraction thresholds: least < mild_threshold ≤ mild < severe_threshold ≤ severe.
    pub mild_threshold: f64,
    /// Crack fraction from which a particle is severely damaged.
    pub severe_threshold: f64,
    /// Wide-open crack width range (µm).
    pub wide_crack_um: [f64; 2],
    /// Fine (sub-voxel) crack width range (µm).
    pub fine_crack_um: [f64; 2],
    /// Fine cracks per particle (texture; little volume).
    pub fine_cracks_per_particle: [usize; 2],
    /// Fraction of severely damaged particles that lose contact with the carbon-binder.
    pub detach_probability: f64,
    /// Width of the gap between a detached particle and the carbon-binder (µm).
    pub gap_um: f64,
    /// Fraction of the surface (a cap) where the gap opens.
    pub gap_cap_fraction: f64,
}

/// State-of-charge field and Ni valence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChemistryConfig {
    /// SoC at the separator and at the current collector (fast charge: higher near the separator).
    pub soc_separator: f64,
    /// SoC at the current collector.
    pub soc_collector: f64,
    /// Shape of the depth profile: soc(z) = sep + (col − sep)·(z/L)^exponent.
    pub depth_exponent: f64,
    /// Core–shell: extra SoC at the particle surface (∝ r²).
    pub shell_delta: f64,
    /// Oxidised crack surfaces: extra SoC decaying with distance from a crack.
    pub crack_delta: f64,
    /// Decay length of the crack-surface SoC excess (µm).
    pub crack_decay_um: f64,
    /// Particle-to-particle SoC scatter (σ).
    pub particle_sigma: f64,
    /// Ni valence at SoC 0 and 1. Between 2 and 3 the spectrum is a NiO/LiNiO2
    /// mixture; above 3, Ni⁴⁺ is modelled as LiNiO2 shifted up in energy by
    /// the NiO→LiNiO2 edge shift (no Ni⁴⁺ standard is at hand).
    pub valence_soc0: f64,
    /// Ni valence at SoC 1.
    pub valence_soc1: f64,
}

/// Absorption tomography.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TomographyConfig {
    /// Whether to simulate the absorption scan.
    pub enabled: bool,
    /// Photon energy in keV.
    pub energy_kev: f64,
    /// Projections over 180°.
    pub angles: usize,
    /// Mean photons per pixel in the flat field (Poisson noise); 0 = noise-free.
    pub photons: f64,
    /// Number of flat-field frames.
    pub flats: usize,
    /// Number of dark-field frames.
    pub darks: usize,
    /// Mean dark counts.
    pub dark_counts: f64,
    /// Relative amplitude of the smooth flat-field pattern.
    pub flat_variation: f64,
    /// Angular range scanned (degrees): 180 for a full scan, less for a
    /// missing wedge (TXM sample holders often block ±60–70°).
    pub arc_deg: f64,
    /// Projection jitter (TXM run-out): every projection displaced by an
    /// independent uniform shift of up to ± this in rows and columns (pixels).
    pub jitter_px: f64,
    /// Detector/zone-plate point-spread function: Gaussian σ (pixels); 0 = none.
    pub psf_px: f64,
}

/// Propagation-based phase contrast (holotomography).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PhaseContrastConfig {
    /// Whether to simulate the holotomography scans.
    pub enabled: bool,
    /// Photon energy in keV.
    pub energy_kev: f64,
    /// Projections over 180°.
    pub angles: usize,
    /// Focus-to-detector distance (m) of the cone beam.
    pub focus_to_detector_m: f64,
    /// Effective propagation distances (m), one per recording distance.
    pub distances_m: Vec<f64>,
    /// Random lateral misalignment between distances (pixels, σ).
    pub misalignment_px: f64,
    /// Mean photons per pixel in the flat field (Poisson noise); 0 = noise-free.
    pub photons: f64,
}

/// TXM-XANES across the Ni K-edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XanesConfig {
    /// Whether to simulate the XANES stack.
    pub enabled: bool,
    /// Thickness of the slab imaged in projection, centred in x (µm); the image is (z, y).
    pub slab_um: f64,
    /// Energies (eV); empty = the default grid (10 eV steps pre/post-edge, 1 eV at the edge).
    pub energies_ev: Vec<f64>,
    /// Mean photons per pixel in the reference (flat) images (Poisson noise); 0 = noise-free.
    pub photons: f64,
    /// Random sub-pixel sample drift between energies (pixels, σ).
    pub drift_px: f64,
    /// Relative amplitude of the smooth reference-image pattern.
    pub flat_variation: f64,
    /// Mean dark counts.
    pub dark_counts: f64,
    /// NiO and LiNiO2 reference spectra (text, energy + normalised μ). Empty:
    /// the real ones in ../shared/data/xas when found, else built-in models.
    pub reference_ni2: String,
    /// LiNiO2 (Ni³⁺) reference spectrum file; empty as for `reference_ni2`.
    pub reference_ni3: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            electrode: ElectrodeConfig::default(),
            damage: DamageConfig::default(),
            chemistry: ChemistryConfig::default(),
            tomography: TomographyConfig::default(),
            phase_contrast: PhaseContrastConfig::default(),
            xanes: XanesConfig::default(),
        }
    }
}

impl Default for ElectrodeConfig {
    fn default() -> Self {
        Self {
            thickness_um: 40.0,
            lateral_um: 48.0,
            voxel_um: 0.4,
            median_esd_um: 7.0,
            esd_log_sigma: 0.22,
            min_esd_um: 3.5,
            max_esd_um: 13.0,
            active_fraction: 0.45,
            cbd_fraction: 0.15,
            ellipticity: 0.12,
            roughness: 0.035,
            contact_overlap: 0.04,
            cbd_bridge_um: 1.6,
            supersample: 2,
            active_formula: "LiNi0.6Mn0.2Co0.2O2".into(),
            active_density: 4.7,
            cbd_carbon_mass_fraction: 0.5,
            cbd_density: 1.2,
            pore_fill: "vacuum".into(),
        }
    }
}

impl Default for DamageConfig {
    fn default() -> Self {
        Self {
            profile: "fast_charge_10".into(),
            mild_threshold: 0.03,
            severe_threshold: 0.15,
            wide_crack_um: [0.4, 0.7],
            fine_crack_um: [0.06, 0.16],
            fine_cracks_per_particle: [1, 4],
            detach_probability: 0.7,
            gap_um: 0.8,
            gap_cap_fraction: 0.5,
        }
    }
}

impl Default for ChemistryConfig {
    fn default() -> Self {
        Self {
            soc_separator: 0.78,
            soc_collector: 0.42,
            depth_exponent: 1.0,
            shell_delta: 0.08,
            crack_delta: 0.10,
            crack_decay_um: 0.5,
            particle_sigma: 0.03,
            valence_soc0: 2.0,
            valence_soc1: 3.0,
        }
    }
}

impl Default for TomographyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            energy_kev: 8.0,
            angles: 181,
            photons: 20000.0,
            flats: 10,
            darks: 10,
            dark_counts: 100.0,
            flat_variation: 0.05,
            arc_deg: 180.0,
            jitter_px: 0.0,
            psf_px: 0.0,
        }
    }
}

impl Default for PhaseContrastConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            energy_kev: 17.05,
            angles: 181,
            focus_to_detector_m: 1.2,
            distances_m: vec![0.0020, 0.0024, 0.0034, 0.0050],
            misalignment_px: 0.7,
            photons: 20000.0,
        }
    }
}

impl Default for XanesConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            slab_um: 6.0,
            energies_ev: Vec::new(),
            photons: 20000.0,
            drift_px: 1.5,
            flat_variation: 0.05,
            dark_counts: 100.0,
            reference_ni2: String::new(),
            reference_ni3: String::new(),
        }
    }
}

/// The default XANES energy grid: 68 energies, 8200–8640 eV, 10 eV steps
/// below 8320 eV, 1 eV steps 8325–8365 eV, 20 eV steps 8380–8640 eV.
pub fn default_energy_grid() -> Vec<f64> {
    let mut e: Vec<f64> = (0..13).map(|i| 8200.0 + 10.0 * i as f64).collect();
    e.extend((0..41).map(|i| 8325.0 + i as f64));
    e.extend((0..14).map(|i| 8380.0 + 20.0 * i as f64));
    e
}

/// Named presets: sizes (`small` for the demo, `medium`, `large`) and the
/// damage states (`cycles_50`). Combine e.g. `medium,cycles_50`.
pub fn preset(names: &str) -> Result<SimConfig> {
    let mut c = SimConfig::default();
    for n in names.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match n {
            "small" | "default" => {}
            "tiny" => {
                c.electrode.thickness_um = 20.0;
                c.electrode.lateral_um = 24.0;
                c.electrode.median_esd_um = 6.0;
                c.tomography.angles = 91;
            }
            "medium" => {
                c.electrode.thickness_um = 60.0;
                c.electrode.lateral_um = 72.0;
                c.electrode.voxel_um = 0.3;
                c.tomography.angles = 361;
                c.phase_contrast.angles = 361;
            }
            "large" => {
                c.electrode.thickness_um = 80.0;
                c.electrode.lateral_um = 128.0;
                c.electrode.voxel_um = 0.25;
                c.tomography.angles = 721;
                c.phase_contrast.angles = 721;
            }
            "fast_charge_10" | "cycles_10" => c.damage.profile = "fast_charge_10".into(),
            "cycles_50" => c.damage.profile = "cycles_50".into(),
            "holo" | "holotomography" => c.phase_contrast.enabled = true,
            other => {
                return Err(Error::param(format!(
                    "unknown preset '{other}' (small, medium, large, tiny, cycles_50, holo)"
                )));
            }
        }
    }
    Ok(c)
}

fn check(ok: bool, msg: impl FnOnce() -> String) -> Result<()> {
    if ok { Ok(()) } else { Err(Error::param(msg())) }
}

impl SimConfig {
    /// Reads a TOML configuration (unknown keys are errors).
    pub fn from_toml(text: &str) -> Result<Self> {
        let c: SimConfig = toml::from_str(text)
            .map_err(|e| Error::param(format!("simulator config: {}", e.to_string().replace('\n', " "))))?;
        c.validate()?;
        Ok(c)
    }

    /// Grid size (z, y, x) in voxels.
    pub fn shape(&self) -> (usize, usize, usize) {
        let e = &self.electrode;
        (
            (e.thickness_um / e.voxel_um).round() as usize,
            (e.lateral_um / e.voxel_um).round() as usize,
            (e.lateral_um / e.voxel_um).round() as usize,
        )
    }

    /// Rejects absurd parameters.
    pub fn validate(&self) -> Result<()> {
        self.validate_electrode()?;
        self.validate_damage()?;
        self.validate_chemistry()?;
        self.validate_tomography()?;
        self.validate_phase_contrast()?;
        self.validate_xanes()
    }

    /// The electrode: voxel and box sizes, particle sizes, fractions, shapes and densities.
    fn validate_electrode(&self) -> Result<()> {
        let pos = |v: f64| v.is_finite() && v > 0.0;
        let e = &self.electrode;
        check(pos(e.voxel_um) && e.voxel_um <= 10.0, || {
            format!("electrode.voxel_um must be in (0, 10], got {}", e.voxel_um)
        })?;
        check(pos(e.thickness_um) && pos(e.lateral_um), || "electrode sizes must be positive".into())?;
        let (nz, ny, nx) = self.shape();
        check(nz >= 8 && ny >= 8, || {
            format!("the electrode is only {nz}x{ny}x{nx} voxels; make it at least 8 voxels in each direction")
        })?;
        check((nz as u64) * (ny as u64) * (nx as u64) <= 2_000_000_000, || {
            format!("{nz}x{ny}x{nx} voxels is too large for one simulation")
        })?;
        check(
            pos(e.median_esd_um)
                && e.min_esd_um > 0.0
                && e.min_esd_um <= e.median_esd_um
                && e.median_esd_um <= e.max_esd_um,
            || {
                format!(
                    "need 0 < min_esd_um ≤ median_esd_um ≤ max_esd_um, got {} / {} / {}",
                    e.min_esd_um, e.median_esd_um, e.max_esd_um
                )
            },
        )?;
        check(e.max_esd_um < e.thickness_um, || {
            format!("max_esd_um {} must be below the thickness {}", e.max_esd_um, e.thickness_um)
        })?;
        check(e.min_esd_um >= 2.0 * e.voxel_um, || {
            format!("min_esd_um {} is under two voxels; particles would not be resolved", e.min_esd_um)
        })?;
        check((0.0..=1.0).contains(&e.esd_log_sigma), || "esd_log_sigma must be in [0, 1]".into())?;
        check(e.active_fraction > 0.05 && e.active_fraction < 0.65, || {
            format!("active_fraction {} must be in (0.05, 0.65)", e.active_fraction)
        })?;
        check(e.cbd_fraction >= 0.0 && e.active_fraction + e.cbd_fraction < 0.95, || {
            format!("cbd_fraction {} leaves no pores", e.cbd_fraction)
        })?;
        check(
            (0.0..0.5).contains(&e.ellipticity)
                && (0.0..0.2).contains(&e.roughness)
                && (0.0..0.3).contains(&e.contact_overlap),
            || "ellipticity < 0.5, roughness < 0.2 and contact_overlap < 0.3 are required".into(),
        )?;
        check((1..=4).contains(&e.supersample), || "supersample must be 1–4".into())?;
        check(
            pos(e.active_density) && pos(e.cbd_density) && (0.0..=1.0).contains(&e.cbd_carbon_mass_fraction),
            || "densities must be positive".into(),
        )?;
        check(e.pore_fill == "vacuum" || e.pore_fill == "electrolyte", || {
            format!("pore_fill must be 'vacuum' or 'electrolyte', got '{}'", e.pore_fill)
        })?;
        Ok(())
    }

    /// The damage profile, class thresholds, crack widths and detachment.
    fn validate_damage(&self) -> Result<()> {
        let d = &self.damage;
        check(d.profile == "fast_charge_10" || d.profile == "cycles_50", || {
            format!("damage.profile must be 'fast_charge_10' or 'cycles_50', got '{}'", d.profile)
        })?;
        check(0.0 < d.mild_threshold && d.mild_threshold < d.severe_threshold && d.severe_threshold < 0.5, || {
            "need 0 < mild_threshold < severe_threshold < 0.5".into()
        })?;
        check(
            d.wide_crack_um[0] > 0.0
                && d.wide_crack_um[0] <= d.wide_crack_um[1]
                && d.fine_crack_um[0] > 0.0
                && d.fine_crack_um[0] <= d.fine_crack_um[1],
            || "crack width ranges must be positive and ordered".into(),
        )?;
        check(
            (0.0..=1.0).contains(&d.detach_probability) && (0.0..=1.0).contains(&d.gap_cap_fraction) && d.gap_um >= 0.0,
            || "detachment parameters out of range".into(),
        )?;
        Ok(())
    }

    /// The SoC and valence model.
    fn validate_chemistry(&self) -> Result<()> {
        let pos = |v: f64| v.is_finite() && v > 0.0;
        let c = &self.chemistry;
        for (n, v) in [("soc_separator", c.soc_separator), ("soc_collector", c.soc_collector)] {
            check((0.0..=1.0).contains(&v), || format!("chemistry.{n} must be in [0, 1], got {v}"))?;
        }
        check(
            (2.0..=4.0).contains(&c.valence_soc0)
                && (2.0..=4.0).contains(&c.valence_soc1)
                && c.valence_soc0 < c.valence_soc1,
            || "valences must satisfy 2 ≤ valence_soc0 < valence_soc1 ≤ 4".into(),
        )?;
        check(pos(c.depth_exponent) && pos(c.crack_decay_um) && c.particle_sigma >= 0.0, || {
            "chemistry shape parameters must be positive".into()
        })?;
        Ok(())
    }

    /// Absorption tomography, when enabled.
    fn validate_tomography(&self) -> Result<()> {
        let t = &self.tomography;
        if t.enabled {
            check((4.0..=40.0).contains(&t.energy_kev), || {
                format!("tomography.energy_kev {} outside the tabulated 4–40 keV", t.energy_kev)
            })?;
            check((2..=20000).contains(&t.angles), || format!("tomography.angles must be 2–20000, got {}", t.angles))?;
            check(t.photons >= 0.0 && t.dark_counts >= 0.0 && (0.0..0.5).contains(&t.flat_variation), || {
                "tomography noise parameters out of range".into()
            })?;
            check(t.flats >= 1 && t.darks >= 1, || "tomography needs at least one flat and one dark".into())?;
            check(t.arc_deg > 0.0 && t.arc_deg <= 360.0, || {
                format!("tomography.arc_deg must be in (0, 360], got {}", t.arc_deg)
            })?;
            check((0.0..50.0).contains(&t.jitter_px) && (0.0..20.0).contains(&t.psf_px), || {
                "tomography.jitter_px must be in [0, 50) and psf_px in [0, 20) pixels".into()
            })?;
        }
        Ok(())
    }

    /// Holotomography, when enabled.
    fn validate_phase_contrast(&self) -> Result<()> {
        let p = &self.phase_contrast;
        if p.enabled {
            check((4.0..=40.0).contains(&p.energy_kev), || {
                format!("phase_contrast.energy_kev {} outside 4–40 keV", p.energy_kev)
            })?;
            check(
                !p.distances_m.is_empty() && p.distances_m.iter().all(|&z| z > 0.0 && z < p.focus_to_detector_m),
                || "phase_contrast.distances_m must be positive and below focus_to_detector_m".into(),
            )?;
            check((2..=20000).contains(&p.angles), || "phase_contrast.angles must be 2–20000".into())?;
        }
        Ok(())
    }

    /// TXM-XANES, when enabled.
    fn validate_xanes(&self) -> Result<()> {
        let pos = |v: f64| v.is_finite() && v > 0.0;
        let x = &self.xanes;
        let e = &self.electrode;
        if x.enabled {
            check(pos(x.slab_um) && x.slab_um <= e.lateral_um, || {
                format!("xanes.slab_um must be in (0, lateral_um], got {}", x.slab_um)
            })?;
            if !x.energies_ev.is_empty() {
                chemomech_core::types::check_increasing(&x.energies_ev, "xanes.energies_ev")?;
                check(x.energies_ev.len() >= 8, || "xanes.energies_ev needs at least 8 energies".into())?;
            }
            check(x.photons >= 0.0 && x.drift_px >= 0.0 && x.drift_px < 20.0, || {
                "xanes noise/drift out of range".into()
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn presets_and_validation() {
        let c = preset("small").unwrap();
        assert_eq!(c.shape(), (100, 120, 120));
        c.validate().unwrap();
        assert_eq!(preset("medium,cycles_50").unwrap().damage.profile, "cycles_50");
        assert!(preset("huge").is_err());
        assert_eq!(default_energy_grid().len(), 68);
        let e = SimConfig::from_toml("[electrode]\nvoxel_um = -1\n").unwrap_err();
        assert!(e.to_string().contains("voxel_um"), "{e}");
        assert!(SimConfig::from_toml("[electrode]\nbogus = 1\n").unwrap_err().to_string().contains("bogus"));
        let c = SimConfig::from_toml("seed = 7\n[tomography]\nangles = 90\n").unwrap();
        assert_eq!((c.seed, c.tomography.angles, c.electrode.voxel_um), (7, 90, 0.4));
    }
}
