//! Energy series stored one file per energy: TIFF folders (energy in the
//! file name, or in a separate list) and Xradia `.xrm` folders (SSRL-style,
//! sample and `ref` frames per energy, repetitions averaged).

use crate::names::{energy_from_name, is_dark_name, is_reference_name};
use chemomech_core::{DynArray, EnergyStack, Error, Metadata, Result};
use ndarray::{Array3, ArrayD, Axis};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Sample,
    Reference,
    Dark,
}

fn role_of(name: &str) -> Role {
    if is_dark_name(name) {
        Role::Dark
    } else if is_reference_name(name) {
        Role::Reference
    } else {
        Role::Sample
    }
}

fn list(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(e).at(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file() && p.extension().map(|x| exts.iter().any(|e| x.eq_ignore_ascii_case(e))).unwrap_or(false)
        })
        .collect();
    v.sort();
    Ok(v)
}

/// Energy key with 0.01 eV resolution (groups repetitions at one energy).
fn key(e: f64) -> i64 {
    (e * 100.0).round() as i64
}

struct Frames {
    by_energy: BTreeMap<i64, Vec<ndarray::Array2<f32>>>,
}

impl Frames {
    fn new() -> Self {
        Self { by_energy: BTreeMap::new() }
    }
    fn mean_stack(&self, shape: (usize, usize)) -> Result<(Vec<f64>, Array3<f32>)> {
        let mut out = Array3::<f32>::zeros((self.by_energy.len(), shape.0, shape.1));
        let mut es = Vec::new();
        for (i, (k, frames)) in self.by_energy.iter().enumerate() {
            es.push(*k as f64 / 100.0);
            let mut acc = out.index_axis_mut(Axis(0), i);
            for f in frames {
                acc += f;
            }
            acc /= frames.len() as f32;
        }
        Ok((es, out))
    }
}

/// Reads a folder of per-energy TIFFs. Energies come from the file names, or
/// from `energies` (one per sample file, in sorted name order). Files named
/// `ref`/`flat`/`bkg` are references, `dark` darks.
pub fn read_tiff_folder(dir: &Path, energies: Option<&[f64]>) -> Result<EnergyStack> {
    let files = list(dir, &["tif", "tiff"])?;
    read_series(dir, &files, energies, |p| {
        let r = crate::tiffio::read_tiff(p)?;
        let a = r.data.to_f32();
        let a = match a.ndim() {
            2 => a,
            3 if a.shape()[0] == 1 => a.index_axis(Axis(0), 0).to_owned(),
            _ => return Err(Error::shape(format!("expected one image per file, found shape {:?}", a.shape())).at(p)),
        };
        Ok((a.into_dimensionality()?, None, r.spacing_um.map(|s| s[s.len() - 1])))
    })
}

/// Reads a folder of Xradia `.xrm` frames (one energy each; sample and
/// reference frames; repetitions at one energy averaged).
pub fn read_xrm_folder(dir: &Path) -> Result<EnergyStack> {
    let files = list(dir, &["xrm"])?;
    read_series(dir, &files, None, |p| {
        let x = crate::xrm::read_xrm(p, true)?;
        let imgs = x.images_f32()?;
        let mean = imgs.mean_axis(Axis(0)).ok_or_else(|| Error::data("no images").at(p))?;
        Ok((mean, x.energies_ev.first().copied(), x.pixel_um))
    })
}

type Loaded = (ndarray::Array2<f32>, Option<f64>, Option<f64>);

/// The frames of a series as they are read, sorted by role and energy.
struct Series {
    samples: Frames,
    refs: Frames,
    darks: Vec<ndarray::Array2<f32>>,
    /// Image shape (rows, cols), from the first file.
    shape: Option<(usize, usize)>,
    /// Pixel size (µm), from the first file that has one.
    pixel: Option<f64>,
    /// Sample images read so far (index into an energy list).
    sample_index: usize,
    /// Where the energies came from (`header`, `file name`, `energy list`).
    sources: BTreeMap<&'static str, bool>,
}

impl Series {
    /// An empty series.
    fn new() -> Self {
        Self {
            samples: Frames::new(),
            refs: Frames::new(),
            darks: Vec::new(),
            shape: None,
            pixel: None,
            sample_index: 0,
            sources: BTreeMap::new(),
        }
    }

    /// Loads file `p` and files it by role and energy.
    fn add(
        &mut self,
        dir: &Path,
        p: &Path,
        energies: Option<&[f64]>,
        load: &impl Fn(&Path) -> Result<Loaded>,
    ) -> Result<()> {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let role = role_of(&name);
        let (img, header_e, px) = load(p)?;
        let sh = img.dim();
        match self.shape {
            None => self.shape = Some(sh),
            Some(s) if s != sh => {
                return Err(
                    Error::shape(format!("image is {}x{}, earlier images are {}x{}", sh.0, sh.1, s.0, s.1)).at(p)
                );
            }
            _ => {}
        }
        if self.pixel.is_none() {
            self.pixel = px;
        }
        if role == Role::Dark {
            self.darks.push(img);
            return Ok(());
        }
        let e = self.energy_of(dir, p, &name, header_e, energies, role)?;
        match role {
            Role::Sample => {
                self.samples.by_energy.entry(key(e)).or_default().push(img);
                self.sample_index += 1;
            }
            _ => self.refs.by_energy.entry(key(e)).or_default().push(img),
        }
        Ok(())
    }

    /// A frame's energy: the header's, else the file name's, else (samples
    /// only) the next value of the energy list; records the source.
    fn energy_of(
        &mut self,
        dir: &Path,
        p: &Path,
        name: &str,
        header_e: Option<f64>,
        energies: Option<&[f64]>,
        role: Role,
    ) -> Result<f64> {
        Ok(match (header_e.filter(|e| *e > 0.0), energy_from_name(name), energies, role) {
            (Some(e), _, _, _) => {
                self.sources.insert("header", true);
                e
            }
            (None, Some(e), _, _) => {
                self.sources.insert("file name", true);
                e
            }
            (None, None, Some(list), Role::Sample) => {
                let e = *list.get(self.sample_index).ok_or_else(|| {
                    Error::shape(format!("energy list has {} values, there are more sample images", list.len())).at(dir)
                })?;
                self.sources.insert("energy list", true);
                e
            }
            _ => return Err(Error::data("no energy in the header or the file name (give an energy list)").at(p)),
        })
    }

    /// Mean references at the sample energies (same order); every sample energy needs one.
    fn flats(&self, dir: &Path, shape: (usize, usize)) -> Result<Option<DynArray>> {
        let (samples, refs) = (&self.samples, &self.refs);
        if refs.by_energy.is_empty() {
            return Ok(None);
        }
        let missing: Vec<String> = samples
            .by_energy
            .keys()
            .filter(|k| !refs.by_energy.contains_key(k))
            .map(|k| format!("{}", *k as f64 / 100.0))
            .collect();
        if !missing.is_empty() {
            return Err(Error::data(format!("no reference image at {} eV", missing.join(", "))).at(dir));
        }
        let (_, r) = refs.mean_stack(shape)?;
        // Keep only references at sample energies (same order).
        let idx: Vec<usize> = refs
            .by_energy
            .keys()
            .enumerate()
            .filter(|(_, k)| samples.by_energy.contains_key(k))
            .map(|(i, _)| i)
            .collect();
        Ok(Some(DynArray::F32(r.select(Axis(0), &idx).into_dyn())))
    }

    /// The dark frames as one stack, when there are any.
    fn darks(&self, shape: (usize, usize)) -> Option<DynArray> {
        if self.darks.is_empty() {
            return None;
        }
        let mut d = Array3::<f32>::zeros((self.darks.len(), shape.0, shape.1));
        for (i, x) in self.darks.iter().enumerate() {
            d.index_axis_mut(Axis(0), i).assign(x);
        }
        Some(DynArray::F32(d.into_dyn()))
    }
}

/// Reads the files of one series (loaded by `load`) into an energy stack: mean sample and
/// reference frames per energy, darks, the energy sources and the pixel size.
fn read_series(
    dir: &Path,
    files: &[PathBuf],
    energies: Option<&[f64]>,
    load: impl Fn(&Path) -> Result<Loaded>,
) -> Result<EnergyStack> {
    if files.is_empty() {
        return Err(Error::data("folder holds no image files").at(dir));
    }
    let mut series = Series::new();
    for p in files {
        series.add(dir, p, energies, &load)?;
    }
    let shape = series.shape.expect("at least one file");
    if series.samples.by_energy.is_empty() {
        return Err(Error::data("folder holds only reference/dark images").at(dir));
    }
    if let Some(list) = energies
        && list.len() != series.sample_index
        && series.sources.contains_key("energy list")
    {
        return Err(Error::shape(format!(
            "energy list has {} values for {} sample images",
            list.len(),
            series.sample_index
        ))
        .at(dir));
    }
    let (es, data) = series.samples.mean_stack(shape)?;
    let flats = series.flats(dir, shape)?;
    let dark = series.darks(shape);
    let mut meta = Metadata::new();
    meta.insert("layout".into(), "file per energy".into());
    meta.insert("energy_source".into(), series.sources.keys().cloned().collect::<Vec<_>>().join(", ").into());
    meta.insert("files".into(), files.len().into());
    let st = EnergyStack {
        data: DynArray::F32(ArrayD::from(data.into_dyn())),
        flats,
        darks: dark,
        energies_ev: es,
        pixel_um: series.pixel,
        meta,
    };
    st.validate().map_err(|e| e.at(dir))?;
    Ok(st)
}
