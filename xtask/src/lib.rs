//! The xtask library: every command as a module, so integration tests under `tests/` can
//! drive the same code (the engine harness, the sandbox, plans) that the binary runs.

pub mod atomic;
pub mod audit;
pub mod bench;
pub mod bench_build;
pub mod bench_deploy;
pub mod bench_env;
pub mod bench_scan;
pub mod browser;
pub mod build_image;
pub mod cli;
pub mod clock;
pub mod codegen;
pub mod compose;
pub mod demo;
pub mod deploy;
pub mod docker;
pub mod dockerfile_lint;
pub mod engine;
pub mod env_show;
pub mod frontend;
pub mod git;
pub mod output;
pub mod remote;
pub mod sandbox;
pub mod scan;
pub mod secrets;
pub mod test_cmd;
pub mod verify_env;
pub mod verify_git;
pub mod verify_image;
