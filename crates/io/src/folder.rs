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

fn read_series(
    dir: &Path,
    files: &[PathBuf],
    energies: Option<&[f64]>,
    load: impl Fn(&Path) -> Result<Loaded>,
) -> Result<EnergyStack> {
    if files.is_empty() {
        return Err(Error::data("folder holds no image files").at(dir));
    }
    let mut samples = Frames::new();
    let mut refs = Frames::new();
    let mut darks: Vec<ndarray::Array2<f32>> = Vec::new();
    let mut shape = None;
    let mut pixel = None;
    let mut sample_index = 0usize;
    let mut sources = BTreeMap::new();
    for p in files {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let role = role_of(&name);
        let (img, header_e, px) = load(p)?;
        let sh = img.dim();
        match shape {
            None => shape = Some(sh),
            Some(s) if s != sh => {
                return Err(
                    Error::shape(format!("image is {}x{}, earlier images are {}x{}", sh.0, sh.1, s.0, s.1)).at(p)
                );
            }
            _ => {}
        }
        if pixel.is_none() {
            pixel = px;
        }
        if role == Role::Dark {
            darks.push(img);
            continue;
        }
        let e = match (header_e.filter(|e| *e > 0.0), energy_from_name(&name), energies, role) {
            (Some(e), _, _, _) => {
                sources.insert("header", true);
                e
            }
            (None, Some(e), _, _) => {
                sources.insert("file name", true);
                e
            }
            (None, None, Some(list), Role::Sample) => {
                let e = *list.get(sample_index).ok_or_else(|| {
                    Error::shape(format!("energy list has {} values, there are more sample images", list.len())).at(dir)
                })?;
                sources.insert("energy list", true);
                e
            }
            _ => return Err(Error::data("no energy in the header or the file name (give an energy list)").at(p)),
        };
        match role {
            Role::Sample => {
                samples.by_energy.entry(key(e)).or_default().push(img);
                sample_index += 1;
            }
            _ => refs.by_energy.entry(key(e)).or_default().push(img),
        }
    }
    let shape = shape.expect("at least one file");
    if samples.by_energy.is_empty() {
        return Err(Error::data("folder holds only reference/dark images").at(dir));
    }
    if let Some(list) = energies
        && list.len() != sample_index
        && sources.contains_key("energy list")
    {
        return Err(
            Error::shape(format!("energy list has {} values for {} sample images", list.len(), sample_index)).at(dir)
        );
    }
    let (es, data) = samples.mean_stack(shape)?;
    let flats = if refs.by_energy.is_empty() {
        None
    } else {
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
        Some(DynArray::F32(r.select(Axis(0), &idx).into_dyn()))
    };
    let dark = if darks.is_empty() {
        None
    } else {
        let mut d = Array3::<f32>::zeros((darks.len(), shape.0, shape.1));
        for (i, x) in darks.iter().enumerate() {
            d.index_axis_mut(Axis(0), i).assign(x);
        }
        Some(DynArray::F32(d.into_dyn()))
    };
    let mut meta = Metadata::new();
    meta.insert("layout".into(), "file per energy".into());
    meta.insert("energy_source".into(), sources.keys().cloned().collect::<Vec<_>>().join(", ").into());
    meta.insert("files".into(), files.len().into());
    let st = EnergyStack {
        data: DynArray::F32(ArrayD::from(data.into_dyn())),
        flats,
        darks: dark,
        energies_ev: es,
        pixel_um: pixel,
        meta,
    };
    st.validate().map_err(|e| e.at(dir))?;
    Ok(st)
}
