//! One runner per stage.
pub mod simulate;
