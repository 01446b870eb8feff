//! `chemomech`: synchrotron X-ray data of battery electrodes to particle-by-particle
//! chemistry and damage. Each subcommand is a thin layer over a library crate.
//!
//! Exit codes: 0 success, 1 user or data error (one line on stderr naming the
//! file and the problem), 2 usage error.

mod cmd;
mod ui;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// chemomech — synchrotron X-ray data of battery electrodes to statistically
/// solid, particle-by-particle maps of chemistry and mechanical damage.
#[derive(Parser, Debug)]
#[command(name = "chemomech", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// No progress bars or informational messages.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Print a machine-readable JSON summary on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// More detail (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate an electrode, measure it, analyse it end to end and write report.html (the main job).
    Demo(cmd::run::DemoArgs),
    /// Run a pipeline of stages from a TOML file; unchanged stages are skipped, interrupted runs resume.
    Run(cmd::run::Args),
    /// Describe a file: format, shapes, types, units, energies/angles, key metadata.
    Info(cmd::info::Args),
    /// Convert between formats (e.g. DXchange -> Zarr or TIFF, xrm -> TIFF).
    Convert(cmd::convert::Args),
    /// Simulate a cycled NMC electrode and its tomography/XANES measurements, with ground truth.
    Simulate(cmd::stages::SimulateArgs),
    /// One member of the simulator family (irregular, hollow, porous, agglomerate particles; thin cracks; several imaging conditions) with its truth.
    Phantom(cmd::stages::PhantomArgs),
    /// Reconstruct projections into a volume (µ in 1/cm), streamed within a memory budget.
    Reconstruct(cmd::stages::ReconstructArgs),
    /// Segment a volume into pore / carbon-binder / active phases.
    Segment(cmd::stages::SegmentArgs),
    /// Label particles (envelopes incl. cracks) and measure them.
    Particles(cmd::stages::ParticlesArgs),
    /// One image-analysis primitive on a volume: label, edt, median, watershed.
    Morph(cmd::stages::MorphArgs),
    /// Electrode statistics from a particles directory.
    Stats(cmd::stages::StatsArgs),
    /// Per-pixel XANES chemical maps of an energy stack (2-D or 3-D), optionally per particle.
    Xanes(cmd::stages::XanesArgs),
    /// Self-contained HTML report from stage outputs (figures as SVG/PNG, data as CSV).
    Report(cmd::stages::ReportArgs),
    /// Bulk X-ray absorption spectra: normalize, lcf, pca (Larch-compatible).
    Xas(cmd::xas::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if n == 0 {
            eprintln!("error: --threads must be at least 1");
            return ExitCode::from(2);
        }
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    }
    let ui = ui::Ui::new(cli.quiet, cli.json, cli.verbose);
    // A panic is a bug, but the user still gets one line and a non-zero exit.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let loc = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("error: internal error{loc}: {msg} (please report)");
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &cli.command {
        Command::Demo(a) => cmd::run::demo(a, &ui),
        Command::Run(a) => cmd::run::run(a, &ui),
        Command::Report(a) => cmd::stages::report(a, &ui),
        Command::Info(a) => cmd::info::run(a, &ui),
        Command::Convert(a) => cmd::convert::run(a, &ui),
        Command::Simulate(a) => cmd::stages::simulate(a, &ui),
        Command::Phantom(a) => cmd::stages::phantom(a, &ui),
        Command::Reconstruct(a) => cmd::stages::reconstruct(a, &ui),
        Command::Segment(a) => cmd::stages::segment(a, &ui),
        Command::Particles(a) => cmd::stages::particles(a, &ui),
        Command::Morph(a) => cmd::stages::morph(a, &ui),
        Command::Stats(a) => cmd::stages::stats(a, &ui),
        Command::Xanes(a) => cmd::stages::xanes(a, &ui),
        Command::Xas(a) => cmd::xas::run(a, &ui),
    }));
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
        Err(_) => ExitCode::from(1),
    }
}
