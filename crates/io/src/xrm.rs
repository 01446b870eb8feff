//! Xradia/Zeiss `.xrm` (single image) and `.txrm` (series) files: OLE
//! compound documents holding little-endian streams such as
//! `ImageInfo/ImageWidth` (i32), `ImageInfo/Energy` (f32 per image, eV),
//! `ImageInfo/Angles` (f32 per image, degrees), `ImageInfo/PixelSize` (f32,
//! µm), `ImageData<k>/Image<i>` (pixels, 100 images per `ImageData` storage)
//! and `ReferenceData/Image` (a reference applied or to apply).
//!
//! Beamlines differ: SSRL 6-2c leaves `ImageInfo/Energy` at 0 and writes the
//! energy in the file name; APS 32-ID and NSLS-II fill it in. The reader
//! takes the header value, then an `Energy` motor, then the file name, and
//! records which it used.

use crate::names::energy_from_name;
use chemomech_core::types::Metadata;
use chemomech_core::{DType, DynArray, Error, Result};
use ndarray::Array3;
use std::io::Read;
use std::path::Path;

type Ole = cfb::CompoundFile<std::fs::File>;

/// What an Xradia file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct XrmFile {
    /// Images `(n, height, width)`, `None` when only the header was read.
    pub images: Option<DynArray>,
    /// The reference image `(1, height, width)`, when the file carries one.
    pub reference: Option<DynArray>,
    /// Number of images read (those actually present in the file).
    pub n_images: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Element type of the pixels.
    pub dtype: DType,
    /// Photon energy per image in eV (empty when unknown).
    pub energies_ev: Vec<f64>,
    /// Where the energies came from: `header`, `motor`, `file name` or `unknown`.
    pub energy_source: &'static str,
    /// Rotation angle per image in degrees.
    pub angles_deg: Vec<f64>,
    /// Pixel size in µm.
    pub pixel_um: Option<f64>,
    /// Exposure per image in seconds.
    pub exposure_s: Vec<f64>,
    /// Further header fields (binning, magnification, dates, motors, ...) and warnings.
    pub meta: Metadata,
}

/// Reads an Xradia file; `with_images = false` reads the header only.
pub fn read_xrm(path: &Path, with_images: bool) -> Result<XrmFile> {
    read_inner(path, with_images).map_err(|e| e.at(path))
}

fn read_inner(path: &Path, with_images: bool) -> Result<XrmFile> {
    check_whole_sectors(path)?;
    let mut ole = cfb::open(path).map_err(|e| Error::data(format!("not a readable OLE/Xradia file ({e})")))?;
    let (width, height) = image_size(&mut ole)?;
    let mut meta = Metadata::new();
    let n = image_count(&mut ole, &mut meta)?;
    let dtype = pixel_type(&mut ole, width, height)?;
    let frame_bytes = width * height * dtype.size();
    let (energies, source) = image_energies(&mut ole, path, n)?;
    let angles = header_f64s(&mut ole, "ImageInfo/Angles", n)?;
    let pixel_um = read_f32s(&mut ole, "ImageInfo/PixelSize")?
        .first()
        .map(|&v| f32_to_f64(v))
        .filter(|v| *v > 0.0 && v.is_finite());
    let mut exposure = header_f64s(&mut ole, "ImageInfo/ExpTimes", n)?;
    if exposure.is_empty() {
        exposure = header_f64s(&mut ole, "ImageInfo/ExpTime", n)?;
    }
    header_metadata(&mut ole, &mut meta, n)?;
    let images = if with_images {
        let mut buf = vec![0u8; frame_bytes * n];
        for i in 1..=n {
            let chunk = &mut buf[(i - 1) * frame_bytes..i * frame_bytes];
            let mut s =
                ole.open_stream(image_stream(i)).map_err(|e| Error::data(format!("{}: {e}", image_stream(i))))?;
            s.read_exact(chunk).map_err(|e| Error::data(format!("{}: {e} (truncated?)", image_stream(i))))?;
        }
        Some(decode(&buf, dtype, &[n, height, width])?)
    } else {
        None
    };
    let reference = read_reference(&mut ole, (width, height), with_images, &mut meta)?;
    Ok(XrmFile {
        images,
        reference,
        n_images: n,
        width,
        height,
        dtype,
        energies_ev: energies,
        energy_source: source,
        angles_deg: angles,
        pixel_um,
        exposure_s: exposure,
        meta,
    })
}

/// Image width and height from the header, rejecting implausible sizes.
fn image_size(ole: &mut Ole) -> Result<(usize, usize)> {
    let width = read_i32(ole, "ImageInfo/ImageWidth")?.ok_or_else(|| Error::data("missing ImageInfo/ImageWidth"))?;
    let height = read_i32(ole, "ImageInfo/ImageHeight")?.ok_or_else(|| Error::data("missing ImageInfo/ImageHeight"))?;
    if width <= 0 || height <= 0 || width > 1 << 16 || height > 1 << 16 {
        return Err(Error::data(format!("implausible image size {width}x{height}")));
    }
    Ok((width as usize, height as usize))
}

/// Number of images: those the header announces that are present (an
/// aborted scan may hold fewer, noted as a warning in `meta`).
fn image_count(ole: &mut Ole, meta: &mut Metadata) -> Result<usize> {
    let n = match read_i32(ole, "ImageInfo/NoOfImages")? {
        Some(v) if v > 0 => v as usize,
        _ => 1,
    };
    let present = (1..=n).take_while(|&i| ole.is_stream(image_stream(i))).count();
    if present == 0 {
        return Err(Error::data("no image streams (ImageData1/Image1 missing)"));
    }
    if present < n {
        meta.insert("warning".into(), format!("header announces {n} images, file holds {present}").into());
        return Ok(present);
    }
    Ok(n)
}

/// The pixel type from the header, else from the first image stream's
/// length; that stream must hold a whole frame.
fn pixel_type(ole: &mut Ole, width: usize, height: usize) -> Result<DType> {
    let first_len =
        ole.entry(image_stream(1)).map_err(|e| Error::data(format!("ImageData1/Image1: {e}")))?.len() as usize;
    let dtype = match read_i32(ole, "ImageInfo/DataType")? {
        Some(5) => DType::U16,
        Some(10) => DType::F32,
        Some(3) => DType::U8,
        _ => match first_len / (width * height) {
            1 => DType::U8,
            2 => DType::U16,
            4 => DType::F32,
            _ => {
                return Err(Error::data(format!(
                    "cannot tell the pixel type: image stream of {first_len} bytes for {width}x{height}"
                )));
            }
        },
    };
    let frame_bytes = width * height * dtype.size();
    if first_len < frame_bytes {
        return Err(Error::data(format!(
            "image stream holds {first_len} bytes, expected {frame_bytes} for {width}x{height} {dtype} (truncated?)"
        )));
    }
    Ok(dtype)
}

/// The first `n` values of an f32 header stream, as f64.
fn header_f64s(ole: &mut Ole, key: &str, n: usize) -> Result<Vec<f64>> {
    Ok(read_f32s(ole, key)?.iter().take(n).map(|&v| f32_to_f64(v)).collect())
}

/// Energy per image and where it came from: the header, else an `Energy`
/// motor, else the file name (`unknown` and empty when none has it).
fn image_energies(ole: &mut Ole, path: &Path, n: usize) -> Result<(Vec<f64>, &'static str)> {
    let mut energies = header_f64s(ole, "ImageInfo/Energy", n)?;
    let mut source = "header";
    if energies.iter().all(|&e| e <= 0.0) || energies.is_empty() {
        energies.clear();
        if let Some(e) = motor_position(ole, "energy")? {
            energies = vec![e; n];
            source = "motor";
        } else if let Some(e) = path.file_name().and_then(|s| energy_from_name(&s.to_string_lossy())) {
            energies = vec![e; n];
            source = "file name";
        } else {
            source = "unknown";
        }
    } else if energies.len() == 1 && n > 1 {
        energies = vec![energies[0]; n];
    }
    Ok((energies, source))
}

/// Further header fields into `meta`: binning, magnifications, distances,
/// dates, camera, objective, file version and motors.
fn header_metadata(ole: &mut Ole, meta: &mut Metadata, n: usize) -> Result<()> {
    for (key, name) in [
        ("ImageInfo/HorizontalBin", "binning_horizontal"),
        ("ImageInfo/VerticalalBin", "binning_vertical"),
        ("ImageInfo/CameraNumberOfFramesPerImage", "frames_per_image"),
    ] {
        if let Some(v) = read_i32(ole, key)? {
            meta.insert(name.into(), v.into());
        }
    }
    for (key, name) in [
        ("ImageInfo/OpticalMagnification", "optical_magnification"),
        ("ImageInfo/XrayMagnification", "xray_magnification"),
        ("ImageInfo/StoRADistance", "source_to_rotation_axis"),
        ("ImageInfo/DtoRADistance", "detector_to_rotation_axis"),
    ] {
        if let Some(v) = read_f32s(ole, key)?.first() {
            meta.insert(name.into(), f32_to_f64(*v).into());
        }
    }
    for (key, name) in
        [("ImageInfo/Date", "dates"), ("ImageInfo/CameraName", "camera"), ("ImageInfo/ObjectiveName", "objective")]
    {
        if let Some(s) = read_strings(ole, key, if name == "dates" { n } else { 1 })? {
            if name == "dates" {
                meta.insert(name.into(), s.into());
            } else if let Some(first) = s.into_iter().next() {
                meta.insert(name.into(), first.into());
            }
        }
    }
    if let Some(v) = read_f32s(ole, "Version")?.first() {
        meta.insert("xradia_version".into(), f32_to_f64(*v).into());
    }
    if let Some(m) = motors(ole)? {
        meta.insert("motors".into(), m);
    }
    Ok(())
}

/// The reference image `(1, height, width)` when the file carries one and
/// images are read; with the header only, notes `has_reference` in `meta`.
fn read_reference(
    ole: &mut Ole,
    (width, height): (usize, usize),
    with_images: bool,
    meta: &mut Metadata,
) -> Result<Option<DynArray>> {
    if !ole.is_stream("ReferenceData/Image") {
        return Ok(None);
    }
    let len = ole.entry("ReferenceData/Image").map_err(|e| Error::data(e.to_string()))?.len() as usize;
    let rdt = match read_i32(ole, "ReferenceData/DataType")? {
        Some(5) => DType::U16,
        Some(10) => DType::F32,
        _ if len == width * height * 4 => DType::F32,
        _ => DType::U16,
    };
    if len < width * height * rdt.size() {
        return Err(Error::data(format!(
            "ReferenceData/Image holds {len} bytes, expected {}",
            width * height * rdt.size()
        )));
    }
    if with_images {
        let mut b = vec![0u8; width * height * rdt.size()];
        let mut s = ole.open_stream("ReferenceData/Image").map_err(|e| Error::data(e.to_string()))?;
        s.read_exact(&mut b).map_err(|e| Error::data(format!("ReferenceData/Image: {e}")))?;
        Ok(Some(decode(&b, rdt, &[1, height, width])?))
    } else {
        meta.insert("has_reference".into(), true.into());
        Ok(None)
    }
}

/// An f32 header value as f64 without binary noise (0.0312, not 0.031199999).
fn f32_to_f64(v: f32) -> f64 {
    chemomech_core::units::round_sig(v as f64, 7)
}

/// A compound file is a whole number of sectors; a shorter one was cut off
/// (the cfb crate would silently zero-fill the missing bytes).
fn check_whole_sectors(path: &Path) -> Result<()> {
    let mut f = std::fs::File::open(path).map_err(Error::io)?;
    let len = f.metadata().map_err(Error::io)?.len();
    let mut hdr = [0u8; 32];
    f.read_exact(&mut hdr).map_err(|_| Error::data("truncated OLE header"))?;
    let shift = u16::from_le_bytes([hdr[30], hdr[31]]);
    if !(7..=16).contains(&shift) {
        return Err(Error::data(format!("corrupt OLE header (sector shift {shift})")));
    }
    let sector = 1u64 << shift;
    if len % sector != 0 {
        return Err(Error::data(format!("truncated: {len} bytes is not a whole number of {sector}-byte sectors")));
    }
    Ok(())
}

fn image_stream(i: usize) -> String {
    format!("ImageData{}/Image{}", (i - 1) / 100 + 1, i)
}

fn decode(buf: &[u8], dtype: DType, shape: &[usize]) -> Result<DynArray> {
    crate::raw::decode_raw(buf, dtype, false, shape)
}

fn read_stream(ole: &mut Ole, name: &str) -> Result<Option<Vec<u8>>> {
    if !ole.is_stream(name) {
        return Ok(None);
    }
    let mut s = ole.open_stream(name).map_err(|e| Error::data(format!("{name}: {e}")))?;
    let mut v = Vec::new();
    s.read_to_end(&mut v).map_err(|e| Error::data(format!("{name}: {e} (truncated?)")))?;
    Ok(Some(v))
}

fn read_i32(ole: &mut Ole, name: &str) -> Result<Option<i32>> {
    Ok(read_stream(ole, name)?.filter(|b| b.len() >= 4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
}

fn read_f32s(ole: &mut Ole, name: &str) -> Result<Vec<f32>> {
    Ok(read_stream(ole, name)?
        .map(|b| b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        .unwrap_or_default())
}

/// Fixed-width, NUL-padded strings: `count` records sharing the stream.
fn read_strings(ole: &mut Ole, name: &str, count: usize) -> Result<Option<Vec<String>>> {
    let Some(b) = read_stream(ole, name)? else { return Ok(None) };
    if b.is_empty() || count == 0 {
        return Ok(None);
    }
    let w = (b.len() / count).max(1);
    Ok(Some(
        b.chunks(w)
            .take(count)
            .map(|c| {
                let end = c.iter().position(|&x| x == 0).unwrap_or(c.len());
                decode_text(&c[..end])
            })
            .collect(),
    ))
}

/// Text of a fixed-width header field: UTF-8 when it is valid UTF-8, else
/// Windows Latin-1 (Xradia writes µ as the single byte 0xB5).
fn decode_text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.trim().to_string(),
        Err(_) => b.iter().map(|&c| c as char).collect::<String>().trim().to_string(),
    }
}

/// Motor names (25-byte records), units (15-byte records) and positions (f32).
fn motor_table(ole: &mut Ole) -> Result<Option<Vec<(String, String, f64)>>> {
    let (Some(names), Some(pos)) =
        (read_stream(ole, "PositionInfo/AxisNames")?, read_stream(ole, "PositionInfo/MotorPositions")?)
    else {
        return Ok(None);
    };
    let units = read_stream(ole, "PositionInfo/AxisUnits")?.unwrap_or_default();
    let npos = pos.len() / 4;
    if npos == 0 || names.len() < npos {
        return Ok(None);
    }
    let nw = names.len() / npos;
    let uw = if units.is_empty() { 0 } else { units.len() / npos };
    let field = |b: &[u8], i: usize, w: usize| -> String {
        if w == 0 || b.len() < (i + 1) * w {
            return String::new();
        }
        let c = &b[i * w..(i + 1) * w];
        let end = c.iter().position(|&x| x == 0).unwrap_or(c.len());
        decode_text(&c[..end])
    };
    Ok(Some(
        (0..npos)
            .map(|i| {
                let v = f32_to_f64(f32::from_le_bytes([pos[4 * i], pos[4 * i + 1], pos[4 * i + 2], pos[4 * i + 3]]));
                (field(&names, i, nw), field(&units, i, uw), v)
            })
            .collect(),
    ))
}

fn motors(ole: &mut Ole) -> Result<Option<serde_json::Value>> {
    Ok(motor_table(ole)?.map(|t| {
        let mut m = serde_json::Map::new();
        for (name, unit, v) in t.into_iter().filter(|(n, _, _)| !n.is_empty()) {
            m.insert(name, serde_json::json!({"value": v, "unit": unit}));
        }
        serde_json::Value::Object(m)
    }))
}

fn motor_position(ole: &mut Ole, name: &str) -> Result<Option<f64>> {
    Ok(motor_table(ole)?.and_then(|t| {
        t.into_iter()
            .find(|(n, _, v)| n.eq_ignore_ascii_case(name) && *v > 0.0)
            .map(|(_, u, v)| if u.eq_ignore_ascii_case("kev") { v * 1e3 } else { v })
    }))
}

impl XrmFile {
    /// The images as `f32` `(n, height, width)`; errors when read header-only.
    pub fn images_f32(&self) -> Result<Array3<f32>> {
        let a = self.images.as_ref().ok_or_else(|| Error::param("images were not read"))?;
        Ok(a.to_f32().into_dimensionality()?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_text_is_utf8_or_latin1() {
        assert_eq!(super::decode_text(b"\xb5m "), "µm");
        assert_eq!(super::decode_text("µm".as_bytes()), "µm");
        assert_eq!(super::decode_text(b"deg"), "deg");
    }
}
