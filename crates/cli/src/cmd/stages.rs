//! The stage subcommands: `chemomech simulate|reconstruct|segment|morph|
//! particles|stats|xanes|report`. Each flattens its stage's typed
//! parameters (the same definition as the pipeline's TOML keys), adds
//! `--out`, runs the stage and prints its summary: `--json` prints it
//! whole, otherwise a few lines for people.

use crate::ui::Ui;
use chemomech_core::Result;
use chemomech_pipeline::stage::Stage;
use chemomech_pipeline::stages::{morph, particles, phantom, reconstruct, report, segment, simulate, stats, xanes};
use std::path::{Path, PathBuf};

/// `chemomech simulate`: a virtual cycled NMC electrode and its synchrotron measurements, with ground truth.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub params: simulate::Params,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// `chemomech phantom`: one member of the simulator family with its truth.
#[derive(clap::Args, Debug)]
pub struct PhantomArgs {
    #[command(flatten)]
    pub params: phantom::Params,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// `chemomech reconstruct`: projections to a volume in 1/cm.
#[derive(clap::Args, Debug)]
pub struct ReconstructArgs {
    #[command(flatten)]
    pub params: reconstruct::Params,
    /// Output volume: .tiff, .zarr or .h5.
    #[arg(long)]
    pub out: PathBuf,
}

/// `chemomech segment`: a grey-level volume to phases.
#[derive(clap::Args, Debug)]
pub struct SegmentArgs {
    #[command(flatten)]
    pub params: segment::Params,
    /// Output phase volume (0 pore, 1 carbon-binder, 2 active).
    #[arg(long)]
    pub out: PathBuf,
}

/// `chemomech morph`: one image-analysis primitive on a volume.
#[derive(clap::Args, Debug)]
pub struct MorphArgs {
    #[command(flatten)]
    pub params: morph::Params,
    /// Output TIFF: label → 16-bit labels up to 65 535 components, else 32-bit; watershed → 32-bit labels; edt, median → f32.
    #[arg(long)]
    pub out: PathBuf,
}

/// `chemomech particles`: labelled particle envelopes and their metrics.
#[derive(clap::Args, Debug)]
pub struct ParticlesArgs {
    #[command(flatten)]
    pub params: particles::Params,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// `chemomech stats`: electrode statistics from a particles directory.
#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    pub params: stats::Params,
    /// Output directory (default: write beside the particles in DIR).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `chemomech xanes`: per-pixel chemical maps of an energy stack.
#[derive(clap::Args, Debug)]
pub struct XanesArgs {
    #[command(flatten)]
    pub params: xanes::Params,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// `chemomech report`: a self-contained HTML report.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub params: report::Params,
    /// Output directory (report.html and figures/*.csv).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs stage `S` and prints its summary (`human` gives the lines for people).
fn run_stage<S: Stage>(
    params: &S::Params,
    out: &Path,
    ui: &Ui,
    human: impl FnOnce(&S::Summary) -> String,
) -> Result<()> {
    let s = S::run(params, out, &ui.progress())?;
    let v = serde_json::to_value(&s)?;
    ui.warnings(&v);
    ui.result(&v, || human(&s));
    Ok(())
}

/// The headline and where the output went.
fn headline<S: Stage>(s: &S::Summary, out: &Path) -> String {
    format!("{} → {}\n", S::headline(s), out.display())
}

pub fn simulate(a: &SimulateArgs, ui: &Ui) -> Result<()> {
    run_stage::<simulate::Simulate>(&a.params, &a.out, ui, |s| {
        format!("simulated in {:.1} s: {}", s.seconds, headline::<simulate::Simulate>(s, &a.out))
    })
}

pub fn phantom(a: &PhantomArgs, ui: &Ui) -> Result<()> {
    run_stage::<phantom::Phantom>(&a.params, &a.out, ui, |s| {
        format!("made in {:.1} s: {}", s.seconds, headline::<phantom::Phantom>(s, &a.out))
    })
}

pub fn reconstruct(a: &ReconstructArgs, ui: &Ui) -> Result<()> {
    run_stage::<reconstruct::Reconstruct>(&a.params, &a.out, ui, |s| {
        format!("reconstructed in {:.1} s: {}", s.seconds, headline::<reconstruct::Reconstruct>(s, &a.out))
    })
}

pub fn segment(a: &SegmentArgs, ui: &Ui) -> Result<()> {
    run_stage::<segment::Segment>(&a.params, &a.out, ui, |s| {
        format!("segmented: {}", headline::<segment::Segment>(s, &a.out))
    })
}

pub fn morph(a: &MorphArgs, ui: &Ui) -> Result<()> {
    run_stage::<morph::Morph>(&a.params, &a.out, ui, |s| format!("{}\n", morph::Morph::headline(s)))
}

pub fn particles(a: &ParticlesArgs, ui: &Ui) -> Result<()> {
    run_stage::<particles::Particles>(&a.params, &a.out, ui, |s| headline::<particles::Particles>(s, &a.out))
}

pub fn report(a: &ReportArgs, ui: &Ui) -> Result<()> {
    run_stage::<report::ReportStage>(&a.params, &a.out, ui, |s| {
        format!("report with {} figures → {}\n", s.figures.len(), a.out.join(&s.report).display())
    })
}

pub fn stats(a: &StatsArgs, ui: &Ui) -> Result<()> {
    let s = stats::run(&a.params, a.out.as_deref(), &ui.progress())?;
    ui.result(&serde_json::to_value(&s)?, || {
        let mut t = format!("{} particles; depth profile (µm: severe fraction [95% CI]):\n", s.particles);
        for w in &s.depth_profile {
            t.push_str(&format!(
                "  {:>5.1}–{:<5.1} n={:<4} severe {:.2} [{:.2}, {:.2}]  mean crack fraction {:.3}\n",
                w.z_from_um,
                w.z_to_um,
                w.particles,
                w.fraction_severe,
                w.severe_ci95.0,
                w.severe_ci95.1,
                w.mean_crack_fraction
            ));
        }
        if let Some(tau) = &s.pore_tortuosity_z {
            t.push_str(&format!("  pore tortuosity factor (z): {:.3}\n", tau.tau));
        }
        t
    });
    Ok(())
}

pub fn xanes(a: &XanesArgs, ui: &Ui) -> Result<()> {
    run_stage::<xanes::Xanes>(&a.params, &a.out, ui, |s| {
        let m = s.overview();
        let mut t = format!(
            "{} frames {}–{} eV → {}\n",
            s.frames,
            s.energies_ev.first().copied().unwrap_or(f64::NAN),
            s.energies_ev.last().copied().unwrap_or(f64::NAN),
            a.out.display()
        );
        if let Some(r) = &s.registration {
            t.push_str(&format!(
                "  registration: reference frame at {} eV, largest shift {:.2} px, lowest quality {:.3}\n",
                r.reference_energy_ev, r.max_shift_px, r.min_quality
            ));
            if !r.interpolated_energies_ev.is_empty() {
                t.push_str(&format!(
                    "  {} frames without a significant match, shifts interpolated from their neighbours: {:?} eV\n",
                    r.interpolated_energies_ev.len(),
                    r.interpolated_energies_ev
                ));
            }
        }
        t.push_str(&format!("  mask: {} pixels", m.pixels_masked));
        if let Some(a) = m.masked_area_um2 {
            t.push_str(&format!(" ({a:.1} µm²)"));
        }
        t.push('\n');
        if let Some(e0) = m.e0_ref_ev {
            t.push_str(&format!(
                "  reference E0 {e0:.1} eV; median E0 (half height) {:.2} eV\n",
                m.median_e0_half_ev.unwrap_or(f64::NAN)
            ));
        }
        for (n, f) in m.reference_names.iter().zip(&m.mean_fractions) {
            t.push_str(&format!("  mean fraction {n}: {:.3}\n", f.unwrap_or(f64::NAN)));
        }
        if !m.clusters.is_empty() {
            t.push_str(&format!("  {} spectral clusters (silhouette)\n", m.clusters.len()));
        }
        if let Some(p) = &s.particles {
            t.push_str(&format!("  {} particles with chemistry\n", p.with_chemistry));
        }
        t
    })
}
