//! The xtask library, in layers: `cli` and `commands` parse and act, `plan` decides without
//! touching the world, `effects` is the only code that touches it (Docker, SSH, processes,
//! files, the clock), `rigs` are the test and demo machines, `bench` the benchmarks.
//! Integration tests under `tests/` drive the same code the binary runs.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod effects;
pub mod plan;
pub mod project;
pub mod report;
pub mod rigs;
