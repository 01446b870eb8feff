//! `particles`: phases (or a grey volume, segmented first) → labelled
//! particle envelopes, per-particle metrics (CSV and Parquet) and a summary.

use super::segment::read_volume;
use crate::outdir::OutDir;
use crate::stage::ClassCounts;
use chemomech_core::{Column, DynArray, Error, Progress, Provenance, Result, Table};
use chemomech_imgproc::label::Connectivity;
use chemomech_io::table;
use chemomech_io::tiffio::{TiffOptions, write_tiff};
use chemomech_particles::compare::match_labels;
use chemomech_particles::metrics::{
    CRACK_LEVEL, DamageThresholds, PhaseCodes, grey_crack_level, mark_grey_cracks, particle_metrics,
};
use chemomech_particles::separate::{SeparateParams, separate};
use chemomech_particles::voids::{ParticleVoids, VoidModel, void_fractions};
use chemomech_segment::phases::{Denoise, PhaseMethod, segment_phases};
use ndarray::Array3;
use std::path::{Path, PathBuf};

/// An extra volume averaged per particle: `NAME=PATH` (e.g. `soc=soc.tiff`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Extra {
    /// Column name prefix in the particle table.
    pub name: String,
    /// The volume file.
    pub path: PathBuf,
}

impl std::fmt::Display for Extra {
    /// `NAME=PATH`: what [`str::parse`] reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.name, self.path.display())
    }
}

impl std::str::FromStr for Extra {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (k, v) =
            s.split_once('=').ok_or_else(|| Error::param(format!("an extra volume must be NAME=PATH, got '{s}'")))?;
        Ok(Extra { name: k.trim().to_string(), path: PathBuf::from(v.trim()) })
    }
}

/// How the crack fraction of a particle is measured from grey levels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CrackMeasure {
    /// Voxels darker than the crack level inside the envelope, over its voxels.
    #[default]
    Threshold,
    /// The envelope's grey-level deficit against a blurred model of intact
    /// particles ([`voids`](chemomech_particles::voids)): sub-voxel cracks
    /// count. Better on the simulator family, worse on the demo's
    /// reconstructions (see issue 23's note): not yet the default.
    Deficit,
}

/// What `particles` does: phases (or a grey volume, segmented first) →
/// labelled particle envelopes and their metrics.
#[derive(Debug, Clone, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Grey-level volume: segmented with multi-Otsu when no --phases is given; with --phases, its grey levels find thin cracks inside particles.
    pub volume: Option<PathBuf>,
    /// Phase volume instead of a grey volume.
    #[arg(long)]
    pub phases: Option<PathBuf>,
    /// Codes of the phases in --phases, e.g. pore=0,cbd=85,active=170.
    #[arg(long = "phase-values", default_value = "pore=0,cbd=1,active=2")]
    #[serde(with = "crate::params::text")]
    pub phase_values: PhaseCodes,
    /// Voxel size in µm (required when the file states none).
    #[arg(long)]
    pub voxel_um: Option<f64>,
    /// 6, 18 or 26.
    #[arg(long, default_value = "26")]
    #[serde(with = "crate::params::text")]
    pub connectivity: Connectivity,
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
    /// Cracks up to about twice this width (µm) are filled into their particle (default: scales with the voxel).
    #[arg(long)]
    pub crack_close_um: Option<f64>,
    /// Minimum depth (µm) of a distance-map peak to seed a particle (default: scales with the voxel).
    #[arg(long)]
    pub h_um: Option<f64>,
    /// With a grey VOLUME: voxels inside a particle darker than this fraction
    /// of the way from the pore to the active grey median are cracks
    /// (default [`CRACK_LEVEL`](chemomech_particles::metrics::CRACK_LEVEL)).
    #[arg(long)]
    pub crack_level: Option<f64>,
    /// With a grey VOLUME, how the crack fraction is measured: threshold (voxels below the crack level) or deficit (grey-level deficit against a blurred model of intact particles, with a per-particle sd; partial volumes count).
    #[arg(long, value_enum, default_value = "threshold")]
    pub crack_measure: CrackMeasure,
    /// Crack-fraction thresholds least<MILD≤mild<SEVERE≤severe.
    #[arg(long, default_value = "0.03,0.15")]
    #[serde(with = "crate::params::text")]
    pub damage_thresholds: DamageThresholds,
    /// Extra volume averaged per particle, NAME=PATH (repeatable), e.g. soc=soc.tiff.
    #[arg(long = "extra")]
    #[serde(with = "crate::params::text_list")]
    pub extra: Vec<Extra>,
    /// Ground-truth labels (simulated data) to score against.
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

/// How separation went (see [`SeparateReport`](chemomech_particles::separate::SeparateReport)).
pub type Separation = serde_json::Value;

/// What `particles` reports.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// The stage that wrote it (`particles`).
    pub stage: String,
    /// Particles labelled.
    pub n_particles: u64,
    /// How separation of touching particles went.
    pub separation: Separation,
    /// Voxel spacing (z, y, x) in µm (`voxel_um` in outputs of earlier versions).
    #[serde(alias = "voxel_um")]
    pub spacing_um: [f64; 3],
    /// Shape of the volume (z, y, x) in voxels.
    pub shape: Vec<usize>,
    /// Extent of the volume (z, y, x) in µm.
    pub extent_um: [f64; 3],
    /// Particles per damage class.
    pub damage_classes: ClassCounts,
    /// Crack-fraction thresholds of the damage classes.
    pub thresholds: DamageThresholds,
    /// How cracks were told from solid.
    pub crack_detection: serde_json::Value,
    /// Scores against ground-truth labels, when given.
    pub truth_match: Option<TruthMatch>,
    /// Files written, relative to the output directory.
    pub outputs: Vec<String>,
    /// Wall-clock seconds of the stage.
    pub seconds: f64,
    /// Seconds spent separating the particles.
    pub seconds_separate: f64,
    /// Seconds spent on the per-particle metrics.
    pub seconds_metrics: f64,
    /// What the user should know about the result (e.g. an input that is
    /// a projection, not a slice); the CLI prints them as warnings.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Provenance of the run (tool, version, command, parameters, inputs).
    pub provenance: serde_json::Value,
}

/// Particles matched one-to-one against ground-truth labels (IoU ≥ 0.5),
/// and with the simulator's truth table, the damage classes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TruthMatch {
    /// The one-to-one matching: counts, matched fraction, mean IoU.
    #[serde(flatten)]
    pub report: chemomech_particles::compare::MatchReport,
    /// Damage classes of matched particles against the truth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<ClassScore>,
}

pub use chemomech_stats::truth::{ClassScore, score_classes};

/// The `particles` stage.
pub struct Particles;

impl crate::stage::Stage for Particles {
    const NAME: &'static str = "particles";
    const OUTPUT: crate::runner::Output = crate::runner::Output::Dir;
    type Params = Params;
    type Summary = Summary;
    fn run(params: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
        run(params, out, progress)
    }
    fn headline(s: &Summary) -> String {
        let mut t = format!("{} particles, classes {}", s.n_particles, s.damage_classes);
        if let Some(m) = &s.truth_match {
            t.push_str(&format!("; matched to truth {:.1} %", 100.0 * m.report.matched_fraction));
            if let Some(c) = &m.classes {
                t.push_str(&format!(", classes {:.1} % right", 100.0 * c.class_accuracy));
                if let Some(r) = c.detachment.as_ref().map(|d| d.cbd_contact_correlation).filter(|r| r.is_finite()) {
                    t.push_str(&format!(", carbon-binder contact r {r:.2}"));
                }
            }
        }
        t
    }
}

/// Runs the stage into the directory `out`. See [`Params`].
pub fn run(p: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
    let t0 = std::time::Instant::now();
    let input = p.phases.as_ref().or(p.volume.as_ref()).ok_or_else(|| {
        Error::param("give a grey VOLUME, --phases PHASES, or both (grey levels then find the cracks)")
    })?;
    p.damage_thresholds.validate()?;
    chemomech_io::atomic::ensure_not_input(out, &[input])?;
    if let Some(l) = p.crack_level
        && !(l > 0.0 && l < 1.0)
    {
        return Err(Error::param(format!("the crack level must lie between 0 (pore) and 1 (active), got {l}")));
    }
    let mut prov = Provenance::start("particles", serde_json::to_value(p)?);
    prov.add_input(input)?;
    let warnings: Vec<String> =
        [p.phases.as_ref(), p.volume.as_ref()].into_iter().flatten().filter_map(|f| projection_note(f)).collect();
    progress.start("particles", 4);
    let (mut phases, spacing_um) = read_phases(p)?;
    progress.inc(1);
    let solid = phases.mapv(|v| v == 2);
    if !solid.iter().any(|&b| b) {
        return Err(Error::data("no active-material voxels: nothing to label").at(input));
    }
    let t_sep = std::time::Instant::now();
    let (labels, rep) = separate(solid.view(), &separate_params(p, spacing_um));
    let seconds_separate = t_sep.elapsed().as_secs_f64();
    progress.inc(1);
    let (crack_rule, voids) = grey_cracks(p, &mut prov, labels.view(), phases.view_mut(), spacing_um)?;
    let extras = read_extras(p, phases.dim(), spacing_um)?;
    let ev: Vec<(&str, ndarray::ArrayView3<f32>)> = extras.iter().map(|(n, a)| (n.as_str(), a.view())).collect();
    let t_met = std::time::Instant::now();
    let mut t =
        particle_metrics(labels.view(), phases.view(), PhaseCodes::default(), spacing_um, p.damage_thresholds, &ev)?;
    if let Some((_, v)) = &voids {
        use_void_fractions(&mut t, v, p.damage_thresholds)?;
    }
    flag_excluded(&mut t)?;
    let seconds_metrics = t_met.elapsed().as_secs_f64();
    progress.inc(1);
    let (truth, truth_table) = match &p.truth {
        Some(tp) => {
            prov.add_input(tp)?;
            let (v, mt) = score_against_truth(tp, labels.view(), &t)?;
            (Some(v), mt)
        }
        None => (None, None),
    };
    prov.finish();
    let shape = phases.shape().to_vec();
    let outputs = Outputs { labels, phases, table: &t, truth_table: truth_table.as_ref(), spacing_um, prov: &prov };
    let dir = OutDir::create(out)?;
    let written = outputs.write(&dir)?;
    progress.inc(1);
    progress.finish();
    let summary = Summary {
        stage: "particles".into(),
        n_particles: t.rows() as u64,
        separation: serde_json::to_value(&rep)?,
        spacing_um,
        extent_um: std::array::from_fn(|k| shape[k] as f64 * spacing_um[k]),
        shape,
        damage_classes: class_counts(&t)?,
        thresholds: p.damage_thresholds,
        crack_detection: crack_rule,
        truth_match: truth.map(serde_json::from_value).transpose()?,
        outputs: written,
        seconds: t0.elapsed().as_secs_f64(),
        seconds_separate,
        seconds_metrics,
        warnings,
        provenance: prov.to_json(),
    };
    dir.commit(&serde_json::to_value(&summary)?)?;
    Ok(summary)
}

/// A warning when `path` holds a transmission image (a projection through
/// the whole sample, as a TXM records) or a projection set, not a slice or a
/// volume: particles then overlap in depth and their thickness varies, so
/// crack fractions, contacts and sizes are those of the projection.
fn projection_note(path: &Path) -> Option<String> {
    let info = chemomech_io::info(path).ok()?;
    let kind = info["kind"].as_str().unwrap_or("");
    let xradia_image = info["format"].as_str().is_some_and(|f| f.starts_with("Xradia")) && kind == "image";
    (xradia_image || kind == "projections" || kind == "energy stack").then(|| {
        format!(
            "{}: a transmission image (projection), not a slice: particles overlap in depth, so crack fractions, contacts and sizes describe the projection, not the particles",
            path.display()
        )
    })
}

/// The phases in the canonical codes 0/1/2 and the voxel size (z, y, x) in
/// µm: from `--phases` (recoded), or segmented from the grey volume.
fn read_phases(p: &Params) -> Result<(Array3<u8>, [f64; 3])> {
    match (&p.phases, &p.volume) {
        (Some(ph), _) => {
            let (a, stated) = chemomech_io::read::read_volume::<u8>(ph, None)?;
            let c = p.phase_values;
            let known = |v: u8| v == c.pore || v == c.cbd || v == c.active;
            if let Some(bad) = a.iter().find(|&&v| !known(v)) {
                return Err(Error::data(format!(
                    "value {bad} is none of the phase codes pore={}, cbd={}, active={}",
                    c.pore, c.cbd, c.active
                ))
                .at(ph));
            }
            let canon = a.mapv(|v| {
                if v == c.active {
                    2
                } else if v == c.cbd {
                    1
                } else {
                    0
                }
            });
            let spacing_um = match (p.voxel_um, stated) {
                (Some(v), _) => [v; 3],
                (None, Some(s)) => s,
                (None, None) => return Err(Error::param("the phase file states no voxel size; give --voxel-um").at(ph)),
            };
            Ok((canon, spacing_um))
        }
        (None, Some(vol)) => {
            let v = read_volume(vol, None, p.voxel_um)?;
            let blur = Denoise::Gaussian(0.5 * v.spacing_um[0]);
            let (ph, _) = segment_phases(v.data.view(), v.spacing_um, &PhaseMethod::Iso50, blur)?;
            Ok((ph, v.spacing_um))
        }
        (None, None) => Err(Error::param("give a grey VOLUME, --phases PHASES, or both")),
    }
}

/// The separation settings: the voxel's defaults with the options' switches.
fn separate_params(p: &Params, spacing_um: [f64; 3]) -> SeparateParams {
    let mut sp = SeparateParams::for_voxel(spacing_um);
    sp.connectivity = p.connectivity;
    sp.split = !p.no_split;
    sp.face_seeds = !p.no_face_seeds;
    sp.merge_convex = !p.no_merge;
    sp.reassign_chunks = !p.no_reassign;
    if let Some(c) = p.crack_close_um {
        sp.crack_close_um = c;
    }
    if let Some(h) = p.h_um {
        sp.h_um = h;
    }
    sp
}

/// Cracks from grey levels when the grey volume is at hand: thin cracks are
/// partial-volume voxels that a phase threshold misses. The voxels below
/// the crack level are marked in `phases`; with `--crack-measure deficit`
/// the crack fraction is the particle's grey-level deficit (`voids`).
/// Returns the rule as reported and the void model with its per-particle
/// fractions.
fn grey_cracks(
    p: &Params,
    prov: &mut Provenance,
    labels: ndarray::ArrayView3<u32>,
    mut phases: ndarray::ArrayViewMut3<u8>,
    spacing_um: [f64; 3],
) -> Result<(serde_json::Value, Option<(VoidModel, Vec<ParticleVoids>)>)> {
    let mut crack_rule = serde_json::json!({"rule": "pore-phase voxels inside the envelope"});
    let Some(vp) = &p.volume else { return Ok((crack_rule, None)) };
    if p.phases.is_some() {
        prov.add_input(vp)?;
    }
    let g = read_volume(vp, None, Some(spacing_um[0]))?.data;
    if g.dim() != phases.dim() {
        return Err(
            Error::shape(format!("grey volume {:?} does not match the phases {:?}", g.dim(), phases.dim())).at(vp)
        );
    }
    // Our own segmentation of the grey volume calls the particles' blurred
    // rims carbon binder: the void model re-finds the binder (whatever the
    // crack measure). Phases the user gave are kept as they are.
    let own_phases = p.phases.is_none();
    let deficit = p.crack_measure == CrackMeasure::Deficit;
    let analysis = if deficit || own_phases { void_fractions(g.view(), labels, phases.view()) } else { None };
    let unblended = match &analysis {
        Some(a) if own_phases => {
            phases.assign(&a.phases);
            true
        }
        _ => false,
    };
    let voids = analysis.filter(|_| deficit).map(|a| (a.model, a.particles));
    let level = p.crack_level.unwrap_or(CRACK_LEVEL);
    if let Some(c) = grey_crack_level(phases.view(), g.view(), level, PhaseCodes::default()) {
        mark_grey_cracks(labels, g.view(), c.threshold as f32, phases.view_mut(), PhaseCodes::default());
        let fraction = if deficit {
            "crack fraction: grey-level deficit of the envelope against a blurred model of intact particles at their own solid level (partial volumes count)"
        } else {
            "crack fraction: crack voxels over envelope voxels"
        };
        let voxels = "crack voxels in phases.tiff: grey level below `level` of the way from the pore to the active median, off the envelope's outer voxel shell";
        crack_rule = serde_json::json!({"rule": format!("{fraction}; {voxels}"), "level": level, "active_median": c.active_median, "pore_median": c.pore_median, "threshold": c.threshold, "model": voids.as_ref().map(|v| v.0), "binder": if unblended { "re-found outside the envelopes from what the particles' fitted blurred image leaves of the grey level (the threshold's binder includes every particle's blurred rim)" } else { "as segmented" }});
    }
    Ok((crack_rule, voids))
}

/// The `--extra NAME=PATH` volumes, each on the phases' grid.
fn read_extras(p: &Params, dim: (usize, usize, usize), spacing_um: [f64; 3]) -> Result<Vec<(String, Array3<f32>)>> {
    p.extra
        .iter()
        .map(|Extra { name, path }| -> Result<(String, Array3<f32>)> {
            let v = read_volume(path, None, Some(spacing_um[0]))?;
            if v.data.dim() != dim {
                return Err(Error::shape(format!("{:?} does not match the phases {:?}", v.data.dim(), dim)).at(path));
            }
            Ok((name.clone(), v.data))
        })
        .collect()
}

/// What `particles` writes into its directory.
struct Outputs<'a> {
    labels: Array3<u32>,
    phases: Array3<u8>,
    table: &'a Table,
    truth_table: Option<&'a Table>,
    spacing_um: [f64; 3],
    prov: &'a Provenance,
}

impl Outputs<'_> {
    /// Writes labels, phases and the particle table (CSV and Parquet), and
    /// the truth matches when scored; returns the names written.
    fn write(self, dir: &OutDir) -> Result<Vec<String>> {
        let (sp, prov) = (Some(&self.spacing_um[..]), Some(self.prov));
        write_tiff(&dir.path("labels.tiff"), &DynArray::U32(self.labels.into_dyn()), sp, prov, TiffOptions::default())?;
        write_tiff(&dir.path("phases.tiff"), &DynArray::U8(self.phases.into_dyn()), sp, prov, TiffOptions::default())?;
        table::write_csv(&dir.path("particles.csv"), self.table, prov)?;
        table::write_parquet(&dir.path("particles.parquet"), self.table, prov)?;
        let mut written = vec!["labels.tiff", "phases.tiff", "particles.csv", "particles.parquet"];
        if let Some(mt) = self.truth_table {
            table::write_csv(&dir.path("truth_matches.csv"), mt, prov)?;
            written.push("truth_matches.csv");
        }
        Ok(written.into_iter().map(String::from).collect())
    }
}

fn use_void_fractions(t: &mut Table, v: &[ParticleVoids], thresholds: DamageThresholds) -> Result<()> {
    let ids = t.f64("id")?;
    let by_id = |i: f64| v.get(i as usize).copied().unwrap_or_default();
    let f: Vec<f64> = ids.iter().map(|&i| by_id(i).fraction).collect();
    let voxel_count = t.f64("crack_fraction")?;
    t.set("crack_fraction", Column::F64(f.clone()), None)?;
    t.set("damage_class", Column::Str(f.iter().map(|&x| thresholds.class(x).to_string()).collect()), None)?;
    t.push("crack_fraction_sd", Column::F64(ids.iter().map(|&i| by_id(i).sd).collect()), None)?;
    t.push("crack_fraction_voxels", Column::F64(voxel_count), None)?;
    t.push("solid_level", Column::F64(ids.iter().map(|&i| by_id(i).solid_level).collect()), None)?;
    Ok(())
}

/// A particle is a fragment when its equivalent diameter is below this
/// fraction of the median of the particles off the border.
pub const FRAGMENT_DIAMETER_FRACTION: f64 = 0.4;
/// A particle on a face is a cap (most of it unseen) when its equivalent
/// diameter is below this fraction of that median (≈ 40 % of its volume).
pub const CAP_DIAMETER_FRACTION: f64 = 0.75;

/// Adds `fragment` (equivalent diameter below
/// [`FRAGMENT_DIAMETER_FRACTION`] of the median off the border: a chip or
/// a sliver, whose crack fraction is mostly its surface) and `excluded`
/// (a fragment, or a cap on a face: below [`CAP_DIAMETER_FRACTION`] of
/// that median, most of it unseen), which `stats` leaves out of the damage
/// statistics unless told to keep them.
fn flag_excluded(t: &mut Table) -> Result<()> {
    let d = t.f64("esd_um").or_else(|_| t.f64("ecd_um"))?;
    let border = match t.get("touches_border") {
        Some(Column::Bool(b)) => b.clone(),
        _ => vec![false; d.len()],
    };
    let mut inner: Vec<f64> = d.iter().zip(&border).filter(|(_, b)| !**b).map(|(x, _)| *x).collect();
    if inner.is_empty() {
        inner = d.clone();
    }
    inner.sort_by(f64::total_cmp);
    let median = inner.get(inner.len() / 2).copied().unwrap_or(0.0);
    let fragment: Vec<bool> = d.iter().map(|&x| x < FRAGMENT_DIAMETER_FRACTION * median).collect();
    let excluded: Vec<bool> = d
        .iter()
        .zip(&fragment)
        .zip(&border)
        .map(|((x, f), b)| *f || (*b && *x < CAP_DIAMETER_FRACTION * median))
        .collect();
    t.push("fragment", Column::Bool(fragment), None)?;
    t.push("excluded", Column::Bool(excluded), None)
}

/// Scores `labels` against the ground-truth labels `tp` (one-to-one
/// matches at IoU ≥ 0.5) and, with the simulator's truth table beside them,
/// the damage classes and crack fractions of matched particles.
fn score_against_truth(
    tp: &Path,
    labels: ndarray::ArrayView3<u32>,
    t: &Table,
) -> Result<(serde_json::Value, Option<Table>)> {
    let tl = chemomech_io::read::read_labels(tp)?;
    if tl.dim() != labels.dim() {
        return Err(Error::shape(format!("truth labels {:?} do not match {:?}", tl.dim(), labels.dim())).at(tp));
    }
    let (matches, rep) = match_labels(tl.view(), labels, 0.5);
    let mut v = serde_json::to_value(&rep)?;
    let mut table = None;
    if let Some(tf) = tp.parent().map(|d| d.join("particles.csv")).filter(|f| f.is_file()) {
        let truth_t = table::read_csv(&tf)?;
        let pairs: Vec<(u64, u64, f64)> = matches.iter().map(|m| (m.0 as u64, m.1 as u64, m.2)).collect();
        let (score, mt) = score_classes(&truth_t, t, &pairs).map_err(|e| e.at(&tf))?;
        v["classes"] = serde_json::to_value(score)?;
        table = Some(mt);
    }
    Ok((v, table))
}

/// Particles per damage class in a table's `damage_class` column.
pub(crate) fn class_counts(t: &Table) -> Result<ClassCounts> {
    let c = t.str("damage_class")?;
    let n = |k: &str| c.iter().filter(|x| *x == k).count() as u64;
    Ok(ClassCounts { least: n("least"), mild: n("mild"), severe: n("severe") })
}

crate::value_enum_serde!(CrackMeasure);
