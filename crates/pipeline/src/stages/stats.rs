//! `stats`: electrode statistics from a `particles` output directory.

use chemomech_core::{Column, Error, Progress, Provenance, Result, Table};
use chemomech_io::{table, Dataset};
use chemomech_stats::network::knn_network;
use chemomech_stats::profile::{depth_profile, lateral_map, profile_table};
use chemomech_stats::tortuosity::tortuosity;
use chemomech_stats::volume::{interface_areas, rve_scan, volume_fractions};
use ndarray::Ix3;
use std::path::Path;

/// Tortuosity stops when the fluxes in and out agree to 1e-4 (τ then within
/// ~1e-4 of its converged value on the real 256³ electrode; TauFactor stops
/// at 1e-2 between layers).
const TAU_FLUX_TOL: f64 = 1e-4;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Params {
    pub window_um: f64,
    /// k of the nearest-neighbour network of severely damaged particles.
    pub k: usize,
    /// Column averaged per depth window (when present), e.g. `mean_soc`.
    pub extra: Option<String>,
    pub bootstrap: usize,
    pub seed: u64,
    /// Compute the pore tortuosity (can take a while on large volumes).
    pub tortuosity: bool,
}

impl Default for Params {
    fn default() -> Self {
        Self { window_um: 10.0, k: 3, extra: Some("mean_soc".into()), bootstrap: 1000, seed: 1, tortuosity: true }
    }
}

/// Reads a particles directory's table and summary.
pub fn read_particles_dir(dir: &Path) -> Result<(Table, serde_json::Value)> {
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(crate::outdir::MARKER)).map_err(|e| Error::io(e).at(dir.join(crate::outdir::MARKER)))?)
        .map_err(|e| Error::data(format!("summary: {e}")).at(dir))?;
    if summary["stage"] != "particles" {
        return Err(Error::data("not the output directory of `chemomech particles`").at(dir));
    }
    let pq = dir.join("particles.parquet");
    let t = if pq.is_file() { table::read_parquet(&pq)? } else { table::read_csv(&dir.join("particles.csv"))? };
    Ok((t, summary))
}

/// Statistics of the particles directory `dir`, written into `out` (a new
/// directory, written as a whole) or, without `out`, beside the particles.
pub fn run(dir: &Path, p: &Params, out: Option<&Path>, progress: &dyn Progress) -> Result<serde_json::Value> {
    let t0 = std::time::Instant::now();
    if !(p.window_um > 0.0) || p.k == 0 {
        return Err(Error::param("--window-um must be positive and k at least 1"));
    }
    let (t, summary) = read_particles_dir(dir)?;
    let mut prov = Provenance::start("stats", serde_json::to_value(p)?);
    prov.add_input(&dir.join("particles.csv"))?;
    let ext: Vec<f64> = summary["extent_um"].as_array().map(|a| a.iter().filter_map(|v| v.as_f64()).collect()).unwrap_or_default();
    let sp: Vec<f64> = summary["voxel_um"].as_array().map(|a| a.iter().filter_map(|v| v.as_f64()).collect()).unwrap_or_default();
    if ext.len() != 3 || sp.len() != 3 {
        return Err(Error::data("the particles summary lacks extent_um/voxel_um").at(dir));
    }
    let spacing = [sp[0], sp[1], sp[2]];
    progress.start("statistics", 5);
    let prof = depth_profile(&t, ext[0], p.window_um, p.extra.as_deref(), p.bootstrap, p.seed)?;
    progress.inc(1);
    let (sev_map, crack_map, count_map) = lateral_map(&t, ext[1], ext[2], 6)?;
    let cls = t.str("damage_class")?;
    let (z, y, x) = (t.f64("centroid_z_um")?, t.f64("centroid_y_um")?, t.f64("centroid_x_um")?);
    let ids = t.f64("id")?;
    let sev: Vec<usize> = (0..cls.len()).filter(|&i| cls[i] == "severe").collect();
    let pts: Vec<[f64; 3]> = sev.iter().map(|&i| [z[i], y[i], x[i]]).collect();
    let net = knn_network(&pts, &sev.iter().map(|&i| ids[i] as u64).collect::<Vec<_>>(), p.k);
    progress.inc(1);
    let rve = rve_scan(&t, ext[1], ext[2], &[0.25, 0.5, 0.75])?;
    // Phase-level quantities from the phases saved by `particles`.
    let phases = match chemomech_io::open(&dir.join("phases.tiff"))? {
        Dataset::Raster(r) => r.data.to_f32().mapv(|v| v as u8).into_dimensionality::<Ix3>().map_err(|e| Error::from(e).at(dir))?,
        _ => return Err(Error::data("phases.tiff is not a volume").at(dir)),
    };
    let vf = volume_fractions(phases.view());
    let areas = interface_areas(phases.view(), spacing);
    let vol_um3: f64 = ext.iter().product();
    progress.inc(1);
    let t_tau = std::time::Instant::now();
    let tau = if p.tortuosity {
        let pore = phases.mapv(|v| v == 0);
        Some(tortuosity(pore.view(), spacing, 0, 1e-8, 20_000, TAU_FLUX_TOL)?)
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
    let s = serde_json::json!({
        "stage": "stats",
        "particles": t.rows(),
        "window_um": p.window_um,
        "depth_profile": prof,
        "lateral_map": {"bins": 6, "severe_fraction": sev_map, "mean_crack_fraction": crack_map, "counts": count_map},
        "severe_network": {
            "k": p.k, "nodes": net.nodes.len(), "edges": net.edges.len(),
            "mean_degree": net.mean_degree, "degree_histogram": net.degree_histogram,
            "mean_nearest_um": net.mean_nearest_um, "mean_edge_um": net.mean_edge_um,
            "node_positions_um": net.nodes, "node_ids": net.ids,
            "edge_list": net.edges.iter().map(|e| serde_json::json!([e.0, e.1, e.2])).collect::<Vec<_>>(),
        },
        "rve": rve,
        "volume_fractions": vf.iter().map(|(k, v)| (name(*k).to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        "interface_areas_um2": areas.iter().map(|((a, b), v)| (format!("{}-{}", name(*a), name(*b)), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        "specific_interface_area_per_um": areas.iter().map(|((a, b), v)| (format!("{}-{}", name(*a), name(*b)), serde_json::json!(v / vol_um3))).collect::<serde_json::Map<_, _>>(),
        "pore_tortuosity_z": tau,
        "seconds_tortuosity": seconds_tortuosity,
        "seconds": t0.elapsed().as_secs_f64(),
        "provenance": prov.to_json(),
    });
    chemomech_io::atomic::write_json(&dest("stats.json"), &s)?;
    if let Some(d) = outdir {
        d.commit(&s)?;
    }
    progress.finish();
    Ok(s)
}
