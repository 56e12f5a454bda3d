//! Test and demo rigs: the private Docker engine, its locally made base image, and the sandbox
//! VPS (a second engine and sshd in a network namespace). Never used by a real deploy.

pub mod engine;
pub mod sandbox;
