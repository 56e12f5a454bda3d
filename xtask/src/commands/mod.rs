//! One module per command: options, then a plan from `crate::plan`, then acting on it through
//! `crate::effects`, printing through `crate::report`.

pub mod audit;
pub mod bench;
pub mod build_image;
pub mod codegen;
pub mod demo;
pub mod deploy;
pub mod env_show;
pub mod lint;
pub mod scan;
pub mod secrets;
pub mod test;
pub mod verify_env;
pub mod verify_git;
pub mod verify_image;
