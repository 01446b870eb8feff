//! chemomech-stats: the electrode-scale statistics of the seeds' analysis,
//! computed from the particle table and the phase volume.

pub mod network;
pub mod profile;
pub mod tests;
pub mod tortuosity;
pub mod truth;
pub mod volume;

pub use profile::{DepthWindow, depth_profile};
