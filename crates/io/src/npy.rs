//! NumPy `.npy` arrays (any of chemomech's element types, C or Fortran order).

use chemomech_core::{DType, DynArray, Error, Raster, Result};
use ndarray::ArrayD;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::io::{BufReader, Read};
use std::path::Path;

/// The `descr` of an npy header, e.g. `<f4`.
fn header_descr(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(e).at(path))?;
    let mut pre = [0u8; 12];
    f.read_exact(&mut pre).map_err(|_| Error::data("truncated npy header").at(path))?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err(Error::data("not an npy file").at(path));
    }
    let (hlen, consumed) = match pre[6] {
        1 => (u16::from_le_bytes([pre[8], pre[9]]) as usize, 10),
        2 | 3 => (u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as usize, 12),
        v => return Err(Error::data(format!("unsupported npy version {v}")).at(path)),
    };
    if hlen > 1 << 20 {
        return Err(Error::data("implausible npy header length").at(path));
    }
    let mut h = pre[consumed..].to_vec();
    let mut rest = vec![0u8; hlen - (12 - consumed)];
    f.read_exact(&mut rest).map_err(|_| Error::data("truncated npy header").at(path))?;
    h.extend(rest);
    let s = String::from_utf8_lossy(&h);
    let i = s.find("'descr'").ok_or_else(|| Error::data("npy header has no 'descr'").at(path))?;
    let rest = &s[i + 7..];
    let q1 = rest.find('\'').ok_or_else(|| Error::data("malformed npy header").at(path))?;
    let q2 = rest[q1 + 1..].find('\'').ok_or_else(|| Error::data("malformed npy header").at(path))?;
    Ok(rest[q1 + 1..q1 + 1 + q2].to_string())
}

/// Reads an `.npy` file, straight from the file into the array (one copy,
/// no intermediate buffer: stacks are often hundreds of MB).
pub fn read_npy(path: &Path) -> Result<Raster> {
    let descr = header_descr(path)?;
    let code = descr.trim_start_matches(['<', '>', '|', '=']);
    let open = || std::fs::File::open(path).map_err(|e| Error::io(e).at(path));
    let err = |e: ndarray_npy::ReadNpyError| Error::data(format!("npy: {e}")).at(path);
    macro_rules! load {
        ($t:ty, $v:ident) => {
            // Large reads bypass BufReader's buffer; the header is parsed
            // through it.
            DynArray::$v(ArrayD::<$t>::read_npy(BufReader::with_capacity(1 << 16, open()?)).map_err(err)?)
        };
    }
    let data = match code {
        "u1" => load!(u8, U8),
        "u2" => load!(u16, U16),
        "i2" => load!(i16, I16),
        "u4" => load!(u32, U32),
        "i4" => load!(i32, I32),
        "u8" => load!(u64, U64),
        "i8" => load!(i64, I64),
        "f4" => load!(f32, F32),
        "f8" => load!(f64, F64),
        other => return Err(Error::data(format!("npy element type '{other}' is not supported")).at(path)),
    };
    let mut r = Raster::new(data);
    r.meta.insert("format".into(), "npy".into());
    Ok(r)
}

/// Writes an `.npy` file atomically.
pub fn write_npy(path: &Path, data: &DynArray) -> Result<()> {
    crate::atomic::write_via_temp(path, |tmp| {
        let f = std::io::BufWriter::new(std::fs::File::create(tmp).map_err(|e| Error::io(e).at(tmp))?);
        let r = chemomech_core::dyn_dispatch!(data, a => a.write_npy(f));
        r.map_err(|e| Error::data(format!("npy: {e}")))
    })
}

/// The element type an npy header announces.
pub fn npy_dtype(path: &Path) -> Result<DType> {
    let d = header_descr(path)?;
    DType::parse(match d.trim_start_matches(['<', '>', '|', '=']) {
        "u1" => "u8",
        "u2" => "u16",
        "i2" => "i16",
        "u4" => "u32",
        "i4" => "i32",
        "u8" => "u64",
        "i8" => "i64",
        "f4" => "f32",
        "f8" => "f64",
        other => return Err(Error::data(format!("npy element type '{other}' is not supported")).at(path)),
    })
}
