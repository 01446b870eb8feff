//! What a family member is made of: morphology, damage and imaging, with
//! named presets and a randomised draw from one seed.

use chemomech_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Secondary-particle morphology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A dense particle; damage as radial cracks through its centre.
    Dense,
    /// An agglomerate of primary grains; damage as cracks along grain
    /// boundaries (intergranular).
    Agglomerate,
    /// A hollow core, with radial cracks from it.
    Hollow,
    /// A porous core, with radial cracks.
    PorousCore,
}

impl Kind {
    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dense => "dense",
            Kind::Agglomerate => "agglomerate",
            Kind::Hollow => "hollow",
            Kind::PorousCore => "porous-core",
        }
    }
}

/// Relative weights of the particle kinds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KindMix {
    /// Dense particles.
    pub dense: f64,
    /// Agglomerates of primary grains.
    pub agglomerate: f64,
    /// Hollow cores.
    pub hollow: f64,
    /// Porous cores.
    pub porous_core: f64,
}

impl KindMix {
    /// The kind at cumulative probability `u` ∈ [0, 1).
    pub fn draw(&self, u: f64) -> Kind {
        let w = [self.dense, self.agglomerate, self.hollow, self.porous_core];
        let total: f64 = w.iter().sum::<f64>().max(1e-12);
        let mut acc = 0.0;
        for (k, kind) in w.iter().zip([Kind::Dense, Kind::Agglomerate, Kind::Hollow, Kind::PorousCore]) {
            acc += k / total;
            if u < acc {
                return kind;
            }
        }
        Kind::Agglomerate
    }
}

/// Particle sizes, shapes and packing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Morphology {
    /// Range of envelope diameters, µm (log-uniform).
    pub diameter_um: [f64; 2],
    /// Elongation: the longest semi-axis is up to 1 + aspect of the shortest.
    pub aspect: f64,
    /// Relative amplitude of the surface undulations.
    pub roughness: f64,
    /// Primary grain size, µm (agglomerates).
    pub grain_um: f64,
    /// Solid volume fraction aimed at.
    pub packing: f64,
    /// How far neighbours may overlap, as a fraction of their radii sum.
    pub overlap: f64,
    /// Kinds of particles.
    pub kinds: KindMix,
    /// Fraction of particles the carbon binder has let go of.
    pub detached_fraction: f64,
    /// Carbon-binder shell thickness around attached particles, µm.
    pub cbd_shell_um: f64,
}

/// Damage: crack widths and how damage grows towards the separator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Damage {
    /// Range of crack widths, voxels (below one: sub-voxel cracks).
    pub width_vox: [f64; 2],
    /// Depth gradient of damage: 0 none, 1 strong (more near the separator).
    pub gradient: f64,
}

/// How the image is made from the partial-volume attenuation map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imaging {
    /// Gaussian PSF σ per axis (z, y, x), voxels.
    pub psf_vox: [f64; 3],
    /// Noise σ as a fraction of the solid–pore contrast.
    pub noise: f64,
    /// Phase-contrast fringe strength (a Laplacian-of-Gaussian edge term).
    pub fringes: f64,
    /// Ring-artefact amplitude, fraction of the contrast.
    pub rings: f64,
    /// Low-frequency residue (cupping and a ramp), fraction of the contrast.
    pub low_frequency: f64,
    /// Carbon-binder grey level between pore (0) and solid (1).
    pub cbd_level: f64,
}

/// One member of the simulator family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyConfig {
    /// Image shape (z, y, x), voxels; z = 1 makes a 2-D slice.
    pub shape: [usize; 3],
    /// Voxel size, µm.
    pub voxel_um: f64,
    /// Truth grid refinement per axis (the truth is on a grid this much finer).
    pub supersample: usize,
    /// Seed of every draw.
    pub seed: u64,
    /// Particles.
    pub morphology: Morphology,
    /// Damage.
    pub damage: Damage,
    /// Imaging.
    pub imaging: Imaging,
}

/// Morphology presets.
pub const MORPHOLOGIES: [&str; 5] = ["dense", "agglomerate", "hollow", "thin-cracks", "mixed"];
/// Imaging presets.
pub const IMAGINGS: [&str; 4] = ["clean", "absorption", "holo", "soft"];

impl FamilyConfig {
    /// Extent (z, y, x), µm.
    pub fn extent_um(&self) -> [f64; 3] {
        [
            self.shape[0] as f64 * self.voxel_um,
            self.shape[1] as f64 * self.voxel_um,
            self.shape[2] as f64 * self.voxel_um,
        ]
    }

    /// A named member: `MORPHOLOGY[+IMAGING]` (e.g. `hollow+holo`), or
    /// `random` (every parameter drawn from `seed`). Particles are 12–34
    /// voxels across at the preset's voxel size.
    pub fn preset(name: &str, seed: u64) -> Result<Self> {
        let (morph, imaging) = name.split_once('+').unwrap_or((name, "clean"));
        if morph == "random" {
            return Ok(Self::random(seed));
        }
        let mut c = Self::base(seed);
        let m = &mut c.morphology;
        match morph {
            "dense" => m.kinds = KindMix { dense: 1.0, agglomerate: 0.0, hollow: 0.0, porous_core: 0.0 },
            "agglomerate" => m.kinds = KindMix { dense: 0.0, agglomerate: 1.0, hollow: 0.0, porous_core: 0.0 },
            "hollow" => m.kinds = KindMix { dense: 0.0, agglomerate: 0.0, hollow: 0.6, porous_core: 0.4 },
            "thin-cracks" => {
                m.kinds = KindMix { dense: 0.5, agglomerate: 0.5, hollow: 0.0, porous_core: 0.0 };
                c.damage.width_vox = [0.3, 1.2];
            }
            "mixed" => {}
            other => {
                return Err(Error::param(format!(
                    "unknown family morphology '{other}' (one of {}, or random)",
                    MORPHOLOGIES.join(", ")
                )));
            }
        }
        c.imaging = Self::imaging(imaging)?;
        Ok(c)
    }

    fn base(seed: u64) -> Self {
        FamilyConfig {
            shape: [96, 96, 96],
            voxel_um: 0.25,
            supersample: 2,
            seed,
            morphology: Morphology {
                diameter_um: [3.0, 8.5],
                aspect: 0.3,
                roughness: 0.06,
                grain_um: 0.8,
                packing: 0.42,
                overlap: 0.08,
                kinds: KindMix { dense: 0.25, agglomerate: 0.35, hollow: 0.25, porous_core: 0.15 },
                detached_fraction: 0.2,
                cbd_shell_um: 0.5,
            },
            damage: Damage { width_vox: [0.6, 2.5], gradient: 1.0 },
            imaging: Self::imaging("clean").expect("a known preset"),
        }
    }

    fn imaging(name: &str) -> Result<Imaging> {
        let base =
            Imaging { psf_vox: [0.7; 3], noise: 0.05, fringes: 0.0, rings: 0.0, low_frequency: 0.0, cbd_level: 0.35 };
        Ok(match name {
            "clean" => base,
            "absorption" => Imaging { psf_vox: [0.9, 0.8, 0.8], noise: 0.08, rings: 0.04, low_frequency: 0.1, ..base },
            "holo" => {
                Imaging { psf_vox: [1.0; 3], noise: 0.06, fringes: 0.35, low_frequency: 0.05, cbd_level: 0.25, ..base }
            }
            "soft" => Imaging { psf_vox: [1.3, 1.0, 1.0], noise: 0.1, ..base },
            other => {
                return Err(Error::param(format!("unknown family imaging '{other}' (one of {})", IMAGINGS.join(", "))));
            }
        })
    }

    /// Every parameter drawn from `seed`, within the family's ranges.
    pub fn random(seed: u64) -> Self {
        use crate::rng::{Stream, uniform};
        let u = |i: u64| uniform(seed, Stream::Fill, 1_000_000 + i);
        let mut c = Self::base(seed);
        let v = 0.05 * (1.0f64 / 0.05).powf(u(0));
        c.voxel_um = v;
        let d_vox = [10.0 + 6.0 * u(1), 24.0 + 12.0 * u(2)];
        c.morphology.diameter_um = [d_vox[0] * v, d_vox[1] * v];
        c.morphology.aspect = 0.4 * u(3);
        c.morphology.roughness = 0.1 * u(4);
        c.morphology.grain_um = (3.0 + 3.0 * u(5)) * v;
        c.morphology.packing = 0.3 + 0.2 * u(6);
        c.morphology.kinds = KindMix { dense: u(7), agglomerate: u(8), hollow: u(9), porous_core: 0.5 * u(10) };
        c.morphology.cbd_shell_um = (1.0 + 2.0 * u(11)) * v;
        let w0 = 0.3 + 0.7 * u(12);
        c.damage.width_vox = [w0, w0 + 0.5 + 2.0 * u(13)];
        c.imaging = Imaging {
            psf_vox: [0.5 + 0.8 * u(14), 0.5 + 0.6 * u(15), 0.5 + 0.6 * u(15)],
            noise: 0.02 + 0.08 * u(16),
            fringes: if u(17) < 0.4 { 0.4 * u(18) } else { 0.0 },
            rings: if u(19) < 0.4 { 0.04 * u(20) } else { 0.0 },
            low_frequency: 0.1 * u(21),
            cbd_level: 0.2 + 0.25 * u(22),
        };
        c
    }

    /// Checks sizes and ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::param(format!("family configuration: {m}")));
        if self.shape.contains(&0) || self.shape[1] < 8 || self.shape[2] < 8 {
            return bad("shape must be at least 1 × 8 × 8 voxels");
        }
        if !(self.voxel_um > 0.0) || !(1..=4).contains(&self.supersample) {
            return bad("voxel_um must be positive and supersample 1–4");
        }
        let m = &self.morphology;
        if !(m.diameter_um[0] > 0.0 && m.diameter_um[1] >= m.diameter_um[0] && (0.0..0.7).contains(&m.packing)) {
            return bad("diameters must be positive and ordered, packing in [0, 0.7)");
        }
        if !(self.damage.width_vox[0] >= 0.0 && self.damage.width_vox[1] >= self.damage.width_vox[0]) {
            return bad("crack widths must be non-negative and ordered");
        }
        Ok(())
    }
}
