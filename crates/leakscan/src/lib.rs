//! Streaming secret scanner: known values and their encodings plus pattern rules, over
//! directories, image exports, OCI layouts, git history and nested archives.
//!
//! The crate never prints and never talks to Docker: callers hand it `Read`s (an image
//! export streamed from the engine, a tarball, a directory, a git repository path) and get
//! [`Finding`]s back. Nothing is extracted to disk and memory stays bounded whatever the
//! input size.

mod allow;
mod assign;
mod checks;
mod dir;
mod engine;
mod finding;
mod git;
mod glob;
mod image;
mod needles;
mod opmask;
mod rules;
mod sampled;
mod tarstream;
mod walk;

pub use allow::{AllowEntry, Allowlist};
pub use dir::{scan_dir, scan_path};
pub use engine::{Report, Scanner};
pub use finding::{Finding, Kind, Location, Severity, mask};
pub use git::scan_git;
pub use image::scan_image_stream;
pub use needles::{Encoding, KnownValue, MIN_VALUE_LEN, Needles, WeakValue, encodings};
pub use rules::{RULES, RuleInfo};
pub use walk::{Limits, scan_archive_stream};

/// The sha256 fingerprint of a value, as written in the allowlist (`sha256:<hex>`).
pub fn fingerprint(value: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(value);
    format!("sha256:{}", hex_lower(&digest))
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// A xorshift generator for tests: `next(n)` is in `0..n`.
#[cfg(test)]
pub(crate) fn test_rng(seed: u64) -> impl FnMut(usize) -> usize {
    let mut state = seed;
    move |n| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    }
}
