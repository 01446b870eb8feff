//! Recognises a file's format from its first bytes (never from its name
//! alone), and a directory's from what it holds.

use chemomech_core::{Error, Result};
use serde::Serialize;
use std::io::Read;
use std::path::Path;

/// The formats chemomech reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Format {
    /// HDF5 (DXchange, NeXus NXtomo, NSLS-II FXI or plain).
    Hdf5,
    /// Xradia `.xrm` / `.txrm` (OLE compound document).
    Xradia,
    /// TIFF or BigTIFF, single or multi-page.
    Tiff,
    /// XDI 1.0 spectrum.
    Xdi,
    /// Athena project (`.prj`, gzipped or plain).
    Athena,
    /// FEFF path file (`feffNNNN.dat`).
    Feff,
    /// Plain column text (spectra, energy lists, CSV).
    Text,
    /// NumPy `.npy`.
    Npy,
    /// Parquet table.
    Parquet,
    /// Zarr v3 store (directory with `zarr.json`).
    Zarr,
    /// A folder of TIFFs, one per energy.
    TiffFolder,
    /// A folder of Xradia `.xrm` files (an energy series with references).
    XrmFolder,
    /// ALS STXM header (`.hdr`) with its `.xim` images.
    Stxm,
    /// One ALS STXM `.xim` count image.
    StxmImage,
}

impl Format {
    /// Human-readable name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Hdf5 => "HDF5",
            Format::Xradia => "Xradia XRM/TXRM",
            Format::Tiff => "TIFF",
            Format::Xdi => "XDI",
            Format::Athena => "Athena project",
            Format::Feff => "FEFF path",
            Format::Text => "column text",
            Format::Npy => "NumPy npy",
            Format::Parquet => "Parquet",
            Format::Zarr => "Zarr v3",
            Format::TiffFolder => "TIFF folder",
            Format::XrmFolder => "Xradia XRM folder",
            Format::Stxm => "ALS STXM header (.hdr + .xim)",
            Format::StxmImage => "ALS STXM image (.xim)",
        }
    }
}

const HDF5_MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Detects the format of `path`.
///
/// ```
/// use chemomech_io::detect::{detect, Format};
/// let d = tempfile::tempdir().unwrap();
/// let p = d.path().join("s.txt");
/// std::fs::write(&p, "8333 0.1\n8334 0.2\n").unwrap();
/// assert_eq!(detect(&p).unwrap(), Format::Text);
/// ```
pub fn detect(path: &Path) -> Result<Format> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(e).at(path))?;
    if meta.is_dir() {
        return detect_dir(path);
    }
    if meta.len() == 0 {
        return Err(Error::data("file is empty").at(path));
    }
    let mut head = vec![0u8; 4096];
    let n = {
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(e).at(path))?;
        read_up_to(&mut f, &mut head).map_err(|e| Error::io(e).at(path))?
    };
    head.truncate(n);
    if head.starts_with(HDF5_MAGIC) {
        return Ok(Format::Hdf5);
    }
    // HDF5 files may carry a user block of 512 * 2^k bytes before the signature.
    if meta.len() >= 520 && hdf5_signature_after_userblock(path)? {
        return Ok(Format::Hdf5);
    }
    if head.starts_with(OLE_MAGIC) {
        return Ok(Format::Xradia);
    }
    if head.starts_with(b"II*\0")
        || head.starts_with(b"MM\0*")
        || head.starts_with(b"II+\0")
        || head.starts_with(b"MM\0+")
    {
        return Ok(Format::Tiff);
    }
    if head.starts_with(b"\x93NUMPY") {
        return Ok(Format::Npy);
    }
    if head.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        // Gzip: Athena projects are the gzipped files we read.
        use std::io::Read as _;
        let f = std::fs::File::open(path).map_err(|e| Error::io(e).at(path))?;
        let mut inner = vec![0u8; 256];
        let k = read_up_to(&mut flate2::read::MultiGzDecoder::new(f).take(256), &mut inner).unwrap_or(0);
        if crate::prj::is_athena_text(&String::from_utf8_lossy(&inner[..k])) {
            return Ok(Format::Athena);
        }
        return Err(Error::data("gzip file that is not an Athena project (decompress it first)").at(path));
    }
    let text = String::from_utf8_lossy(&head);
    if crate::prj::is_athena_text(&text) {
        return Ok(Format::Athena);
    }
    let first = text.trim_start_matches('\u{feff}').trim_start();
    if first.starts_with("# XDI/") || first.starts_with("#XDI/") {
        return Ok(Format::Xdi);
    }
    if crate::feff::is_feff_path(first) {
        return Ok(Format::Feff);
    }
    if crate::stxm::is_stxm_header(first) {
        return Ok(Format::Stxm);
    }
    if crate::stxm::is_xim(path, first) {
        return Ok(Format::StxmImage);
    }
    let printable = head
        .iter()
        .filter(|&&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
        .count();
    if printable == head.len() {
        return Ok(Format::Text);
    }
    Err(Error::data("unrecognised file format (not HDF5, Xradia, TIFF, NumPy, Parquet, XDI or text)").at(path))
}

fn hdf5_signature_after_userblock(path: &Path) -> Result<bool> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(e).at(path))?;
    let len = f.metadata().map_err(|e| Error::io(e).at(path))?.len();
    let mut off = 512u64;
    while off + 8 <= len && off <= 1 << 20 {
        let mut sig = [0u8; 8];
        f.seek(SeekFrom::Start(off)).map_err(|e| Error::io(e).at(path))?;
        if f.read_exact(&mut sig).is_ok() && sig == HDF5_MAGIC {
            return Ok(true);
        }
        off *= 2;
    }
    Ok(false)
}

fn read_up_to(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = f.read(&mut buf[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

fn detect_dir(path: &Path) -> Result<Format> {
    if path.join("zarr.json").is_file() {
        return Ok(Format::Zarr);
    }
    if path.join(".zgroup").is_file() || path.join(".zarray").is_file() {
        return Err(Error::data("Zarr v2 store: chemomech reads Zarr v3 (convert with zarr-python 3)").at(path));
    }
    let mut tiffs = 0;
    let mut xrms = 0;
    for e in std::fs::read_dir(path).map_err(|e| Error::io(e).at(path))? {
        let e = e.map_err(|e| Error::io(e).at(path))?;
        let name = e.file_name().to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".tif") || name.ends_with(".tiff") {
            tiffs += 1;
        } else if name.ends_with(".xrm") {
            xrms += 1;
        }
    }
    match (xrms, tiffs) {
        (0, 0) => Err(Error::data("directory holds no Zarr store, .xrm or .tif files").at(path)),
        (x, t) if x >= t => Ok(Format::XrmFolder),
        _ => Ok(Format::TiffFolder),
    }
}
