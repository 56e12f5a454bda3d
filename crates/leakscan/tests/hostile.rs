//! Hostile archives: path tricks, links, huge and sparse entries, truncation, bombs and deep
//! nesting must end in a finding or a clear error, never a panic, a write or unbounded memory.

mod common;

use common::*;
use leakscan::{Kind, Limits};

const SECRET: &str = "hostile-Secret-Zq81Lm";

/// A raw header with any name and type (the `tar` crate refuses `..` and absolute paths).
fn raw_entry(name: &[u8], kind: u8, link: &[u8], data: &[u8], declared: Option<u64>) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..108].copy_from_slice(b"0000644\0");
    let size = declared.unwrap_or(data.len() as u64);
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let sum: u64 = h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { b as u64 }).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn end(mut v: Vec<u8>) -> Vec<u8> {
    v.extend_from_slice(&[0u8; 1024]);
    v
}

#[test]
fn path_tricks_and_links_are_named_not_followed() {
    let mut t = Vec::new();
    t.extend(raw_entry(b"/etc/cron.d/evil", b'0', b"", format!("x={SECRET}").as_bytes(), None));
    t.extend(raw_entry(b"../../outside.txt", b'0', b"", format!("x={SECRET}").as_bytes(), None));
    t.extend(raw_entry(b"link-to-passwd", b'2', b"/etc/passwd", b"", None));
    t.extend(raw_entry(b"hard-to-shadow", b'1', b"/etc/shadow", b"", None));
    // A symlink whose size field lies: its "data" must not be read as the next header.
    t.extend(raw_entry(b"lying-link", b'2', b"/", b"", Some(0)));
    let t = end(t);
    // If links were followed, the content of /etc/passwd would match this needle.
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let first_line = passwd.lines().next().unwrap_or("root:x:0:0:root:/root:/bin/bash").to_string();
    let s = scanner(&[("HOSTILE", SECRET), ("PASSWD_LINE", &first_line)]);
    let cwd_before: Vec<_> = std::fs::read_dir(".").unwrap().map(|e| e.unwrap().file_name()).collect();
    let report = leakscan::scan_image_stream(&s, &mut &t[..]).unwrap();
    let paths: Vec<String> = report.findings.iter().map(|f| f.location.to_string()).collect();
    assert_eq!(paths, vec!["etc/cron.d/evil", "../../outside.txt"], "{:#?}", report.findings);
    assert!(!std::path::Path::new("../outside.txt").exists());
    let cwd_after: Vec<_> = std::fs::read_dir(".").unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(cwd_before, cwd_after, "the scan wrote a file");
}

#[test]
fn truncated_streams_are_errors() {
    let t = tar_of(&[("a.txt", &[b'a'; 5000][..]), ("b.txt", SECRET.as_bytes())]);
    let s = scanner(&[("HOSTILE", SECRET)]);
    for cut in [100, 511, 512, 700, 5000, 5630] {
        let err = leakscan::scan_image_stream(&s, &mut &t[..cut]).unwrap_err();
        assert!(err.to_string().contains("truncated"), "cut {cut}: {err}");
    }
    // A truncated gzip layer inside a complete export is a finding, not a crash.
    let layer = gzip(&tar_of(&[("x", &[b'x'; 100_000][..])]));
    let outer = tar_of(&[("l/layer.tar.gz", &layer[..layer.len() / 2])]);
    let report = leakscan::scan_image_stream(&s, &mut &outer[..]).unwrap();
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    assert_eq!(report.findings[0].kind, Kind::Unscanned);
}

#[test]
fn huge_declared_size_without_data_is_an_error_not_an_allocation() {
    let t = raw_entry(b"huge", b'0', b"", b"tiny", Some(0o77777777777));
    let s = scanner(&[("HOSTILE", SECRET)]);
    assert!(leakscan::scan_image_stream(&s, &mut &t[..]).is_err());
    // Sparse entries are read as stored, never expanded.
    let t = end(raw_entry(b"sparse", b'S', b"", format!("k={SECRET}").as_bytes(), None));
    let report = leakscan::scan_image_stream(&s, &mut &t[..]).unwrap();
    assert_eq!(report.findings.len(), 1);
}

#[test]
fn gzip_bomb_is_cut_off_by_the_ratio_limit() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        std::io::Write::write_all(&mut e, &zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    let t = tar_of(&[("bomb.gz", &bomb[..])]);
    let s = scanner(&[("HOSTILE", SECRET)]).with_limits(Limits { ratio_grace: 8 << 20, ..Limits::default() });
    let report = leakscan::scan_image_stream(&s, &mut &t[..]).unwrap();
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    assert!(report.findings[0].detail.as_deref().unwrap().contains("ratio"));
    assert!(report.bytes_scanned < 64 << 20, "{}", report.bytes_scanned);
}

#[test]
fn deep_nesting_stops_at_the_depth_limit_with_a_finding() {
    let mut blob = tar_of(&[("core.txt", format!("k={SECRET}").as_bytes())]);
    for i in 0..12 {
        blob = if i % 2 == 0 { gzip(&blob) } else { tar_of(&[("next.tar.gz", &blob[..])]) };
    }
    let s = scanner(&[("HOSTILE", SECRET)]);
    let report = leakscan::scan_archive_stream(&s, &mut &blob[..], "deep.tar.gz").unwrap();
    assert!(
        report.findings.iter().any(|f| f.kind == Kind::Unscanned && f.detail.as_deref().unwrap().contains("deeper")),
        "{:#?}",
        report.findings
    );
    // Within the limit the secret is found through every level.
    let mut shallow = tar_of(&[("core.txt", format!("k={SECRET}").as_bytes())]);
    shallow = tar_of(&[("in.tar.gz", &gzip(&shallow)[..])]);
    let report = leakscan::scan_archive_stream(&s, &mut &gzip(&shallow)[..], "two.tar.gz").unwrap();
    assert_eq!(report.findings[0].location.to_string(), "two.tar.gz!/in.tar.gz!/core.txt");
}

#[test]
fn garbage_is_an_error_or_nothing_never_a_panic() {
    let s = scanner(&[("HOSTILE", SECRET)]);
    let mut x: u32 = 7;
    for len in [0usize, 1, 2, 4, 511, 512, 513, 4096] {
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let _ = leakscan::scan_image_stream(&s, &mut &junk[..]);
        let _ = leakscan::scan_archive_stream(&s, &mut &junk[..], "junk");
        let mut with_magic = vec![0x1f, 0x8b];
        with_magic.extend_from_slice(&junk);
        let _ = leakscan::scan_archive_stream(&s, &mut &with_magic[..], "junk.gz");
        let mut zip_magic = b"PK\x03\x04".to_vec();
        zip_magic.extend_from_slice(&junk);
        let _ = leakscan::scan_archive_stream(&s, &mut &zip_magic[..], "junk.zip");
    }
}
