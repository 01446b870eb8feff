//! `chemomech xanes STACK --refs A.txt,B.txt --out DIR [--energies FILE] [--labels LABELS.tiff]`.

use crate::ui::Ui;
use chemomech_core::{Error, Result};
use chemomech_pipeline::stages::xanes::{map_params, run as run_stage, InputKind, Params};
use chemomech_xas::maps::SocScale;
use chemomech_xas::stack::RegistrationMode;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Energy stack: FXI HDF5, multi-page TIFF (with --energies), a folder of TIFF or xrm frames, or a 4-D array of per-energy volumes.
    pub stack: PathBuf,
    /// Reference spectra, comma-separated (XDI, text, or Athena PATH:GROUP); one fraction map each.
    #[arg(long, value_delimiter = ',')]
    pub refs: Vec<String>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Energy of each frame (text, one per line; eV or keV).
    #[arg(long)]
    pub energies: Option<PathBuf>,
    /// Dataset inside an HDF5 or Zarr container.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Values of a stack without reference frames: od or transmission.
    #[arg(long, default_value = "od")]
    pub input: String,
    /// Particle labels on the same pixel grid: per-particle SoC, core–shell profile and valence-gradient angles.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Registration: reference (to the best-contrast frame), reference:N, chained, none. 3-D stacks are not registered.
    #[arg(long, default_value = "reference")]
    pub register: String,
    /// Mask pixels whose edge jump exceeds K times their pre-edge noise.
    #[arg(long, default_value_t = 5.0)]
    pub mask_sigma: f64,
    /// SoC from the edge energy instead of LCF: E_SOC0,E_SOC1 (eV at SoC 0 and 1).
    #[arg(long)]
    pub soc_edge: Option<String>,
    /// Largest number of spectral clusters tried (0: no clustering).
    #[arg(long, default_value_t = 6)]
    pub max_clusters: usize,
    /// Fit a common energy shift of the references within ± this (eV).
    #[arg(long, default_value_t = 0.0)]
    pub max_shift_ev: f64,
    /// Also write the aligned optical-density stack.
    #[arg(long)]
    pub save_stack: bool,
}

/// The stage's work without printing (what `chemomech run` calls).
pub fn exec(a: &Args, progress: &dyn chemomech_core::Progress) -> Result<serde_json::Value> {
    let mut p = Params::new(a.stack.clone());
    p.refs = a.refs.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    p.energies = a.energies.clone();
    p.dataset = a.dataset.clone();
    p.input = match a.input.as_str() {
        "od" => InputKind::Auto,
        "transmission" => InputKind::Transmission,
        o => return Err(Error::param(format!("--input must be od or transmission, got '{o}'"))),
    };
    p.labels = a.labels.clone();
    p.save_stack = a.save_stack;
    p.registration.mode = match a.register.as_str() {
        "reference" => RegistrationMode::Reference(None),
        "chained" => RegistrationMode::Chained,
        "none" => RegistrationMode::None,
        r => match r.strip_prefix("reference:").and_then(|n| n.parse().ok()) {
            Some(n) => RegistrationMode::Reference(Some(n)),
            None => return Err(Error::param(format!("--register must be reference, reference:N, chained or none, got '{r}'"))),
        },
    };
    p.maps = map_params(a.max_clusters >= 2, a.max_clusters.max(2));
    p.maps.mask_sigma = a.mask_sigma;
    p.maps.lcf.max_shift_ev = a.max_shift_ev;
    if let Some(s) = &a.soc_edge {
        let v: Vec<f64> = s.split(',').map(|x| x.trim().parse::<f64>()).collect::<std::result::Result<_, _>>().map_err(|_| Error::param(format!("--soc-edge must be E_SOC0,E_SOC1 in eV, got '{s}'")))?;
        if v.len() != 2 {
            return Err(Error::param("--soc-edge must be E_SOC0,E_SOC1"));
        }
        p.maps.soc = SocScale::EdgeEnergy { e_soc0: v[0], e_soc1: v[1] };
    }
    run_stage(&p, &a.out, progress)
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    let s = exec(a, &ui.progress())?;
    ui.result(&s, || {
        let m = &s["maps"];
        let mut t = format!("{} frames {}–{} eV → {}\n", s["frames"], s["energies_ev"][0], s["energies_ev"].as_array().and_then(|a| a.last()).cloned().unwrap_or_default(), a.out.display());
        if let Some(r) = s.get("registration") {
            t.push_str(&format!("  registration: reference frame at {} eV, largest shift {:.2} px, lowest quality {:.3}\n", r["reference_energy_ev"], r["max_shift_px"].as_f64().unwrap_or(f64::NAN), r["min_quality"].as_f64().unwrap_or(f64::NAN)));
        }
        t.push_str(&format!("  mask: {} pixels", m["pixels_masked"]));
        if let Some(a) = m["masked_area_um2"].as_f64() {
            t.push_str(&format!(" ({a:.1} µm²)"));
        }
        t.push('\n');
        if let Some(e0) = m["e0_ref_ev"].as_f64() {
            t.push_str(&format!("  reference E0 {e0:.1} eV; median E0 (half height) {:.2} eV\n", m["median_e0_half_ev"].as_f64().unwrap_or(f64::NAN)));
        }
        if let (Some(n), Some(f)) = (m["reference_names"].as_array(), m["mean_fractions"].as_array()) {
            for (n, f) in n.iter().zip(f) {
                t.push_str(&format!("  mean fraction {}: {:.3}\n", n.as_str().unwrap_or(""), f.as_f64().unwrap_or(f64::NAN)));
            }
        }
        if let Some(c) = m["clusters"].as_array().filter(|c| !c.is_empty()) {
            t.push_str(&format!("  {} spectral clusters (silhouette)\n", c.len()));
        }
        if let Some(p) = s.get("particles") {
            t.push_str(&format!("  {} particles with chemistry\n", p["with_chemistry"]));
        }
        t
    });
    Ok(())
}
