//! chemomech-sim: a virtual NMC composite cathode after fast charging, and
//! the synchrotron measurements made on it, with ground truth for scoring
//! every later stage.
//!
//! ```no_run
//! use chemomech_sim::{config::preset, simulate, references::Reference};
//! let cfg = preset("small").unwrap();
//! let sim = simulate(&cfg, None, &chemomech_core::NoProgress).unwrap();
//! println!("{} particles", sim.truth.rows());
//! ```

pub mod absorption;
pub mod config;
pub mod detector;
pub mod electrode;
pub mod family;
pub mod holo;
pub mod references;
pub mod rng;
pub mod truth;
pub mod xanes;
pub mod xray;

use chemomech_core::{Progress, Result, Table};
pub use config::SimConfig;
pub use electrode::{DamageClass, Electrode};
use references::{NiSpectra, Reference};
use serde_json::json;

/// Everything one simulation produces.
pub struct Simulation {
    /// The configuration used.
    pub config: SimConfig,
    /// The generated electrode and its ground-truth volumes.
    pub electrode: Electrode,
    /// One row per particle (see [`truth::particle_table`]).
    pub truth: Table,
    /// The absorption scan, when enabled.
    pub absorption: Option<absorption::AbsorptionScan>,
    /// The holotomography scans, when enabled.
    pub holo: Option<holo::HoloScan>,
    /// The XANES stack, when enabled.
    pub xanes: Option<xanes::XanesScan>,
    /// Names of the reference spectra used.
    pub references: (String, String),
    /// Parameters, depth profile and realised fractions (truth.json).
    pub summary: serde_json::Value,
}

/// Runs the whole simulation. `references`: the NiO and LiNiO2 spectra; the
/// built-in models when `None`.
pub fn simulate(
    cfg: &SimConfig,
    references: Option<(Reference, Reference)>,
    progress: &dyn Progress,
) -> Result<Simulation> {
    cfg.validate()?;
    let el = electrode::generate(cfg, progress)?;
    let truth = truth::particle_table(&el, cfg)?;
    let absorption = if cfg.tomography.enabled { Some(absorption::scan(&el, cfg, progress)?) } else { None };
    let holo = if cfg.phase_contrast.enabled { Some(holo::scan(&el, cfg, progress)?) } else { None };
    let (r2, r3) = references.unwrap_or_else(|| (Reference::model_nio(), Reference::model_linio2()));
    let names = (r2.name.clone(), r3.name.clone());
    let spectra = NiSpectra::new(r2, r3);
    let xanes = if cfg.xanes.enabled { Some(xanes::scan(&el, cfg, &spectra, progress)?) } else { None };
    let summary =
        summarize(cfg, &el, &truth, absorption.as_ref(), holo.as_ref(), xanes.as_ref(), &names, spectra.shift_ev)?;
    Ok(Simulation { config: cfg.clone(), electrode: el, truth, absorption, holo, xanes, references: names, summary })
}

/// Depth windows (µm) used for the profiles in truth.json.
pub const PROFILE_WINDOW_UM: f64 = 10.0;

#[allow(clippy::too_many_arguments)]
fn summarize(
    cfg: &SimConfig,
    el: &Electrode,
    t: &Table,
    abs: Option<&absorption::AbsorptionScan>,
    holo: Option<&holo::HoloScan>,
    xan: Option<&xanes::XanesScan>,
    refs: &(String, String),
    shift: f64,
) -> Result<serde_json::Value> {
    let n = (el.shape.0 * el.shape.1 * el.shape.2) as f64;
    let count = |v: u8| el.phases.iter().filter(|&&p| p == v).count() as f64 / n;
    let lz = el.shape.0 as f64 * el.voxel_um;
    let z = t.f64("centroid_z_um")?;
    let cls = t.str("damage_class")?;
    let cf = t.f64("crack_fraction")?;
    let nwin = (lz / PROFILE_WINDOW_UM).ceil() as usize;
    let mut windows = Vec::new();
    for w in 0..nwin {
        let (a, b) = (w as f64 * PROFILE_WINDOW_UM, ((w + 1) as f64 * PROFILE_WINDOW_UM).min(lz));
        let idx: Vec<usize> = (0..z.len()).filter(|&i| z[i] >= a && z[i] < b).collect();
        let frac = |c: &str| {
            if idx.is_empty() { 0.0 } else { idx.iter().filter(|&&i| cls[i] == c).count() as f64 / idx.len() as f64 }
        };
        let mid = (a + b) / 2.0 / lz;
        let p = electrode::class_probabilities(&cfg.damage.profile, mid);
        windows.push(json!({
            "z_from_um": a, "z_to_um": b, "particles": idx.len(),
            "fraction_least": frac("least"), "fraction_mild": frac("mild"), "fraction_severe": frac("severe"),
            "mean_crack_fraction": if idx.is_empty() { f64::NAN } else { idx.iter().map(|&i| cf[i]).sum::<f64>() / idx.len() as f64 },
            "configured_probability": {"least": p[0], "mild": p[1], "severe": p[2]},
        }));
    }
    let mut s = json!({
        "seed": cfg.seed,
        "shape_zyx": [el.shape.0, el.shape.1, el.shape.2],
        "voxel_um": el.voxel_um,
        "particles": t.rows(),
        "volume_fractions": {"pore": count(0), "carbon_binder": count(1), "active": count(2)},
        "damage_profile": cfg.damage.profile,
        "depth_profile": windows,
        "depth_window_um": PROFILE_WINDOW_UM,
        "class_counts": {
            "least": cls.iter().filter(|c| *c == "least").count(),
            "mild": cls.iter().filter(|c| *c == "mild").count(),
            "severe": cls.iter().filter(|c| *c == "severe").count(),
        },
        "reference_spectra": [refs.0, refs.1],
        "ni4_model": format!("LiNiO2 shifted by the NiO→LiNiO2 edge shift of {shift:.2} eV"),
        "config": cfg,
    });
    if let Some(a) = abs {
        s["tomography"] = json!({
            "energy_ev": cfg.tomography.energy_kev * 1e3,
            "mu_per_cm": {"pore": a.phase_mu[0], "carbon_binder": a.phase_mu[1], "active": a.phase_mu[2]},
            "rotation_center": a.projections.meta.get("rotation_center"),
            "detector_columns": a.projections.data.shape()[2],
        });
    }
    if let Some(h) = holo {
        s["phase_contrast"] = json!({
            "energy_ev": cfg.phase_contrast.energy_kev * 1e3,
            "delta_beta": {"pore": h.delta_beta[0], "carbon_binder": h.delta_beta[1], "active": h.delta_beta[2]},
            "distances": h.distances,
        });
    }
    if let Some(x) = xan {
        s["xanes"] = json!({
            "energies_ev": x.stack.energies_ev,
            "slab_x_voxels": [x.slab.0, x.slab.1],
            "drift_px": x.drift_px,
        });
    }
    Ok(s)
}
