//! The reference app's server (placeholder until the reference app lands).

fn main() {}
