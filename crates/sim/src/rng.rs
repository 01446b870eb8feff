//! Deterministic random streams: every draw is keyed by (seed, stream, index),
//! so results do not depend on thread count or scheduling.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// SplitMix64 finaliser: decorrelates nearby keys.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Named streams, so adding draws to one never shifts another.
#[derive(Clone, Copy)]
pub enum Stream {
    /// Particle sizes.
    Sizes = 1,
    /// Particle positions.
    Positions = 2,
    /// Particle shapes (axes, orientation, roughness).
    Shape = 3,
    /// Damage classes and cracks.
    Damage = 4,
    /// Per-particle SoC offsets.
    Chemistry = 5,
    /// The smooth random carbon-binder field.
    CbdField = 6,
    /// Absorption tomography counting noise.
    TomoNoise = 7,
    /// Holotomography noise and misalignment.
    PhaseNoise = 8,
    /// XANES counting noise.
    XanesNoise = 9,
    /// XANES sample drift.
    Drift = 10,
    /// Flat-field patterns.
    Flat = 11,
    /// Monte Carlo estimates of the packing fill fraction.
    Fill = 12,
    /// Sparse voxel annotations.
    Annotations = 13,
    /// Scribble (brush stroke) annotations.
    Scribbles = 14,
    /// Projection jitter of the absorption scan.
    Jitter = 15,
}

/// The generator for (seed, stream, index).
pub fn rng(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(key(seed, stream, index))
}

fn key(seed: u64, stream: Stream, index: u64) -> u64 {
    mix(mix(seed ^ mix(stream as u64)) ^ index)
}

/// One uniform draw in [0, 1) for (seed, stream, index), without building a
/// generator: for per-voxel draws over millions of voxels.
pub fn uniform(seed: u64, stream: Stream, index: u64) -> f64 {
    (mix(key(seed, stream, index)) >> 11) as f64 / (1u64 << 53) as f64
}
