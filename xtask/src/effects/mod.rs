//! The only code that touches the world: the Docker engine, SSH, child processes, files and
//! the clock. Each is a small type with a recording fake where unit tests need one; the
//! real-engine tests under `tests/` prove the real edges.

pub mod browser;
pub mod clock;
pub mod docker;
pub mod files;
pub mod git;
pub mod process;
pub mod runtime;
pub mod ssh;
