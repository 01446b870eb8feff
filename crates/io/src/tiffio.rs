//! Multi-page TIFF and BigTIFF: each page one 2-D image, pages stacked along
//! the first axis. Written ImageJ-style (hyperstack description with
//! `spacing=` and `unit=micron`, X/YResolution in pixels per µm) so Fiji
//! shows the voxel size, with chemomech's provenance as one extra
//! `chemomech=` line of JSON; tifffile and napari read them as plain stacks.

use chemomech_core::{DType, DynArray, Error, Provenance, Raster, Result};
use ndarray::{ArrayD, Axis, IxDyn};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::Path;
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::encoder::{Compression, Rational, TiffEncoder, TiffKind, colortype, compression::DeflateLevel};
use tiff::tags::{ResolutionUnit, Tag};

/// Largest page the reader will decode (guards against corrupt headers).
const MAX_PAGE_BYTES: usize = 4 << 30;

/// Compression of written TIFFs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TiffCompression {
    /// Uncompressed: fastest, and what every reader supports.
    #[default]
    None,
    /// Deflate (zlib), lossless.
    Deflate,
}

/// How to write a TIFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TiffOptions {
    /// Compression of the pixel data.
    pub compression: TiffCompression,
    /// Force BigTIFF on or off; `None` chooses BigTIFF above 3.9 GB.
    pub bigtiff: Option<bool>,
}

/// What a TIFF header says, without reading the pixels.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TiffInfo {
    /// Number of pages.
    pub pages: usize,
    /// Page height in pixels.
    pub height: usize,
    /// Page width in pixels.
    pub width: usize,
    /// Element type of the pixels.
    pub dtype: DType,
    /// True for BigTIFF.
    pub bigtiff: bool,
    /// The ImageDescription tag, when present.
    pub description: Option<String>,
    /// Spacing per axis (pages, rows, columns) in µm, when stated.
    pub spacing_um: Option<Vec<f64>>,
    /// True when the description is an ImageJ one.
    pub imagej: bool,
}

fn open_decoder(path: &Path) -> Result<Decoder<BufReader<std::fs::File>>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(e).at(path))?;
    let mut limits = Limits::default();
    limits.decoding_buffer_size = MAX_PAGE_BYTES;
    limits.intermediate_buffer_size = MAX_PAGE_BYTES;
    limits.ifd_value_size = 64 << 20;
    Decoder::new(BufReader::new(f)).map(|d| d.with_limits(limits)).map_err(|e| tiff_err(e).at(path))
}

fn tiff_err(e: tiff::TiffError) -> Error {
    Error::data(format!("TIFF: {e}"))
}

fn page_dtype(d: &mut Decoder<BufReader<std::fs::File>>) -> Result<DType> {
    use tiff::ColorType as C;
    let ct = d.colortype().map_err(tiff_err)?;
    let fmt = d
        .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
        .map_err(tiff_err)?
        .and_then(|v| v.first().copied())
        .unwrap_or(1);
    Ok(match (ct, fmt) {
        (C::Gray(8), 1) => DType::U8,
        (C::Gray(16), 1) => DType::U16,
        (C::Gray(16), 2) => DType::I16,
        (C::Gray(32), 1) => DType::U32,
        (C::Gray(32), 2) => DType::I32,
        (C::Gray(32), 3) => DType::F32,
        (C::Gray(64), 1) => DType::U64,
        (C::Gray(64), 2) => DType::I64,
        (C::Gray(64), 3) => DType::F64,
        (other, f) => {
            return Err(Error::data(format!(
                "unsupported TIFF pixel layout {other:?} (sample format {f}); chemomech reads single-channel images"
            )));
        }
    })
}

/// Reads the header of a TIFF (page count, size, type, spacing).
pub fn tiff_info(path: &Path) -> Result<TiffInfo> {
    let mut d = open_decoder(path)?;
    let (w, h) = d.dimensions().map_err(|e| tiff_err(e).at(path))?;
    let dtype = page_dtype(&mut d).map_err(|e| e.at(path))?;
    let description = d.get_tag_ascii_string(Tag::ImageDescription).ok();
    let xres = resolution(&mut d, Tag::XResolution);
    let yres = resolution(&mut d, Tag::YResolution);
    let mut pages = 1;
    while d.more_images() {
        d.next_image().map_err(|e| tiff_err(e).at(path))?;
        pages += 1;
    }
    let bigtiff = {
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(e).at(path))?;
        let mut m = [0u8; 4];
        f.read_exact(&mut m).map_err(|e| Error::io(e).at(path))?;
        m[2] == 43 || m[3] == 43
    };
    let ij = description.as_deref().and_then(parse_imagej);
    let imagej = ij.is_some();
    let mut spacing_um = None;
    if let Some(j) = description
        .as_deref()
        .filter(|d| d.trim_start().starts_with('{'))
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        && let Some(v) = j["spacing_um"].as_array()
    {
        let v: Vec<f64> = v.iter().filter_map(|x| x.as_f64()).collect();
        spacing_um = Some(if v.len() == 2 { vec![v[0], v[0], v[1]] } else { v });
    }
    if let Some(ij) = &ij {
        let unit = ij.unit.as_deref().unwrap_or("pixel");
        if let Ok(f) = chemomech_core::units::um_per(unit) {
            let x = xres.map(|r| f / r);
            let y = yres.map(|r| f / r).or(x);
            let z = ij.spacing.map(|s| s * f);
            if let (Some(x), Some(y)) = (x, y) {
                spacing_um = Some(vec![z.unwrap_or(x), y, x]);
            }
        }
        // ImageJ stores stacks over 4 GB as one IFD followed by contiguous pages.
        if let Some(n) = ij.images
            && n > pages
            && pages == 1
        {
            pages = n;
        }
    }
    Ok(TiffInfo { pages, height: h as usize, width: w as usize, dtype, bigtiff, description, spacing_um, imagej })
}

fn resolution(d: &mut Decoder<BufReader<std::fs::File>>, tag: Tag) -> Option<f64> {
    match d.find_tag(tag).ok()?? {
        tiff::decoder::ifd::Value::Rational(n, den) if n > 0 && den > 0 => Some(n as f64 / den as f64),
        _ => None,
    }
}

struct ImageJ {
    images: Option<usize>,
    spacing: Option<f64>,
    unit: Option<String>,
}

fn parse_imagej(desc: &str) -> Option<ImageJ> {
    if !desc.starts_with("ImageJ=") {
        return None;
    }
    let mut ij = ImageJ { images: None, spacing: None, unit: None };
    for line in desc.lines() {
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "images" => ij.images = v.trim().parse().ok(),
                "spacing" => ij.spacing = v.trim().parse().ok(),
                "unit" => ij.unit = Some(v.trim().replace("\\u00B5", "µ")),
                _ => {}
            }
        }
    }
    Some(ij)
}

/// Reads all pages of a TIFF into a raster `(pages, rows, columns)`, or
/// `(rows, columns)` for a single page.
pub fn read_tiff(path: &Path) -> Result<Raster> {
    let info = tiff_info(path)?;
    let mut d = open_decoder(path)?;
    let (h, w) = (info.height, info.width);
    let page_len = h * w;
    if page_len.checked_mul(info.pages).and_then(|n| n.checked_mul(info.dtype.size())).is_none() {
        return Err(Error::data("TIFF dimensions overflow").at(path));
    }
    let contiguous_imagej = info.imagej && info.pages > 1 && !d.more_images();
    let data = if contiguous_imagej {
        read_imagej_contiguous(path, &mut d, &info)?
    } else {
        let mut pages: Vec<DecodingResult> = Vec::with_capacity(info.pages);
        for k in 0..info.pages {
            if k > 0 {
                d.next_image().map_err(|e| tiff_err(e).at(path))?;
            }
            let (pw, ph) = d.dimensions().map_err(|e| tiff_err(e).at(path))?;
            if (ph as usize, pw as usize) != (h, w) {
                return Err(Error::data(format!(
                    "page {k} is {pw}x{ph}, page 0 is {w}x{h}; pages must share one size"
                ))
                .at(path));
            }
            let img = d.read_image().map_err(|e| tiff_err(e).context(format!("page {k}")).at(path))?;
            pages.push(img);
        }
        concat_pages(pages, info.dtype, page_len).map_err(|e| e.at(path))?
    };
    let shape: Vec<usize> = if info.pages == 1 { vec![h, w] } else { vec![info.pages, h, w] };
    let data = data.into_shape(&shape).map_err(|e| e.at(path))?;
    let mut meta = chemomech_core::Metadata::new();
    meta.insert("format".into(), "TIFF".into());
    if let Some(desc) = &info.description {
        if let Some(p) = desc.lines().find_map(|l| l.strip_prefix("chemomech=")) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(p) {
                meta.insert("provenance".into(), v);
            }
        } else if let Ok(j) = serde_json::from_str::<serde_json::Value>(desc)
            && let Some(p) = j.get("chemomech")
        {
            meta.insert("provenance".into(), p.clone());
        }
    }
    let spacing_um = info.spacing_um.map(|s| if info.pages == 1 { s[1..].to_vec() } else { s });
    Ok(Raster { data, spacing_um, meta })
}

fn concat_pages(pages: Vec<DecodingResult>, dtype: DType, page_len: usize) -> Result<DynArray> {
    macro_rules! cat {
        ($var:ident, $dv:ident) => {{
            let mut out = Vec::with_capacity(page_len * pages.len());
            for p in pages {
                match p {
                    DecodingResult::$var(v) if v.len() == page_len => out.extend_from_slice(&v),
                    _ => return Err(Error::data("pages differ in pixel type or size")),
                }
            }
            DynArray::$dv(ArrayD::from_shape_vec(IxDyn(&[out.len()]), out)?)
        }};
    }
    Ok(match dtype {
        DType::U8 => cat!(U8, U8),
        DType::U16 => cat!(U16, U16),
        DType::I16 => cat!(I16, I16),
        DType::U32 => cat!(U32, U32),
        DType::I32 => cat!(I32, I32),
        DType::U64 => cat!(U64, U64),
        DType::I64 => cat!(I64, I64),
        DType::F32 => cat!(F32, F32),
        DType::F64 => cat!(F64, F64),
    })
}

/// ImageJ's large-stack layout: one IFD, then every page's pixels back to back.
fn read_imagej_contiguous(path: &Path, d: &mut Decoder<BufReader<std::fs::File>>, info: &TiffInfo) -> Result<DynArray> {
    let comp = d.find_tag_unsigned::<u16>(Tag::Compression).map_err(|e| tiff_err(e).at(path))?.unwrap_or(1);
    if comp != 1 {
        return Err(Error::data("ImageJ contiguous stack must be uncompressed").at(path));
    }
    let offset = d
        .find_tag_unsigned_vec::<u64>(Tag::StripOffsets)
        .map_err(|e| tiff_err(e).at(path))?
        .and_then(|v| v.first().copied())
        .ok_or_else(|| Error::data("no StripOffsets").at(path))?;
    let big_endian = matches!(d.byte_order(), tiff::tags::ByteOrder::BigEndian);
    let nbytes = info.pages * info.height * info.width * info.dtype.size();
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(e).at(path))?;
    let flen = f.metadata().map_err(|e| Error::io(e).at(path))?.len();
    if offset + nbytes as u64 > flen {
        return Err(Error::data(format!(
            "ImageJ stack of {} images needs {} bytes after offset {offset}, file has {flen} (truncated?)",
            info.pages, nbytes
        ))
        .at(path));
    }
    f.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(e).at(path))?;
    let mut buf = vec![0u8; nbytes];
    f.read_exact(&mut buf).map_err(|e| Error::io(e).at(path))?;
    crate::raw::decode_raw(&buf, info.dtype, big_endian, &[buf.len() / info.dtype.size()])
}

/// Writes a 2-D or 3-D array as a (multi-page) TIFF, atomically.
/// `spacing_um` is (z, y, x) or (y, x). BigTIFF is used when the data
/// exceed 3.9 GB.
pub fn write_tiff(
    path: &Path,
    data: &DynArray,
    spacing_um: Option<&[f64]>,
    prov: Option<&Provenance>,
    opts: TiffOptions,
) -> Result<()> {
    let shape = data.shape().to_vec();
    let (n, h, w) = match shape.len() {
        2 => (1, shape[0], shape[1]),
        3 => (shape[0], shape[1], shape[2]),
        k => return Err(Error::shape(format!("TIFF holds 2-D or 3-D arrays, got {k}-D")).at(path)),
    };
    if n == 0 || h == 0 || w == 0 || h > u32::MAX as usize || w > u32::MAX as usize {
        return Err(Error::shape(format!("cannot write an array of shape {shape:?} as TIFF")).at(path));
    }
    let desc = imagej_description(data, n, spacing_um, prov);
    let xy = spacing_um.map(|s| (s[s.len() - 1], s[s.len() - 2]));
    if opts.compression == TiffCompression::None && opts.bigtiff != Some(true) {
        // The ImageJ layout (contiguous pages), as Fiji and tifffile expect.
        let mut w = crate::imagej::ImageJWriter::create(path, n, h, w, data.dtype(), &desc, xy)?;
        chemomech_core::dyn_dispatch!(data, a => {
            let std = a.as_standard_layout();
            w.write_pages(&crate::imagej::le_bytes(std.as_slice().expect("standard layout")))?;
        });
        return w.finish();
    }
    // Compressed or BigTIFF: page-interleaved, so no ImageJ stack claim;
    // tifffile's "shaped" JSON description carries shape, spacing and provenance.
    let mut j = serde_json::json!({"shape": shape});
    if let Some(spacing_um) = spacing_um {
        j["spacing_um"] = serde_json::json!(spacing_um);
    }
    if let Some(p) = prov {
        j["chemomech"] = p.to_json();
    }
    let desc = j.to_string();
    let big = opts.bigtiff.unwrap_or(data.nbytes() as u64 + 64 * n as u64 > 3_900_000_000);
    crate::atomic::write_via_temp(path, |tmp| {
        let f = std::fs::File::create(tmp).map_err(|e| Error::io(e).at(tmp))?;
        let w_ = BufWriter::with_capacity(1 << 22, f);
        let comp = match opts.compression {
            TiffCompression::None => Compression::Uncompressed,
            TiffCompression::Deflate => Compression::Deflate(DeflateLevel::Fast),
        };
        if big {
            let enc = TiffEncoder::new_big(w_).map_err(tiff_err)?.with_compression(comp);
            write_pages(enc, data, n, h, w, &desc, xy)
        } else {
            let enc = TiffEncoder::new(w_).map_err(tiff_err)?.with_compression(comp);
            write_pages(enc, data, n, h, w, &desc, xy)
        }
    })
}

fn imagej_description(data: &DynArray, n: usize, spacing_um: Option<&[f64]>, prov: Option<&Provenance>) -> String {
    let mut s = String::from("ImageJ=1.11a\n");
    s.push_str(&format!("images={n}\n"));
    if n > 1 {
        s.push_str(&format!("slices={n}\n"));
    }
    if let Some(spacing_um) = spacing_um {
        s.push_str("unit=micron\n");
        if spacing_um.len() == 3 {
            s.push_str(&format!("spacing={}\n", spacing_um[0]));
        }
    }
    s.push_str("loop=false\n");
    if let Some((lo, hi)) = data.min_max() {
        s.push_str(&format!("min={lo}\nmax={hi}\n"));
    }
    if let Some(p) = prov {
        s.push_str(&format!("chemomech={}\n", p.to_json_string()));
    }
    s
}

fn write_pages<W: std::io::Write + Seek, K: TiffKind>(
    mut enc: TiffEncoder<W, K>,
    data: &DynArray,
    n: usize,
    h: usize,
    w: usize,
    desc: &str,
    xy_um: Option<(f64, f64)>,
) -> Result<()> {
    macro_rules! pages {
        ($a:expr, $ct:ty) => {{
            let a = $a.view().into_shape_with_order((n, h, w)).map_err(|e| Error::shape(e.to_string()))?;
            for k in 0..n {
                let page = a.index_axis(Axis(0), k);
                let page = page.as_standard_layout();
                let slice = page.as_slice().expect("standard layout");
                let mut img = enc.new_image::<$ct>(w as u32, h as u32).map_err(tiff_err)?;
                if k == 0 {
                    img.encoder().write_tag(Tag::ImageDescription, desc).map_err(tiff_err)?;
                }
                if let Some((x, y)) = xy_um {
                    img.resolution_unit(ResolutionUnit::None);
                    img.x_resolution(per_um(x));
                    img.y_resolution(per_um(y));
                }
                img.encoder().write_tag(Tag::Software, "chemomech").map_err(tiff_err)?;
                img.write_data(slice).map_err(tiff_err)?;
            }
        }};
    }
    match data {
        DynArray::U8(a) => pages!(a, colortype::Gray8),
        DynArray::U16(a) => pages!(a, colortype::Gray16),
        DynArray::I16(a) => pages!(a, colortype::GrayI16),
        DynArray::U32(a) => pages!(a, colortype::Gray32),
        DynArray::I32(a) => pages!(a, colortype::GrayI32),
        DynArray::U64(a) => pages!(a, colortype::Gray64),
        DynArray::I64(a) => pages!(a, colortype::GrayI64),
        DynArray::F32(a) => pages!(a, colortype::Gray32Float),
        DynArray::F64(a) => pages!(a, colortype::Gray64Float),
    }
    Ok(())
}

/// Pixels per µm as a TIFF rational.
fn per_um(um: f64) -> Rational {
    let v = if um > 0.0 && um.is_finite() { 1.0 / um } else { 1.0 };
    let d = 1_000_000u32;
    Rational { n: (v * d as f64).round().clamp(1.0, u32::MAX as f64) as u32, d }
}
