//! Facts read from file names (beamlines often put the energy there).

/// The photon energy written in a file name, in eV: `..._08324.0_eV_...`,
/// `img_8333.5eV.tif`, `E8.333keV.tiff`. `None` when no number is followed by
/// an `eV`/`keV` unit.
///
/// ```
/// use chemomech_io::names::energy_from_name;
/// assert_eq!(energy_from_name("rep01_ssrl-test-data_08324.0_eV_001of003.xrm"), Some(8324.0));
/// assert_eq!(energy_from_name("E8.3335keV.tif"), Some(8333.5));
/// assert_eq!(energy_from_name("frame_0001.tif"), None);
/// ```
pub fn energy_from_name(name: &str) -> Option<f64> {
    let b = name.as_bytes();
    let lower = name.to_ascii_lowercase();
    let lb = lower.as_bytes();
    let mut found = None;
    let mut i = 0;
    while i + 2 <= lb.len() {
        let (unit_len, scale) = if lb[i..].starts_with(b"kev") {
            (3, 1e3)
        } else if lb[i..].starts_with(b"ev") && (i == 0 || lb[i - 1] != b'k') {
            (2, 1.0)
        } else {
            i += 1;
            continue;
        };
        // The unit must not run on into letters ("event", "level").
        let after = i + unit_len;
        if after < lb.len() && lb[after].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        // Walk back over separators, then over the number.
        let mut j = i;
        while j > 0 && matches!(b[j - 1], b'_' | b'-' | b' ') {
            j -= 1;
        }
        let end = j;
        while j > 0 && (b[j - 1].is_ascii_digit() || b[j - 1] == b'.') {
            j -= 1;
        }
        if j < end
            && let Ok(v) = name[j..end].trim_matches('.').parse::<f64>()
            && v > 0.0
        {
            found = Some(chemomech_core::units::round_sig(v * scale, 12));
        }
        i += unit_len;
    }
    found
}

/// True when a file name marks a reference (flat/white/background) image.
pub fn is_reference_name(name: &str) -> bool {
    has_token(name, &["ref", "reference", "flat", "white", "bkg", "background", "flatfield"])
}

/// True when a file name marks a dark image.
pub fn is_dark_name(name: &str) -> bool {
    has_token(name, &["dark", "darks", "darkfield"])
}

fn has_token(name: &str, words: &[&str]) -> bool {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s).to_ascii_lowercase();
    stem.split(|c: char| !c.is_ascii_alphabetic()).any(|t| words.contains(&t))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names() {
        assert_eq!(energy_from_name("a_8333eV"), Some(8333.0));
        assert_eq!(energy_from_name("level_5.tif"), None);
        assert!(is_reference_name("rep01_000051_ref_x_08324.0_eV_001of010.xrm"));
        assert!(!is_reference_name("prefix_sample.xrm"));
        assert!(is_dark_name("dark_001.tif"));
    }
}
