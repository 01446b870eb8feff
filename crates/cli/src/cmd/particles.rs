//! `chemomech particles (VOLUME | --phases PHASES.tiff) --voxel-um V --out DIR`.

use crate::ui::Ui;
use chemomech_core::{Error, Result};
use chemomech_particles::metrics::{DamageThresholds, PhaseCodes};
use chemomech_pipeline::stages::particles::{run as run_stage, Params};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Grey-level volume: segmented with multi-Otsu when no --phases is given; with --phases, its grey levels find thin cracks inside particles.
    pub volume: Option<PathBuf>,
    /// Phase volume instead of a grey volume.
    #[arg(long)]
    pub phases: Option<PathBuf>,
    /// Codes of the phases in --phases, e.g. pore=0,cbd=85,active=170.
    #[arg(long, default_value = "pore=0,cbd=1,active=2")]
    pub phase_values: String,
    /// Voxel size in µm (required when the file states none).
    #[arg(long)]
    pub voxel_um: Option<f64>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// 6, 18 or 26.
    #[arg(long, default_value = "26")]
    pub connectivity: String,
    /// Do not split touching particles (connected components only).
    #[arg(long)]
    pub no_split: bool,
    /// Do not seed the caps that the volume's faces cut off particles
    /// centred outside it (they then join a touching neighbour).
    #[arg(long)]
    pub no_face_seeds: bool,
    /// Do not merge touching pieces whose union is at least as convex as
    /// they are (the pieces of a cracked particle that the split cut apart).
    #[arg(long)]
    pub no_merge: bool,
    /// Do not move chunks of shattered particles that a neighbour
    /// swallowed back to the particle whose fitted sphere they lie in.
    #[arg(long)]
    pub no_reassign: bool,
    /// Cracks up to about twice this width (µm) are filled into their particle.
    #[arg(long)]
    pub crack_close_um: Option<f64>,
    /// Minimum depth (µm) of a distance-map peak to seed a particle.
    #[arg(long)]
    pub h_um: Option<f64>,
    /// With a grey VOLUME: voxels inside a particle darker than this fraction
    /// of the way from the pore to the active grey median are cracks.
    #[arg(long)]
    pub crack_level: Option<f64>,
    /// Crack-fraction thresholds least<MILD≤mild<SEVERE≤severe.
    #[arg(long, default_value = "0.03,0.15")]
    pub damage_thresholds: String,
    /// Extra volume averaged per particle, NAME=PATH (repeatable), e.g. soc=soc.tiff.
    #[arg(long = "extra")]
    pub extra: Vec<String>,
    /// Ground-truth labels (simulated data) to score against.
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

fn parse_codes(s: &str) -> Result<PhaseCodes> {
    let mut c = PhaseCodes::default();
    for kv in s.split(',') {
        let (k, v) = kv.split_once('=').ok_or_else(|| Error::param(format!("--phase-values: expected name=value, got '{kv}'")))?;
        let v: u8 = v.trim().parse().map_err(|_| Error::param(format!("--phase-values: '{v}' is not 0–255")))?;
        match k.trim() {
            "pore" => c.pore = v,
            "cbd" | "carbon_binder" => c.cbd = v,
            "active" => c.active = v,
            o => return Err(Error::param(format!("--phase-values: unknown phase '{o}'"))),
        }
    }
    if c.pore == c.cbd || c.pore == c.active || c.cbd == c.active {
        return Err(Error::param("--phase-values must give three different codes"));
    }
    Ok(c)
}

/// The stage's work without printing (what `chemomech run` calls).
pub fn exec(a: &Args, progress: &dyn chemomech_core::Progress) -> Result<serde_json::Value> {
    if a.volume.is_none() && a.phases.is_none() {
        return Err(Error::param("give a grey VOLUME, --phases PHASES, or both (grey levels then find the cracks)"));
    }
    let (m, s) = a.damage_thresholds.split_once(',').ok_or_else(|| Error::param("--damage-thresholds must be MILD,SEVERE"))?;
    let thresholds = DamageThresholds { mild: m.trim().parse().map_err(|_| Error::param("bad mild threshold"))?, severe: s.trim().parse().map_err(|_| Error::param("bad severe threshold"))? };
    if !(0.0 < thresholds.mild && thresholds.mild < thresholds.severe && thresholds.severe < 1.0) {
        return Err(Error::param("need 0 < MILD < SEVERE < 1"));
    }
    let extra = a
        .extra
        .iter()
        .map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), PathBuf::from(v))).ok_or_else(|| Error::param(format!("--extra must be NAME=PATH, got '{kv}'"))))
        .collect::<Result<_>>()?;
    let p = Params {
        volume: a.volume.clone(),
        phases: a.phases.clone(),
        codes: parse_codes(&a.phase_values)?,
        voxel_um: a.voxel_um,
        connectivity: a.connectivity.parse()?,
        split: !a.no_split,
        face_seeds: !a.no_face_seeds,
        merge_convex: !a.no_merge,
        reassign_chunks: !a.no_reassign,
        crack_close_um: a.crack_close_um,
        crack_level: a.crack_level,
        h_um: a.h_um,
        thresholds,
        extra,
        truth: a.truth.clone(),
    };
    run_stage(&p, &a.out, progress)
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    let s = exec(a, &ui.progress())?;
    ui.result(&s, || format!("{} particles → {} (classes {})\n", s["n_particles"], a.out.display(), s["damage_classes"]));
    Ok(())
}
