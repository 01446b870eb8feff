//! Serde for stage parameters in the words of the command line.
//!
//! A stage's [`Params`](crate::stage::Stage::Params) are one definition for
//! three readers: clap (the command line), serde (pipeline TOML files,
//! JSON, Python keyword arguments). Options that the command line takes as
//! text — `center = "auto"`, `damage_thresholds = "0.03,0.15"`,
//! `rings = "vo"` — must read the same through serde, so their fields use
//! these adapters: [`text`] (any `FromStr + Display` type, from a string or
//! a number), [`text_opt`], [`text_list`] and, for clap `ValueEnum`s,
//! [`value_enum_serde!`](crate::value_enum_serde). A value serde accepts is
//! exactly a value the command line accepts, and a value serialised (in
//! `stage.json`) reads back.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serializer};
use std::fmt::Display;
use std::str::FromStr;

/// A scalar as a pipeline file or JSON writes it: text, a number or a boolean.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

fn parse<T, E>(s: &str) -> Result<T, E>
where
    T: FromStr,
    T::Err: Display,
    E: de::Error,
{
    s.parse().map_err(|e: T::Err| E::custom(e))
}

/// A field read from its command-line text (`"auto"`, `"0.03,0.15"`, `512.5`)
/// and written as that text.
pub mod text {
    use super::*;

    /// Writes the value's command-line text.
    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// Reads a value from text or a number.
    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        parse(&Scalar::deserialize(d)?.into_text())
    }
}

/// [`text`] for an optional field (`null` or absent: `None`).
pub mod text_opt {
    use super::*;

    /// Writes the value's command-line text, or `null`.
    pub fn serialize<T: Display, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    /// Reads `null`, text or a number.
    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        Option::<Scalar>::deserialize(d)?.map(|s| parse(&s.into_text())).transpose()
    }
}

/// [`text`] for a repeated field: an array of values, or one value.
pub mod text_list {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Scalar>),
        One(Scalar),
    }

    /// Writes the values' command-line texts as an array.
    pub fn serialize<T: Display, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.to_string()))
    }

    /// Reads an array of texts or numbers, or a single one.
    pub fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let items = match OneOrMany::deserialize(d)? {
            OneOrMany::Many(v) => v,
            OneOrMany::One(s) => vec![s],
        };
        items.into_iter().map(|s| parse(&s.into_text())).collect()
    }
}

/// Serde for a clap `ValueEnum` through clap's own names and aliases
/// (`"od"`, `"multi-otsu"`): the values a pipeline file, JSON or Python
/// may give are those the command line takes.
#[macro_export]
macro_rules! value_enum_serde {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                let v = clap::ValueEnum::to_possible_value(self).expect("every variant has a name");
                s.serialize_str(v.get_name())
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t as clap::ValueEnum>::from_str(&s, false).map_err(|_| {
                    let names: Vec<String> = <$t as clap::ValueEnum>::value_variants()
                        .iter()
                        .filter_map(|v| clap::ValueEnum::to_possible_value(v).map(|p| p.get_name().to_string()))
                        .collect();
                    serde::de::Error::custom(format!("'{s}' is not one of: {}", names.join(", ")))
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use chemomech_particles::metrics::DamageThresholds;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct P {
        #[serde(with = "text")]
        t: DamageThresholds,
        #[serde(with = "text_opt", default)]
        c: Option<chemomech_imgproc::label::Connectivity>,
        #[serde(with = "text_list", default)]
        d: Vec<f64>,
    }

    #[test]
    fn text_fields_read_strings_and_numbers_and_round_trip() {
        let p: P = serde_json::from_value(serde_json::json!({"t": "0.05,0.2", "c": 6, "d": [1.5, "2"]})).unwrap();
        assert_eq!((p.t.mild, p.t.severe), (0.05, 0.2));
        assert_eq!(p.c, Some(chemomech_imgproc::label::Connectivity::C6));
        assert_eq!(p.d, vec![1.5, 2.0]);
        let back: P = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let one: P = serde_json::from_value(serde_json::json!({"t": "0.05,0.2", "d": 3})).unwrap();
        assert_eq!((one.c, one.d), (None, vec![3.0]));
        let bad = serde_json::from_value::<P>(serde_json::json!({"t": "0.5,0.2"})).unwrap_err();
        assert!(bad.to_string().contains("0 < MILD < SEVERE < 1"), "{bad}");
    }
}
