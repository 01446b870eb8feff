//! `stats`: electrode statistics from a `particles` output directory.

use crate::stages::particles::Summary as ParticlesSummary;
use chemomech_core::{Column, Error, Progress, Provenance, Result, Table};
use chemomech_io::table;
use chemomech_stats::network::severe_network;
use chemomech_stats::profile::DepthWindow;
use chemomech_stats::profile::{depth_profile, lateral_map, profile_table, propagates_measurement_sd};
use chemomech_stats::tortuosity::Tortuosity;
use chemomech_stats::tortuosity::tortuosity;
use chemomech_stats::volume::RveTest;
use chemomech_stats::volume::{interface_areas, rve_scan, volume_fractions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Tortuosity stops when the fluxes in and out agree to 1e-4 (τ then within
/// ~1e-4 of its converged value on the real 256³ electrode; TauFactor stops
/// at 1e-2 between layers).
const TAU_FLUX_TOL: f64 = 1e-4;

/// What `stats` computes from a `particles` output directory.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Output directory of `chemomech particles`.
    pub dir: PathBuf,
    /// Depth window (µm) from separator to current collector.
    #[arg(long, default_value_t = 10.0)]
    pub window_um: f64,
    /// k of the nearest-neighbour network of severely damaged particles.
    #[arg(long, default_value_t = 3)]
    pub k: usize,
    /// Column averaged per depth window, when the table has it.
    #[arg(long, default_value = "mean_soc")]
    pub extra: Option<String>,
    /// Bootstrap resamples of the depth profile's confidence intervals.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of the bootstrap (same seed, same intervals).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip the pore tortuosity (it can take a while on large volumes).
    #[arg(long)]
    pub no_tortuosity: bool,
    /// Keep the particles `particles` flagged `excluded` (cut by the
    /// volume's faces, or fragments) in the damage statistics.
    #[arg(long)]
    pub keep_excluded: bool,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            window_um: 10.0,
            k: 3,
            extra: Some("mean_soc".into()),
            bootstrap: 1000,
            seed: 1,
            no_tortuosity: false,
            keep_excluded: false,
        }
    }
}

/// Damage per lateral (y, x) bin.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LateralMap {
    /// Bins along each of y and x.
    pub bins: usize,
    /// Fraction of severely damaged particles per bin (rows y, columns x; NaN where empty).
    #[serde(deserialize_with = "chemomech_core::nan::matrix")]
    pub severe_fraction: Vec<Vec<f64>>,
    /// Mean crack fraction per bin (rows y, columns x; NaN where empty).
    #[serde(deserialize_with = "chemomech_core::nan::matrix")]
    pub mean_crack_fraction: Vec<Vec<f64>>,
    /// Particles per bin (rows y, columns x).
    pub counts: Vec<Vec<usize>>,
}

/// The k-nearest-neighbour network of severely damaged particles.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SevereNetwork {
    /// Nearest neighbours linked to each node.
    pub k: usize,
    /// Nodes: the severely damaged particles.
    pub nodes: usize,
    /// Undirected edges of the network.
    pub edges: usize,
    /// Mean number of edges per node.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub mean_degree: f64,
    /// Number of nodes with each degree (index = degree).
    pub degree_histogram: Vec<usize>,
    /// Mean distance to the nearest other node in µm.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub mean_nearest_um: f64,
    /// Mean edge length in µm.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub mean_edge_um: f64,
    /// Node positions (z, y, x) in µm.
    pub node_positions_um: Vec<[f64; 3]>,
    /// Particle ids of the nodes.
    pub node_ids: Vec<u64>,
    /// Edges as (node a, node b, length µm).
    pub edge_list: Vec<(usize, usize, f64)>,
}

/// What `stats` reports.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// The stage that wrote it (`stats`).
    pub stage: String,
    /// Particles in the damage statistics.
    pub particles: u64,
    /// Particles left out of them (flagged `excluded` by `particles`:
    /// cut by the faces or fragments); 0 with `--keep-excluded`.
    #[serde(default)]
    pub excluded_particles: u64,
    /// Depth window in µm.
    pub window_um: f64,
    /// Damage per depth window, from separator to current collector.
    pub depth_profile: Vec<DepthWindow>,
    /// Whether the depth profile's bootstrap intervals carry the per-particle
    /// measurement uncertainty of the crack fraction (the particle table has
    /// `crack_fraction_sd`, from `particles --crack-measure deficit`); false
    /// in outputs of earlier versions.
    #[serde(default)]
    pub measurement_sd_propagated: bool,
    /// Damage per lateral (y, x) bin.
    pub lateral_map: LateralMap,
    /// The k-nearest-neighbour network of severely damaged particles.
    pub severe_network: SevereNetwork,
    /// Representativeness of centred sub-volumes (lateral fractions 0.25, 0.5, 0.75).
    pub rve: Vec<RveTest>,
    /// Volume fraction per phase (pore, carbon_binder, active).
    pub volume_fractions: BTreeMap<String, f64>,
    /// Interface area per pair of phases in µm².
    pub interface_areas_um2: BTreeMap<String, f64>,
    /// Interface area per pair of phases over the volume, in 1/µm.
    pub specific_interface_area_per_um: BTreeMap<String, f64>,
    /// Tortuosity of the pore phase through the thickness (z); `None` with `--no-tortuosity`.
    pub pore_tortuosity_z: Option<Tortuosity>,
    /// Seconds spent on the tortuosity.
    pub seconds_tortuosity: f64,
    /// Wall-clock seconds of the stage.
    pub seconds: f64,
    /// Provenance of the run (tool, version, command, parameters, inputs).
    pub provenance: serde_json::Value,
}

/// The `stats` stage.
pub struct Stats;

impl crate::stage::Stage for Stats {
    const NAME: &'static str = "stats";
    const OUTPUT: crate::runner::Output = crate::runner::Output::Dir;
    type Params = Params;
    type Summary = Summary;
    fn run(params: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
        run(params, Some(out), progress)
    }
    fn headline(s: &Summary) -> String {
        let tau = s.pore_tortuosity_z.as_ref().map(|t| format!("{:.3}", t.tau)).unwrap_or("not computed".into());
        let sd = if s.measurement_sd_propagated { " (crack-fraction sd propagated)" } else { "" };
        format!("{} depth windows{sd}; pore tortuosity {tau}", s.depth_profile.len())
    }
}

/// Reads a particles directory's table and summary.
pub fn read_particles_dir(dir: &Path) -> Result<(Table, ParticlesSummary)> {
    let marker = dir.join(crate::outdir::MARKER);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&marker).map_err(|e| Error::io(e).at(&marker))?)
        .map_err(|e| Error::data(format!("summary: {e}")).at(dir))?;
    if v["stage"] != "particles" {
        return Err(Error::data("not the output directory of `chemomech particles`").at(dir));
    }
    let summary: ParticlesSummary =
        serde_json::from_value(v).map_err(|e| Error::data(format!("the particles summary: {e}")).at(&marker))?;
    let pq = dir.join("particles.parquet");
    let t = if pq.is_file() { table::read_parquet(&pq)? } else { table::read_csv(&dir.join("particles.csv"))? };
    Ok((t, summary))
}

/// Statistics of the particles directory `p.dir`, written into `out` (a new
/// directory, written as a whole) or, without `out`, beside the particles.
pub fn run(p: &Params, out: Option<&Path>, progress: &dyn Progress) -> Result<Summary> {
    let t0 = std::time::Instant::now();
    let dir = p.dir.as_path();
    if !(p.window_um > 0.0) || p.k == 0 {
        return Err(Error::param("--window-um must be positive and k at least 1"));
    }
    let (all, summary) = read_particles_dir(dir)?;
    // Damage statistics leave out the particles cut by the faces and the
    // fragments (their crack fractions are not the particle's).
    let t = match all.get("excluded") {
        Some(Column::Bool(ex)) if !p.keep_excluded => all.filter(&ex.iter().map(|e| !e).collect::<Vec<_>>()),
        _ => all.clone(),
    };
    let excluded_particles = (all.rows() - t.rows()) as u64;
    let mut prov = Provenance::start("stats", serde_json::to_value(p)?);
    prov.add_input(&dir.join("particles.csv"))?;
    let (ext, spacing_um) = (summary.extent_um, summary.spacing_um);
    progress.start("statistics", 5);
    // The crack fraction's per-particle sd (deficit measurement), when
    // measured, is carried into the depth profile's bootstrap intervals.
    let th = (summary.thresholds.mild, summary.thresholds.severe);
    let prof = depth_profile(&t, ext[0], p.window_um, p.extra.as_deref(), p.bootstrap, p.seed, th)?;
    let measurement_sd_propagated = propagates_measurement_sd(&t);
    progress.inc(1);
    let (sev_map, crack_map, count_map) = lateral_map(&t, ext[1], ext[2], 6)?;
    let net = severe_network(&t, p.k)?;
    progress.inc(1);
    let rve = rve_scan(&all, ext[1], ext[2], &[0.25, 0.5, 0.75])?;
    // Phase-level quantities from the phases saved by `particles`.
    let phases = chemomech_io::read::read_volume::<u8>(&dir.join("phases.tiff"), None)?.0;
    let vf = volume_fractions(phases.view());
    let areas = interface_areas(phases.view(), spacing_um);
    let vol_um3: f64 = ext.iter().product();
    progress.inc(1);
    let t_tau = std::time::Instant::now();
    let tau = if !p.no_tortuosity {
        let pore = phases.mapv(|v| v == 0);
        Some(tortuosity(pore.view(), spacing_um, 0, 1e-8, 20_000, TAU_FLUX_TOL)?)
    } else {
        None
    };
    let seconds_tortuosity = t_tau.elapsed().as_secs_f64();
    progress.inc(1);
    // Figures' data as CSV beside the JSON.
    let mut et = Table::default();
    et.push("particle_a", Column::U64(net.edges.iter().map(|e| net.ids[e.0]).collect()), None)?;
    et.push("particle_b", Column::U64(net.edges.iter().map(|e| net.ids[e.1]).collect()), None)?;
    et.push("length_um", Column::F64(net.edges.iter().map(|e| e.2).collect()), Some("µm"))?;
    prov.finish();
    let outdir = match out {
        Some(o) => {
            chemomech_io::atomic::ensure_not_input(o, &[dir])?;
            Some(crate::outdir::OutDir::create(o)?)
        }
        None => None,
    };
    let dest = |name: &str| outdir.as_ref().map(|d| d.path(name)).unwrap_or_else(|| dir.join(name));
    table::write_csv(&dest("depth_profile.csv"), &profile_table(&prof)?, Some(&prov))?;
    table::write_csv(&dest("severe_network_edges.csv"), &et, Some(&prov))?;
    let name = |c: u8| match c {
        0 => "pore",
        1 => "carbon_binder",
        2 => "active",
        _ => "other",
    };
    let s = Summary {
        stage: "stats".into(),
        particles: t.rows() as u64,
        excluded_particles,
        window_um: p.window_um,
        depth_profile: prof,
        measurement_sd_propagated,
        lateral_map: LateralMap {
            bins: 6,
            severe_fraction: sev_map,
            mean_crack_fraction: crack_map,
            counts: count_map,
        },
        severe_network: SevereNetwork {
            k: p.k,
            nodes: net.nodes.len(),
            edges: net.edges.len(),
            mean_degree: net.mean_degree,
            degree_histogram: net.degree_histogram,
            mean_nearest_um: net.mean_nearest_um,
            mean_edge_um: net.mean_edge_um,
            node_positions_um: net.nodes,
            node_ids: net.ids,
            edge_list: net.edges,
        },
        rve,
        volume_fractions: vf.iter().map(|(k, v)| (name(*k).to_string(), *v)).collect(),
        interface_areas_um2: areas.iter().map(|((a, b), v)| (format!("{}-{}", name(*a), name(*b)), *v)).collect(),
        specific_interface_area_per_um: areas
            .iter()
            .map(|((a, b), v)| (format!("{}-{}", name(*a), name(*b)), v / vol_um3))
            .collect(),
        pore_tortuosity_z: tau,
        seconds_tortuosity,
        seconds: t0.elapsed().as_secs_f64(),
        provenance: prov.to_json(),
    };
    let s_json = serde_json::to_value(&s)?;
    chemomech_io::atomic::write_json(&dest("stats.json"), &s_json)?;
    if let Some(d) = outdir {
        d.commit(&s_json)?;
    }
    progress.finish();
    Ok(s)
}
