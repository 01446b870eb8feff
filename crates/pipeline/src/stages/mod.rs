//! One runner per stage.
pub mod reconstruct;
pub mod simulate;
