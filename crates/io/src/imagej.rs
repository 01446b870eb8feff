//! ImageJ-layout TIFF writer: all IFDs first, then every page's pixels back
//! to back, uncompressed — the layout Fiji's opener and tifffile assume for
//! a stack whose description says `images=N`. Hand-written because the
//! `tiff` crate interleaves IFDs with pages. Offsets are known before any
//! pixel is written, so pages can be streamed. Above 4 GB only the first IFD
//! is written (ImageJ's own convention for large stacks).

use chemomech_core::{DType, Error, Result};
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

const TAG_WIDTH: u16 = 256;
const TAG_LENGTH: u16 = 257;
const TAG_BITS: u16 = 258;
const TAG_COMPRESSION: u16 = 259;
const TAG_PHOTOMETRIC: u16 = 262;
const TAG_DESCRIPTION: u16 = 270;
const TAG_STRIP_OFFSETS: u16 = 273;
const TAG_SAMPLES: u16 = 277;
const TAG_ROWS_PER_STRIP: u16 = 278;
const TAG_STRIP_BYTES: u16 = 279;
const TAG_XRES: u16 = 282;
const TAG_YRES: u16 = 283;
const TAG_RES_UNIT: u16 = 296;
const TAG_SOFTWARE: u16 = 305;
const TAG_SAMPLE_FORMAT: u16 = 339;

const SHORT: u16 = 3;
const LONG: u16 = 4;
const ASCII: u16 = 2;
const RATIONAL: u16 = 5;

fn sample_format(d: DType) -> u16 {
    match d {
        DType::F32 | DType::F64 => 3,
        DType::I16 | DType::I32 | DType::I64 => 2,
        _ => 1,
    }
}

/// A stack being written page by page into a temporary file.
pub struct ImageJWriter {
    w: Option<BufWriter<std::fs::File>>,
    tmp: PathBuf,
    target: PathBuf,
    pages: usize,
    page_bytes: u64,
    written: usize,
}

impl ImageJWriter {
    /// Creates a stack of `pages` images `h x w` of `dtype` at `path`;
    /// `description` is the ImageJ description (must start with `ImageJ=`),
    /// `pixel_um` the (x, y) pixel size.
    pub fn create(
        path: &Path,
        pages: usize,
        h: usize,
        w: usize,
        dtype: DType,
        description: &str,
        pixel_um: Option<(f64, f64)>,
    ) -> Result<Self> {
        if pages == 0 || h == 0 || w == 0 || h > u32::MAX as usize || w > u32::MAX as usize {
            return Err(Error::shape(format!("cannot write a {pages}x{h}x{w} TIFF stack")).at(path));
        }
        let page_bytes = (h * w * dtype.size()) as u64;
        let mut desc = description.as_bytes().to_vec();
        desc.push(0);
        // Layout: header (8) | description | software | resolutions | IFDs | pixels.
        let software = b"chemomech\0";
        let n_tags: u16 = 15;
        let ifd_size = 2 + 12 * n_tags as u64 + 4;
        let desc_off = 8u64;
        let soft_off = desc_off + desc.len() as u64;
        let res_off = (soft_off + software.len() as u64 + 1) & !1;
        let ifd0 = res_off + 16;
        let total_small = ifd0 + ifd_size * pages as u64 + page_bytes * pages as u64;
        // Past 4 GB: one IFD only, the rest found through images=N.
        let ifds = if total_small > u32::MAX as u64 { 1 } else { pages };
        let data0 = ifd0 + ifd_size * ifds as u64;
        if data0 + page_bytes > u32::MAX as u64 {
            return Err(Error::shape("a single TIFF page over 4 GB needs BigTIFF; write .zarr or .h5 instead").at(path));
        }
        let tmp = crate::atomic::temp_sibling(path);
        let f = std::fs::File::create(&tmp).map_err(|e| Error::io(e).at(&tmp))?;
        let mut out = BufWriter::with_capacity(1 << 22, f);
        let res = |um: f64| -> (u32, u32) {
            let v = if um > 0.0 && um.is_finite() { 1.0 / um } else { 1.0 };
            ((v * 1e6).round().clamp(1.0, u32::MAX as f64) as u32, 1_000_000)
        };
        let (xr, yr) = pixel_um.map(|(x, y)| (res(x), res(y))).unwrap_or(((1, 1), (1, 1)));
        let io = |e: std::io::Error| Error::io(e).at(path);
        out.write_all(b"II*\0").map_err(io)?;
        out.write_all(&(ifd0 as u32).to_le_bytes()).map_err(io)?;
        out.write_all(&desc).map_err(io)?;
        out.write_all(software).map_err(io)?;
        if (soft_off + software.len() as u64) % 2 == 1 {
            out.write_all(&[0]).map_err(io)?;
        }
        for v in [xr.0, xr.1, yr.0, yr.1] {
            out.write_all(&v.to_le_bytes()).map_err(io)?;
        }
        for k in 0..ifds {
            let mut entries: Vec<(u16, u16, u32, u32)> = vec![
                (TAG_WIDTH, LONG, 1, w as u32),
                (TAG_LENGTH, LONG, 1, h as u32),
                (TAG_BITS, SHORT, 1, (dtype.size() * 8) as u32),
                (TAG_COMPRESSION, SHORT, 1, 1),
                (TAG_PHOTOMETRIC, SHORT, 1, 1),
                (TAG_DESCRIPTION, ASCII, desc.len() as u32, desc_off as u32),
                (TAG_STRIP_OFFSETS, LONG, 1, (data0 + page_bytes * k as u64) as u32),
                (TAG_SAMPLES, SHORT, 1, 1),
                (TAG_ROWS_PER_STRIP, LONG, 1, h as u32),
                (TAG_STRIP_BYTES, LONG, 1, page_bytes as u32),
                (TAG_XRES, RATIONAL, 1, res_off as u32),
                (TAG_YRES, RATIONAL, 1, (res_off + 8) as u32),
                (TAG_RES_UNIT, SHORT, 1, 1),
                (TAG_SOFTWARE, ASCII, software.len() as u32, soft_off as u32),
                (TAG_SAMPLE_FORMAT, SHORT, 1, sample_format(dtype) as u32),
            ];
            if k > 0 {
                // Only the first page carries the description.
                entries.retain(|e| e.0 != TAG_DESCRIPTION);
            }
            out.write_all(&(entries.len() as u16).to_le_bytes()).map_err(io)?;
            for (tag, ty, count, value) in &entries {
                out.write_all(&tag.to_le_bytes()).map_err(io)?;
                out.write_all(&ty.to_le_bytes()).map_err(io)?;
                out.write_all(&count.to_le_bytes()).map_err(io)?;
                if *ty == SHORT && *count == 1 {
                    out.write_all(&(*value as u16).to_le_bytes()).map_err(io)?;
                    out.write_all(&[0, 0]).map_err(io)?;
                } else {
                    out.write_all(&value.to_le_bytes()).map_err(io)?;
                }
            }
            let next = if k + 1 < ifds { ifd0 + ifd_size * (k as u64 + 1) } else { 0 };
            out.write_all(&(next as u32).to_le_bytes()).map_err(io)?;
            // Pad the shorter IFDs (no description) to the common size.
            let written = 2 + 12 * entries.len() as u64 + 4;
            for _ in written..ifd_size {
                out.write_all(&[0]).map_err(io)?;
            }
        }
        let pos = out.stream_position().map_err(io)?;
        if pos != data0 {
            return Err(Error::data(format!("internal TIFF layout error ({pos} != {data0})")).at(path));
        }
        Ok(Self { w: Some(out), tmp, target: path.to_path_buf(), pages, page_bytes, written: 0 })
    }

    /// Appends raw little-endian pixels of whole pages.
    pub fn write_pages(&mut self, bytes: &[u8]) -> Result<()> {
        if !(bytes.len() as u64).is_multiple_of(self.page_bytes) {
            return Err(Error::shape("TIFF pages must be written whole"));
        }
        let n = (bytes.len() as u64 / self.page_bytes) as usize;
        if self.written + n > self.pages {
            return Err(Error::shape(format!("{} pages written into a stack of {}", self.written + n, self.pages)));
        }
        self.w.as_mut().expect("open").write_all(bytes).map_err(|e| Error::io(e).at(&self.target))?;
        self.written += n;
        Ok(())
    }

    /// Completes the file and moves it into place.
    pub fn finish(mut self) -> Result<()> {
        if self.written != self.pages {
            return Err(Error::shape(format!("{} of {} pages written", self.written, self.pages)).at(&self.target));
        }
        let mut w = self.w.take().expect("open");
        w.flush().map_err(|e| Error::io(e).at(&self.target))?;
        let f = w.into_inner().map_err(|e| Error::io(e.into_error()).at(&self.target))?;
        f.sync_all().ok();
        drop(f);
        crate::atomic::commit(&self.tmp, &self.target)?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for ImageJWriter {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.w.take();
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Little-endian bytes of a slice of elements.
pub fn le_bytes<T: Copy + ToLe>(v: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(std::mem::size_of_val(v));
    for x in v {
        x.extend_le(&mut out);
    }
    out
}

/// Elements that can be written little-endian.
pub trait ToLe {
    /// Appends the value's little-endian bytes to `out`.
    fn extend_le(&self, out: &mut Vec<u8>);
}

macro_rules! to_le {
    ($($t:ty),*) => {$(
        impl ToLe for $t {
            #[inline]
            fn extend_le(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
to_le!(u8, u16, i16, u32, i32, u64, i64, f32, f64);
