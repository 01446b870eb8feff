//! chemomech-pipeline: the edge where stages meet files. Each stage runner
//! reads its inputs, calls the pure library function, and writes its
//! outputs atomically with provenance; the CLI subcommands and the TOML
//! pipeline are thin layers over these runners.

pub mod outdir;
pub mod params;
pub mod runner;
pub mod stage;
pub mod stages;
