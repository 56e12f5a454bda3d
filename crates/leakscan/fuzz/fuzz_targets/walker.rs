//! Fuzz the archive walker: any byte string, read as an image export stream and as a
//! generic (possibly nested, compressed) archive, must never panic or grow memory unbounded.
//! A third pass puts the bytes after keyword-dense text, so they also go through the
//! operator-bitmask search the engine switches to there.
#![no_main]

use leakscan::{Allowlist, KnownValue, Limits, Needles, Scanner};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| {
        // One value short enough for the automaton, one long enough for the sampled search.
        let kv = KnownValue { variable: "FUZZ_SECRET".into(), value: b"fuzz-secret-123".to_vec() };
        let long = KnownValue { variable: "FUZZ_LONG".into(), value: b"fuzz-long-secret-value-0123456789".to_vec() };
        // Small limits keep each run fast; the logic under test is the same.
        let limits =
            Limits { max_decompressed: 8 << 20, ratio_grace: 1 << 20, max_entries: 10_000, ..Limits::default() };
        Scanner::new(Needles::build(vec![kv, long], &Allowlist::default()), Allowlist::default()).with_limits(limits)
    })
}

fuzz_target!(|data: &[u8]| {
    let s = scanner();
    let _ = leakscan::scan_image_stream(s, &mut &data[..]);
    let _ = leakscan::scan_archive_stream(s, &mut &data[..], "input");
    let dense = "token ".repeat(300);
    let _ = leakscan::scan_archive_stream(s, &mut std::io::Read::chain(dense.as_bytes(), data), "dense");
});
