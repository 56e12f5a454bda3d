//! Fuzz the env file reader: any bytes must give entries or a `ParseError` with a line inside
//! the input, never a panic, a hang or a stack overflow; the divergence check must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lookup = |k: &str| (k == "SET").then(|| "v".to_string());
    let lines = 1 + data.iter().filter(|&&b| b == b'\n').count();
    match envfile::compose::parse_bytes(data, &lookup) {
        Ok(entries) => {
            for e in &entries {
                assert!(e.line >= 1 && e.line <= lines, "entry line {} of {lines}", e.line);
            }
        }
        Err(e) => assert!(e.line >= 1 && e.line <= lines, "error line {} of {lines}", e.line),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = envfile::compose::parse(text, &lookup);
        for d in envfile::divergence::check(text) {
            assert!(d.line >= 1 && d.line <= lines);
        }
    }
});
