//! `reconstruct`: projections as a beamline wrote them → a volume in 1/cm,
//! streamed slab by slab within a memory budget.

use chemomech_core::{Error, Progress, ProjectionSet, Provenance, Result};
use chemomech_io::{open_with, Dataset, OpenOptions};
use chemomech_tomo::center::{check_center, find_center_180, find_center_vo};
use chemomech_tomo::recon::{preprocess, reconstruct, CenterSpec, PreReport, ReconParams};
use ndarray::{s, Axis};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Multi-distance phase retrieval settings (holotomography).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HoloParams {
    /// δ/β of the (homogeneous-object) CTF.
    pub delta_beta: f64,
    pub alpha_low: f64,
    pub alpha_high: f64,
}

/// What to reconstruct and how.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Params {
    /// Projections, or for holotomography a folder of one DXchange file per distance.
    pub input: PathBuf,
    /// Multi-distance CTF retrieval (input is a folder of distances).
    pub holo: Option<HoloParams>,
    pub center: CenterSpec,
    pub recon: ReconParams,
    /// Detector rows (slices) to reconstruct; all when None.
    pub slices: Option<Range<usize>>,
    /// Memory budget in GB for data in flight; default 4 GB.
    pub memory_gb: Option<f64>,
}

/// Peak resident memory of this process in MB (10⁶ bytes; Linux), if known.
pub fn peak_rss_mb() -> Option<f64> {
    status_mb("VmHWM:")
}

/// A memory line of /proc/self/status (in KiB there) in MB, if known.
fn status_mb(key: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0 / 1e6)
}

/// Shape (angles, rows, columns) and whether slabs can be read lazily.
fn probe(input: &Path) -> Result<(usize, usize, usize, bool, Option<ProjectionSet>)> {
    let info = chemomech_io::info(input)?;
    if info["kind"] == "projections" && info["format"] == "HDF5" {
        let g = |k: &str| info[k].as_u64().map(|v| v as usize).ok_or_else(|| Error::data(format!("cannot tell the number of {k}")).at(input));
        return Ok((g("projections")?, g("rows")?, g("columns")?, true, None));
    }
    match chemomech_io::open(input)? {
        Dataset::Projections(p) => {
            let (a, r, c) = p.dims();
            Ok((a, r, c, false, Some(p)))
        }
        other => Err(Error::data(format!("expected tomographic projections, found a {}", other.kind())).at(input)),
    }
}

fn slab(input: &Path, lazy: bool, full: Option<&ProjectionSet>, rows: Range<usize>) -> Result<ProjectionSet> {
    if lazy {
        return match open_with(input, &OpenOptions { rows: Some(rows), ..Default::default() })? {
            Dataset::Projections(p) => Ok(p),
            other => Err(Error::data(format!("expected projections, found a {}", other.kind())).at(input)),
        };
    }
    let p = full.expect("loaded");
    let cut = |a: &chemomech_core::DynArray| -> Result<chemomech_core::DynArray> {
        Ok(chemomech_core::dyn_dispatch!(a, x => chemomech_core::array::Element::wrap(x.slice_axis(Axis(1), ndarray::Slice::from(rows.clone())).to_owned())))
    };
    let mut q = p.clone();
    q.data = cut(&p.data)?;
    q.flats = p.flats.as_ref().map(cut).transpose()?;
    q.darks = p.darks.as_ref().map(cut).transpose()?;
    Ok(q)
}

/// Runs the reconstruction into `out` (.tiff, .zarr or .h5). Returns the JSON summary.
pub fn run(p: &Params, out: &Path, progress: &dyn Progress) -> Result<serde_json::Value> {
    if let Some(h) = &p.holo {
        return run_holo(p, h, out, progress);
    }
    chemomech_io::atomic::ensure_not_input(out, &[&p.input])?;
    chemomech_io::output_format(out)?;
    let t0 = std::time::Instant::now();
    let (na, nr, nd, lazy, full) = probe(&p.input)?;
    let rows = p.slices.clone().unwrap_or(0..nr);
    if rows.start >= rows.end || rows.end > nr {
        return Err(Error::param(format!("slices {}:{} are not within the {nr} detector rows", rows.start, rows.end)));
    }
    let n = p.recon.size.unwrap_or(nd);
    let mut prov = Provenance::start("reconstruct", serde_json::to_value(p)?);
    prov.add_input(&p.input)?;

    // A slab of rows, read and preprocessed (errors name the input), with its angles.
    let prepared = |r: Range<usize>| -> Result<(ndarray::Array3<f32>, PreReport, Vec<f64>)> {
        let s = slab(&p.input, lazy, full.as_ref(), r)?;
        let (lines, rep) = preprocess(&s, &p.recon).map_err(|e| e.at(&p.input))?;
        Ok((lines, rep, s.angles_deg))
    };
    // Centre, from the middle of the selected rows.
    let mid = (rows.start + rows.end) / 2;
    let (center, method) = match p.center {
        CenterSpec::Value(c) => (check_center(c, nd)?, "given"),
        CenterSpec::Auto => {
            let (lines, _, _) = prepared(mid..mid + 1)?;
            (find_center_vo(lines.index_axis(Axis(1), 0), None, 0.5)?, "Vo 2014 Fourier (middle slice)")
        }
        CenterSpec::Opposite => {
            let r = mid.saturating_sub(8).max(rows.start)..(mid + 8).min(rows.end);
            let (lines, _, angles) = prepared(r)?;
            (find_center_180(lines.view(), &angles)?, "0°/180° registration")
        }
    };

    // Rows per slab within the memory budget: raw + transmission + filtered
    // copies of the projections, plus the reconstructed slices.
    let budget = p.memory_gb.unwrap_or(4.0) * 1e9;
    if !(budget > 0.0) {
        return Err(Error::param("--memory-gb must be positive"));
    }
    let per_row = (na * nd * 4 * 4 + n * n * 4 * 2) as f64;
    let mut fixed = if lazy { 0.0 } else { full.as_ref().map(|f| f.data.nbytes() as f64).unwrap_or(0.0) };
    // The budget is for the whole process: what it holds already counts.
    fixed += status_mb("VmRSS:").unwrap_or(0.0) * 1e6;
    // Working memory of the slices in flight (one per thread).
    fixed += (rayon::current_num_threads() * p.recon.algorithm.slice_working_bytes(n)) as f64;
    // 10 % headroom for what is not modelled (I/O buffers, FFT scratch).
    let chunk = (((0.9 * budget - fixed) / per_row).floor() as usize).clamp(1, rows.len());
    let first = slab(&p.input, lazy, full.as_ref(), rows.start..rows.start + 1)?;
    let pixel_um = first.pixel_um;
    let units = if pixel_um.is_some() { "1/cm" } else { "1/pixel" };
    let mut writer = chemomech_io::stream::volume_writer(out, [rows.len(), n, n], pixel_um.map(|x| [x, x, x]), Some(&prov), units)?;
    progress.start("reconstructing", rows.len() as u64);
    let mut report = PreReport::default();
    let mut z = rows.start;
    let mut chunks = 0;
    let mut t_rec = 0.0;
    while z < rows.end {
        let zz = (z + chunk).min(rows.end);
        let (lines, rep, angles) = prepared(z..zz)?;
        report.add(&rep);
        let tr = std::time::Instant::now();
        let vol = reconstruct(lines.view(), &angles, center, &p.recon, pixel_um)?;
        t_rec += tr.elapsed().as_secs_f64();
        writer.write_slab(vol.slice(s![.., .., ..]))?;
        progress.inc((zz - z) as u64);
        z = zz;
        chunks += 1;
    }
    progress.finish();
    prov.finish();
    writer.finish()?;
    Ok(serde_json::json!({
        "stage": "reconstruct",
        "output": out.display().to_string(),
        "center": center,
        "center_method": method,
        "shape": [rows.len(), n, n],
        "units": units,
        "pixel_um": pixel_um,
        "angles": na,
        "slabs": chunks,
        "rows_per_slab": chunk,
        "memory_budget_gb": budget / 1e9,
        "peak_rss_mb": peak_rss_mb(),
        "seconds": t0.elapsed().as_secs_f64(),
        // FBP / gridding alone, without reading, preprocessing and writing.
        "seconds_reconstruction": t_rec,
        "algorithm": p.recon.algorithm,
        "preprocessing": report,
        "provenance": prov.to_json(),
    }))
}

/// The per-distance files of a holotomography scan: every `.h5` in the folder
/// holding projections with a propagation distance, sorted by distance.
pub fn holo_files(dir: &Path) -> Result<Vec<(PathBuf, ProjectionSet)>> {
    if !dir.is_dir() {
        return Err(Error::param("holotomography input must be a folder with one DXchange file per distance").at(dir));
    }
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(e).at(dir))? {
        let path = e.map_err(|e| Error::io(e).at(dir))?.path();
        if path.extension().map(|x| x == "h5" || x == "hdf5").unwrap_or(false) {
            match chemomech_io::open(&path)? {
                Dataset::Projections(ps) if ps.distance_m.is_some() => v.push((path, ps)),
                _ => {}
            }
        }
    }
    if v.is_empty() {
        return Err(Error::data("no projection files with a propagation distance in this folder").at(dir));
    }
    v.sort_by(|a, b| a.1.distance_m.partial_cmp(&b.1.distance_m).expect("finite"));
    let first = v[0].1.dims();
    for (path, ps) in &v {
        if ps.dims() != first || ps.angles_deg != v[0].1.angles_deg {
            return Err(Error::shape("projections, rows, columns and angles must agree across distances").at(path));
        }
        if ps.pixel_um.is_none() || ps.energy_ev.is_none() {
            return Err(Error::data("each distance needs its pixel size and energy").at(path));
        }
    }
    Ok(v)
}

fn run_holo(p: &Params, h: &HoloParams, out: &Path, progress: &dyn Progress) -> Result<serde_json::Value> {
    use chemomech_tomo::phase::Ctf;
    chemomech_io::atomic::ensure_not_input(out, &[&p.input])?;
    chemomech_io::output_format(out)?;
    let t0 = std::time::Instant::now();
    let files = holo_files(&p.input)?;
    let mut prov = Provenance::start("reconstruct", serde_json::to_value(p)?);
    for (f, _) in &files {
        prov.add_input(f)?;
    }
    let (na, nr, nd) = files[0].1.dims();
    let rows = p.slices.clone().unwrap_or(0..nr);
    if rows.start >= rows.end || rows.end > nr {
        return Err(Error::param(format!("slices {}:{} are not within the {nr} detector rows", rows.start, rows.end)));
    }
    progress.start("phase retrieval", 3);
    let norm: Vec<ndarray::Array3<f32>> = files
        .iter()
        .map(|(f, ps)| chemomech_tomo::recon::normalize_set(ps, p.recon.flats).map_err(|e| e.at(f)))
        .collect::<Result<_>>()?;
    progress.inc(1);
    let pixels: Vec<f64> = files.iter().map(|(_, ps)| ps.pixel_um.expect("checked")).collect();
    let ctf = Ctf {
        energy_kev: files[0].1.energy_ev.expect("checked") / 1e3,
        distances_m: files.iter().map(|(_, ps)| ps.distance_m.expect("checked")).collect(),
        pixel_um: pixels.iter().cloned().fold(f64::INFINITY, f64::min),
        delta_beta: h.delta_beta,
        alpha_low: h.alpha_low,
        alpha_high: h.alpha_high,
        zoom: Vec::new(),
    };
    let (phase, rep) = chemomech_tomo::recon::retrieve_holo(&norm, &pixels, &ctf)?;
    drop(norm);
    progress.inc(1);
    let mut lines = chemomech_tomo::recon::delta_lines(phase, &ctf);
    chemomech_tomo::preprocess::remove_rings(&mut lines, p.recon.rings);
    let angles = files[0].1.angles_deg.clone();
    let mid = (rows.start + rows.end) / 2;
    let (center, method) = match p.center {
        CenterSpec::Value(c) => (check_center(c, nd)?, "given"),
        CenterSpec::Auto => (find_center_vo(lines.index_axis(Axis(1), mid), None, 0.5)?, "Vo 2014 Fourier (middle slice)"),
        CenterSpec::Opposite => (find_center_180(lines.slice(s![.., rows.clone(), ..]), &angles)?, "0°/180° registration"),
    };
    let n = p.recon.size.unwrap_or(nd);
    let mut writer = chemomech_io::stream::volume_writer(out, [rows.len(), n, n], Some([ctf.pixel_um; 3]), Some(&prov), "delta (refractive index decrement)")?;
    let chunk = 16;
    let mut z = rows.start;
    while z < rows.end {
        let zz = (z + chunk).min(rows.end);
        let vol = reconstruct(lines.slice(s![.., z..zz, ..]), &angles, center, &p.recon, None)?;
        writer.write_slab(vol.view())?;
        z = zz;
    }
    writer.finish()?;
    progress.inc(1);
    progress.finish();
    prov.finish();
    Ok(serde_json::json!({
        "stage": "reconstruct",
        "mode": "holotomography (multi-distance CTF)",
        "output": out.display().to_string(),
        "center": center,
        "center_method": method,
        "shape": [rows.len(), n, n],
        "units": "delta (refractive index decrement)",
        "pixel_um": ctf.pixel_um,
        "angles": na,
        "distances_m": ctf.distances_m,
        "distance_shifts_px": rep.shifts_px,
        "magnification_zoom": rep.zoom,
        "peak_rss_mb": peak_rss_mb(),
        "seconds": t0.elapsed().as_secs_f64(),
        "provenance": prov.to_json(),
    }))
}
