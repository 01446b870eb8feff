//! `chemomech xas normalize|lcf|pca`: bulk spectra, Larch-compatible.

use crate::ui::Ui;
use chemomech_core::{Error, Result};
use chemomech_pipeline::stages::xanes::read_reference;
use chemomech_xas::lcf::{LcfOptions, Reference, lcf, lcf_all_combinations};
use chemomech_xas::{PreEdgeParams, pre_edge};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(clap::Subcommand, Debug)]
pub enum Sub {
    /// Pre-edge subtraction and normalisation (Larch's `pre_edge`, same defaults).
    Normalize(NormArgs),
    /// Linear-combination fit against reference spectra.
    Lcf(LcfArgs),
    /// Principal components of several spectra (eigenvalues, IND, suggested count).
    Pca(PcaArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct Spec {
    /// Group of an Athena project (or dataset of a container).
    #[arg(long)]
    pub group: Option<String>,
    /// E0 (eV); default: Larch's find_e0.
    #[arg(long)]
    pub e0: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    pub pre1: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    pub pre2: Option<f64>,
    #[arg(long)]
    pub norm1: Option<f64>,
    #[arg(long)]
    pub norm2: Option<f64>,
    #[arg(long)]
    pub nnorm: Option<usize>,
    /// Edge step (default: from the fits at E0).
    #[arg(long)]
    pub step: Option<f64>,
}

impl Spec {
    fn params(&self) -> PreEdgeParams {
        PreEdgeParams {
            e0: self.e0,
            step: self.step,
            pre1: self.pre1,
            pre2: self.pre2,
            norm1: self.norm1,
            norm2: self.norm2,
            nnorm: self.nnorm,
            nvict: 0,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct NormArgs {
    pub file: PathBuf,
    #[command(flatten)]
    pub spec: Spec,
    /// Also write energy, μ, pre-edge, post-edge, norm, flat, dμ/dE as CSV.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct LcfArgs {
    pub file: PathBuf,
    /// References, comma-separated (PATH or PATH:GROUP).
    #[arg(long, value_delimiter = ',', required = true)]
    pub refs: Vec<String>,
    #[command(flatten)]
    pub spec: Spec,
    /// Fit window relative to E0 (eV).
    #[arg(long, default_value_t = -20.0, allow_hyphen_values = true)]
    pub emin: f64,
    #[arg(long, default_value_t = 60.0)]
    pub emax: f64,
    /// Weights need not sum to one.
    #[arg(long)]
    pub no_sum: bool,
    /// Weights may be negative.
    #[arg(long)]
    pub allow_negative: bool,
    /// Fit a common energy shift within ± this (eV).
    #[arg(long, default_value_t = 0.0)]
    pub max_shift_ev: f64,
    /// Fit every combination of references, best first.
    #[arg(long)]
    pub all_combinations: bool,
    /// Fit normalised μ instead of flattened μ.
    #[arg(long)]
    pub norm: bool,
}

#[derive(clap::Args, Debug)]
pub struct PcaArgs {
    /// Spectra (normalised on a common grid: the first file's energies within all ranges).
    #[arg(required = true, num_args = 3..)]
    pub files: Vec<PathBuf>,
}

fn read_spectrum(path: &Path, group: Option<&str>) -> Result<(Vec<f64>, Vec<f64>)> {
    chemomech_io::read::read_mu(path, group.map(String::from))
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    match &a.command {
        Sub::Normalize(n) => normalize(n, ui),
        Sub::Lcf(l) => run_lcf(l, ui),
        Sub::Pca(p) => run_pca(p, ui),
    }
}

fn normalize(a: &NormArgs, ui: &Ui) -> Result<()> {
    let (e, mu) = read_spectrum(&a.file, a.spec.group.as_deref())?;
    let r = pre_edge(&e, &mu, &a.spec.params()).map_err(|err| err.at(&a.file))?;
    if let Some(out) = &a.out {
        let mut prov = chemomech_core::Provenance::start("xas normalize", serde_json::to_value(a.spec.params())?);
        prov.add_input(&a.file)?;
        prov.finish();
        use chemomech_core::Column as C;
        let t = chemomech_core::Table::from_columns(vec![
            ("energy_ev", C::F64(r.energy.clone()), Some("eV")),
            ("norm", C::F64(r.norm.clone()), None),
            ("flat", C::F64(r.flat.clone()), None),
            ("pre_edge", C::F64(r.pre_edge.clone()), None),
            ("post_edge", C::F64(r.post_edge.clone()), None),
            ("dmude", C::F64(r.dmude.clone()), Some("1/eV")),
        ])?;
        chemomech_io::table::write_csv(out, &t, Some(&prov))?;
    }
    let j = serde_json::json!({
        "file": a.file, "e0": r.e0, "edge_step": r.edge_step, "pre1": r.pre1, "pre2": r.pre2,
        "norm1": r.norm1, "norm2": r.norm2, "nnorm": r.nnorm, "nvict": r.nvict,
        "pre_slope": r.pre_slope, "pre_offset": r.pre_offset, "norm_coefs": r.norm_coefs,
        "points": r.energy.len(), "units": {"e0": "eV", "pre1": "eV relative to e0", "norm1": "eV relative to e0"},
    });
    ui.result(&j, || {
        format!(
            "e0 = {} eV\nedge_step = {:.7}\npre1 = {} eV\npre2 = {} eV\nnorm1 = {} eV\nnorm2 = {} eV\nnnorm = {}\npre_slope = {:.6e}\npre_offset = {:.6}\n",
            r.e0, r.edge_step, r.pre1, r.pre2, r.norm1, r.norm2, r.nnorm, r.pre_slope, r.pre_offset
        )
    });
    Ok(())
}

fn run_lcf(a: &LcfArgs, ui: &Ui) -> Result<()> {
    let (e, mu) = read_spectrum(&a.file, a.spec.group.as_deref())?;
    let pe = pre_edge(&e, &mu, &a.spec.params()).map_err(|err| err.at(&a.file))?;
    let refs: Vec<_> = a.refs.iter().map(|r| read_reference(r.trim())).collect::<Result<_>>()?;
    if !(a.emin < a.emax) {
        return Err(Error::param(format!("--emin {} must be below --emax {}", a.emin, a.emax)));
    }
    let o = LcfOptions {
        sum_to_one: !a.no_sum,
        nonnegative: !a.allow_negative,
        max_shift_ev: a.max_shift_ev,
        emin: Some(pe.e0 + a.emin),
        emax: Some(pe.e0 + a.emax),
    };
    let rr: Vec<Reference> =
        refs.iter().map(|(r, _)| Reference { name: &r.name, energy: &r.energy_ev, mu: &r.mu }).collect();
    let y = if a.norm { &pe.norm } else { &pe.flat };
    let fits = if a.all_combinations {
        lcf_all_combinations(&pe.energy, y, &rr, &o, rr.len())?
    } else {
        vec![lcf(&pe.energy, y, &rr, &o).map_err(|err| err.at(&a.file))?]
    };
    let js: Vec<serde_json::Value> = fits
        .iter()
        .map(|f| {
            serde_json::json!({
                "references": f.names, "weights": f.weights, "std_errors": f.std_errors, "sum": f.sum_weights,
                "shift_ev": f.shift_ev, "r_factor": f.r_factor, "chi2": f.chi2, "reduced_chi2": f.reduced_chi2,
                "points": f.n_points, "free_parameters": f.n_free,
            })
        })
        .collect();
    let j = serde_json::json!({"file": a.file, "e0": pe.e0, "edge_step": pe.edge_step, "window_ev": [pe.e0 + a.emin, pe.e0 + a.emax], "fits": js});
    ui.result(&j, || {
        let mut t = format!(
            "e0 {} eV, fit window {:.1}–{:.1} eV ({})\n",
            pe.e0,
            pe.e0 + a.emin,
            pe.e0 + a.emax,
            if a.norm { "norm" } else { "flat" }
        );
        for f in &fits {
            let parts: Vec<String> = f
                .names
                .iter()
                .zip(&f.weights)
                .zip(&f.std_errors)
                .map(|((n, w), s)| format!("{n} {w:.4} ± {s:.4}"))
                .collect();
            t.push_str(&format!(
                "  {}  (sum {:.4}, shift {:.2} eV, R {:.3e}, χ²ᵣ {:.3e})\n",
                parts.join(", "),
                f.sum_weights,
                f.shift_ev,
                f.r_factor,
                f.reduced_chi2
            ));
        }
        t
    });
    Ok(())
}

fn run_pca(a: &PcaArgs, ui: &Ui) -> Result<()> {
    let specs: Vec<(Vec<f64>, Vec<f64>)> = a
        .files
        .iter()
        .map(|f| {
            let (e, mu) = read_spectrum(f, None)?;
            let pe = pre_edge(&e, &mu, &PreEdgeParams::default()).map_err(|err| err.at(f))?;
            Ok((pe.energy, pe.norm))
        })
        .collect::<Result<_>>()?;
    let lo = specs.iter().map(|s| s.0[0]).fold(f64::NEG_INFINITY, f64::max);
    let hi = specs.iter().map(|s| s.0[s.0.len() - 1]).fold(f64::INFINITY, f64::min);
    let grid: Vec<f64> = specs[0].0.iter().copied().filter(|&x| x >= lo && x <= hi).collect();
    if grid.len() < 3 {
        return Err(Error::data(format!("the spectra share no energy range ({lo:.1}–{hi:.1} eV)")));
    }
    let rows: Vec<Vec<f64>> =
        specs.iter().map(|(e, n)| grid.iter().map(|&x| chemomech_xas::lcf::interp_at(e, n, x)).collect()).collect();
    let p = chemomech_xas::cluster::pca(&rows)?;
    let k = p.eigenvalues.len().min(a.files.len());
    let j = serde_json::json!({
        "files": a.files, "points": grid.len(), "energy_range_ev": [lo, hi],
        "eigenvalues": &p.eigenvalues[..k], "explained_variance_ratio": &p.explained_variance_ratio[..k],
        "ind": &p.ind[..p.ind.len().min(k)], "suggested_components": p.suggested_components,
    });
    ui.result(&j, || {
        let mut t = format!(
            "{} spectra on {} energies ({lo:.1}–{hi:.1} eV), mean-centred\n  component  eigenvalue   explained   IND\n",
            a.files.len(),
            grid.len()
        );
        for i in 0..k {
            t.push_str(&format!(
                "  {:>9}  {:>10.4e}  {:>9.4}  {}\n",
                i + 1,
                p.eigenvalues[i],
                p.explained_variance_ratio[i],
                p.ind.get(i).map_or(String::new(), |v| format!("{v:.4e}"))
            ));
        }
        t.push_str(&format!("  suggested components (minimum IND): {}\n", p.suggested_components));
        t
    });
    Ok(())
}
