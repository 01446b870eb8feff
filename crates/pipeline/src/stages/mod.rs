//! One runner per stage.
pub mod morph;
pub mod particles;
pub mod report;
pub mod reconstruct;
pub mod segment;
pub mod stats;
pub mod simulate;
pub mod xanes;
