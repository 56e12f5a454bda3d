//! `cargo xtask bench scan`: the scanner on a generated corpus of layer-like data (text,
//! minified JS, binary) with planted secrets, against `rg -a -F -c -f VALUES` on the same
//! bytes (throughput ratio, single thread) and against installable peers (time, recall).

use crate::project::Project;
use crate::report::{self, Format, Status};
use anyhow::Context;
use base64::Engine as _;
use leakscan::{Allowlist, KnownValue, Location, Needles, Scanner};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const FILE_BYTES: usize = 8 << 20;

/// One planted secret: where it is and what should find it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Plant {
    file: String,
    start: u64,
    end: u64,
    first_line: u64,
    last_line: u64,
    /// `known:<encoding>` or `pattern:<rule>`.
    what: String,
    variable: Option<String>,
}

#[derive(Debug, Serialize)]
struct Tool {
    name: String,
    command: String,
    bytes: u64,
    median_s: f64,
    mb_per_s: f64,
    known_found: usize,
    known_total: usize,
    pattern_found: usize,
    pattern_total: usize,
    other_findings: usize,
    note: String,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
    fn chars(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n).map(|_| *self.pick(alphabet) as char).collect()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const WORDS: &[&str] = &[
    "the", "layer", "config", "server", "request", "value", "install", "package", "version", "error", "user", "token",
    "password", "secret", "cache", "build", "module", "return", "function", "import", "export", "default", "string",
    "number", "object", "index", "data", "path", "file", "system",
];

fn text_line(r: &mut Rng, out: &mut Vec<u8>) {
    match r.next() % 6 {
        0 => out.extend_from_slice(
            format!(
                "\"integrity\": \"sha512-{}==\",\n",
                r.chars(86, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
            )
            .as_bytes(),
        ),
        1 => out.extend_from_slice(
            format!(
                "commit {:016x}{:016x}{:08x} uuid {:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}\n",
                r.next(),
                r.next(),
                r.next() as u32,
                r.next() as u32,
                r.next() as u16,
                r.next() % 4096,
                r.next() % 4096,
                r.next() & 0xffff_ffff_ffff
            )
            .as_bytes(),
        ),
        _ => {
            for _ in 0..(8 + r.next() % 14) {
                out.extend_from_slice(r.pick(WORDS).as_bytes());
                out.push(b' ');
            }
            out.push(b'\n');
        }
    }
}

fn js_line(r: &mut Rng, out: &mut Vec<u8>) {
    for _ in 0..(20 + r.next() % 40) {
        let (a, b) = (r.chars(2, b"abcdefghijklmnopqrstuvwxyz"), r.chars(1, b"etnrsio"));
        let s = match r.next() % 5 {
            0 => format!(
                "function {a}({b},t){{var n={b}.token||t.accessToken;return{{password:n.password,secret:null}}}}"
            ),
            1 => format!("const {a}={{headers:{{Authorization:\"Bearer \"+{b}.token}},key:import.meta.env.VITE_KEY}};"),
            2 => format!("{a}.prototype.tokenize=function({b}){{return this.secretKey?{b}.split(\",\"):[]}};"),
            3 => format!("var {a}=\"{}\";", r.chars(24, ALNUM)),
            _ => format!("if({a}.length>{}){{{b}.push({a}.slice(0,{}))}}", r.next() % 999, r.next() % 99),
        };
        out.extend_from_slice(s.as_bytes());
    }
    out.push(b'\n');
}

/// The planted lines: known values in every encoding, and undeclared secrets of each rule.
fn plant_lines(r: &mut Rng, values: &[(String, String)]) -> Vec<(String, Option<String>, String)> {
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let b64u = |s: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    let v = |i: usize| (values[i].0.clone(), values[i].1.clone());
    let mut out = Vec::new();
    let mut known = |what: &str, i: usize, line: String| out.push((format!("known:{what}"), Some(v(i).0), line));
    known("raw", 0, format!("DATABASE_URL=postgres://app:{}@db:5432/app", v(0).1));
    known("raw", 1, format!("window.__CFG__={{\"k\":\"{}\"}}", v(1).1));
    for (n, pre) in ["", "x", "xy"].iter().enumerate() {
        known("base64", 2 + n, format!("blob: {}", b64(format!("{pre}{}:suffix", v(2 + n).1).as_bytes())));
    }
    known("base64url", 5, format!("state={}", b64u(format!("z{}", v(5).1).as_bytes())));
    known("hex", 6, format!("digest {}", hex(&v(6).1)));
    known("hex-upper", 7, format!("DIGEST {}", hex(&v(7).1).to_uppercase()));
    known(
        "url-encoded",
        0,
        format!(
            "https://api.example/x?dsn={}&v=1",
            v(0).1
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                })
                .collect::<String>()
        ),
    );
    known("json-escaped", 1, format!("{{\"cfg\":\"{}\"}}", v(1).1.replace('/', "\\/")));
    let pem_body: Vec<String> =
        (0..12).map(|_| r.chars(64, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")).collect();
    let jwt = format!(
        "{}.{}.{}",
        b64u(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64u(br#"{"iss":"supabase","role":"service_role","iat":1700000000}"#),
        r.chars(43, ALNUM)
    );
    let mut pat = |rule: &str, line: String| out.push((format!("pattern:{rule}"), None, line));
    pat("github-token", format!("export GITHUB_TOKEN=ghp_{}", r.chars(36, ALNUM)));
    pat("github-token", format!("token: github_pat_{}_{}", r.chars(22, ALNUM), r.chars(59, ALNUM)));
    pat("aws-access-key-id", format!("aws_access_key_id = AKIA{}", r.chars(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")));
    pat("aws-secret-access-key", format!("aws_secret_access_key = {}", r.chars(40, ALNUM)));
    pat("stripe-live-key", format!("STRIPE_KEY=\"sk_live_{}\"", r.chars(24, ALNUM)));
    pat(
        "slack-token",
        format!("slack: xoxb-{}-{}-{}", r.chars(11, b"0123456789"), r.chars(12, b"0123456789"), r.chars(24, ALNUM)),
    );
    pat("google-api-key", format!("\"apiKey\": \"AIza{}\"", r.chars(35, ALNUM)));
    // The documented shapes: OpenAI's T3BlbkFJ marker between two 74-character halves,
    // Supabase's 22 characters, `_`, an 8-character checksum.
    pat("openai-key", format!("OPENAI_API_KEY=sk-proj-{}T3BlbkFJ{}", r.chars(74, ALNUM), r.chars(74, ALNUM)));
    pat("openrouter-key", format!("OPENROUTER_API_KEY=sk-or-v1-{}", r.chars(64, b"0123456789abcdef")));
    pat("anthropic-key", format!("ANTHROPIC_API_KEY=sk-ant-api03-{}-{}AA", r.chars(80, ALNUM), r.chars(12, ALNUM)));
    pat("npm-token", format!("//registry.npmjs.org/:_authToken=npm_{}", r.chars(36, ALNUM)));
    pat("supabase-secret-key", format!("SUPABASE_SECRET_KEY=sb_secret_{}_{}", r.chars(22, ALNUM), r.chars(8, ALNUM)));
    pat(
        "private-key",
        format!("-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----", pem_body.join("\n")),
    );
    pat("supabase-service-role-jwt", format!("SERVICE_ROLE_KEY={jwt}"));
    pat("generic-secret-assignment", format!("DB_PASSWORD={}#{}", r.chars(10, ALNUM), r.chars(9, ALNUM)));
    out
}

/// Generate (or reuse) the corpus: `files` files of 8 MB, a third each text, minified JS and
/// binary; planted lines spread over them.
/// The declared values (variable, value) and where each secret was planted.
type Corpus = (Vec<(String, String)>, Vec<Plant>);

fn corpus(dir: &Path, files: usize) -> anyhow::Result<Corpus> {
    let meta = dir.join("planted.json");
    if let Ok(text) = std::fs::read_to_string(&meta)
        && let Ok(v) = serde_json::from_str(&text)
    {
        return Ok(v);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let values: Vec<(String, String)> = (0..8)
        .map(|i| {
            (format!("BENCH_SECRET_{i}"), format!("{}/{}.{}", r.chars(10, ALNUM), r.chars(8, ALNUM), r.chars(6, ALNUM)))
        })
        .collect();
    let lines = plant_lines(&mut r, &values);
    let mut plants = Vec::new();
    for f in 0..files {
        let name = format!("f{f:03}.{}", ["txt", "js", "bin"][f % 3]);
        // Plants go to text and JS files only (binary files are the noise floor).
        let targets: Vec<usize> = (0..files).filter(|i| i % 3 != 2).collect();
        let mine: Vec<_> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| targets[(i * 7 + 1) % targets.len()] == f)
            .map(|(_, l)| l)
            .collect();
        let mut out = Vec::with_capacity(FILE_BYTES + 4096);
        let step = FILE_BYTES / (mine.len() + 1);
        let mut next = 0;
        while out.len() < FILE_BYTES {
            if next < mine.len() && out.len() >= step * (next + 1) {
                let (what, variable, line) = mine[next];
                let first_line = 1 + out.iter().filter(|b| **b == b'\n').count() as u64;
                let start = out.len() as u64;
                out.extend_from_slice(line.as_bytes());
                let end = out.len() as u64;
                out.push(b'\n');
                let last_line = first_line + line.matches('\n').count() as u64;
                plants.push(Plant {
                    file: name.clone(),
                    start,
                    end,
                    first_line,
                    last_line,
                    what: what.clone(),
                    variable: variable.clone(),
                });
                next += 1;
            }
            match f % 3 {
                0 => text_line(&mut r, &mut out),
                1 => js_line(&mut r, &mut out),
                _ => (0..4096).for_each(|_| out.extend_from_slice(&r.next().to_le_bytes()[..2])),
            }
        }
        std::fs::write(dir.join(&name), &out).with_context(|| format!("write {name}"))?;
    }
    std::fs::write(dir.join("values.txt"), values.iter().map(|(_, v)| format!("{v}\n")).collect::<String>())?;
    std::fs::write(&meta, serde_json::to_string(&(&values, &plants))?)?;
    Ok((values, plants))
}

/// One small file per plant: the plant with 8 KB of corpus before and after, cut at line
/// boundaries, with the plant's line numbers rebased.
fn windows(dir: &Path, out: &Path, plants: &[Plant]) -> anyhow::Result<Vec<Plant>> {
    std::fs::create_dir_all(out)?;
    let mut res = Vec::new();
    for (i, p) in plants.iter().enumerate() {
        let data = std::fs::read(dir.join(&p.file))?;
        let (s, e) = (p.start as usize, p.end as usize);
        let from = data[..s.saturating_sub(8192)].iter().rposition(|b| *b == b'\n').map_or(0, |x| x + 1);
        let from = if s < 8192 { 0 } else { from.max(s.saturating_sub(16384)) };
        let to = data[(e + 8192).min(data.len())..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(data.len(), |x| (e + 8192).min(data.len()) + x + 1);
        let name = format!("w{i:03}.txt");
        std::fs::write(out.join(&name), &data[from..to])?;
        let skipped = data[..from].iter().filter(|b| **b == b'\n').count() as u64;
        res.push(Plant {
            file: name,
            start: p.start - from as u64,
            end: p.end - from as u64,
            first_line: p.first_line - skipped,
            last_line: p.last_line - skipped,
            ..p.clone()
        });
    }
    Ok(res)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time_runs(runs: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(median(times))
}

/// Score located hits `(file, line)` or `(file, byte offset)` against the plants.
fn score(plants: &[Plant], hits: &[(String, u64)], by_line: bool) -> (usize, usize, usize) {
    let inside = |p: &Plant, (f, at): &(String, u64)| {
        f == &p.file && if by_line { (p.first_line..=p.last_line).contains(at) } else { (p.start..p.end).contains(at) }
    };
    let found = |prefix: &str| {
        plants.iter().filter(|p| p.what.starts_with(prefix) && hits.iter().any(|h| inside(p, h))).count()
    };
    let other = hits.iter().filter(|h| !plants.iter().any(|p| inside(p, h))).count();
    (found("known:"), found("pattern:"), other)
}

fn ensure_peer(bin: &str, install: &[&str]) -> bool {
    if Command::new(bin).arg("--version").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    eprintln!("installing {bin}: {}", install.join(" "));
    Command::new(install[0]).args(&install[1..]).status().is_ok_and(|s| s.success())
}

/// secretlint and its recommended preset, installed with npm under `dir` (never into the
/// project's own `web/`); its binary, or `None` when npm cannot install it.
fn ensure_secretlint(dir: PathBuf) -> Option<PathBuf> {
    let bin = dir.join("node_modules/.bin/secretlint");
    if bin.exists() {
        return Some(bin);
    }
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::write(dir.join("package.json"), "{\"private\": true}\n").ok()?;
    let packages = ["secretlint@12", "@secretlint/secretlint-rule-preset-recommend@12"];
    eprintln!("installing secretlint: npm install {} (in {})", packages.join(" "), dir.display());
    let ok = Command::new("npm")
        .current_dir(&dir)
        .args(["install", "--no-audit", "--no-fund"])
        .args(packages)
        .status()
        .is_ok_and(|s| s.success());
    (ok && bin.exists()).then_some(bin)
}

pub fn run(quick: bool, format: Format, p: &Project) -> anyhow::Result<Status> {
    let (files, runs) = if quick { (6, 3) } else { (64, 9) };
    let dir = p.root().to_path_buf().join(format!("target/bench/scan-v4-{files}x8M"));
    let (values, plants) = corpus(&dir, files)?;
    let bytes = (files * FILE_BYTES) as u64;
    let paths: Vec<PathBuf> =
        (0..files).map(|f| dir.join(format!("f{f:03}.{}", ["txt", "js", "bin"][f % 3]))).collect();
    let (kt, pt) = (
        plants.iter().filter(|p| p.what.starts_with("known:")).count(),
        plants.iter().filter(|p| p.what.starts_with("pattern:")).count(),
    );
    let mut tools = Vec::new();

    // Ours: in-process, single thread, values + encodings + patterns, files one by one.
    let known: Vec<KnownValue> =
        values.iter().map(|(k, v)| KnownValue { variable: k.clone(), value: v.as_bytes().to_vec() }).collect();
    let scanner = Scanner::new(Needles::build(known, &Allowlist::default()), Allowlist::default());
    let scan_all = |hits: &mut Vec<(String, u64)>| -> anyhow::Result<()> {
        for p in &paths {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let mut f = std::fs::File::open(p)?;
            let report = leakscan::scan_archive_stream(&scanner, &mut f, &name)?;
            hits.extend(report.findings.iter().filter_map(|f| match &f.location {
                Location::File { path } => Some((path.clone(), f.offset?)),
                _ => None,
            }));
        }
        Ok(())
    };
    let mut hits = Vec::new();
    scan_all(&mut hits)?; // warm-up (page cache) and recall
    let (kf, pf, other) = score(&plants, &hits, false);

    // The same without pattern rules: the like-for-like comparison with ripgrep.
    let values_only = Scanner::new(
        Needles::build(
            values.iter().map(|(k, v)| KnownValue { variable: k.clone(), value: v.as_bytes().to_vec() }).collect(),
            &Allowlist::default(),
        ),
        Allowlist::default(),
    )
    .with_patterns(false);
    let scan_values = || -> anyhow::Result<()> {
        for p in &paths {
            leakscan::scan_archive_stream(&values_only, &mut std::fs::File::open(p)?, "f")?;
        }
        Ok(())
    };

    // ripgrep: the plain multi-string search lower bound, one thread, raw values only.
    let values_file = dir.join("values.txt");
    let has_rg = ensure_peer("rg", &["cargo", "install", "--locked", "ripgrep"]);
    let mut rg_out = String::new();
    let mut run_rg = || -> anyhow::Result<()> {
        let o = Command::new("rg")
            .args(["-a", "-F", "-c", "-j1", "--no-ignore", "-f"])
            .arg(&values_file)
            .arg(&dir)
            .arg("--glob")
            .arg("f*")
            .output()?;
        rg_out = String::from_utf8_lossy(&o.stdout).into_owned();
        Ok(())
    };

    // Rounds of (ours, ours without rules, ripgrep): on a shared machine the load changes
    // from second to second, so each round's ratio compares runs made side by side.
    let (mut t_full, mut t_values, mut t_rg) = (Vec::new(), Vec::new(), Vec::new());
    if has_rg {
        run_rg()?; // warm-up, like ours above
    }
    for _ in 0..runs {
        t_full.push(time_runs(1, || scan_all(&mut Vec::new()))?);
        t_values.push(time_runs(1, scan_values)?);
        if has_rg {
            t_rg.push(time_runs(1, &mut run_rg)?);
        }
    }
    let ours = median(t_full.clone());
    tools.push(Tool {
        name: "leakscan".into(),
        command: "cargo xtask bench scan (in-process)".into(),
        bytes,
        median_s: ours,
        mb_per_s: bytes as f64 / 1e6 / ours,
        known_found: kf,
        known_total: kt,
        pattern_found: pf,
        pattern_total: pt,
        other_findings: other,
        note: format!(
            "{} values -> {} needles + {} rules",
            values.len(),
            scanner.needles().needle_count(),
            leakscan::RULES.len()
        ),
    });
    let t = median(t_values.clone());
    tools.push(Tool {
        name: "leakscan, known values only".into(),
        command: "(in-process, patterns off)".into(),
        bytes,
        median_s: t,
        mb_per_s: bytes as f64 / 1e6 / t,
        known_found: 0,
        known_total: kt,
        pattern_found: 0,
        pattern_total: pt,
        other_findings: 0,
        note: "encodings included; recall as above".into(),
    });
    let mut ratios = None;
    if has_rg {
        let t = median(t_rg.clone());
        let raw = plants.iter().filter(|p| p.what == "known:raw").count();
        let counted: u64 = rg_out.lines().filter_map(|l| l.rsplit(':').next()?.parse::<u64>().ok()).sum();
        tools.push(Tool {
            name: "ripgrep".into(),
            command: "rg -a -F -c -j1 -f values.txt DIR".into(),
            bytes,
            median_s: t,
            mb_per_s: bytes as f64 / 1e6 / t,
            known_found: counted as usize,
            known_total: kt,
            pattern_found: 0,
            pattern_total: pt,
            other_findings: 0,
            note: format!("raw values only: {raw} of the known plants are raw"),
        });
        let per_round = |ours: &[f64]| median(ours.iter().zip(&t_rg).map(|(a, b)| a / b).collect());
        ratios = Some((per_round(&t_full), per_round(&t_values)));
    }

    // Slow peers get every plant with 8 KB of its surroundings instead of the whole corpus.
    let slow = dir.join("windows");
    let slow_plants = windows(&dir, &slow, &plants)?;
    let slow_bytes: u64 =
        slow_plants.iter().map(|p| std::fs::metadata(slow.join(&p.file)).map(|m| m.len()).unwrap_or(0)).sum();

    // kingfisher: the strongest installable peer; no validation, no network, one thread.
    if !quick && ensure_peer("kingfisher", &["pip", "install", "kingfisher-bin"]) {
        let cache = tempfile::tempdir()?;
        let mut json = Vec::new();
        let t = time_runs(if quick { 1 } else { 3 }, || {
            let o = Command::new("kingfisher")
                .env("KF_RULE_CACHE_DIR", cache.path())
                .args(["scan", "--no-validate", "--no-update-check", "-j", "1", "-f", "json", "--max-file-size", "0"])
                .arg(&slow)
                .output()?;
            json = o.stdout;
            Ok(())
        })?;
        let first = json.split(|b| *b == b'\n').next().unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(first).unwrap_or_default();
        let hits: Vec<(String, u64)> = v["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                let path = f["finding"]["path"].as_str()?;
                Some((Path::new(path).file_name()?.to_string_lossy().into_owned(), f["finding"]["line"].as_u64()?))
            })
            .collect();
        let (kf, pf, other) = score(&slow_plants, &hits, true);
        tools.push(Tool {
            name: "kingfisher 2.14".into(),
            command: "kingfisher scan --no-validate --no-update-check -j 1 -f json windows/".into(),
            bytes: slow_bytes,
            median_s: t,
            mb_per_s: slow_bytes as f64 / 1e6 / t,
            known_found: kf,
            known_total: kt,
            pattern_found: pf,
            pattern_total: pt,
            other_findings: other,
            note: "plant windows subset; no notion of declared values".into(),
        });
    }

    // detect-secrets: very slow, so only the files holding plants (text and JS), at most 4.
    if !quick && ensure_peer("detect-secrets", &["pip", "install", "detect-secrets"]) {
        let names: Vec<String> = slow_plants.iter().map(|p| p.file.clone()).collect();
        let mut json = Vec::new();
        let t = time_runs(1, || {
            json = Command::new("detect-secrets").current_dir(&slow).arg("scan").args(&names).output()?.stdout;
            Ok(())
        })?;
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
        let hits: Vec<(String, u64)> = v["results"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(file, list)| {
                list.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(move |f| Some((file.clone(), f["line_number"].as_u64()?)))
            })
            .collect();
        let (kf, pf, other) = score(&slow_plants, &hits, true);
        tools.push(Tool {
            name: "detect-secrets 1.5".into(),
            command: "detect-secrets scan windows/*".into(),
            bytes: slow_bytes,
            median_s: t,
            mb_per_s: slow_bytes as f64 / 1e6 / t,
            known_found: kf,
            known_total: kt,
            pattern_found: pf,
            pattern_total: pt,
            other_findings: other,
            note: "plant windows subset, 1 run".into(),
        });
    }

    // secretlint: the npm peer, with its recommended preset (v12; v13 needs Node 22).
    if !quick && let Some(bin) = ensure_secretlint(p.root().to_path_buf().join("target/bench/peers/secretlint")) {
        // Its report goes to a file: piped, node exits before flushing and the JSON is cut at 64 KiB.
        let report = tempfile::NamedTempFile::new()?;
        let rc = r#"{"rules":[{"id":"@secretlint/secretlint-rule-preset-recommend"}]}"#;
        let t = time_runs(3, || {
            Command::new(&bin)
                .current_dir(&slow)
                .args(["--format", "json", "--no-color", "--secretlintrcJSON", rc, "--output"])
                .arg(report.path())
                .arg("*.txt")
                .output()?;
            Ok(())
        })?;
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(report.path())?).context("secretlint's JSON report")?;
        let hits: Vec<(String, u64)> = v
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| {
                let file = Path::new(r["filePath"].as_str().unwrap_or_default())
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                r["messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(move |m| Some((file.clone(), m["loc"]["start"]["line"].as_u64()?)))
            })
            .collect();
        let (kf, pf, other) = score(&slow_plants, &hits, true);
        tools.push(Tool {
            name: "secretlint 12".into(),
            command: "secretlint --format json (preset-recommend) windows/*.txt".into(),
            bytes: slow_bytes,
            median_s: t,
            mb_per_s: slow_bytes as f64 / 1e6 / t,
            known_found: kf,
            known_total: kt,
            pattern_found: pf,
            pattern_total: pt,
            other_findings: other,
            note: "plant windows subset".into(),
        });
    }

    if format == Format::Json {
        let (full, values) = (ratios.map(|r| r.0), ratios.map(|r| r.1));
        report::print_json(
            &serde_json::json!({ "corpus": dir, "bytes": bytes, "runs": runs, "ratio_to_ripgrep": full, "ratio_to_ripgrep_values_only": values, "tools": tools }),
        )?;
    } else {
        println!(
            "corpus: {} ({} MB, {} files: text, minified JS, binary; {} known + {} pattern plants), {runs} runs, median",
            dir.display(),
            bytes >> 20,
            files,
            kt,
            pt
        );
        println!("| tool | MB/s | median s | known found | patterns found | other findings | note |");
        println!("|---|---:|---:|---:|---:|---:|---|");
        for t in &tools {
            println!(
                "| {} | {:.1} | {:.2} | {}/{} | {}/{} | {} | {} |",
                t.name,
                t.mb_per_s,
                t.median_s,
                t.known_found,
                t.known_total,
                t.pattern_found,
                t.pattern_total,
                t.other_findings,
                t.note
            );
        }
        if let Some((full, values)) = ratios {
            println!(
                "leakscan time / ripgrep time, median of the rounds' ratios: {full:.2}x with rules, {values:.2}x known values only (goal: <= 2x)"
            );
        }
    }
    Ok(Status::Ok)
}
