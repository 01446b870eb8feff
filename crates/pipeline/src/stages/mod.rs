//! One runner per stage.
pub mod particles;
pub mod reconstruct;
pub mod segment;
pub mod stats;
pub mod simulate;
pub mod xanes;
