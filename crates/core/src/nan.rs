//! Serde helpers for floats that may be NaN: JSON has no NaN, so
//! `serde_json` writes it as `null`; these read `null` back as NaN.
//!
//! ```
//! #[derive(serde::Deserialize)]
//! struct W {
//!     #[serde(deserialize_with = "chemomech_core::nan::f64")]
//!     mean: f64,
//! }
//! let w: W = serde_json::from_str(r#"{"mean": null}"#).unwrap();
//! assert!(w.mean.is_nan());
//! ```

use serde::{Deserialize, Deserializer};

/// A float, `null` read as NaN.
pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A pair of floats (an interval), `null`s read as NaN.
pub fn pair<'de, D: Deserializer<'de>>(d: D) -> Result<(f64, f64), D::Error> {
    let (a, b) = <(Option<f64>, Option<f64>)>::deserialize(d)?;
    Ok((a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN)))
}

/// A list of floats, `null`s read as NaN.
pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// A matrix of floats, `null`s read as NaN.
pub fn matrix<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
    Ok(Vec::<Vec<Option<f64>>>::deserialize(d)?
        .into_iter()
        .map(|r| r.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        .collect())
}
