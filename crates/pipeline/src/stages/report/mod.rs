//! `report`: one self-contained HTML file from the outputs of the other
//! stages — slices, damage classes, depth profiles with confidence
//! intervals, the network of severely damaged particles, XANES maps and
//! spectra, histograms, a ground-truth panel for simulated input, and the
//! provenance of everything. Every figure's data is written as CSV beside it.

use super::particles::{Summary as ParticlesSummary, TruthMatch};
use super::stats::Summary as StatsSummary;
use super::xanes::Summary as XanesSummary;
use crate::outdir::{MARKER, OutDir};
use chemomech_core::{Column, DynArray, Error, Progress, Provenance, Result, Table};
use chemomech_io::table;
use chemomech_report::charts::{self, CLASS_COLORS, PALETTE, Series, View};
use chemomech_report::raster::{self, viridis};
use chemomech_report::{Body, Figure, Report, Section, escape, render, table_html};
use chemomech_stats::profile::DepthWindow;
use ndarray::{Array2, Array3, ArrayD, ArrayView2, Axis, Ix2, Ix3};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// What `report` shows: the outputs of the other stages (all optional;
/// the report shows what it is given).
#[derive(Debug, Clone, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Report title.
    #[arg(long, default_value = "")]
    pub title: String,
    /// Reconstructed volume (orthogonal slices; damage classes on a slice).
    #[arg(long)]
    pub volume: Option<PathBuf>,
    /// Output directory of `chemomech particles` (repeat for several samples: radar chart).
    #[arg(long)]
    pub particles: Vec<PathBuf>,
    /// Output directory of `chemomech stats`, one per --particles, same order.
    #[arg(long)]
    pub stats: Vec<PathBuf>,
    /// Sample names, one per --particles (default: the directory names).
    #[arg(long)]
    pub sample: Vec<String>,
    /// Output directory of `chemomech xanes`.
    #[arg(long)]
    pub xanes: Option<PathBuf>,
    /// Output directory of `chemomech simulate` (ground-truth panel).
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

/// One figure of the report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FigureEntry {
    /// The figure's id.
    pub id: String,
    /// The id of its section.
    pub section: String,
    /// Its data, relative to the report.
    pub csv: Option<String>,
}

/// What `report` reports.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// The stage that wrote it (`report`).
    pub stage: String,
    /// The HTML file, relative to the output directory.
    pub report: String,
    /// The figures of the report.
    pub figures: Vec<FigureEntry>,
    /// The ground-truth scores shown (simulated input).
    pub truth: TruthScores,
    /// Files written, relative to the output directory.
    pub outputs: Vec<String>,
    /// Wall-clock seconds of the stage.
    pub seconds: f64,
    /// Provenance of the run (tool, version, command, parameters, inputs).
    pub provenance: Value,
}

/// Scores against the simulator's ground truth, when the report was given it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TruthScores {
    /// The first sample's particles against the true labels.
    pub particles: Option<TruthMatch>,
    /// Per-pixel SoC of the XANES maps against the true SoC.
    #[serde(flatten)]
    pub soc: Option<SocScore>,
}

/// Per-pixel SoC error of the XANES maps.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SocScore {
    /// Root-mean-square SoC error over the masked pixels.
    pub soc_rmse: f64,
    /// Mean SoC error (measured minus true) over the masked pixels.
    pub soc_bias: f64,
    /// Pixels compared.
    pub soc_pixels: usize,
}

/// Per-class accessors of a depth window, in the order least, mild, severe.
const CLASS_FRACTION: [fn(&DepthWindow) -> f64; 3] = [|w| w.fraction_least, |w| w.fraction_mild, |w| w.fraction_severe];
const CLASS_CI95: [fn(&DepthWindow) -> (f64, f64); 3] = [|w| w.least_ci95, |w| w.mild_ci95, |w| w.severe_ci95];

/// A stage's JSON output, typed.
fn read_typed<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T> {
    serde_json::from_value(read_json(p)?).map_err(|e| Error::data(format!("unexpected summary: {e}")).at(p))
}

/// The `report` stage.
pub struct ReportStage;

impl crate::stage::Stage for ReportStage {
    const NAME: &'static str = "report";
    const OUTPUT: crate::runner::Output = crate::runner::Output::Dir;
    type Params = Params;
    type Summary = Summary;
    fn run(params: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
        run(params, out, progress)
    }
    fn headline(s: &Summary) -> String {
        format!("{} figures", s.figures.len())
    }
}

fn read_json(p: &Path) -> Result<Value> {
    serde_json::from_slice(&std::fs::read(p).map_err(|e| Error::io(e).at(p))?)
        .map_err(|e| Error::data(format!("JSON: {e}")).at(p))
}

fn read_marker(dir: &Path) -> Result<Value> {
    read_json(&dir.join(MARKER))
}

fn read_array(p: &Path) -> Result<DynArray> {
    Ok(chemomech_io::read::read_raster(p, None)?.data)
}

fn f32_3(p: &Path) -> Result<Array3<f32>> {
    read_array(p)?.to_f32().into_dimensionality::<Ix3>().map_err(|e| Error::from(e).at(p))
}

fn f32_2(p: &Path) -> Result<Array2<f32>> {
    let a: ArrayD<f32> = read_array(p)?.to_f32();
    let a = if a.ndim() == 3 && a.shape()[0] == 1 { a.index_axis(Axis(0), 0).to_owned() } else { a };
    a.into_dimensionality::<Ix2>().map_err(|e| Error::from(e).at(p))
}

fn u32_3(p: &Path) -> Result<Array3<u32>> {
    chemomech_io::read::read_labels(p)
}

fn csv_f(t: &Table, c: &str) -> Vec<f64> {
    t.f64(c).unwrap_or_default()
}

/// Writes a figure's data table and returns its link (relative to the report).
fn data(dir: &OutDir, name: &str, t: &Table, prov: &Provenance, written: &mut Vec<String>) -> Result<String> {
    let rel = format!("figures/{name}.csv");
    table::write_csv(&dir.path(&rel), t, Some(prov))?;
    written.push(rel.clone());
    Ok(rel)
}

/// A 2-D map as a table of rows (row index, then one column per pixel column).
fn map_table(a: &Array2<f32>) -> Result<Table> {
    let mut t = Table::default();
    t.push("row", Column::U64((0..a.nrows() as u64).collect()), None)?;
    for c in 0..a.ncols() {
        t.push(&format!("col_{c}"), Column::F64(a.column(c).iter().map(|&v| v as f64).collect()), None)?;
    }
    Ok(t)
}

fn svg(r: std::result::Result<String, String>) -> Result<Body> {
    r.map(Body::Svg).map_err(Error::data)
}

fn class_index(s: &str) -> Option<usize> {
    ["least", "mild", "severe"].iter().position(|c| *c == s)
}

/// Runs the report stage into the directory `out` (`report.html`, `figures/*.csv`).
pub fn run(p: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
    let t0 = std::time::Instant::now();
    if p.particles.is_empty() && p.volume.is_none() && p.xanes.is_none() {
        return Err(Error::param("nothing to report: give a volume, particles directories or a xanes directory"));
    }
    if !p.stats.is_empty() && p.stats.len() != p.particles.len() {
        return Err(Error::param(format!(
            "{} stats directories for {} particles directories: give one per sample",
            p.stats.len(),
            p.particles.len()
        )));
    }
    let mut inputs: Vec<&Path> = p.particles.iter().chain(&p.stats).map(|x| x.as_path()).collect();
    inputs.extend(p.volume.as_deref());
    inputs.extend(p.xanes.as_deref());
    inputs.extend(p.truth.as_deref());
    chemomech_io::atomic::ensure_not_input(out, &inputs)?;
    let prov = Provenance::start("report", serde_json::to_value(p)?);
    let mut c = Ctx {
        p,
        dir: OutDir::create(out)?,
        prov,
        written: vec!["report.html".into()],
        sections: Vec::new(),
        summary_rows: Vec::new(),
        provenance_items: Vec::new(),
        names: Vec::new(),
        samples: Vec::new(),
        xanes_mask: None,
        xanes_fraction: None,
        truth_json: TruthScores::default(),
    };
    progress.start("report", 6);
    let steps: [fn(&mut Ctx) -> Result<()>; 8] = [
        load_samples,
        tomography_section,
        depth_section,
        network_section,
        particles_section,
        xanes_section,
        truth_section,
        summary_section,
    ];
    for (i, step) in steps.iter().enumerate() {
        step(&mut c)?;
        // Six ticks: samples, tomography, depth and network, particles, XANES; the last in `finish`.
        if !matches!(i, 3 | 6 | 7) {
            progress.inc(1);
        }
    }
    finish(c, t0, progress)
}

mod label_slices;
mod sections;
use sections::*;

/// What the report's sections build up, step by step.
struct Ctx<'a> {
    p: &'a Params,
    dir: OutDir,
    prov: Provenance,
    /// Files written, relative to the output directory.
    written: Vec<String>,
    sections: Vec<Section>,
    /// Rows (quantity, value) of the summary table.
    summary_rows: Vec<Vec<String>>,
    /// (what, provenance) of every input shown.
    provenance_items: Vec<(String, Value)>,
    /// Sample names, one per particles directory.
    names: Vec<String>,
    /// Per sample: particle table, particles summary, statistics.
    samples: Vec<(Table, ParticlesSummary, Option<StatsSummary>)>,
    /// The XANES mask and SoC map, for the ground-truth scores.
    xanes_mask: Option<Array2<bool>>,
    xanes_fraction: Option<Array2<f32>>,
    truth_json: TruthScores,
}

/// The provenance section, the HTML file and the summary.
fn finish(c: Ctx, t0: std::time::Instant, progress: &dyn Progress) -> Result<Summary> {
    let Ctx { p, dir, mut prov, written, mut sections, provenance_items, truth_json, .. } = c;
    // Provenance of every input and of this report.
    prov.finish();
    let mut ph = String::new();
    for (name, v) in provenance_items.iter().chain(std::iter::once(&("report".to_string(), prov.to_json()))) {
        ph.push_str(&format!(
            "<h4>{}</h4><pre>{}</pre>",
            escape(name),
            escape(&serde_json::to_string_pretty(v).unwrap_or_default())
        ));
    }
    sections.push(Section {
        id: "provenance".into(),
        title: "Parameters and provenance".into(),
        intro: "Tool version, command, parameters and input checksums of every stage shown here.".into(),
        figures: vec![Figure::new("provenance", "Provenance", Body::Html(ph)).wide()],
    });
    progress.inc(1);
    let nfig: usize = sections.iter().map(|s| s.figures.len()).sum();
    let title = if p.title.is_empty() { "chemomech report".to_string() } else { p.title.clone() };
    let report = Report {
        title,
        subtitle: format!(
            "chemomech {} — {} — {} figures",
            env!("CARGO_PKG_VERSION"),
            chemomech_core::provenance::now_utc(),
            nfig
        ),
        sections,
    };
    chemomech_io::atomic::write_bytes(&dir.path("report.html"), render(&report).as_bytes())?;
    progress.finish();
    let figures = report
        .sections
        .iter()
        .flat_map(|s| {
            s.figures.iter().map(|f| FigureEntry { id: f.id.clone(), section: s.id.clone(), csv: f.csv.clone() })
        })
        .collect();
    let summary = Summary {
        stage: "report".into(),
        report: "report.html".into(),
        figures,
        truth: truth_json,
        outputs: written,
        seconds: t0.elapsed().as_secs_f64(),
        provenance: prov.to_json(),
    };
    dir.commit(&serde_json::to_value(&summary)?)?;
    Ok(summary)
}
