//! `chemomech reconstruct`: projections (DXchange, NXtomo, FXI, txrm, Zarr)
//! to a volume in 1/cm.

use crate::ui::Ui;
use chemomech_core::{Error, Result};
use chemomech_pipeline::stages::reconstruct::{run as run_stage, Params};
use chemomech_tomo::phase::Paganin;
use chemomech_tomo::preprocess::{Combine, Rings};
use chemomech_tomo::recon::{CenterSpec, ReconParams};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Projections with flats and darks (DXchange/NXtomo/FXI HDF5, txrm, Zarr).
    pub input: PathBuf,
    /// Output volume: .tiff, .zarr or .h5.
    #[arg(long)]
    pub out: PathBuf,
    /// Rotation centre: auto (Vo's method), 180 (0°/180° registration), or a value in detector pixels.
    #[arg(long, default_value = "auto")]
    pub center: String,
    /// Filter: ramp, shepp, cosine, hamming, hann.
    #[arg(long, default_value = "ramp")]
    pub filter: String,
    /// Algorithm: fbp (filtered back-projection) or fourier (direct
    /// Fourier gridding, faster; same filters and scale).
    #[arg(long, default_value = "fbp")]
    pub algorithm: String,
    /// Ring removal: none, vo (Vo 2018 sorting + large stripes), fw (Münch 2009 Fourier–wavelet).
    #[arg(long, default_value = "none")]
    pub rings: String,
    /// Zinger removal threshold on transmission (e.g. 0.1); off when absent.
    #[arg(long)]
    pub zinger: Option<f32>,
    /// Combine flats by mean or median.
    #[arg(long, default_value = "mean")]
    pub flats: String,
    /// Phase retrieval: none, paganin (single distance), or ctf (multi-distance holotomography: INPUT is a folder of one file per distance).
    #[arg(long, default_value = "none")]
    pub phase: String,
    /// δ/β for phase retrieval.
    #[arg(long)]
    pub delta_beta: Option<f64>,
    /// Photon energy in keV (phase retrieval).
    #[arg(long)]
    pub energy_kev: Option<f64>,
    /// Propagation distance(s) in metres (phase retrieval), comma-separated.
    #[arg(long)]
    pub distance_m: Option<String>,
    /// Pixel size in µm (phase retrieval; overrides the file's).
    #[arg(long)]
    pub pixel_um: Option<f64>,
    /// Slices (detector rows) A:B to reconstruct.
    #[arg(long)]
    pub slices: Option<String>,
    /// Memory budget in GB for data in flight (default 4).
    #[arg(long)]
    pub memory_gb: Option<f64>,
    /// Output slice width in pixels (default: detector width).
    #[arg(long)]
    pub size: Option<usize>,
}

fn parse_range(s: &str) -> Result<std::ops::Range<usize>> {
    let (a, b) = s.split_once(':').ok_or_else(|| Error::param(format!("--slices must look like A:B, got '{s}'")))?;
    let a: usize = if a.is_empty() { 0 } else { a.parse().map_err(|_| Error::param(format!("bad slice start '{a}'")))? };
    let b: usize = if b.is_empty() { usize::MAX } else { b.parse().map_err(|_| Error::param(format!("bad slice end '{b}'")))? };
    Ok(a..b)
}

pub fn params(a: &Args) -> Result<Params> {
    let center = match a.center.as_str() {
        "auto" | "vo" => CenterSpec::Auto,
        "180" | "opposite" => CenterSpec::Opposite,
        v => CenterSpec::Value(v.parse().map_err(|_| Error::param(format!("--center must be auto, 180 or a number, got '{v}'")))?),
    };
    let rings = match a.rings.as_str() {
        "none" => Rings::None,
        "vo" => Rings::Vo { size: 21, snr: 3.0, large_size: 51 },
        "fw" => Rings::FourierWavelet { level: 5, sigma: 2.0 },
        o => return Err(Error::param(format!("--rings must be none, vo or fw, got '{o}'"))),
    };
    let flats = match a.flats.as_str() {
        "mean" => Combine::Mean,
        "median" => Combine::Median,
        o => return Err(Error::param(format!("--flats must be mean or median, got '{o}'"))),
    };
    let holo = if a.phase == "ctf" {
        Some(chemomech_pipeline::stages::reconstruct::HoloParams {
            delta_beta: a.delta_beta.ok_or_else(|| Error::param("--phase ctf needs --delta-beta"))?,
            alpha_low: 1e-6,
            alpha_high: 1e-4,
        })
    } else {
        None
    };
    let paganin = match a.phase.as_str() {
        "none" | "ctf" => None,
        "paganin" => {
            let need = |v: Option<f64>, n: &str| v.ok_or_else(|| Error::param(format!("--phase paganin needs {n}")));
            let d: f64 = need(a.distance_m.as_deref().and_then(|s| s.split(',').next()?.trim().parse().ok()), "--distance-m")?;
            Some(Paganin { energy_kev: need(a.energy_kev, "--energy-kev")?, distance_m: d, pixel_um: need(a.pixel_um, "--pixel-um")?, delta_beta: need(a.delta_beta, "--delta-beta")? })
        }
        o => return Err(Error::param(format!("--phase must be none, paganin or ctf, got '{o}'"))),
    };
    if let Some(p) = &paganin {
        p.validate()?;
    }
    let recon = ReconParams { algorithm: a.algorithm.parse()?, filter: a.filter.parse()?, rings, zinger: a.zinger, flats, paganin, size: a.size };
    let slices = a.slices.as_deref().map(parse_range).transpose()?;
    if holo.is_some() && a.delta_beta.is_some_and(|d| !(d > 0.0 && d.is_finite())) {
        return Err(Error::param("--delta-beta must be positive"));
    }
    Ok(Params { input: a.input.clone(), holo, center, recon, slices, memory_gb: a.memory_gb })
}

/// The stage's work without printing (what `chemomech run` calls).
pub fn exec(a: &Args, progress: &dyn chemomech_core::Progress) -> Result<serde_json::Value> {
    let mut p = params(a)?;
    if let Some(r) = &mut p.slices {
        if r.end == usize::MAX {
            if p.holo.is_some() {
                let f = chemomech_pipeline::stages::reconstruct::holo_files(&a.input)?;
                r.end = f[0].1.dims().1;
            } else {
                let info = chemomech_io::info(&a.input)?;
                r.end = info["rows"].as_u64().map(|v| v as usize).unwrap_or(r.start + 1);
            }
        }
    }
    run_stage(&p, &a.out, progress)
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    let s = exec(a, &ui.progress())?;
    ui.result(&s, || {
        format!(
            "reconstructed {:?} ({}) at centre {:.2} ({}) in {:.1} s → {}\n",
            s["shape"].as_array().map(|v| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("x")).unwrap_or_default(),
            s["units"].as_str().unwrap_or(""),
            s["center"].as_f64().unwrap_or(0.0),
            s["center_method"].as_str().unwrap_or(""),
            s["seconds"].as_f64().unwrap_or(0.0),
            a.out.display()
        )
    });
    Ok(())
}
