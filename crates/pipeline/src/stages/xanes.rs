//! `xanes`: an energy stack (FXI HDF5, TIFF stack or folder with an energy
//! list, Xradia xrm series, or a 4-D array of per-energy volumes) →
//! optical density → registered frames → per-pixel chemical maps (TIFF,
//! named by content), optional per-particle chemistry, and a summary.

use crate::outdir::OutDir;
use chemomech_core::{Column, DynArray, Error, InputRecord, Progress, Provenance, Result, Table};
use chemomech_io::tiffio::{TiffOptions, write_tiff};
use chemomech_io::{OpenOptions, table};
use chemomech_xas::maps::{ClusterParams, MapParams, RefSpectrum, SocScale, two_energy_jump, xanes_maps};
use chemomech_xas::particle::{ParticleChemParams, particle_chemistry};
use chemomech_xas::stack::{RegistrationMode, RegistrationParams, apply_registration, optical_density, register_stack};
use ndarray::{Array3, ArrayD, Axis, Ix3};
use std::path::{Path, PathBuf};

/// What the stack's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum InputKind {
    /// Counts with reference (flat) frames when the file has them, else optical density.
    #[default]
    Auto,
    /// Optical density (−ln of transmission), even when the file also holds reference frames.
    #[value(name = "od")]
    OpticalDensity,
    /// Transmission (I/I₀): optical density is −ln of it.
    Transmission,
}

/// Frame registration, as the user names it: `reference` (to the
/// best-contrast frame), `reference:N` (to frame N), `chained` or `none`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Register(pub RegistrationMode);

impl Default for Register {
    fn default() -> Self {
        Register(RegistrationMode::Joint(None))
    }
}

impl std::fmt::Display for Register {
    /// `joint`, `joint:N`, `reference`, `reference:N`, `chained` or `none`: what [`str::parse`] reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            RegistrationMode::Joint(None) => f.write_str("joint"),
            RegistrationMode::Joint(Some(n)) => write!(f, "joint:{n}"),
            RegistrationMode::Reference(None) => f.write_str("reference"),
            RegistrationMode::Reference(Some(n)) => write!(f, "reference:{n}"),
            RegistrationMode::Chained => f.write_str("chained"),
            RegistrationMode::None => f.write_str("none"),
        }
    }
}

impl std::str::FromStr for Register {
    type Err = Error;
    fn from_str(r: &str) -> Result<Self> {
        let frame = |prefix: &str| r.strip_prefix(prefix).and_then(|n| n.parse().ok());
        Ok(Register(match r {
            "joint" => RegistrationMode::Joint(None),
            "reference" => RegistrationMode::Reference(None),
            "chained" => RegistrationMode::Chained,
            "none" => RegistrationMode::None,
            r => match (frame("joint:"), frame("reference:")) {
                (Some(n), _) => RegistrationMode::Joint(Some(n)),
                (_, Some(n)) => RegistrationMode::Reference(Some(n)),
                _ => {
                    return Err(Error::param(format!(
                        "registration must be joint, joint:N, reference, reference:N, chained or none, got '{r}'"
                    )));
                }
            },
        }))
    }
}

/// Two calibration energies `E_SOC0,E_SOC1` (eV at SoC 0 and 1).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SocEdge {
    /// Edge energy at SoC 0 in eV.
    pub e_soc0: f64,
    /// Edge energy at SoC 1 in eV.
    pub e_soc1: f64,
}

impl std::fmt::Display for SocEdge {
    /// `E_SOC0,E_SOC1`: what [`str::parse`] reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{}", self.e_soc0, self.e_soc1)
    }
}

impl std::str::FromStr for SocEdge {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let v: Vec<f64> =
            s.split(',').map(|x| x.trim().parse::<f64>()).collect::<std::result::Result<_, _>>().map_err(|_| {
                Error::param(format!("the SoC edge calibration must be E_SOC0,E_SOC1 in eV, got '{s}'"))
            })?;
        match v[..] {
            [e_soc0, e_soc1] => Ok(SocEdge { e_soc0, e_soc1 }),
            _ => Err(Error::param("the SoC edge calibration must be E_SOC0,E_SOC1")),
        }
    }
}

/// What `xanes` does: an energy stack → per-pixel chemical maps,
/// optionally per particle.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Energy stack: FXI HDF5, multi-page TIFF (with --energies), a folder of TIFF or xrm frames, or a 4-D array of per-energy volumes.
    pub stack: PathBuf,
    /// Reference spectra, comma-separated (XDI, text, or Athena PATH:GROUP); one fraction map each.
    #[arg(long, value_delimiter = ',')]
    pub refs: Vec<String>,
    /// Energy of each frame (text, one per line; eV or keV).
    #[arg(long)]
    pub energies: Option<PathBuf>,
    /// Dataset inside an HDF5 or Zarr container.
    #[arg(long)]
    pub dataset: Option<String>,
    /// What the stack's values are: auto (counts with the file's reference frames, else optical density), od, or transmission.
    #[arg(long, value_enum, default_value_t = InputKind::Auto)]
    pub input: InputKind,
    /// Particle labels on the same pixel grid: per-particle SoC, core–shell profile and valence-gradient angles.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Registration: joint (each frame to its energy neighbours and the best-contrast frame, solved together; frames without a significant match interpolated), joint:N (reference frame N), reference, reference:N, chained, none. 3-D stacks are not registered.
    #[arg(long, default_value = "joint")]
    #[serde(with = "crate::params::text")]
    pub register: Register,
    /// Mask pixels whose edge jump exceeds K times their pre-edge noise.
    #[arg(long, default_value_t = 5.0)]
    pub mask_sigma: f64,
    /// SoC from the edge energy instead of LCF: E_SOC0,E_SOC1 (eV at SoC 0 and 1).
    #[arg(long)]
    #[serde(with = "crate::params::text_opt")]
    pub soc_edge: Option<SocEdge>,
    /// Largest number of spectral clusters tried (0: no clustering).
    #[arg(long, default_value_t = 6)]
    pub max_clusters: usize,
    /// Fit a common energy shift of the references within ± this (eV).
    #[arg(long, default_value_t = 0.0)]
    pub max_shift_ev: f64,
    /// Also write the aligned optical-density stack.
    #[arg(long)]
    pub save_stack: bool,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            stack: PathBuf::new(),
            refs: Vec::new(),
            energies: None,
            dataset: None,
            input: InputKind::Auto,
            labels: None,
            register: Register::default(),
            mask_sigma: 5.0,
            soc_edge: None,
            max_clusters: 6,
            max_shift_ev: 0.0,
            save_stack: false,
        }
    }
}

impl Params {
    /// The maps these parameters ask for.
    pub fn plan(&self) -> Plan {
        let mut p = Plan::new(self.stack.clone());
        p.refs = self.refs.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        p.energies = self.energies.clone();
        p.dataset = self.dataset.clone();
        p.input = self.input;
        p.labels = self.labels.clone();
        p.save_stack = self.save_stack;
        p.registration.mode = self.register.0;
        p.maps = map_params(self.max_clusters >= 2, self.max_clusters.max(2));
        p.maps.mask_sigma = self.mask_sigma;
        p.maps.lcf.max_shift_ev = self.max_shift_ev;
        if let Some(s) = self.soc_edge {
            p.maps.soc = SocScale::EdgeEnergy { e_soc0: s.e_soc0, e_soc1: s.e_soc1 };
        }
        p
    }
}

/// Registration of the frames.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RegistrationSummary {
    /// How the frames were registered.
    pub mode: RegistrationMode,
    /// Index of the reference frame.
    pub reference_frame: usize,
    /// Energy of the reference frame in eV.
    pub reference_energy_ev: f64,
    /// Largest shift applied to a frame, in pixels.
    pub max_shift_px: f64,
    /// Lowest feature correlation of a frame with the reference after alignment.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub min_quality: f64,
    /// Energies (eV) of the frames flagged for low quality.
    pub flagged_energies_ev: Vec<f64>,
    /// Energies (eV) of the frames no significant pair reached: their
    /// shifts are interpolated from their registered neighbours.
    #[serde(default)]
    pub interpolated_energies_ev: Vec<f64>,
}

/// Per-particle chemistry, with `--labels`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ParticlesChemistry {
    /// The particle label file.
    pub labels: PathBuf,
    /// Particles in the labels.
    pub particles: usize,
    /// Particles with a finite mean value.
    pub with_chemistry: usize,
    /// Mean over particles of their mean SoC (E0 at half height when there is no SoC map).
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub mean_of_particle_means: f64,
    /// Histogram of valence-gradient angles in 10-degree bins.
    pub gradient_angle_histogram_10deg: Vec<u64>,
    /// Mean cosine of the valence-gradient angles.
    #[serde(deserialize_with = "chemomech_core::nan::f64")]
    pub gradient_angle_mean_cos: f64,
    /// Length unit of the per-particle results: µm, or pixels when the stack states no pixel size.
    pub units: String,
}

/// What `xanes` reports.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// The stage that wrote it (`xanes`).
    pub stage: String,
    /// The energy stack.
    pub stack: PathBuf,
    /// Frames (energies) in the stack.
    pub frames: usize,
    /// Energy of each frame in eV.
    pub energies_ev: Vec<f64>,
    /// Pixel size in µm, when the stack states one.
    pub pixel_um: Option<f64>,
    /// Shape of the maps: (y, x), or (z, y, x) for a stack of volumes.
    pub pixel_shape: Vec<usize>,
    /// How optical density was obtained.
    pub optical_density: serde_json::Value,
    /// Registration of the frames, when they were registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<RegistrationSummary>,
    /// Seconds spent on the per-pixel maps (at least 8 energies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_maps: Option<f64>,
    /// The maps' summary ([`MapSummary`](chemomech_xas::maps::MapSummary) and
    /// `soc_source`), or the two-energy edge jump's.
    pub maps: serde_json::Value,
    /// Per-particle chemistry, with `--labels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub particles: Option<ParticlesChemistry>,
    /// Files written, relative to the output directory.
    pub outputs: Vec<String>,
    /// Wall-clock seconds of the stage.
    pub seconds: f64,
    /// Seconds spent reading the stack.
    pub seconds_load: f64,
    /// Provenance of the run (tool, version, command, parameters, inputs).
    pub provenance: serde_json::Value,
}

/// The bulk numbers of a XANES analysis that the report and the command
/// line show: a typed view of [`Summary::maps`], whichever of its two
/// shapes (full maps, or the two-energy edge jump) it has. Absent and
/// non-finite (`null`) numbers are `None`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct MapsOverview {
    /// Pixels in the mask (Ni signal).
    pub pixels_masked: u64,
    /// Area of the mask in µm², when the pixel size is known (edge jump only).
    pub masked_area_um2: Option<f64>,
    /// Reference E0 of the mean spectrum (eV; full maps only).
    pub e0_ref_ev: Option<f64>,
    /// Median half-height edge energy over the mask (eV; full maps only).
    pub median_e0_half_ev: Option<f64>,
    /// Names of the references, in order.
    pub reference_names: Vec<String>,
    /// Mean fraction of each reference over the mask.
    pub mean_fractions: Vec<Option<f64>>,
    /// Spectral clusters found (their count).
    pub clusters: Vec<serde::de::IgnoredAny>,
    /// Mean state of charge over the mask.
    pub mean_soc: Option<f64>,
}

impl Summary {
    /// The typed view of [`Summary::maps`] (defaults where it lacks a field).
    pub fn overview(&self) -> MapsOverview {
        serde_json::from_value(self.maps.clone()).unwrap_or_default()
    }
}

/// The `xanes` stage.
pub struct Xanes;

impl crate::stage::Stage for Xanes {
    const NAME: &'static str = "xanes";
    const OUTPUT: crate::runner::Output = crate::runner::Output::Dir;
    type Params = Params;
    type Summary = Summary;
    fn run(params: &Params, out: &Path, progress: &dyn Progress) -> Result<Summary> {
        run(&params.plan(), out, progress)
    }
    fn headline(s: &Summary) -> String {
        let soc = s.overview().mean_soc.map(|v| format!("{v:.3}")).unwrap_or("?".into());
        format!("{} frames; mean SoC {soc}", s.frames)
    }
}

/// A resolved XANES run (what [`Params::plan`] builds; tests and library
/// callers may set the finer settings directly).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    /// The energy stack.
    pub stack: PathBuf,
    /// Energies (eV or keV), one per frame, when the stack does not carry them.
    pub energies: Option<PathBuf>,
    /// Dataset inside a container (HDF5 path, Zarr array).
    pub dataset: Option<String>,
    /// What the stack's values are.
    pub input: InputKind,
    /// Reference spectra: `PATH` or `PATH:GROUP` (Athena projects); named by file stem or group.
    pub refs: Vec<String>,
    /// Frame registration settings.
    pub registration: RegistrationParams,
    /// Per-pixel map settings.
    pub maps: MapParams,
    /// Labels (2-D image or 3-D volume on the stack's pixel grid) for per-particle chemistry.
    pub labels: Option<PathBuf>,
    /// Per-particle chemistry settings.
    pub particle: ParticleChemParams,
    /// Write the aligned optical-density stack too.
    pub save_stack: bool,
}

impl Plan {
    /// The defaults for `stack`.
    pub fn new(stack: PathBuf) -> Self {
        Self {
            stack,
            energies: None,
            dataset: None,
            input: InputKind::Auto,
            refs: vec![],
            registration: RegistrationParams::default(),
            maps: MapParams::default(),
            labels: None,
            particle: ParticleChemParams::default(),
            save_stack: false,
        }
    }
}

/// Reads a reference spectrum `PATH` or `PATH:GROUP`.
pub fn read_reference(spec: &str) -> Result<(RefSpectrum, PathBuf)> {
    let (path, group) = if Path::new(spec).exists() {
        (PathBuf::from(spec), None)
    } else if let Some((p, g)) = spec.rsplit_once(':') {
        (PathBuf::from(p), Some(g.to_string()))
    } else {
        (PathBuf::from(spec), None)
    };
    let (energy_ev, mu) = chemomech_io::read::read_mu(&path, group.clone())?;
    chemomech_core::types::check_increasing(&energy_ev, "reference energies").map_err(|e| e.at(&path))?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "reference".into());
    let name = group.unwrap_or_else(|| {
        stem.strip_prefix("ref_").or_else(|| stem.strip_prefix("ref-")).unwrap_or(&stem).to_string()
    });
    Ok((RefSpectrum { name, energy_ev, mu }, path))
}

/// A file-name-safe version of a reference name.
fn safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}

/// The stack as (energies, pixels…) optical density, with its pixel size.
fn load_od(p: &Plan, prov: &mut Provenance) -> Result<(ArrayD<f32>, Vec<f64>, Option<f64>, serde_json::Value)> {
    let path = &p.stack;
    let listed = match &p.energies {
        Some(f) => {
            prov.add_input(f)?;
            Some(chemomech_io::text::read_energy_list(f)?)
        }
        None => None,
    };
    let st = chemomech_io::read::read_energy_stack(
        path,
        &OpenOptions { dataset: p.dataset.clone(), energies: listed.clone(), ..Default::default() },
    )?;
    let counts = st.meta.get("data_units").and_then(|v| v.as_str()) == Some("counts");
    let (data, flats, darks, mut energies, pixel) = (st.data, st.flats, st.darks, st.energies_ev, st.pixel_um);
    if counts && flats.is_none() && p.input == InputKind::Auto {
        return Err(Error::data(
            "the stack holds detector counts without reference (I0) frames: divide by I0 and give --input transmission (or --input od for optical densities)",
        )
        .at(path));
    }
    if let Some(l) = listed {
        energies = l;
    }
    if energies.is_empty() {
        return Err(Error::param("the stack carries no energies; give --energies FILE").at(path));
    }
    let shape = data.shape().to_vec();
    if shape.len() < 3 || shape.len() > 4 {
        return Err(Error::shape(format!(
            "an energy stack must be 3-D (energy, y, x) or 4-D (energy, z, y, x), got {shape:?}"
        ))
        .at(path));
    }
    if shape[0] != energies.len() {
        return Err(Error::shape(format!("{} frames but {} energies", shape[0], energies.len())).at(path));
    }
    chemomech_core::types::check_increasing(&energies, "energies").map_err(|e| e.at(path))?;
    let raw = data.into_f32();
    let (od, how) = match (&flats, p.input) {
        (Some(f), InputKind::Auto) => {
            if shape.len() != 3 {
                return Err(Error::shape("reference frames are supported for 2-D stacks only").at(path));
            }
            let d3 = raw.into_dimensionality::<Ix3>().map_err(|e| Error::from(e).at(path))?;
            let f3 = f.to_f32().into_dimensionality::<Ix3>().map_err(|e| Error::from(e).at(path))?;
            let k3 = darks
                .as_ref()
                .map(|d| d.to_f32().into_dimensionality::<Ix3>())
                .transpose()
                .map_err(|e| Error::from(e).at(path))?;
            let (od, rep) =
                optical_density(d3.view(), Some(f3.view()), k3.as_ref().map(|a| a.view())).map_err(|e| e.at(path))?;
            (
                od.into_dyn(),
                serde_json::json!({"from": "counts with reference frames", "invalid_pixels": rep.invalid_pixels, "flats_per_energy": rep.flats_per_energy, "darks": darks.is_some()}),
            )
        }
        (_, InputKind::Transmission) => {
            let bad = raw.iter().filter(|&&v| !(v > 0.0)).count();
            (
                raw.mapv(|v| if v > 0.0 { -v.ln() } else { f32::NAN }),
                serde_json::json!({"from": "transmission", "invalid_pixels": bad}),
            )
        }
        (_, InputKind::OpticalDensity | InputKind::Auto) => {
            (raw, serde_json::json!({"from": "optical density as given"}))
        }
    };
    Ok((od, energies, pixel, how))
}

/// Writes the maps of one analysis into its directory, with spacing and
/// provenance, and keeps the names written.
struct MapWriter<'a> {
    dir: &'a OutDir,
    spacing_um: Option<&'a [f64]>,
    prov: &'a Provenance,
    written: Vec<String>,
}

impl MapWriter<'_> {
    /// A float32 map.
    fn f32(&mut self, name: &str, a: &ArrayD<f32>) -> Result<()> {
        self.array(name, DynArray::F32(a.clone()))
    }

    /// Any array as TIFF.
    fn array(&mut self, name: &str, a: DynArray) -> Result<()> {
        write_tiff(&self.dir.path(name), &a, self.spacing_um, Some(self.prov), TiffOptions::default())?;
        self.written.push(name.to_string());
        Ok(())
    }

    /// Every map of a full analysis: edge, white line, fractions with
    /// errors and fit quality, SoC, clusters, and the mean and cluster
    /// spectra (`spectra.csv`).
    fn all(&mut self, m: &chemomech_xas::maps::XanesMaps, energies: &[f64]) -> Result<()> {
        self.f32("edge_jump.tiff", &m.edge_jump)?;
        self.f32("pre_edge_sigma.tiff", &m.pre_edge_sigma)?;
        self.array("mask.tiff", DynArray::U8(m.mask.clone()))?;
        self.f32("e0_half.tiff", &m.e0_half)?;
        self.f32("e0_derivative.tiff", &m.e0_derivative)?;
        self.f32("white_line_energy.tiff", &m.white_line_energy)?;
        self.f32("white_line_height.tiff", &m.white_line_height)?;
        for (name, f, e) in &m.fractions {
            self.f32(&format!("fraction_{}.tiff", safe(name)), f)?;
            self.f32(&format!("fraction_{}_error.tiff", safe(name)), e)?;
        }
        if !m.fractions.is_empty() {
            self.f32("r_factor.tiff", &m.r_factor)?;
            self.f32("reduced_chi2.tiff", &m.reduced_chi2)?;
        }
        if let Some(s) = &m.soc {
            self.f32("soc.tiff", s)?;
        }
        if let Some(c) = &m.cluster {
            self.array("cluster.tiff", DynArray::U8(c.clone()))?;
        }
        // Spectra: the mean (normalised) and one per cluster.
        let cnames: Vec<String> = m.summary.clusters.iter().map(|c| format!("cluster_{}", c.cluster)).collect();
        let mut cols = vec![
            ("energy_ev", Column::F64(energies.to_vec()), Some("eV")),
            ("mean_norm", Column::F64(m.summary.mean_spectrum_norm.clone()), None),
        ];
        for (c, n) in m.summary.clusters.iter().zip(&cnames) {
            cols.push((n.as_str(), Column::F64(c.norm.clone()), None));
        }
        table::write_csv(&self.dir.path("spectra.csv"), &Table::from_columns(cols)?, Some(self.prov))?;
        self.written.push("spectra.csv".into());
        Ok(())
    }
}

/// Registers a 2-D stack's frames (3-D stacks and `none` pass through).
fn register_2d(
    p: &Plan,
    od: ArrayD<f32>,
    energies: &[f64],
    progress: &dyn Progress,
) -> Result<(ArrayD<f32>, Option<chemomech_xas::stack::Registration>)> {
    if od.ndim() == 4 || p.registration.mode == RegistrationMode::None {
        return Ok((od, None));
    }
    let od3 = od.view().into_dimensionality::<Ix3>().map_err(|e| Error::from(e).at(&p.stack))?;
    progress.start("registration", 1);
    let reg = register_stack(od3, energies, &p.registration).map_err(|e| e.at(&p.stack))?;
    let (al, _fov) = apply_registration(od3, &reg)?;
    progress.finish();
    Ok((al.into_dyn(), Some(reg)))
}

/// Too few energies to normalise: the edge jump between the first and last
/// frames (the energies nearest below and above the edge) and its mask.
fn edge_jump_only(
    p: &Plan,
    aligned: ndarray::ArrayViewD<f32>,
    energies: &[f64],
    pixel: Option<f64>,
    maps: &mut MapWriter,
) -> Result<serde_json::Value> {
    let ne = energies.len();
    if aligned.ndim() == 4 {
        return Err(Error::data(format!("{ne} energies: 3-D maps need at least 8")).at(&p.stack));
    }
    let a3 = aligned.into_dimensionality::<Ix3>().map_err(|e| Error::from(e).at(&p.stack))?;
    let (jump, mask, sigma) =
        two_energy_jump(a3.index_axis(Axis(0), 0), a3.index_axis(Axis(0), ne - 1), p.maps.mask_sigma)?;
    maps.f32("edge_jump.tiff", &jump.into_dyn())?;
    maps.array("mask.tiff", DynArray::U8(mask.mapv(|b| b as u8).into_dyn()))?;
    let n = mask.iter().filter(|&&b| b).count();
    Ok(serde_json::json!({
        "method": "two-energy edge jump (fewer than 8 energies: no normalisation)",
        "below_ev": energies[0], "above_ev": energies[ne - 1],
        "noise_sigma_od": sigma, "mask_sigma": p.maps.mask_sigma,
        "pixels_masked": n, "masked_fraction": n as f64 / mask.len() as f64,
        "masked_area_um2": pixel.map(|v| n as f64 * v * v),
    }))
}

/// Runs a resolved XANES analysis into the directory `out`.
pub fn run(p: &Plan, out: &Path, progress: &dyn Progress) -> Result<Summary> {
    let t0 = std::time::Instant::now();
    chemomech_io::atomic::ensure_not_input(out, &[&p.stack])?;
    let mut prov = Provenance::start("xanes", serde_json::to_value(p)?);
    // The stack's checksum is computed while the stack is read (a second
    // pass over a large file would cost as much as the maps).
    let mut load_prov = Provenance::start("xanes", serde_json::Value::Null);
    let (stack_rec, loaded) = rayon::join(|| InputRecord::of(&p.stack), || load_od(p, &mut load_prov));
    prov.add_record(stack_rec?);
    let mut refs = Vec::new();
    for r in &p.refs {
        let (rs, path) = read_reference(r)?;
        prov.add_input(&path)?;
        refs.push(rs);
    }
    let (od, energies, pixel, od_info) = loaded?;
    for rec in load_prov.inputs {
        prov.add_record(rec);
    }
    let t_load = t0.elapsed().as_secs_f64();
    let ne = energies.len();
    let (aligned, reg) = register_2d(p, od, &energies, progress)?;
    let pix_shape: Vec<usize> = aligned.shape()[1..].to_vec();
    let spacing_um: Option<Vec<f64>> = pixel.map(|v| vec![v; pix_shape.len()]);
    let sp = spacing_um.as_deref();
    let dir = OutDir::create(out)?;
    let mut written = Vec::new();
    let mut summary = Summary {
        stage: "xanes".into(),
        stack: p.stack.clone(),
        frames: ne,
        energies_ev: energies.clone(),
        pixel_um: pixel,
        pixel_shape: pix_shape.clone(),
        optical_density: od_info,
        registration: None,
        seconds_maps: None,
        maps: serde_json::Value::Null,
        particles: None,
        outputs: Vec::new(),
        seconds: 0.0,
        seconds_load: t_load,
        provenance: serde_json::Value::Null,
    };
    if let Some(reg) = &reg {
        summary.registration = Some(registration_table(reg, &energies, &dir, &prov, &mut written)?);
    }
    if p.save_stack {
        write_tiff(
            &dir.path("aligned_od.tiff"),
            &DynArray::F32(aligned.clone()),
            None,
            Some(&prov),
            TiffOptions::default(),
        )?;
        written.push("aligned_od.tiff".into());
    }
    let mut maps = MapWriter { dir: &dir, spacing_um: sp, prov: &prov, written };
    let soc_map = if ne < 8 {
        summary.maps = edge_jump_only(p, aligned.view(), &energies, pixel, &mut maps)?;
        None
    } else {
        let tm = std::time::Instant::now();
        let m = xanes_maps(aligned.view(), &energies, &refs, &p.maps, progress).map_err(|e| e.at(&p.stack))?;
        summary.seconds_maps = Some(tm.elapsed().as_secs_f64());
        maps.all(&m, &energies)?;
        summary.maps = serde_json::to_value(&m.summary)?;
        summary.maps["soc_source"] = serde_json::json!(match (&p.maps.soc, refs.is_empty()) {
            (SocScale::Fractions(_), false) => "LCF fractions",
            (SocScale::EdgeEnergy { .. }, _) => "edge energy (E0 at half height), calibrated",
            _ => "none (no references): particle statistics use E0 at half height",
        });
        m.soc.or(Some(m.e0_half))
    };
    let mut written = maps.written;
    if let Some(lp) = &p.labels {
        summary.particles = Some(particle_tables(p, lp, soc_map.as_ref(), pixel, &dir, &mut prov, &mut written)?);
    }
    prov.finish();
    summary.outputs = written;
    summary.seconds = t0.elapsed().as_secs_f64();
    summary.provenance = prov.to_json();
    dir.commit(&serde_json::to_value(&summary)?)?;
    Ok(summary)
}

/// Per-particle chemistry on the labels `lp`: `particle_chemistry.csv` and
/// `core_shell.csv` in `dir`, and their summary.
fn particle_tables(
    p: &Plan,
    lp: &Path,
    soc_map: Option<&ArrayD<f32>>,
    pixel: Option<f64>,
    dir: &OutDir,
    prov: &mut Provenance,
    written: &mut Vec<String>,
) -> Result<ParticlesChemistry> {
    prov.add_input(lp)?;
    let lab3: Array3<u32> = chemomech_io::read::read_labels(lp)?;
    let Some(val) = soc_map else {
        return Err(Error::data("per-particle chemistry needs a normalised map (at least 8 energies)").at(lp));
    };
    let val3 = if val.ndim() == 2 { val.clone().insert_axis(Axis(0)) } else { val.clone() }
        .into_dimensionality::<Ix3>()
        .map_err(|e| Error::from(e).at(lp))?;
    if lab3.dim() != val3.dim() {
        return Err(Error::shape(format!("labels {:?} do not match the maps {:?}", lab3.dim(), val3.dim())).at(lp));
    }
    let v = pixel.unwrap_or(1.0);
    let pc = particle_chemistry(lab3.view(), val3.view(), [v, v, v], &p.particle).map_err(|e| e.at(lp))?;
    let ps = &pc.particles;
    let t = Table::from_columns(vec![
        ("label", Column::U64(ps.iter().map(|q| q.label as u64).collect()), None),
        ("pixels", Column::U64(ps.iter().map(|q| q.pixels as u64).collect()), None),
        ("valid_pixels", Column::U64(ps.iter().map(|q| q.valid as u64).collect()), None),
        ("mean_soc", Column::F64(ps.iter().map(|q| q.mean).collect()), None),
        ("std_soc", Column::F64(ps.iter().map(|q| q.std).collect()), None),
        ("median_soc", Column::F64(ps.iter().map(|q| q.median).collect()), None),
        ("surface_soc", Column::F64(ps.iter().map(|q| q.surface_mean).collect()), None),
        ("core_soc", Column::F64(ps.iter().map(|q| q.core_mean).collect()), None),
        ("core_minus_surface", Column::F64(ps.iter().map(|q| q.core_minus_surface).collect()), None),
        ("gradient_pixels", Column::U64(ps.iter().map(|q| q.gradient_pixels as u64).collect()), None),
        ("gradient_angle_mean_deg", Column::F64(ps.iter().map(|q| q.angle_mean_deg).collect()), Some("deg")),
        ("gradient_angle_median_deg", Column::F64(ps.iter().map(|q| q.angle_median_deg).collect()), Some("deg")),
        ("gradient_angle_mean_cos", Column::F64(ps.iter().map(|q| q.angle_mean_cos).collect()), None),
        ("fraction_toward_centre", Column::F64(ps.iter().map(|q| q.fraction_toward_centre).collect()), None),
    ])?;
    table::write_csv(&dir.path("particle_chemistry.csv"), &t, Some(prov))?;
    let prof = Table::from_columns(vec![
        ("distance_to_surface_um", Column::F64(pc.shell_bins_um.clone()), Some("µm")),
        ("mean", Column::F64(pc.shell_mean.clone()), None),
        ("std", Column::F64(pc.shell_std.clone()), None),
        ("pixels", Column::U64(pc.shell_count.clone()), None),
    ])?;
    table::write_csv(&dir.path("core_shell.csv"), &prof, Some(prov))?;
    written.extend(["particle_chemistry.csv".to_string(), "core_shell.csv".to_string()]);
    let with: Vec<&chemomech_xas::particle::ParticleChem> = ps.iter().filter(|q| q.mean.is_finite()).collect();
    Ok(ParticlesChemistry {
        labels: lp.to_path_buf(),
        particles: ps.len(),
        with_chemistry: with.len(),
        mean_of_particle_means: if with.is_empty() {
            f64::NAN
        } else {
            with.iter().map(|q| q.mean).sum::<f64>() / with.len() as f64
        },
        gradient_angle_histogram_10deg: pc.angle_histogram.clone(),
        gradient_angle_mean_cos: pc.angle_mean_cos,
        units: if pixel.is_some() { "µm" } else { "pixels (the stack states no pixel size)" }.into(),
    })
}

/// The registration's shifts per frame (`registration.csv` in `dir`) and its summary.
fn registration_table(
    reg: &chemomech_xas::stack::Registration,
    energies: &[f64],
    dir: &OutDir,
    prov: &Provenance,
    written: &mut Vec<String>,
) -> Result<RegistrationSummary> {
    let t = Table::from_columns(vec![
        ("frame", Column::U64(reg.frames.iter().map(|f| f.index as u64).collect()), None),
        ("energy_ev", Column::F64(reg.frames.iter().map(|f| f.energy_ev).collect()), Some("eV")),
        ("shift_rows_px", Column::F64(reg.frames.iter().map(|f| f.dy).collect()), Some("px")),
        ("shift_cols_px", Column::F64(reg.frames.iter().map(|f| f.dx).collect()), Some("px")),
        ("quality_before", Column::F64(reg.frames.iter().map(|f| f.quality_before).collect()), None),
        ("quality_after", Column::F64(reg.frames.iter().map(|f| f.quality_after).collect()), None),
        ("flagged", Column::U64(reg.frames.iter().map(|f| f.flagged as u64).collect()), None),
        ("links", Column::U64(reg.frames.iter().map(|f| f.links as u64).collect()), None),
        ("interpolated", Column::U64(reg.frames.iter().map(|f| f.interpolated as u64).collect()), None),
    ])?;
    table::write_csv(&dir.path("registration.csv"), &t, Some(prov))?;
    written.push("registration.csv".into());
    let flagged: Vec<f64> = reg.frames.iter().filter(|f| f.flagged).map(|f| f.energy_ev).collect();
    Ok(RegistrationSummary {
        mode: reg.mode,
        reference_frame: reg.reference,
        reference_energy_ev: energies[reg.reference],
        max_shift_px: reg.frames.iter().map(|f| f.dy.hypot(f.dx)).fold(0.0, f64::max),
        min_quality: reg.frames.iter().map(|f| f.quality_after).fold(f64::INFINITY, f64::min),
        flagged_energies_ev: flagged,
        interpolated_energies_ev: reg.frames.iter().filter(|f| f.interpolated).map(|f| f.energy_ev).collect(),
    })
}

/// Default map parameters with clustering as given.
pub fn map_params(clusters: bool, max_k: usize) -> MapParams {
    MapParams { clusters: clusters.then(|| ClusterParams { max_k, ..Default::default() }), ..Default::default() }
}

crate::value_enum_serde!(InputKind);
