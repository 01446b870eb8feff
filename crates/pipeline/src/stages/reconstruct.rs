//! `reconstruct`: projections as a beamline wrote them → a volume in 1/cm,
//! streamed slab by slab within a memory budget.

use chemomech_core::{Error, Progress, ProjectionSet, Provenance, Result};
use chemomech_io::{Dataset, OpenOptions, open_with};
use chemomech_tomo::align::{AlignMethod, AlignParams, Alignment, align_projections, apply_shifts};
use chemomech_tomo::center::{check_center, find_center_180, find_center_vo};
use chemomech_tomo::fbp::Filter;
use chemomech_tomo::phase::Paganin;
use chemomech_tomo::preprocess::{Combine, Rings};
use chemomech_tomo::recon::{Algorithm, CenterSpec, PreReport, ReconParams, preprocess, reconstruct};
use ndarray::{Axis, s};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Multi-distance phase retrieval settings (holotomography).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HoloParams {
    /// δ/β of the (homogeneous-object) CTF.
    pub delta_beta: f64,
    /// Tikhonov regularisation at low and high spatial frequencies.
    pub alpha_low: f64,
    /// Tikhonov regularisation at high spatial frequencies.
    pub alpha_high: f64,
}

impl HoloParams {
    /// The CTF retrieval for `delta_beta` with the default regularisation
    /// (α 1e-6 at low and 1e-4 at high frequencies).
    pub fn new(delta_beta: f64) -> Self {
        Self { delta_beta, alpha_low: 1e-6, alpha_high: 1e-4 }
    }
}

/// What to reconstruct and how, resolved from [`Params`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    /// Projections, or for holotomography a folder of one DXchange file per distance.
    pub input: PathBuf,
    /// Multi-distance CTF retrieval (input is a folder of distances).
    pub holo: Option<HoloParams>,
    /// The rotation centre.
    pub center: CenterSpec,
    /// Preprocessing and reconstruction settings.
    pub recon: ReconParams,
    /// Detector rows (slices) to reconstruct; all when None.
    pub slices: Option<Range<usize>>,
    /// Memory budget in GB for data in flight; default 4 GB.
    pub memory_gb: Option<f64>,
    /// Projection alignment (absorption scans).
    #[serde(default)]
    pub align: AlignParams,
}

/// Ring removal, as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RingsName {
    /// No ring removal.
    #[default]
    None,
    /// Vo 2018: sorting-based filter and large-stripe removal.
    Vo,
    /// Münch 2009: Fourier–wavelet.
    Fw,
}

/// Combination of flat (and dark) frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FlatsName {
    /// Mean of the frames.
    #[default]
    Mean,
    /// Median of the frames.
    Median,
}

/// Phase retrieval, as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PhaseName {
    /// Absorption contrast only.
    #[default]
    None,
    /// Single-distance Paganin filter.
    Paganin,
    /// Multi-distance CTF (holotomography: the input is a folder of one file per distance).
    Ctf,
}

/// The rotation centre: `auto` (Vo's method), `180` (0°/180° registration) or a value in detector pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Center(pub CenterSpec);

crate::value_enum_serde!(RingsName);
crate::value_enum_serde!(FlatsName);
crate::value_enum_serde!(PhaseName);

impl std::fmt::Display for Center {
    /// `auto`, `180` or the value: what [`str::parse`] reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            CenterSpec::Auto => f.write_str("auto"),
            CenterSpec::Opposite => f.write_str("180"),
            CenterSpec::Value(v) => write!(f, "{v}"),
        }
    }
}

impl Default for Center {
    fn default() -> Self {
        Center(CenterSpec::Auto)
    }
}

impl std::str::FromStr for Center {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(Center(match s {
            "auto" | "vo" => CenterSpec::Auto,
            "180" | "opposite" => CenterSpec::Opposite,
            v => CenterSpec::Value(
                v.parse().map_err(|_| Error::param(format!("the centre must be auto, 180 or a number, got '{v}'")))?,
            ),
        }))
    }
}

/// Detector rows `A:B` (either end may be left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows {
    /// First row (inclusive).
    pub start: usize,
    /// Exclusive end; `None`: the last row.
    pub end: Option<usize>,
}

impl std::fmt::Display for Rows {
    /// `A:B` (`A:` to the last row): what [`str::parse`] reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.end {
            Some(e) => write!(f, "{}:{e}", self.start),
            None => write!(f, "{}:", self.start),
        }
    }
}

impl std::str::FromStr for Rows {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (a, b) = s.split_once(':').ok_or_else(|| Error::param(format!("slices must look like A:B, got '{s}'")))?;
        let start =
            if a.is_empty() { 0 } else { a.parse().map_err(|_| Error::param(format!("bad slice start '{a}'")))? };
        let end = if b.is_empty() {
            None
        } else {
            Some(b.parse().map_err(|_| Error::param(format!("bad slice end '{b}'")))?)
        };
        Ok(Rows { start, end })
    }
}

/// What `reconstruct` does: projections (DXchange, NXtomo, FXI, txrm,
/// Zarr) → a volume in 1/cm, streamed slab by slab within a memory budget.
#[derive(Debug, Clone, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Projections with flats and darks (DXchange/NXtomo/FXI HDF5, txrm, Zarr).
    pub input: PathBuf,
    /// Rotation centre: auto (Vo's method), 180 (0°/180° registration), or a value in detector pixels.
    #[arg(long, default_value = "auto")]
    #[serde(with = "crate::params::text")]
    pub center: Center,
    /// Filter: ramp, shepp, cosine, hamming, hann.
    #[arg(long, default_value = "ramp")]
    #[serde(with = "crate::params::text")]
    pub filter: Filter,
    /// Algorithm: fbp (filtered back-projection), fourier (direct
    /// Fourier gridding, faster; same filters and scale), sirt or cgls
    /// (iterative, for few angles or a missing wedge; slower).
    #[arg(long, default_value = "fbp")]
    #[serde(with = "crate::params::text")]
    pub algorithm: Algorithm,
    /// Iterations of sirt or cgls (default 100 and 10; cgls semi-converges, so more is not better).
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Projection alignment for jitter between projections: none, mass
    /// (mass centres), joint (mass, then re-projection rounds). Writes
    /// alignment.csv beside the volume; the whole scan is held in memory.
    #[arg(long, default_value = "none")]
    #[serde(with = "crate::params::text")]
    pub align: AlignMethod,
    /// Most re-projection rounds of --align joint (default 10).
    #[arg(long)]
    pub align_iterations: Option<usize>,
    /// Ring removal: none, vo (Vo 2018 sorting + large stripes), fw (Münch 2009 Fourier–wavelet).
    #[arg(long, value_enum, default_value_t = RingsName::None)]
    pub rings: RingsName,
    /// Zinger removal threshold on transmission (e.g. 0.1); off when absent.
    #[arg(long)]
    pub zinger: Option<f32>,
    /// Combine flats by mean or median.
    #[arg(long, value_enum, default_value_t = FlatsName::Mean)]
    pub flats: FlatsName,
    /// Phase retrieval: none, paganin (single distance), or ctf (multi-distance holotomography: INPUT is a folder of one file per distance).
    #[arg(long, value_enum, default_value_t = PhaseName::None)]
    pub phase: PhaseName,
    /// δ/β for phase retrieval.
    #[arg(long)]
    pub delta_beta: Option<f64>,
    /// Photon energy in keV (phase retrieval).
    #[arg(long)]
    pub energy_kev: Option<f64>,
    /// Propagation distance(s) in metres (phase retrieval), comma-separated.
    #[arg(long, value_delimiter = ',')]
    #[serde(with = "crate::params::text_list")]
    pub distance_m: Vec<f64>,
    /// Pixel size in µm (phase retrieval; overrides the file's).
    #[arg(long)]
    pub pixel_um: Option<f64>,
    /// Slices (detector rows) A:B to reconstruct.
    #[arg(long)]
    #[serde(with = "crate::params::text_opt")]
    pub slices: Option<Rows>,
    /// Memory budget in GB for data in flight (default 4).
    #[arg(long)]
    pub memory_gb: Option<f64>,
    /// Output slice width in pixels (default: detector width).
    #[arg(long)]
    pub size: Option<usize>,
}

impl Params {
    /// The reconstruction these parameters ask for, checked.
    ///
    /// # Errors
    /// Phase retrieval without the settings it needs, or with invalid ones.
    pub fn plan(&self) -> Result<Plan> {
        let rings = match self.rings {
            RingsName::None => Rings::None,
            RingsName::Vo => Rings::vo(),
            RingsName::Fw => Rings::fourier_wavelet(),
        };
        let flats = match self.flats {
            FlatsName::Mean => Combine::Mean,
            FlatsName::Median => Combine::Median,
        };
        let holo = match self.phase {
            PhaseName::Ctf => {
                let d = self.delta_beta.ok_or_else(|| Error::param("--phase ctf needs --delta-beta"))?;
                if !(d > 0.0 && d.is_finite()) {
                    return Err(Error::param("--delta-beta must be positive"));
                }
                Some(HoloParams::new(d))
            }
            _ => None,
        };
        let paganin = match self.phase {
            PhaseName::Paganin => {
                let need =
                    |v: Option<f64>, n: &str| v.ok_or_else(|| Error::param(format!("--phase paganin needs {n}")));
                let p = Paganin {
                    energy_kev: need(self.energy_kev, "--energy-kev")?,
                    distance_m: need(self.distance_m.first().copied(), "--distance-m")?,
                    pixel_um: need(self.pixel_um, "--pixel-um")?,
                    delta_beta: need(self.delta_beta, "--delta-beta")?,
                };
                p.validate()?;
                Some(p)
            }
            _ => None,
        };
        if self.iterations.is_some() && !matches!(self.algorithm, Algorithm::Sirt | Algorithm::Cgls) {
            return Err(Error::param("--iterations applies to --algorithm sirt or cgls"));
        }
        if self.iterations == Some(0) {
            return Err(Error::param("--iterations must be at least 1"));
        }
        let recon = ReconParams {
            algorithm: self.algorithm,
            iterations: self.iterations,
            nonnegative: true,
            filter: self.filter,
            rings,
            zinger: self.zinger,
            flats,
            paganin,
            size: self.size,
        };
        let slices = self.slices.as_ref().map(|r| r.start..r.end.unwrap_or(usize::MAX));
        if self.align != AlignMethod::None && holo.is_some() {
            return Err(Error::param("--align is for absorption scans (not --phase ctf)"));
        }
        let mut align = AlignParams { method: self.align, ..Default::default() };
        if let Some(n) = self.align_iterations {
            if self.align != AlignMethod::Joint || n == 0 {
                return Err(Error::param("--align-iterations takes a positive count, with --align joint"));
            }
            align.iterations = n;
        }
        Ok(Plan {
            input: self.input.clone(),
            holo,
            center: self.center.0,
            recon,
            slices,
            memory_gb: self.memory_gb,
            align,
        })
    }
}

/// What the projection alignment did.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AlignmentSummary {
    /// The method used.
    pub method: AlignMethod,
    /// The table of shifts per projection (beside the volume).
    pub table: String,
    /// Largest shift applied to a projection (pixels).
    pub max_shift_px: f64,
    /// Joint: RMS change of the shifts in each re-projection round (pixels).
    pub rounds_rms_px: Vec<f64>,
}

/// What `reconstruct` reports.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// The stage that wrote it (`reconstruct`).
    pub stage: String,
    /// `holotomography (multi-distance CTF)` for phase volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The volume written.
    pub output: String,
    /// Rotation centre in detector pixels, and how it was found.
    pub center: f64,
    /// How the rotation centre was found.
    pub center_method: String,
    /// Projection alignment, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment: Option<AlignmentSummary>,
    /// Radius (detector pixels) about the rotation axis seen at every angle;
    /// voxels beyond it have incomplete data and are written as 0.
    #[serde(default)]
    pub field_of_view_radius_px: f64,
    /// Shape of the volume (z, y, x) in voxels.
    pub shape: [usize; 3],
    /// Units of the volume's values (1/cm, 1/pixel, or delta for phase volumes).
    pub units: String,
    /// Pixel size in µm, when known.
    pub pixel_um: Option<f64>,
    /// Number of projection angles.
    pub angles: usize,
    /// Holotomography: propagation distances in metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distances_m: Option<Vec<f64>>,
    /// Holotomography: (rows, cols) shift in pixels applied to each distance on the common grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_shifts_px: Option<serde_json::Value>,
    /// Holotomography: magnification (pixel size over the reference pixel size) of each distance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub magnification_zoom: Option<serde_json::Value>,
    /// Slabs the volume was reconstructed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slabs: Option<usize>,
    /// Detector rows per slab.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_per_slab: Option<usize>,
    /// Memory budget in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_budget_gb: Option<f64>,
    /// Peak resident memory of the process in MB, if known.
    pub peak_rss_mb: Option<f64>,
    /// Wall-clock seconds of the stage.
    pub seconds: f64,
    /// FBP / gridding alone, without reading, preprocessing and writing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_reconstruction: Option<f64>,
    /// The reconstruction algorithm (absorption volumes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    /// What normalisation saw and did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocessing: Option<serde_json::Value>,
    /// Provenance of the run (tool, version, command, parameters, inputs).
    pub provenance: serde_json::Value,
}

/// The `reconstruct` stage.
pub struct Reconstruct;

impl crate::stage::Stage for Reconstruct {
    const NAME: &'static str = "reconstruct";
    const OUTPUT: crate::runner::Output = crate::runner::Output::File("volume.tiff");
    type Params = Params;
    type Summary = Summary;
    fn run(params: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
        run(params, out, progress)
    }
    fn headline(s: &Summary) -> String {
        let shape = s.shape.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("x");
        format!("volume {shape} ({}) at centre {:.2} ({})", s.units, s.center, s.center_method)
    }
}

/// Runs the reconstruction of `p.input` into `out` (.tiff, .zarr or .h5).
pub fn run(p: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
    let mut plan = p.plan()?;
    if let Some(r) = &mut plan.slices
        && r.end == usize::MAX
    {
        if plan.holo.is_some() {
            let f = holo_files(&plan.input)?;
            r.end = f[0].1.dims().1;
        } else {
            let info = chemomech_io::info(&plan.input)?;
            r.end = info["rows"].as_u64().map(|v| v as usize).unwrap_or(r.start + 1);
        }
    }
    run_plan(&plan, out, progress)
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
        let g = |k: &str| {
            info[k]
                .as_u64()
                .map(|v| v as usize)
                .ok_or_else(|| Error::data(format!("cannot tell the number of {k}")).at(input))
        };
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
        Ok(
            chemomech_core::dyn_dispatch!(a, x => chemomech_core::array::Element::wrap(x.slice_axis(Axis(1), ndarray::Slice::from(rows.clone())).to_owned())),
        )
    };
    let mut q = p.clone();
    q.data = cut(&p.data)?;
    q.flats = p.flats.as_ref().map(cut).transpose()?;
    q.darks = p.darks.as_ref().map(cut).transpose()?;
    Ok(q)
}

/// Runs a resolved reconstruction into `out` (.tiff, .zarr or .h5).
pub fn run_plan(p: &Plan, out: &Path, progress: &dyn Progress) -> Result<Summary> {
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

    let aligned = align_scan(p, out, rows.clone(), center, &prepared, &prov)?;

    let (chunk, budget) = rows_per_slab(p, (na, nd, n), lazy, full.as_ref(), rows.len())?;
    let first = slab(&p.input, lazy, full.as_ref(), rows.start..rows.start + 1)?;
    let pixel_um = first.pixel_um;
    let units = if pixel_um.is_some() { "1/cm" } else { "1/pixel" };
    let mut writer =
        chemomech_io::stream::volume_writer(out, [rows.len(), n, n], pixel_um.map(|x| [x, x, x]), Some(&prov), units)?;
    progress.start("reconstructing", rows.len() as u64);
    let mut report = PreReport::default();
    let mut z = rows.start;
    let mut chunks = 0;
    let mut t_rec = 0.0;
    while z < rows.end {
        let zz = (z + chunk).min(rows.end);
        let (lines, rep, angles) = match &aligned {
            Some(a) => (
                a.lines.slice(s![.., z - rows.start..zz - rows.start, ..]).to_owned(),
                PreReport::default(),
                a.angles.clone(),
            ),
            None => prepared(z..zz)?,
        };
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
    Ok(Summary {
        stage: "reconstruct".into(),
        mode: None,
        output: out.display().to_string(),
        center,
        center_method: method.into(),
        alignment: aligned.map(|a| a.summary),
        field_of_view_radius_px: chemomech_tomo::Geometry::new(Vec::new(), nd)
            .with_center(center)
            .field_of_view_radius(),
        shape: [rows.len(), n, n],
        units: units.into(),
        pixel_um,
        angles: na,
        distances_m: None,
        distance_shifts_px: None,
        magnification_zoom: None,
        slabs: Some(chunks),
        rows_per_slab: Some(chunk),
        memory_budget_gb: Some(budget / 1e9),
        peak_rss_mb: peak_rss_mb(),
        seconds: t0.elapsed().as_secs_f64(),
        seconds_reconstruction: Some(t_rec),
        algorithm: Some(p.recon.algorithm),
        preprocessing: Some(serde_json::to_value(&report)?),
        provenance: prov.to_json(),
    })
}

/// Rows per slab within the memory budget (and the budget in bytes): raw,
/// transmission and filtered copies of the projections (`dims`: angles,
/// detector width, slice width), plus the reconstructed slices, after what
/// the process holds already.
fn rows_per_slab(
    p: &Plan,
    dims: (usize, usize, usize),
    lazy: bool,
    full: Option<&ProjectionSet>,
    rows: usize,
) -> Result<(usize, f64)> {
    let (na, nd, n) = dims;
    let budget = p.memory_gb.unwrap_or(4.0) * 1e9;
    if !(budget > 0.0) {
        return Err(Error::param("--memory-gb must be positive"));
    }
    let per_row = (na * nd * 4 * 4 + n * n * 4 * 2) as f64;
    let mut fixed = if lazy { 0.0 } else { full.map(|f| f.data.nbytes() as f64).unwrap_or(0.0) };
    // The budget is for the whole process: what it holds already counts.
    fixed += status_mb("VmRSS:").unwrap_or(0.0) * 1e6;
    // Working memory of the slices in flight (one per thread).
    fixed += (rayon::current_num_threads() * p.recon.algorithm.slice_working_bytes(n)) as f64;
    // 10 % headroom for what is not modelled (I/O buffers, FFT scratch).
    let chunk = (((0.9 * budget - fixed) / per_row).floor() as usize).clamp(1, rows);
    Ok((chunk, budget))
}

/// The selected rows of a scan, aligned, and what the alignment did.
struct Aligned {
    lines: ndarray::Array3<f32>,
    angles: Vec<f64>,
    summary: AlignmentSummary,
}

/// With `--align`: every selected row read and preprocessed at once (the
/// shifts move rows across slabs), the projections aligned, and the shifts
/// written to `alignment.csv` beside `out`.
fn align_scan(
    p: &Plan,
    out: &Path,
    rows: Range<usize>,
    center: f64,
    prepared: &dyn Fn(Range<usize>) -> Result<(ndarray::Array3<f32>, PreReport, Vec<f64>)>,
    prov: &Provenance,
) -> Result<Option<Aligned>> {
    if p.align.method == AlignMethod::None {
        return Ok(None);
    }
    let (lines, _, angles) = prepared(rows)?;
    let a: Alignment = align_projections(lines.view(), &angles, center, &p.align).map_err(|e| e.at(&p.input))?;
    let table = out.with_file_name("alignment.csv");
    let t = chemomech_core::Table::from_columns(vec![
        ("projection", chemomech_core::Column::U64((0..angles.len() as u64).collect()), None),
        ("angle_deg", chemomech_core::Column::F64(angles.clone()), Some("degrees")),
        ("shift_rows_px", chemomech_core::Column::F64(a.shifts_px.iter().map(|s| s.0).collect()), Some("px")),
        ("shift_cols_px", chemomech_core::Column::F64(a.shifts_px.iter().map(|s| s.1).collect()), Some("px")),
    ])?;
    chemomech_io::table::write_csv(&table, &t, Some(prov))?;
    let summary = AlignmentSummary {
        method: p.align.method,
        table: table.display().to_string(),
        max_shift_px: a.shifts_px.iter().map(|s| s.0.hypot(s.1)).fold(0.0, f64::max),
        rounds_rms_px: a.rounds_rms_px.clone(),
    };
    Ok(Some(Aligned { lines: apply_shifts(lines.view(), &a.shifts_px), angles, summary }))
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

fn run_holo(p: &Plan, h: &HoloParams, out: &Path, progress: &dyn Progress) -> Result<Summary> {
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
        CenterSpec::Auto => {
            (find_center_vo(lines.index_axis(Axis(1), mid), None, 0.5)?, "Vo 2014 Fourier (middle slice)")
        }
        CenterSpec::Opposite => {
            (find_center_180(lines.slice(s![.., rows.clone(), ..]), &angles)?, "0°/180° registration")
        }
    };
    let n = p.recon.size.unwrap_or(nd);
    let mut writer = chemomech_io::stream::volume_writer(
        out,
        [rows.len(), n, n],
        Some([ctf.pixel_um; 3]),
        Some(&prov),
        "delta (refractive index decrement)",
    )?;
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
    Ok(Summary {
        stage: "reconstruct".into(),
        mode: Some("holotomography (multi-distance CTF)".into()),
        output: out.display().to_string(),
        center,
        center_method: method.into(),
        alignment: None,
        field_of_view_radius_px: chemomech_tomo::Geometry::new(Vec::new(), nd)
            .with_center(center)
            .field_of_view_radius(),
        shape: [rows.len(), n, n],
        units: "delta (refractive index decrement)".into(),
        pixel_um: Some(ctf.pixel_um),
        angles: na,
        distances_m: Some(ctf.distances_m.clone()),
        distance_shifts_px: Some(serde_json::to_value(&rep.shifts_px)?),
        magnification_zoom: Some(serde_json::to_value(&rep.zoom)?),
        slabs: None,
        rows_per_slab: None,
        memory_budget_gb: None,
        peak_rss_mb: peak_rss_mb(),
        seconds: t0.elapsed().as_secs_f64(),
        seconds_reconstruction: None,
        algorithm: None,
        preprocessing: None,
        provenance: prov.to_json(),
    })
}
