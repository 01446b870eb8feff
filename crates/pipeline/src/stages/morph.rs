//! `morph`: the image-analysis primitives that `segment` and `particles`
//! are built from, one at a time on a whole volume — connected components,
//! the exact distance transform, the median filter and the distance-map
//! watershed. For scripting, for cross-checks against cc3d / scipy /
//! scikit-image, and for `bench/particles.py`, which times each step.

use super::segment::read_volume_or;
use chemomech_core::{DynArray, Error, Progress, Provenance, Result};
use chemomech_imgproc::filters::median;
use chemomech_imgproc::label::{CompactLabels, Connectivity, label, label_compact};
use chemomech_imgproc::{edt, morph::h_maxima, watershed::watershed_from_peaks};
use ndarray::{Array3, ArrayView3};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One primitive.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    /// Connected components of the mask → u32 labels (cc3d's numbering).
    Label(Connectivity),
    /// Euclidean distance (µm) of each mask voxel to the nearest non-mask voxel → f32.
    Edt,
    /// Median over a (2r+1)³ cube → f32.
    Median(usize),
    /// Distance-map watershed of the mask from h-maxima markers (h in µm) → u32 labels.
    Watershed {
        /// Minimum depth (µm) of a distance-map peak to seed a region.
        h_um: f64,
    },
}

/// The primitive, as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OpName {
    /// Connected components → 16-bit labels up to 65 535 components, else 32-bit.
    #[default]
    Label,
    /// Distance map (µm) → f32.
    Edt,
    /// Median filter → f32.
    Median,
    /// Distance-map watershed → 32-bit labels.
    Watershed,
}

/// What `morph` does: one primitive on a whole volume.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// The primitive.
    #[arg(value_enum)]
    pub op: OpName,
    /// Input volume (TIFF, Zarr, HDF5, npy).
    pub volume: PathBuf,
    /// Mask = voxels equal to this value (default: non-zero voxels).
    #[arg(long)]
    pub phase: Option<f64>,
    /// Voxel size in µm (default: the file's, else 1).
    #[arg(long)]
    pub voxel_um: Option<f64>,
    /// 6, 18 or 26 (label).
    #[arg(long, default_value = "26")]
    #[serde(with = "crate::params::text")]
    pub connectivity: Connectivity,
    /// Median over a (2r+1)³ cube (median).
    #[arg(long, default_value_t = 1)]
    pub radius: usize,
    /// Minimum depth (µm) of a distance-map peak to seed a region (watershed).
    #[arg(long, default_value_t = 1.0)]
    pub h_um: f64,
    /// Dataset inside a container file.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Benchmarking: compute this many times in this process; `seconds_compute` is the fastest, `seconds_runs` lists all.
    ///
    /// Repeated calls in one process reuse memory the process already
    /// holds, as the Python peers are timed in `bench/`, where a fresh
    /// process's first touch of a large output is at the mercy of the
    /// (virtual) machine's page allocation.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            op: OpName::Label,
            volume: PathBuf::new(),
            phase: None,
            voxel_um: None,
            connectivity: Connectivity::C26,
            radius: 1,
            h_um: 1.0,
            dataset: None,
            repeat: 1,
        }
    }
}

impl Params {
    /// The primitive with its settings.
    pub fn op(&self) -> Op {
        match self.op {
            OpName::Label => Op::Label(self.connectivity),
            OpName::Edt => Op::Edt,
            OpName::Median => Op::Median(self.radius),
            OpName::Watershed => Op::Watershed { h_um: self.h_um },
        }
    }
}

/// What `morph` reports.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// The stage that wrote it (`morph`).
    pub stage: String,
    /// The primitive, with its settings.
    pub op: Op,
    /// The volume written.
    pub output: String,
    /// Shape of the volume (z, y, x) in voxels.
    pub shape: Vec<usize>,
    /// Voxel spacing (z, y, x) in µm (`voxel_um` in outputs of earlier versions).
    #[serde(alias = "voxel_um")]
    pub spacing_um: [f64; 3],
    /// Seconds from the start of the computation to the written output.
    pub seconds: f64,
    /// Provenance of the run (tool, version, command, parameters, inputs).
    pub provenance: serde_json::Value,
    /// The fastest run's seconds, and every run's.
    pub seconds_compute: f64,
    /// Each run's seconds, in order.
    pub seconds_runs: Vec<f64>,
    /// Watershed: the fastest run's seconds per step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_edt: Option<f64>,
    /// Watershed: the fastest run's seconds for the h-maxima markers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_markers: Option<f64>,
    /// Watershed: the fastest run's seconds for the flooding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_flood: Option<f64>,
    /// Label: components found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_components: Option<u64>,
    /// Watershed: regions (markers) found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_regions: Option<u64>,
}

/// The `morph` stage.
pub struct Morph;

impl crate::stage::Stage for Morph {
    const NAME: &'static str = "morph";
    const OUTPUT: crate::runner::Output = crate::runner::Output::File("morph.tiff");
    type Params = Params;
    type Summary = Summary;
    fn run(params: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
        run(params, out, progress)
    }
    fn headline(s: &Summary) -> String {
        let op = serde_json::to_value(s.op)
            .ok()
            .and_then(|v| v.as_str().map(String::from).or_else(|| v.as_object().and_then(|o| o.keys().next().cloned())))
            .unwrap_or_default();
        format!("{} → {} in {:.2} s", op.to_lowercase(), s.output, s.seconds_compute)
    }
}

/// Step timings of one primitive.
#[derive(Default)]
struct Timings {
    compute: Vec<f64>,
    edt: Vec<f64>,
    markers: Vec<f64>,
    flood: Vec<f64>,
    n_components: Option<u64>,
    n_regions: Option<u64>,
}

/// Runs `f` `n` times (at least once); its last result and each run's seconds.
fn timed<T>(n: usize, mut f: impl FnMut() -> T) -> (T, Vec<f64>) {
    let mut times = Vec::new();
    let mut out = None;
    for _ in 0..n.max(1) {
        // The previous result is freed first, as a caller's loop would.
        drop(out.take());
        let t = Instant::now();
        out = Some(f());
        times.push(t.elapsed().as_secs_f64());
    }
    (out.expect("ran at least once"), times)
}

fn best(times: &[f64]) -> f64 {
    times.iter().cloned().fold(f64::INFINITY, f64::min)
}

fn mask_of(v: ArrayView3<f32>, phase: Option<f64>) -> Array3<bool> {
    match phase {
        Some(p) => v.mapv(|x| x as f64 == p),
        None => v.mapv(|x| x != 0.0),
    }
}

/// Runs the primitive on `p.volume` into the TIFF `out`. See [`Params`].
pub fn run(p: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
    chemomech_io::atomic::ensure_not_input(out, &[&p.volume])?;
    let mut prov = Provenance::start("morph", serde_json::to_value(p)?);
    prov.add_input(&p.volume)?;
    // Files without a voxel size are taken as 1 µm voxels: label and median
    // do not use it, and distances are then in voxels.
    let v = read_volume_or(&p.volume, p.dataset.clone(), p.voxel_um, Some(1.0))?;
    if v.data.is_empty() {
        return Err(Error::shape("the volume is empty").at(&p.volume));
    }
    let spacing_um = v.spacing_um;
    progress.start("morph", 1);
    let t0 = Instant::now();
    let mut tm = Timings::default();
    let op = p.op();
    let result = match op {
        Op::Label(conn) => {
            let m = mask_of(v.data.view(), p.phase);
            // 16-bit labels up to 65 535 components (as cc3d), which Fiji opens as integers.
            let ((lab, n), times) = timed(p.repeat, || label_compact(m.view(), conn));
            tm.compute = times;
            tm.n_components = Some(n as u64);
            match lab {
                CompactLabels::U16(a) => DynArray::U16(a.into_dyn()),
                CompactLabels::U32(a) => DynArray::U32(a.into_dyn()),
            }
        }
        Op::Edt => {
            let m = mask_of(v.data.view(), p.phase);
            let (d, times) = timed(p.repeat, || edt(m.view(), spacing_um));
            tm.compute = times;
            DynArray::F32(d.into_dyn())
        }
        Op::Median(r) => {
            if r == 0 || r > 10 {
                return Err(Error::param(format!("median radius must be 1–10 voxels, got {r}")));
            }
            let (m, times) = timed(p.repeat, || median(v.data.view(), r));
            tm.compute = times;
            DynArray::F32(m.into_dyn())
        }
        Op::Watershed { h_um } => {
            if !(h_um >= 0.0 && h_um.is_finite()) {
                return Err(Error::param(format!("--h-um must be ≥ 0, got {h_um}")));
            }
            let m = mask_of(v.data.view(), p.phase);
            // Each step's seconds, per run.
            let (mut t_edt, mut t_markers, mut t_flood) = (Vec::new(), Vec::new(), Vec::new());
            let ((lab, nm), times) = timed(p.repeat, || {
                let t = Instant::now();
                let dist = edt(m.view(), spacing_um);
                t_edt.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                let (markers, nm) = label(h_maxima(dist.view(), h_um as f32).view(), Connectivity::C26);
                t_markers.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                let lab = watershed_from_peaks(dist.view(), markers.view(), m.view(), Connectivity::C26);
                t_flood.push(t.elapsed().as_secs_f64());
                (lab, nm)
            });
            tm = Timings {
                compute: times,
                edt: t_edt,
                markers: t_markers,
                flood: t_flood,
                n_components: None,
                n_regions: Some(nm as u64),
            };
            DynArray::U32(lab.into_dyn())
        }
    };
    progress.finish();
    prov.finish();
    crate::stage::write_image(out, result, &spacing_um, &prov)?;
    let step = |t: &[f64]| (!t.is_empty()).then(|| best(t));
    Ok(Summary {
        stage: "morph".into(),
        op,
        output: out.display().to_string(),
        shape: v.data.shape().to_vec(),
        spacing_um,
        seconds: t0.elapsed().as_secs_f64(),
        provenance: prov.to_json(),
        seconds_compute: best(&tm.compute),
        seconds_edt: step(&tm.edt),
        seconds_markers: step(&tm.markers),
        seconds_flood: step(&tm.flood),
        n_components: tm.n_components,
        n_regions: tm.n_regions,
        seconds_runs: tm.compute,
    })
}

crate::value_enum_serde!(OpName);
