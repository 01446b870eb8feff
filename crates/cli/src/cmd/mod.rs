//! One module per subcommand.
pub mod convert;
pub mod info;
pub mod simulate;
pub mod reconstruct;
pub mod morph;
pub mod particles;
pub mod report;
pub mod run;
pub mod segment;
pub mod stats;
pub mod xanes;
pub mod xas;
