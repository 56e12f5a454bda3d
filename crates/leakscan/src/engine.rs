//! The streaming core: read a stream in chunks, search every chunk for all needles and rule
//! literals, and carry an overlap so matches across chunk boundaries are found exactly once.

use crate::allow::Allowlist;
use crate::finding::{Finding, Kind, Location, Severity, mask};
use crate::needles::Needles;
use crate::rules::{MAX_BACK, Rules, WINDOW};
use crate::walk::Limits;
use serde::Serialize;
use std::collections::HashSet;
use std::io::{self, Read};

/// Bytes searched per step. Big enough that per-chunk overhead vanishes, small enough to
/// stay in cache-friendly territory and keep memory flat.
const CHUNK: usize = 1 << 20;
/// At most this many findings are kept; the rest are counted (hostile inputs can hold
/// millions of matches).
const MAX_FINDINGS: usize = 10_000;
/// Generic keywords count as dense once at least this many were met, more than one per
/// [`DENSE_BYTES_PER_HIT`] bytes (synthetic minified JS: one per ~40 bytes; Python: rarer).
const DENSE_MIN_HITS: usize = 256;
const DENSE_BYTES_PER_HIT: usize = 256;

/// What a scan produced.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Bytes searched (decompressed), for throughput and progress.
    pub bytes_scanned: u64,
    /// Findings dropped past the cap.
    pub findings_dropped: u64,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// A configured scanner: needles, rules, allowlist and limits. Cheap to share by reference.
pub struct Scanner {
    pub(crate) needles: Needles,
    pub(crate) rules: Rules,
    pub(crate) allow: Allowlist,
    pub(crate) patterns: bool,
    pub(crate) limits: Limits,
    progress: Option<Box<dyn Fn(u64) + Send + Sync>>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner").field("needles", &self.needles).field("patterns", &self.patterns).finish()
    }
}

/// One raw match in a stream, before it has a location.
pub(crate) struct Hit {
    pub severity: Severity,
    pub kind: Kind,
    pub variable: Option<String>,
    pub rule: Option<String>,
    pub encoding: Option<String>,
    pub offset: u64,
    pub preview: Option<String>,
    pub fingerprint: Option<String>,
}

impl Scanner {
    pub fn new(needles: Needles, allow: Allowlist) -> Scanner {
        Scanner { needles, rules: Rules::new(), allow, patterns: true, limits: Limits::default(), progress: None }
    }

    /// Turn the pattern rules off (known values only).
    pub fn with_patterns(mut self, on: bool) -> Scanner {
        self.patterns = on;
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Scanner {
        self.limits = limits;
        self
    }

    /// Called with the number of bytes searched after each chunk (for a progress bar).
    pub fn with_progress(mut self, f: impl Fn(u64) + Send + Sync + 'static) -> Scanner {
        self.progress = Some(Box::new(f));
        self
    }

    pub fn needles(&self) -> &Needles {
        &self.needles
    }

    /// Scan an in-memory value (a config field, a history line) as one stream.
    pub fn scan_bytes(&self, bytes: &[u8], location: Location) -> Vec<Finding> {
        let mut sink = Sink::new(self);
        let mut r = bytes;
        // Reading from a slice cannot fail.
        let _ = self.scan_stream(&mut r, &mut |h| sink.push(h, &location));
        sink.into_report().findings
    }

    fn overlap(&self) -> usize {
        self.needles.max_len.max(WINDOW + MAX_BACK)
    }

    /// Search one stream (no archive detection) and call `emit` for each distinct hit
    /// (the first occurrence of each variable/encoding or rule).
    pub(crate) fn scan_stream(&self, r: &mut dyn Read, emit: &mut dyn FnMut(Hit)) -> io::Result<u64> {
        let overlap = self.overlap();
        // Room for a chunk after the kept overlap, so reads never grow (and copy) it.
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + overlap);
        let mut base: u64 = 0;
        // Absolute offsets: needle matches ending at or before `needle_done` and rule
        // literals starting before `rule_done` were handled with the previous chunk.
        let (mut needle_done, mut rule_done) = (0u64, 0u64);
        let mut seen: HashSet<u64> = HashSet::new();
        // Whether the generic keywords were found dense (see `search`).
        let mut dense = false;
        let mut total = 0u64;
        loop {
            let n = (&mut *r).take(CHUNK as u64).read_to_end(&mut buf)?;
            total += n as u64;
            let eof = n < CHUNK;
            let rule_limit = if eof { u64::MAX } else { base + buf.len().saturating_sub(WINDOW) as u64 };
            self.search(&buf, base, needle_done, rule_done, rule_limit, &mut dense, &mut seen, emit);
            if let Some(p) = &self.progress {
                p(n as u64);
            }
            if eof {
                return Ok(total);
            }
            needle_done = base + buf.len() as u64;
            rule_done = rule_limit;
            let keep = overlap.min(buf.len());
            let drop = buf.len() - keep;
            buf.drain(..drop);
            base += drop as u64;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn search(
        &self,
        buf: &[u8],
        base: u64,
        needle_done: u64,
        rule_done: u64,
        rule_limit: u64,
        dense: &mut bool,
        seen: &mut HashSet<u64>,
        emit: &mut dyn FnMut(Hit),
    ) {
        // Needle matches ending at or before `needle_done` were reported with the previous
        // chunk; of the rest, the first occurrence of each needle is reported.
        let mut known = |id: usize, start: usize, end: usize| {
            if base + (end as u64) <= needle_done || !seen.insert(id as u64) {
                return;
            }
            let info = &self.needles.info[id];
            let kv = &self.needles.values[info.value];
            emit(Hit {
                severity: Severity::Error,
                kind: Kind::Known,
                variable: Some(kv.variable.clone()),
                rule: None,
                encoding: Some(info.encoding.name().to_string()),
                offset: base + start as u64,
                preview: mask(&String::from_utf8_lossy(&kv.value)),
                fingerprint: None,
            });
        };
        for (ac, ids) in &self.needles.groups {
            for m in ac.find_iter(buf) {
                known(ids[m.pattern().as_usize()], m.start(), m.end());
            }
        }
        if let Some((sampled, ids)) = &self.needles.sampled {
            sampled.find(buf, |n, start| known(ids[n], start, start + self.needles.info[ids[n]].len));
        }
        if !self.patterns {
            return;
        }
        let mut check = |pattern: usize, start: usize| {
            let Some(hit) = self.rules.check(pattern, buf, start) else { return };
            // The same rule may fire on different secrets in one file: keep each distinct
            // secret once (the sink caps the total).
            let key = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                (hit.id, hit.secret).hash(&mut h);
                h.finish() | (1 << 63)
            };
            if seen.insert(key) {
                emit(Hit {
                    severity: hit.severity,
                    kind: Kind::Pattern,
                    variable: None,
                    rule: Some(hit.id.to_string()),
                    encoding: None,
                    offset: base + hit.start as u64,
                    preview: mask(&String::from_utf8_lossy(hit.secret)),
                    fingerprint: Some(crate::fingerprint(hit.secret)),
                });
            }
        };
        // Rule literals start in [rule_done, rule_limit) (absolute offsets).
        let (from, to) =
            ((rule_done.saturating_sub(base)) as usize, rule_limit.saturating_sub(base).min(buf.len() as u64) as usize);
        // While the generic keywords are rare (most real content), one search for every
        // literal is cheapest. Where they are dense (minified JS names like `tokenize`,
        // `password:`), the rest of the chunk goes to a search for the other literals plus
        // the assignment-shaped search for the keywords, which skips most of their hits.
        // Content found dense stays so for the rest of the stream (minified JS does not turn
        // into prose halfway), which spares each later chunk the probing search.
        // The second automaton's rules, over the same range (their literals overlap none of
        // the first's, so the two searches never contend for a match).
        for m in self.rules.second.find_iter(aho_corasick::Input::new(buf).span(from..buf.len())) {
            if m.start() >= to {
                break;
            }
            check(self.rules.second_base + m.pattern().as_usize(), m.start());
        }
        let mut resume = dense.then_some(from);
        let mut generic_hits = 0usize;
        if !*dense {
            for m in self.rules.literals.find_iter(aho_corasick::Input::new(buf).span(from..buf.len())) {
                let (pattern, start) = (m.pattern().as_usize(), m.start());
                if start >= to {
                    break;
                }
                if self.rules.is_generic(pattern) {
                    generic_hits += 1;
                    if generic_hits >= DENSE_MIN_HITS && generic_hits * DENSE_BYTES_PER_HIT > start - from {
                        resume = Some(start);
                        break;
                    }
                }
                check(pattern, start);
            }
        }
        let Some(from) = resume else { return };
        *dense = true;
        for m in self.rules.prefixes.find_iter(aho_corasick::Input::new(buf).span(from..buf.len())) {
            if m.start() >= to {
                break;
            }
            check(m.pattern().as_usize(), m.start());
        }
        // An operator lies at most a key's length past its keyword, hence the slack past
        // `to`. The same value met through two keywords of one key is reported once (`seen`).
        crate::assign::candidates(
            &self.rules.literals,
            buf,
            from,
            to.saturating_add(crate::assign::LOOK_BACK),
            |pattern, start| {
                if start >= from && start < to && self.rules.is_generic(pattern) {
                    check(pattern, start);
                }
            },
        );
    }
}

/// Collects findings: applies the allowlist and the cap.
pub(crate) struct Sink<'a> {
    scanner: &'a Scanner,
    report: Report,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(scanner: &'a Scanner) -> Sink<'a> {
        Sink { scanner, report: Report::default() }
    }

    pub(crate) fn push(&mut self, h: Hit, location: &Location) {
        self.add(Finding {
            severity: h.severity,
            kind: h.kind,
            variable: h.variable,
            rule: h.rule,
            encoding: h.encoding,
            location: location.clone(),
            offset: Some(h.offset),
            preview: h.preview,
            fingerprint: h.fingerprint,
            detail: None,
        });
    }

    pub(crate) fn add(&mut self, f: Finding) {
        if self.scanner.allow.allows(&f) {
            return;
        }
        if self.report.findings.len() >= MAX_FINDINGS {
            self.report.findings_dropped += 1;
        } else {
            self.report.findings.push(f);
        }
    }

    pub(crate) fn scanned(&mut self, n: u64) {
        self.report.bytes_scanned += n;
    }

    pub(crate) fn findings_mut(&mut self) -> &mut Vec<Finding> {
        &mut self.report.findings
    }

    pub(crate) fn into_report(self) -> Report {
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::needles::KnownValue;

    /// A reader that returns at most `step` bytes per call, to exercise chunk edges.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(out.len()).min(self.1);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn scanner(value: &str) -> Scanner {
        let kv = KnownValue { variable: "API_SECRET".into(), value: value.as_bytes().to_vec() };
        Scanner::new(Needles::build(vec![kv], &Allowlist::default()), Allowlist::default())
    }

    #[test]
    fn needle_across_a_chunk_boundary_is_found_once() {
        // A short value (Aho-Corasick) and a long one (sampled search), raw and as hex.
        for value in ["canary-boundary-Zq81kLm", "canary-boundary-long-value-Zq81kLm7Pw"] {
            let s = scanner(value);
            for needle in [value.to_string(), crate::hex_lower(value.as_bytes())] {
                for cut in [
                    CHUNK - needle.len() - 1,
                    CHUNK - needle.len(),
                    CHUNK - 5,
                    CHUNK - 1,
                    CHUNK,
                    CHUNK + 3,
                    2 * CHUNK - 40,
                ] {
                    let mut data = vec![b'.'; cut];
                    data.extend_from_slice(needle.as_bytes());
                    data.extend(std::iter::repeat_n(b'.', CHUNK));
                    let mut hits = Vec::new();
                    s.scan_stream(&mut Trickle(&data, 70_000), &mut |h| hits.push(h.offset)).unwrap();
                    assert_eq!(hits, vec![cut as u64], "{} bytes at {cut}", needle.len());
                }
            }
        }
    }

    #[test]
    fn rule_hit_near_a_chunk_end_is_checked_with_its_window() {
        let s = scanner("unrelated-value-123");
        let key = "ghp_4fK9qL2mZx8Rt7Vb1Nc6Hw3Jd5Sa0Ye2Pu9o";
        let mut data = vec![b' '; CHUNK - 10];
        data.extend_from_slice(key.as_bytes());
        data.extend_from_slice(b" ");
        let mut rules = Vec::new();
        s.scan_stream(&mut &data[..], &mut |h| rules.push((h.rule, h.offset))).unwrap();
        assert_eq!(rules, vec![(Some("github-token".to_string()), (CHUNK - 10) as u64)]);
    }

    #[test]
    fn second_automaton_rules_at_chunk_edges_and_in_dense_content() {
        let s = scanner("unrelated-value-123");
        let key = format!("dop_v1_{}", "0f3a9c2b7d4e1f60a8b5c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2");
        let filler = "var n=r.token||t.secretKey;";
        for dense in [false, true] {
            for cut in [100, CHUNK - WINDOW - 8, CHUNK - 10, CHUNK + 3] {
                let mut data = if dense { filler.repeat(cut / filler.len() + 1).into_bytes() } else { vec![b' '; cut] };
                data.truncate(cut);
                data.extend_from_slice(format!(" {key} ").as_bytes());
                data.extend(std::iter::repeat_n(b' ', 100));
                let mut hits = Vec::new();
                s.scan_stream(&mut Trickle(&data, 70_000), &mut |h| hits.push((h.rule, h.offset))).unwrap();
                assert_eq!(
                    hits,
                    vec![(Some("digitalocean-token".to_string()), (cut + 1) as u64)],
                    "cut {cut} dense {dense}"
                );
            }
        }
    }

    #[test]
    fn a_marker_rule_looks_back_across_a_chunk_edge() {
        let s = scanner("unrelated-value-123");
        let key = format!("sk-proj-{}T3BlbkFJ{}", "aB3dE5gH7j".repeat(7) + "aB3d", "Zq9Xw2Rt7V".repeat(7) + "Zq9X");
        let marker = key.find("T3BlbkFJ").unwrap();
        for cut in (CHUNK - WINDOW - 140..CHUNK - WINDOW + 40).step_by(7) {
            let mut data = vec![b' '; cut];
            data.extend_from_slice(key.as_bytes());
            data.extend(std::iter::repeat_n(b' ', CHUNK));
            let mut hits = Vec::new();
            s.scan_stream(&mut Trickle(&data, 70_000), &mut |h| hits.push((h.rule, h.offset))).unwrap();
            assert_eq!(hits, vec![(Some("openai-key".to_string()), cut as u64)], "cut {cut} (marker at {marker})");
        }
    }

    #[test]
    fn generic_assignment_at_chunk_edges_is_found_once() {
        let s = scanner("unrelated-value-123");
        let line = "DB_PASSWORD=Xk9qL2mZ8Rt7Vb1N";
        let value_at = line.find('=').unwrap() + 1;
        for cut in [CHUNK - WINDOW - 30, CHUNK - WINDOW - 8, CHUNK - WINDOW, CHUNK - 20, CHUNK - 5, CHUNK + 3] {
            let mut data = vec![b' '; cut];
            data.extend_from_slice(line.as_bytes());
            data.extend(std::iter::repeat_n(b' ', CHUNK));
            let mut hits = Vec::new();
            s.scan_stream(&mut Trickle(&data, 70_000), &mut |h| hits.push((h.rule, h.offset))).unwrap();
            assert_eq!(
                hits,
                vec![(Some("generic-secret-assignment".to_string()), (cut + value_at) as u64)],
                "cut {cut}"
            );
        }
    }

    #[test]
    fn dense_keywords_switch_searches_without_losing_or_repeating_hits() {
        let s = scanner("unrelated-value-123");
        // Keyword-dense filler (minified-JS-like), so the chunk switches to the split search.
        let filler = "var n=r.token||t.secretKey;";
        let line = "DB_PASSWORD=Xk9qL2mZ8Rt7Vb1N";
        let gh = "ghp_4fK9qL2mZx8Rt7Vb1Nc6Hw3Jd5Sa0Ye2Pu9o";
        for cut in [100, 50_000, CHUNK - WINDOW - 8, CHUNK - 5] {
            let mut data = filler.repeat(cut / filler.len() + 1).into_bytes();
            data.truncate(cut);
            data.push(b' ');
            let (at_line, at_gh) = (data.len(), data.len() + line.len() + 1);
            data.extend_from_slice(format!("{line} {gh} ").as_bytes());
            data.extend(filler.repeat(CHUNK / filler.len()).bytes());
            let mut hits = Vec::new();
            s.scan_stream(&mut Trickle(&data, 70_000), &mut |h| hits.push((h.rule.unwrap_or_default(), h.offset)))
                .unwrap();
            hits.sort();
            let value_at = line.find('=').unwrap() + 1;
            assert_eq!(
                hits,
                vec![
                    ("generic-secret-assignment".to_string(), (at_line + value_at) as u64),
                    ("github-token".to_string(), at_gh as u64)
                ],
                "cut {cut}"
            );
        }
    }
}
