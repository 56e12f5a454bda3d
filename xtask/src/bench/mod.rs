//! Benchmarks, each measured against a baseline run side by side in the same run and
//! reported as ratios (`cargo xtask bench NAME`).

pub mod build;
pub mod deploy;
pub mod env;
pub mod scan;
