//! Damage classes of particles: the one rule that turns a crack fraction into
//! `least`, `mild` or `severe`, shared by the simulator's ground truth and the
//! particle metrics.
//!
//! ```
//! use chemomech_core::damage::DamageClass;
//! assert_eq!(DamageClass::of(0.2, 0.03, 0.15), DamageClass::Severe);
//! assert_eq!(DamageClass::of(0.03, 0.03, 0.15).name(), "mild");
//! assert_eq!(DamageClass::of(0.01, 0.03, 0.15).name(), "least");
//! ```

use serde::Serialize;

/// Damage class of a particle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DamageClass {
    /// Crack fraction below the mild threshold.
    Least,
    /// Crack fraction from the mild up to the severe threshold.
    Mild,
    /// Crack fraction at or above the severe threshold.
    Severe,
}

impl DamageClass {
    /// The class of a crack fraction under the thresholds.
    pub fn of(cf: f64, mild: f64, severe: f64) -> Self {
        if cf >= severe {
            DamageClass::Severe
        } else if cf >= mild {
            DamageClass::Mild
        } else {
            DamageClass::Least
        }
    }
    /// Lower-case name (`least`, `mild`, `severe`).
    pub fn name(self) -> &'static str {
        match self {
            DamageClass::Least => "least",
            DamageClass::Mild => "mild",
            DamageClass::Severe => "severe",
        }
    }
}
