//! `phantom`: one member of the simulator family (irregular, hollow, porous
//! and agglomerate particles with cracks from sub-voxel to several voxels
//! wide, under several imaging conditions), as a grey image with its truth
//! on the image grid and per particle (crack fractions from a finer grid).

use crate::outdir::OutDir;
use crate::stage::ClassCounts;
use chemomech_core::{DynArray, Error, Progress, Provenance, Result};
use chemomech_io::table;
use chemomech_io::tiffio::{TiffOptions, write_tiff};
use chemomech_sim::family::{FamilyConfig, generate};
use std::path::Path;

/// Which family member to make.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// MORPHOLOGY[+IMAGING]: dense, agglomerate, hollow, thin-cracks or mixed, with clean, absorption, holo or soft (e.g. hollow+holo); or random (every parameter drawn from the seed).
    #[arg(long, default_value = "mixed+clean")]
    pub preset: String,
    /// Random seed (same seed, same arrays, whatever the thread count).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Image size in voxels per axis (default 96).
    #[arg(long)]
    pub size: Option<usize>,
    /// Make a 2-D slice (one voxel thick) instead of a volume.
    #[arg(long)]
    pub slice: bool,
    /// Voxel size in µm (default: the preset's; particle sizes scale with it).
    #[arg(long)]
    pub voxel_um: Option<f64>,
}

impl Default for Params {
    fn default() -> Self {
        Self { preset: "mixed+clean".into(), seed: 1, size: None, slice: false, voxel_um: None }
    }
}

/// What `phantom` reports.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// The stage that wrote it (`phantom`).
    pub stage: String,
    /// Particles with voxels in the image.
    pub particles: u64,
    /// True damage classes.
    pub class_counts: ClassCounts,
    /// Mean true crack fraction.
    pub crack_fraction_mean: f64,
    /// The member's full configuration.
    pub config: FamilyConfig,
    /// Files written, relative to the output directory.
    pub outputs: Vec<String>,
    /// Seconds taken.
    pub seconds: f64,
    /// Provenance of the run.
    pub provenance: serde_json::Value,
}

/// The `phantom` stage.
pub struct Phantom;

impl crate::stage::Stage for Phantom {
    const NAME: &'static str = "phantom";
    const OUTPUT: crate::runner::Output = crate::runner::Output::Dir;
    type Params = Params;
    type Summary = Summary;
    fn run(params: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
        run(params, out, progress)
    }
    fn headline(s: &Summary) -> String {
        format!(
            "{} particles, classes {}, mean crack fraction {:.3}",
            s.particles, s.class_counts, s.crack_fraction_mean
        )
    }
}

/// The configuration `p` asks for.
pub fn config(p: &Params) -> Result<FamilyConfig> {
    let mut c = FamilyConfig::preset(&p.preset, p.seed)?;
    if let Some(v) = p.voxel_um {
        if !(v > 0.0) {
            return Err(Error::param(format!("the voxel size must be positive, got {v}")));
        }
        let k = v / c.voxel_um;
        c.morphology.diameter_um = c.morphology.diameter_um.map(|d| d * k);
        c.morphology.grain_um *= k;
        c.morphology.cbd_shell_um *= k;
        c.voxel_um = v;
    }
    let n = p.size.unwrap_or(c.shape[1]);
    c.shape = [if p.slice { 1 } else { n }, n, n];
    c.validate()?;
    Ok(c)
}

/// Runs the stage into the directory `out`: `image.tiff` and `truth/`
/// (`labels.tiff`, `phases.tiff`, `particles.csv`).
pub fn run(p: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
    let t0 = std::time::Instant::now();
    let cfg = config(p)?;
    let mut prov = Provenance::start("phantom", serde_json::to_value(p)?);
    progress.start("phantom", 2);
    let m = generate(&cfg)?;
    progress.inc(1);
    prov.finish();
    let dir = OutDir::create(out)?;
    std::fs::create_dir_all(dir.path("truth")).map_err(|e| Error::io(e).at(dir.path("truth")))?;
    let spacing_um = [cfg.voxel_um; 3];
    let opt = TiffOptions::default();
    let w = |name: &str, a: DynArray| write_tiff(&dir.path(name), &a, Some(&spacing_um), Some(&prov), opt);
    w("image.tiff", DynArray::F32(m.image.into_dyn()))?;
    w("truth/labels.tiff", DynArray::U32(m.labels.into_dyn()))?;
    w("truth/phases.tiff", DynArray::U8(m.phases.into_dyn()))?;
    table::write_csv(&dir.path("truth/particles.csv"), &m.truth, Some(&prov))?;
    progress.inc(1);
    progress.finish();
    let class_counts = super::particles::class_counts(&m.truth)?;
    let cf = m.truth.f64("crack_fraction")?;
    let summary = Summary {
        stage: "phantom".into(),
        particles: m.truth.rows() as u64,
        class_counts,
        crack_fraction_mean: cf.iter().sum::<f64>() / cf.len().max(1) as f64,
        config: cfg,
        outputs: ["image.tiff", "truth/labels.tiff", "truth/phases.tiff", "truth/particles.csv"]
            .map(String::from)
            .to_vec(),
        seconds: t0.elapsed().as_secs_f64(),
        provenance: prov.to_json(),
    };
    dir.commit(&serde_json::to_value(&summary)?)?;
    Ok(summary)
}
