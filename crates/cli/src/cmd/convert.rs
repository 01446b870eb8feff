//! `chemomech convert IN OUT`: any readable input to TIFF, Zarr, HDF5, npy,
//! CSV or Parquet, with provenance; never overwrites the input.

use crate::ui::Ui;
use chemomech_core::{Provenance, Result};
use chemomech_io::{OpenOptions, Part, SaveOptions, atomic, open_with, save};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Input file or folder.
    pub input: PathBuf,
    /// Output; the extension picks the format (.tiff, .zarr, .h5, .npy, .csv, .parquet, .json).
    pub output: PathBuf,
    /// Which array to write into single-array formats (TIFF, npy).
    #[arg(long, value_enum, default_value = "data")]
    pub part: PartArg,
    /// Dataset inside the input container (HDF5 path, Zarr array name).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Deflate-compress TIFF output (lossless; slower, smaller).
    #[arg(long)]
    pub compress: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum PartArg {
    Data,
    Flats,
    Darks,
}

pub fn run(a: &Args, ui: &Ui) -> Result<()> {
    atomic::ensure_not_input(&a.output, &[&a.input])?;
    chemomech_io::output_format(&a.output)?;
    let params = serde_json::json!({"part": format!("{:?}", a.part).to_lowercase(), "dataset": a.dataset, "compress": a.compress});
    let mut prov = Provenance::start("convert", params);
    prov.add_input(&a.input)?;
    let d = open_with(&a.input, &OpenOptions { dataset: a.dataset.clone(), ..Default::default() })?;
    let part = match a.part {
        PartArg::Data => Part::Data,
        PartArg::Flats => Part::Flats,
        PartArg::Darks => Part::Darks,
    };
    let opts = SaveOptions {
        part,
        tiff: chemomech_io::tiffio::TiffOptions {
            compression: if a.compress { chemomech_io::tiffio::TiffCompression::Deflate } else { Default::default() },
            bigtiff: None,
        },
    };
    prov.finish();
    save(&d, &a.output, Some(&prov), &opts)?;
    let summary = serde_json::json!({
        "input": a.input.display().to_string(),
        "output": a.output.display().to_string(),
        "kind": d.kind(),
        "provenance": prov.to_json(),
    });
    ui.result(&summary, || format!("wrote {} ({}) from {}\n", a.output.display(), d.kind(), a.input.display()));
    Ok(())
}
