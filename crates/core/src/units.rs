//! Unit parsing and conversion into chemomech's canonical units:
//! micrometres, electronvolts and degrees.
//!
//! ```
//! use chemomech_core::units::*;
//! assert_eq!(length_to_um(1.0, "mm").unwrap(), 1000.0);
//! assert_eq!(energy_to_ev(8.333, "keV").unwrap(), 8333.0);
//! assert!((angle_to_deg(std::f64::consts::PI, "rad").unwrap() - 180.0).abs() < 1e-12);
//! assert_eq!(parse_quantity_um("21.3 nm").unwrap(), 0.0213);
//! ```

use crate::{Error, Result};

/// Micrometres per unit of length named `unit` (case-insensitive: m, cm, mm, um, µm, micron, nm, pm, A/Å).
pub fn um_per(unit: &str) -> Result<f64> {
    let u = unit.trim().trim_end_matches('.');
    Ok(match u.to_ascii_lowercase().as_str() {
        "m" | "meter" | "meters" | "metre" | "metres" => 1e6,
        "cm" | "centimeter" | "centimetre" | "centimeters" | "centimetres" => 1e4,
        "mm" | "millimeter" | "millimetre" | "millimeters" | "millimetres" => 1e3,
        "um" | "micron" | "microns" | "micrometer" | "micrometre" | "micrometers" | "micrometres" => 1.0,
        "nm" | "nanometer" | "nanometre" | "nanometers" | "nanometres" => 1e-3,
        "pm" => 1e-6,
        "a" | "angstrom" | "angstroms" => 1e-4,
        _ => match u {
            "µm" | "μm" => 1.0,
            "Å" => 1e-4,
            _ => return Err(Error::param(format!("unknown length unit '{unit}'"))),
        },
    })
}

/// Converts a length into micrometres.
pub fn length_to_um(value: f64, unit: &str) -> Result<f64> {
    let f = um_per(unit)?;
    // Round away binary noise (e.g. 21.3 nm -> 0.0213 µm exactly as printed).
    Ok(round_sig(value * f, 12))
}

/// Converts a length into metres (for propagation distances).
pub fn length_to_m(value: f64, unit: &str) -> Result<f64> {
    Ok(round_sig(value * um_per(unit)? * 1e-6, 12))
}

/// Converts an energy into electronvolts (eV, keV, MeV).
pub fn energy_to_ev(value: f64, unit: &str) -> Result<f64> {
    let f = match unit.trim().to_ascii_lowercase().as_str() {
        "ev" | "electronvolt" | "electronvolts" => 1.0,
        "kev" => 1e3,
        "mev" => 1e6,
        _ => return Err(Error::param(format!("unknown energy unit '{unit}'"))),
    };
    Ok(round_sig(value * f, 12))
}

/// Converts an angle into degrees (deg, degree(s), rad, radian(s), mrad).
pub fn angle_to_deg(value: f64, unit: &str) -> Result<f64> {
    match unit.trim().to_ascii_lowercase().as_str() {
        "deg" | "degree" | "degrees" | "°" | "nxangle" => Ok(value),
        "rad" | "radian" | "radians" => Ok(value.to_degrees()),
        "mrad" => Ok((value * 1e-3).to_degrees()),
        _ => Err(Error::param(format!("unknown angle unit '{unit}'"))),
    }
}

/// Parses a length written with its unit ("21.3 nm", "0.5um", "1e-3 mm") into micrometres.
pub fn parse_quantity_um(s: &str) -> Result<f64> {
    let (v, u) = split_quantity(s)?;
    length_to_um(v, if u.is_empty() { "um" } else { u })
}

/// Splits "12.5 keV" into (12.5, "keV").
pub fn split_quantity(s: &str) -> Result<(f64, &str)> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_digit()
                || c == '.'
                || c == '-'
                || c == '+'
                || ((c == 'e' || c == 'E') && looks_like_exponent(s, i)))
        })
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let value: f64 = s[..end].trim().parse().map_err(|_| Error::param(format!("not a number with a unit: '{s}'")))?;
    Ok((value, s[end..].trim()))
}

fn looks_like_exponent(s: &str, i: usize) -> bool {
    let rest = &s[i + 1..];
    rest.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
}

/// Rounds to `sig` significant digits (used to drop conversion noise).
pub fn round_sig(x: f64, sig: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let p = sig - 1 - x.abs().log10().floor() as i32;
    if !(-300..=300).contains(&p) {
        return x;
    }
    let m = 10f64.powi(p);
    (x * m).round() / m
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn units() {
        assert_eq!(length_to_um(2.0, "µm").unwrap(), 2.0);
        assert_eq!(length_to_um(5.0, "Å").unwrap(), 5e-4);
        assert!(length_to_um(1.0, "furlong").is_err());
        assert_eq!(energy_to_ev(1.0, "eV").unwrap(), 1.0);
        assert!(energy_to_ev(1.0, "J").is_err());
        assert_eq!(split_quantity("1e-3mm").unwrap(), (1e-3, "mm"));
        assert_eq!(split_quantity("8.3 keV").unwrap(), (8.3, "keV"));
        assert!(split_quantity("nm").is_err());
    }
}
