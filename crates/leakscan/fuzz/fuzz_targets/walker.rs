//! Fuzz the archive walker: any byte string, read as an image export stream and as a
//! generic (possibly nested, compressed) archive, must never panic or grow memory unbounded.
#![no_main]

use leakscan::{Allowlist, KnownValue, Limits, Needles, Scanner};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| {
        let kv = KnownValue { variable: "FUZZ_SECRET".into(), value: b"fuzz-secret-123".to_vec() };
        // Small limits keep each run fast; the logic under test is the same.
        let limits = Limits { max_decompressed: 8 << 20, ratio_grace: 1 << 20, max_entries: 10_000, ..Limits::default() };
        Scanner::new(Needles::build(vec![kv], &Allowlist::default()), Allowlist::default()).with_limits(limits)
    })
}

fuzz_target!(|data: &[u8]| {
    let s = scanner();
    let _ = leakscan::scan_image_stream(s, &mut &data[..]);
    let _ = leakscan::scan_archive_stream(s, &mut &data[..], "input");
});
