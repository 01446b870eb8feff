//! One module per subcommand; the stage subcommands share [`stages`].
pub mod convert;
pub mod info;
pub mod run;
pub mod stages;
pub mod xas;
