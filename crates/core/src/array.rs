//! Dynamically typed n-dimensional arrays, for the I/O edge where the element
//! type is only known from the file. Algorithms take typed `ndarray` views.

use crate::{Error, Result};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

/// Element types chemomech reads and writes (NumPy names in [`DType::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// Unsigned 8-bit integers (`uint8`).
    U8,
    /// Unsigned 16-bit integers (`uint16`).
    U16,
    /// Signed 16-bit integers (`int16`).
    I16,
    /// Unsigned 32-bit integers (`uint32`).
    U32,
    /// Signed 32-bit integers (`int32`).
    I32,
    /// Unsigned 64-bit integers (`uint64`).
    U64,
    /// Signed 64-bit integers (`int64`).
    I64,
    /// 32-bit floats (`float32`).
    F32,
    /// 64-bit floats (`float64`).
    F64,
}

impl DType {
    /// NumPy-style name (`uint16`, `float32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::I16 => "int16",
            DType::U32 => "uint32",
            DType::I32 => "int32",
            DType::U64 => "uint64",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::U8 => 1,
            DType::U16 | DType::I16 => 2,
            DType::U32 | DType::I32 | DType::F32 => 4,
            DType::U64 | DType::I64 | DType::F64 => 8,
        }
    }
    /// Parses a NumPy-style name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "uint8" | "u8" => DType::U8,
            "uint16" | "u16" => DType::U16,
            "int16" | "i16" => DType::I16,
            "uint32" | "u32" => DType::U32,
            "int32" | "i32" => DType::I32,
            "uint64" | "u64" => DType::U64,
            "int64" | "i64" => DType::I64,
            "float32" | "f32" => DType::F32,
            "float64" | "f64" => DType::F64,
            other => return Err(Error::param(format!("unknown element type '{other}'"))),
        })
    }
    /// True for floating-point types.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An n-dimensional array whose element type is decided at run time.
///
/// ```
/// use chemomech_core::{DynArray, DType};
/// let a = DynArray::U16(ndarray::ArrayD::from_elem(vec![2, 3], 7u16));
/// assert_eq!(a.dtype(), DType::U16);
/// assert_eq!(a.shape(), &[2, 3]);
/// assert_eq!(a.to_f32()[[1, 2]], 7.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum DynArray {
    /// An array of `u8`.
    U8(ArrayD<u8>),
    /// An array of `u16`.
    U16(ArrayD<u16>),
    /// An array of `i16`.
    I16(ArrayD<i16>),
    /// An array of `u32`.
    U32(ArrayD<u32>),
    /// An array of `i32`.
    I32(ArrayD<i32>),
    /// An array of `u64`.
    U64(ArrayD<u64>),
    /// An array of `i64`.
    I64(ArrayD<i64>),
    /// An array of `f32`.
    F32(ArrayD<f32>),
    /// An array of `f64`.
    F64(ArrayD<f64>),
}

/// Runs `$body` with `$a` bound to the inner typed array, whatever its type.
#[macro_export]
macro_rules! dyn_dispatch {
    ($x:expr, $a:ident => $body:expr) => {
        match $x {
            $crate::DynArray::U8($a) => $body,
            $crate::DynArray::U16($a) => $body,
            $crate::DynArray::I16($a) => $body,
            $crate::DynArray::U32($a) => $body,
            $crate::DynArray::I32($a) => $body,
            $crate::DynArray::U64($a) => $body,
            $crate::DynArray::I64($a) => $body,
            $crate::DynArray::F32($a) => $body,
            $crate::DynArray::F64($a) => $body,
        }
    };
}

/// Element types that can live in a [`DynArray`].
pub trait Element: Copy + Send + Sync + 'static {
    /// The [`DType`] of this element type.
    const DTYPE: DType;
    /// The value as f64 (an `as` cast).
    fn to_f64(self) -> f64;
    /// The nearest value of this type (Rust's saturating `as` cast).
    fn from_f64(v: f64) -> Self;
    /// Wraps a typed array in the matching [`DynArray`] variant.
    fn wrap(a: ArrayD<Self>) -> DynArray;
    /// The typed array inside `a`, or `a` back when it holds another type.
    fn unwrap(a: DynArray) -> std::result::Result<ArrayD<Self>, DynArray>;
}

macro_rules! element {
    ($t:ty, $v:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$v;
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn wrap(a: ArrayD<Self>) -> DynArray {
                DynArray::$v(a)
            }
            fn unwrap(a: DynArray) -> std::result::Result<ArrayD<Self>, DynArray> {
                match a {
                    DynArray::$v(x) => Ok(x),
                    other => Err(other),
                }
            }
        }
    };
}
element!(u8, U8);
element!(u16, U16);
element!(i16, I16);
element!(u32, U32);
element!(i32, I32);
element!(u64, U64);
element!(i64, I64);
element!(f32, F32);
element!(f64, F64);

impl DynArray {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            DynArray::U8(_) => DType::U8,
            DynArray::U16(_) => DType::U16,
            DynArray::I16(_) => DType::I16,
            DynArray::U32(_) => DType::U32,
            DynArray::I32(_) => DType::I32,
            DynArray::U64(_) => DType::U64,
            DynArray::I64(_) => DType::I64,
            DynArray::F32(_) => DType::F32,
            DynArray::F64(_) => DType::F64,
        }
    }
    /// The shape, slowest axis first.
    pub fn shape(&self) -> &[usize] {
        dyn_dispatch!(self, a => a.shape())
    }
    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape().iter().product()
    }
    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Size of the data in bytes.
    pub fn nbytes(&self) -> usize {
        self.len() * self.dtype().size()
    }
    /// A copy as `f32` (the working type of most algorithms).
    pub fn to_f32(&self) -> ArrayD<f32> {
        match self {
            DynArray::F32(a) => a.clone(),
            other => dyn_dispatch!(other, a => a.mapv(|v| v.to_f64() as f32)),
        }
    }
    /// Converts into `f32`, without a copy when already `f32`.
    pub fn into_f32(self) -> ArrayD<f32> {
        match self {
            DynArray::F32(a) => a,
            other => other.to_f32(),
        }
    }
    /// Converts into element type `T`: no copy when it already is `T`,
    /// else each value cast through `f64` (saturating, as Rust's `as`).
    pub fn into_typed<T: Element>(self) -> ArrayD<T> {
        match T::unwrap(self) {
            Ok(a) => a,
            Err(other) => dyn_dispatch!(other, a => a.mapv(|v| T::from_f64(v.to_f64()))),
        }
    }
    /// A copy as `f64`.
    pub fn to_f64(&self) -> ArrayD<f64> {
        match self {
            DynArray::F64(a) => a.clone(),
            other => dyn_dispatch!(other, a => a.mapv(|v| v.to_f64())),
        }
    }
    /// Reshapes without copying data (the element count must agree).
    pub fn into_shape(self, shape: &[usize]) -> Result<DynArray> {
        let n: usize = shape.iter().product();
        if n != self.len() {
            return Err(Error::shape(format!("cannot reshape {:?} into {:?}", self.shape(), shape)));
        }
        Ok(dyn_dispatch!(self, a => {
            let a = a.as_standard_layout().into_owned();
            Element::wrap(a.into_shape_with_order(IxDyn(shape))?)
        }))
    }
    /// Minimum and maximum as `f64`, ignoring NaN; `None` when empty or all NaN.
    pub fn min_max(&self) -> Option<(f64, f64)> {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        dyn_dispatch!(self, a => {
            for &v in a.iter() {
                let v = v.to_f64();
                if v < lo { lo = v; }
                if v > hi { hi = v; }
            }
        });
        (lo <= hi).then_some((lo, hi))
    }
    /// Counts of NaN and infinite values (always 0 for integer types).
    pub fn non_finite_count(&self) -> usize {
        match self {
            DynArray::F32(a) => a.iter().filter(|v| !v.is_finite()).count(),
            DynArray::F64(a) => a.iter().filter(|v| !v.is_finite()).count(),
            _ => 0,
        }
    }
    /// The sub-array at `index` along the first axis.
    pub fn index_axis0(&self, index: usize) -> Result<DynArray> {
        if self.ndim() == 0 || index >= self.shape()[0] {
            return Err(Error::shape(format!("index {index} out of range for shape {:?}", self.shape())));
        }
        Ok(dyn_dispatch!(self, a => Element::wrap(a.index_axis(ndarray::Axis(0), index).to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn reshape_and_minmax() {
        let a = DynArray::F32(ArrayD::from_shape_vec(vec![6], vec![1.0, f32::NAN, 3.0, -2.0, 5.0, 0.0]).unwrap());
        assert_eq!(a.non_finite_count(), 1);
        assert_eq!(a.min_max(), Some((-2.0, 5.0)));
        let b = a.into_shape(&[2, 3]).unwrap();
        assert_eq!(b.shape(), &[2, 3]);
        assert!(b.clone().into_shape(&[4]).is_err());
        assert_eq!(b.index_axis0(1).unwrap().shape(), &[3]);
        assert!(b.index_axis0(2).is_err());
    }
}
