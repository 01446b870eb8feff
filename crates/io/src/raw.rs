//! Decoding raw little/big-endian buffers into typed arrays.

use chemomech_core::{DType, DynArray, Error, Result};
use ndarray::{ArrayD, IxDyn};

/// Decodes `buf` (packed elements of `dtype`) into an array of `shape`.
pub fn decode_raw(buf: &[u8], dtype: DType, big_endian: bool, shape: &[usize]) -> Result<DynArray> {
    let n: usize = shape.iter().product();
    if buf.len() != n * dtype.size() {
        return Err(Error::data(format!("{} bytes do not hold {n} {dtype} values", buf.len())));
    }
    let sh = IxDyn(shape);
    macro_rules! dec {
        ($t:ty, $var:ident, $k:expr) => {{
            let v: Vec<$t> = buf
                .chunks_exact($k)
                .map(|c| {
                    let a: [u8; $k] = c.try_into().expect("chunk size");
                    if big_endian { <$t>::from_be_bytes(a) } else { <$t>::from_le_bytes(a) }
                })
                .collect();
            DynArray::$var(ArrayD::from_shape_vec(sh, v)?)
        }};
    }
    Ok(match dtype {
        DType::U8 => DynArray::U8(ArrayD::from_shape_vec(sh, buf.to_vec())?),
        DType::U16 => dec!(u16, U16, 2),
        DType::I16 => dec!(i16, I16, 2),
        DType::U32 => dec!(u32, U32, 4),
        DType::I32 => dec!(i32, I32, 4),
        DType::U64 => dec!(u64, U64, 8),
        DType::I64 => dec!(i64, I64, 8),
        DType::F32 => dec!(f32, F32, 4),
        DType::F64 => dec!(f64, F64, 8),
    })
}
