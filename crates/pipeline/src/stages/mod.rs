//! One runner per stage.
pub mod morph;
pub mod particles;
pub mod phantom;
pub mod reconstruct;
pub mod report;
pub mod segment;
pub mod simulate;
pub mod stats;
pub mod xanes;
