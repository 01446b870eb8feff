//! `simulate`: the virtual electrode and beamline, written as a beamline
//! would write it (DXchange tomography, FXI XANES) plus the ground truth.

use crate::outdir::OutDir;
use crate::stage::{ClassCounts, PhaseFractions};
use chemomech_core::{Column, DynArray, Error, Progress, Provenance, Result, Table};
use chemomech_io::tiffio::{TiffOptions, write_tiff};
use chemomech_io::{hdf5io, table};
use chemomech_sim::references::Reference;
use chemomech_sim::truth::{SCRIBBLE_LENGTH, SCRIBBLE_PLANES, SCRIBBLE_STROKES, scribble_annotations};
use chemomech_sim::{SimConfig, Simulation, config};
use std::path::{Path, PathBuf};

/// What to simulate.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Simulator configuration (TOML); its values override the preset.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Preset(s), comma-separated: small (default), medium, large, tiny; cycles_50; holo.
    #[arg(long, default_value = "small")]
    pub preset: String,
    /// Random seed (same seed, same arrays, whatever the thread count).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Self { config: None, preset: "small".into(), seed: None }
    }
}

/// What `simulate` reports: the simulator's own summary of the truth
/// (`truth`: depth profile, configuration echo, …) with the stage's fields.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Particles in the simulated electrode.
    pub particles: u64,
    /// Volume fractions of the three simulated phases.
    pub volume_fractions: PhaseFractions,
    /// Simulated particles per damage class.
    pub class_counts: ClassCounts,
    /// The rest of the simulator's summary.
    #[serde(flatten)]
    pub truth: serde_json::Map<String, serde_json::Value>,
    /// Seconds the simulation took.
    pub seconds: f64,
    /// Files written, relative to the output directory.
    pub outputs: Vec<String>,
    /// Provenance of the run (tool, version, command, parameters, inputs).
    pub provenance: serde_json::Value,
}

/// The `simulate` stage.
pub struct Simulate;

impl crate::stage::Stage for Simulate {
    const NAME: &'static str = "simulate";
    const OUTPUT: crate::runner::Output = crate::runner::Output::Dir;
    type Params = Params;
    type Summary = Summary;
    fn run(params: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
        run(params, out, progress)
    }
    fn headline(s: &Summary) -> String {
        format!(
            "{} particles, classes {}; volume fractions pore {:.3}, carbon-binder {:.3}, active {:.3}",
            s.particles,
            s.class_counts,
            s.volume_fractions.pore,
            s.volume_fractions.carbon_binder,
            s.volume_fractions.active
        )
    }
}

/// Builds the configuration from preset, file and seed.
pub fn resolve_config(p: &Params) -> Result<SimConfig> {
    let mut cfg = config::preset(if p.preset.trim().is_empty() { "small" } else { &p.preset })?;
    if let Some(path) = &p.config {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(e).at(path))?;
        // Layer the file over the preset: merge TOML tables key by key.
        let base = toml::Value::try_from(&cfg).map_err(|e| Error::param(e.to_string()))?;
        let over: toml::Value = toml::from_str(&text)
            .map_err(|e| Error::param(format!("invalid TOML: {}", e.to_string().replace('\n', " "))).at(path))?;
        let merged = merge(base, over);
        let s = toml::to_string(&merged).map_err(|e| Error::param(e.to_string()))?;
        cfg = SimConfig::from_toml(&s).map_err(|e| e.at(path))?;
    }
    if let Some(s) = p.seed {
        cfg.seed = s;
    }
    cfg.validate()?;
    Ok(cfg)
}

fn merge(base: toml::Value, over: toml::Value) -> toml::Value {
    match (base, over) {
        (toml::Value::Table(mut b), toml::Value::Table(o)) => {
            for (k, v) in o {
                let nv = match b.remove(&k) {
                    Some(bv) => merge(bv, v),
                    None => v,
                };
                b.insert(k, nv);
            }
            toml::Value::Table(b)
        }
        (_, o) => o,
    }
}

/// The NiO and LiNiO2 references: configured paths, else the real ones in
/// the shared data folder, else the built-in models.
pub fn load_references(cfg: &SimConfig) -> Result<(Option<(Reference, Reference)>, Vec<PathBuf>)> {
    let read = |p: &Path, name: &str| -> Result<Reference> {
        let (energy_ev, mu) = chemomech_io::read::read_mu(p, None)?;
        Reference::new(name, energy_ev, mu).map_err(|e| e.at(p))
    };
    let (a, b) = (&cfg.xanes.reference_ni2, &cfg.xanes.reference_ni3);
    if !a.is_empty() || !b.is_empty() {
        if a.is_empty() || b.is_empty() {
            return Err(Error::param("give both xanes.reference_ni2 and xanes.reference_ni3, or neither"));
        }
        let (pa, pb) = (PathBuf::from(a), PathBuf::from(b));
        return Ok((Some((read(&pa, "NiO")?, read(&pb, "LiNiO2")?)), vec![pa, pb]));
    }
    if let Some(d) = chemomech_core::testdata::shared_data_dir() {
        let (pa, pb) = (d.join("xas/ref_NiO.txt"), d.join("xas/ref_LiNiO2.txt"));
        if pa.is_file() && pb.is_file() {
            return Ok((Some((read(&pa, "NiO")?, read(&pb, "LiNiO2")?)), vec![pa, pb]));
        }
    }
    Ok((None, Vec::new()))
}

fn dyn3<T: chemomech_core::array::Element>(a: &ndarray::Array3<T>) -> DynArray {
    T::wrap(a.clone().into_dyn())
}
fn dyn2<T: chemomech_core::array::Element>(a: &ndarray::Array2<T>) -> DynArray {
    T::wrap(a.clone().into_dyn())
}

/// Runs the simulation and writes `out`. Returns the summary.
pub fn run(p: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
    let cfg = resolve_config(p)?;
    let (refs, ref_paths) = load_references(&cfg)?;
    let mut prov = Provenance::start("simulate", serde_json::json!({"params": p, "config": cfg}));
    if let Some(c) = &p.config {
        prov.add_input(c)?;
    }
    for r in &ref_paths {
        prov.add_input(r)?;
    }
    let t0 = std::time::Instant::now();
    // The reference spectra the XANES stack was made from, written beside it
    // so that `xanes` can fit with them (the demo needs no shared data).
    let used_refs = refs.clone().unwrap_or_else(|| {
        (chemomech_sim::references::Reference::model_nio(), chemomech_sim::references::Reference::model_linio2())
    });
    let sim = chemomech_sim::simulate(&cfg, refs, progress)?;
    let secs = t0.elapsed().as_secs_f64();
    prov.finish();
    let dir = OutDir::create(out)?;
    write(&sim, &dir, &prov)?;
    if sim.xanes.is_some() {
        for r in [&used_refs.0, &used_refs.1] {
            let mut txt =
                format!("# {} reference spectrum used by chemomech simulate (normalised mu)\n# energy_ev mu\n", r.name);
            for (e, m) in r.energy_ev.iter().zip(&r.mu) {
                txt.push_str(&format!("{e:.4} {m:.8}\n"));
            }
            chemomech_io::atomic::write_bytes(&dir.path(&format!("references/{}.txt", r.name)), txt.as_bytes())?;
        }
    }
    let mut truth = sim.summary.as_object().cloned().unwrap_or_default();
    truth.remove("config");
    truth.insert("stage".into(), "simulate".into());
    let take = |truth: &mut serde_json::Map<String, serde_json::Value>, k: &str| {
        truth.remove(k).ok_or_else(|| Error::data(format!("the simulator's summary lacks '{k}'")))
    };
    let summary = Summary {
        particles: serde_json::from_value(take(&mut truth, "particles")?)?,
        volume_fractions: serde_json::from_value(take(&mut truth, "volume_fractions")?)?,
        class_counts: serde_json::from_value(take(&mut truth, "class_counts")?)?,
        truth,
        seconds: secs,
        outputs: outputs(&sim).into_iter().map(String::from).collect(),
        provenance: prov.to_json(),
    };
    dir.commit(&serde_json::to_value(&summary)?)?;
    Ok(summary)
}

fn outputs(sim: &Simulation) -> Vec<&'static str> {
    let mut v = vec![
        "truth/labels.tiff",
        "truth/phases.tiff",
        "truth/annotations.tiff",
        "truth/scribbles.tiff",
        "truth/soc.tiff",
        "truth/particles.csv",
        "truth/particles.parquet",
        "truth/truth.json",
        "sim.toml",
    ];
    if sim.absorption.is_some() {
        v.extend(["tomo.h5", "truth/mu.tiff"]);
    }
    if sim.holo.is_some() {
        v.extend(["holo/", "truth/holo_phase_rad.tiff"]);
    }
    if sim.xanes.is_some() {
        v.extend([
            "xanes.h5",
            "truth/xanes_fraction_LiNiO2.tiff",
            "truth/xanes_soc.tiff",
            "truth/xanes_valence.tiff",
            "truth/xanes_active_thickness_um.tiff",
            "truth/xanes_labels.tiff",
            "truth/xanes_drift.csv",
            "references/NiO.txt",
            "references/LiNiO2.txt",
        ]);
    }
    v
}

fn write(sim: &Simulation, dir: &OutDir, prov: &Provenance) -> Result<()> {
    let el = &sim.electrode;
    let v = el.voxel_um;
    let sp3 = [v, v, v];
    let opt = TiffOptions::default();
    std::fs::create_dir_all(dir.path("truth")).map_err(Error::io)?;
    write_tiff(&dir.path("truth/labels.tiff"), &dyn3(&el.labels), Some(&sp3), Some(prov), opt)?;
    write_tiff(&dir.path("truth/phases.tiff"), &dyn3(&el.phases), Some(&sp3), Some(prov), opt)?;
    // Sparse training labels for `segment --method rf` (1 pore, 2 carbon-binder, 3 active).
    let notes = chemomech_sim::truth::sparse_annotations(
        el.phases.view(),
        chemomech_sim::truth::ANNOTATED_FRACTION,
        sim.config.seed,
    );
    write_tiff(&dir.path("truth/annotations.tiff"), &dyn3(&notes), Some(&sp3), Some(prov), opt)?;
    // The same as an annotator's brush strokes on a few planes (same codes).
    let strokes =
        scribble_annotations(el.phases.view(), SCRIBBLE_PLANES, SCRIBBLE_STROKES, SCRIBBLE_LENGTH, sim.config.seed);
    write_tiff(&dir.path("truth/scribbles.tiff"), &dyn3(&strokes), Some(&sp3), Some(prov), opt)?;
    write_tiff(&dir.path("truth/soc.tiff"), &dyn3(&el.soc), Some(&sp3), Some(prov), opt)?;
    table::write_csv(&dir.path("truth/particles.csv"), &sim.truth, Some(prov))?;
    table::write_parquet(&dir.path("truth/particles.parquet"), &sim.truth, Some(prov))?;
    chemomech_io::atomic::write_json(
        &dir.path("truth/truth.json"),
        &serde_json::json!({"truth": sim.summary, "provenance": prov.to_json()}),
    )?;
    let toml_text = toml::to_string_pretty(&sim.config).map_err(|e| Error::param(e.to_string()))?;
    chemomech_io::atomic::write_bytes(
        &dir.path("sim.toml"),
        format!("# chemomech simulate: effective configuration\n{toml_text}").as_bytes(),
    )?;
    if let Some(a) = &sim.absorption {
        hdf5io::write_dxchange(&dir.path("tomo.h5"), &a.projections, Some(prov))?;
        write_tiff(&dir.path("truth/mu.tiff"), &dyn3(&a.mu), Some(&sp3), Some(prov), opt)?;
        if a.jitter_px.iter().any(|j| *j != (0.0, 0.0)) {
            let mut t = Table::default();
            t.push("angle_deg", Column::F64(a.projections.angles_deg.clone()), Some("degrees"))?;
            t.push("jitter_rows_px", Column::F64(a.jitter_px.iter().map(|d| d.0).collect()), Some("px"))?;
            t.push("jitter_cols_px", Column::F64(a.jitter_px.iter().map(|d| d.1).collect()), Some("px"))?;
            table::write_csv(&dir.path("truth/tomography_jitter.csv"), &t, Some(prov))?;
        }
    }
    if let Some(h) = &sim.holo {
        std::fs::create_dir_all(dir.path("holo")).map_err(Error::io)?;
        for (k, s) in h.scans.iter().enumerate() {
            hdf5io::write_dxchange(&dir.path(&format!("holo/holo_{k}.h5")), s, Some(prov))?;
        }
        write_tiff(&dir.path("truth/holo_phase_rad.tiff"), &dyn3(&h.phase_rad), None, Some(prov), opt)?;
        write_tiff(&dir.path("truth/holo_absorption.tiff"), &dyn3(&h.absorption), None, Some(prov), opt)?;
    }
    if let Some(x) = &sim.xanes {
        hdf5io::write_fxi_xanes(&dir.path("xanes.h5"), &x.stack, Some(prov))?;
        let sp2 = [v, v];
        write_tiff(&dir.path("truth/xanes_fraction_LiNiO2.tiff"), &dyn2(&x.fraction_ni3), Some(&sp2), Some(prov), opt)?;
        write_tiff(&dir.path("truth/xanes_soc.tiff"), &dyn2(&x.soc), Some(&sp2), Some(prov), opt)?;
        write_tiff(&dir.path("truth/xanes_valence.tiff"), &dyn2(&x.valence), Some(&sp2), Some(prov), opt)?;
        write_tiff(
            &dir.path("truth/xanes_active_thickness_um.tiff"),
            &dyn2(&x.active_thickness_um),
            Some(&sp2),
            Some(prov),
            opt,
        )?;
        write_tiff(&dir.path("truth/xanes_labels.tiff"), &dyn2(&x.dominant_label), Some(&sp2), Some(prov), opt)?;
        let mut t = Table::default();
        t.push("energy_ev", Column::F64(x.stack.energies_ev.clone()), Some("eV"))?;
        t.push("drift_rows_px", Column::F64(x.drift_px.iter().map(|d| d.0).collect()), Some("px"))?;
        t.push("drift_cols_px", Column::F64(x.drift_px.iter().map(|d| d.1).collect()), Some("px"))?;
        table::write_csv(&dir.path("truth/xanes_drift.csv"), &t, Some(prov))?;
    }
    Ok(())
}
