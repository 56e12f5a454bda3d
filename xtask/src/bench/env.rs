//! `cargo xtask bench env`: verify-env on a generated 1,000-variable file, reported as medians
//! over N runs and as ratios against dotenvy parsing the same file in the same run.

use crate::project::Project;
use crate::report::{self, Format, Status};
use anyhow::Context;
use envfile::{Facts, GitFacts, Schema};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Variables in the generated file.
pub const VARIABLES: usize = 1000;

#[derive(Debug, Serialize)]
pub struct Figures {
    pub variables: usize,
    pub bytes: usize,
    pub runs: usize,
    /// Median milliseconds of each measured step.
    pub dotenvy_parse_ms: f64,
    pub compose_parse_ms: f64,
    pub verify_ms: f64,
    pub verify_env_command_ms: f64,
    /// compose reader / dotenvy, and the full verify rules / dotenvy.
    pub parse_ratio: f64,
    pub verify_ratio: f64,
}

/// The production sample plus unknown variables up to `n`, with deterministic random values.
pub fn generate(n: usize) -> String {
    let mut text = envfile::sample::production_env();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let have = text.lines().filter(|l| l.contains('=')).count();
    for i in have..n {
        let value: String = (0..40)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                alphabet[(seed % 64) as usize] as char
            })
            .collect();
        text.push_str(&format!("EXTRA_SETTING_{i:04}={value}\n"));
    }
    text
}

fn median(mut f: impl FnMut(), runs: usize) -> f64 {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2].as_secs_f64() * 1000.0
}

pub fn run(quick: bool, format: Format, p: &Project) -> anyhow::Result<Status> {
    let runs = if quick { 5 } else { 31 };
    let schema = Schema::load(&p.path(crate::project::SCHEMA_PATH))
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("load the env schema")?;
    let text = generate(VARIABLES);
    let bytes = text.as_bytes();
    let facts = Facts {
        mode: Some(0o600),
        git: Some(GitFacts { ignored: true, ..GitFacts::default() }),
        now: 1_800_000_000,
        ..Facts::default()
    };

    let dotenvy_parse_ms = median(
        || {
            std::hint::black_box(dotenvy::from_read_iter(bytes).count());
        },
        runs,
    );
    let compose_parse_ms = median(
        || {
            std::hint::black_box(envfile::compose::parse_bytes(bytes, &|_| None).ok());
        },
        runs,
    );
    let verify_ms = median(
        || {
            std::hint::black_box(envfile::verify::verify(&schema, "production", bytes, &|_| None, &facts));
        },
        runs,
    );

    // The whole command path: file read, mode, git queries, rules (no printing).
    let dir = tempfile::tempdir().context("create a temp dir for the bench file")?;
    let path = dir.path().join(".env.production");
    std::fs::write(&path, &text).context("write the bench env file")?;
    let selection = crate::project::EnvSelection {
        env: "production".into(),
        source: crate::project::EnvSource::File { path, defaulted: false },
    };
    let verify_env_command_ms = median(
        || {
            std::hint::black_box(crate::commands::verify_env::check(p, &selection).ok());
        },
        runs.min(11),
    );

    let figures = Figures {
        variables: VARIABLES,
        bytes: bytes.len(),
        runs,
        dotenvy_parse_ms,
        compose_parse_ms,
        verify_ms,
        verify_env_command_ms,
        parse_ratio: compose_parse_ms / dotenvy_parse_ms,
        verify_ratio: verify_ms / dotenvy_parse_ms,
    };
    match format {
        Format::Json => report::print_json(&figures)?,
        _ => print_human(&figures),
    }
    Ok(Status::Ok)
}

fn print_human(f: &Figures) {
    println!("verify-env on a generated {}-variable file ({} bytes), median of {} runs", f.variables, f.bytes, f.runs);
    println!("  dotenvy parse (baseline)     {:>9.3} ms", f.dotenvy_parse_ms);
    println!("  Compose-compatible parse     {:>9.3} ms  ({:.2}x dotenvy)", f.compose_parse_ms, f.parse_ratio);
    println!("  all verify rules             {:>9.3} ms  ({:.2}x dotenvy)", f.verify_ms, f.verify_ratio);
    println!("  verify-env command (+git)    {:>9.3} ms", f.verify_env_command_ms);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_generated_file_has_the_announced_size_and_parses() {
        let text = super::generate(super::VARIABLES);
        let entries = envfile::compose::parse(&text, &|_| None).unwrap();
        assert_eq!(entries.len(), super::VARIABLES);
    }
}
