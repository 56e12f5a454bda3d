//! `cargo xtask audit`: the security posture checklist, evaluated where a machine can
//! tell (✔ / ✗), and `unknown` with the reason where it cannot. Exit 1 on any ✗.

use crate::effects::docker::{BollardEngine, ImageEngine};
use crate::plan::secrets::meta::{Meta, ages};
use crate::plan::secrets::store::{Current, Target};
use crate::project::{EnvArgs, Project};
use crate::report::{Format, Status, print_json};
use base64::Engine;
use envfile::{Schema, Secret};
use serde::Serialize;
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub env: EnvArgs,
    /// Image to inspect for its runtime user (through the Docker engine); without it the
    /// non-root check is unknown
    #[arg(long, value_name = "TAG")]
    pub image: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Unknown,
}

impl Verdict {
    fn symbol(self) -> &'static str {
        match self {
            Verdict::Pass => "✔",
            Verdict::Fail => "✗",
            Verdict::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub item: &'static str,
    pub verdict: Verdict,
    pub why: String,
}

fn check(item: &'static str, verdict: Verdict, why: impl Into<String>) -> Check {
    Check { item, verdict, why: why.into() }
}

impl Args {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let (schema, target) = crate::commands::secrets::target(p, &self.env)?;
        let current = p.current_values(&target, schema)?;
        let meta = p.secrets_meta()?;
        let user = self.image.as_deref().map(|image| (image, image_user(image)));
        let checks = evaluate(schema, &target, &current, &meta, user, p.clock().today());
        let failed = checks.iter().any(|c| c.verdict == Verdict::Fail);
        if self.format == Format::Json {
            print_json(&serde_json::json!({ "env": target.env, "checks": checks, "failed": failed }))?;
        } else {
            let mut table = crate::report::table(["", "item", "why"]);
            for c in &checks {
                table.add_row([c.verdict.symbol(), c.item, &c.why]);
            }
            println!("{table}");
        }
        Ok(Status::failed_if(failed))
    }
}

/// Evaluate every checklist item for one environment.
pub fn evaluate(
    schema: &Schema,
    target: &Target,
    current: &Current,
    meta: &Meta,
    image_user: Option<(&str, anyhow::Result<Option<String>>)>,
    today: i64,
) -> Vec<Check> {
    let exists = current.env_file_exists;
    let get = |n: &str| current.get(n);
    let mut out = vec![
        jwt_strength(schema, exists, get("JWT_SECRET")),
        cors(&target.env, exists, get("ALLOWED_ORIGINS")),
        rate_limits(exists, get("RATE_LIMIT_MAX"), get("RATE_LIMIT_WINDOW_MS")),
        outside_vcs(schema, target),
        file_modes(target, current),
        non_root(image_user),
        check(
            "image clean (no secret in layers, config, history)",
            Verdict::Unknown,
            "audit does not re-scan images: run `cargo xtask verify-image TAG` (build-image runs it)",
        ),
        rotation(schema, target, current, meta, today),
    ];
    for item in [
        "CSP nonce active (no unsafe-inline/eval)",
        "brute-force thresholds tuned",
        "dependency scanning active",
        "backups and recovery tested",
        "TLS termination",
    ] {
        out.push(check(item, Verdict::Unknown, "not machine-checkable from the repository: a human confirms it"));
    }
    out
}

const JWT_ITEM: &str = "JWT secret ≥ 32 random bytes";

fn jwt_strength(schema: &Schema, exists: bool, value: Option<Secret>) -> Check {
    let min = schema.get("JWT_SECRET").and_then(|v| v.min_bytes).unwrap_or(32).max(32);
    let Some(v) = value else {
        return missing(JWT_ITEM, exists, "JWT_SECRET");
    };
    let text = v.expose();
    let decoded = [base64::engine::general_purpose::STANDARD, base64::engine::general_purpose::URL_SAFE]
        .iter()
        .find_map(|e| e.decode(text).ok())
        .or_else(|| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok());
    let (bytes, how) = match decoded {
        Some(d) => (d.len(), "decoded base64"),
        None => (text.len(), "characters"),
    };
    let distinct: BTreeSet<char> = text.chars().collect();
    if bytes < min {
        check(
            JWT_ITEM,
            Verdict::Fail,
            format!("{bytes} bytes ({how}), need {min}: `cargo xtask secrets rotate JWT_SECRET`"),
        )
    } else if distinct.len() < 16 {
        check(JWT_ITEM, Verdict::Fail, format!("only {} distinct characters: not random; rotate it", distinct.len()))
    } else {
        check(JWT_ITEM, Verdict::Pass, format!("{bytes} bytes ({how}), {} distinct characters", distinct.len()))
    }
}

fn missing(item: &'static str, exists: bool, name: &str) -> Check {
    if exists {
        check(item, Verdict::Fail, format!("{name} is not set"))
    } else {
        check(item, Verdict::Unknown, "no env file: run `cargo xtask secrets gen` or pass --env-file")
    }
}

fn cors(env: &str, exists: bool, value: Option<Secret>) -> Check {
    const ITEM: &str = "CORS origins restricted";
    let Some(v) = value else { return missing(ITEM, exists, "ALLOWED_ORIGINS") };
    let origins: Vec<&str> = v.expose().split(',').map(str::trim).filter(|o| !o.is_empty()).collect();
    if origins.is_empty() || origins.iter().any(|o| o.contains('*')) {
        return check(ITEM, Verdict::Fail, "ALLOWED_ORIGINS is empty or a wildcard: list the app's origins");
    }
    if env == "production"
        && let Some(o) = origins.iter().find(|o| !o.starts_with("https://") || o.contains("localhost"))
    {
        return check(ITEM, Verdict::Fail, format!("{o} is not an https origin of the deployed app"));
    }
    check(ITEM, Verdict::Pass, format!("{} explicit origin(s)", origins.len()))
}

fn rate_limits(exists: bool, max: Option<Secret>, window: Option<Secret>) -> Check {
    const ITEM: &str = "rate limit configured";
    let positive =
        |v: &Option<Secret>| v.as_ref().and_then(|s| s.expose().trim().parse::<u64>().ok()).filter(|n| *n > 0);
    match (positive(&max), positive(&window)) {
        (Some(m), Some(w)) => check(ITEM, Verdict::Pass, format!("{m} requests per {w} ms")),
        _ if !exists => missing(ITEM, exists, ""),
        _ => check(ITEM, Verdict::Fail, "RATE_LIMIT_MAX and RATE_LIMIT_WINDOW_MS must be positive integers"),
    }
}

fn outside_vcs(schema: &Schema, target: &Target) -> Check {
    const ITEM: &str = "secrets stored outside VCS";
    match crate::commands::verify_git::hygiene(&target.root, schema) {
        Ok(f) if f.is_empty() => check(
            ITEM,
            Verdict::Pass,
            "real env and secret files are git-ignored and untracked (history: `cargo xtask verify-git`)",
        ),
        Ok(f) => check(
            ITEM,
            Verdict::Fail,
            format!(
                "{} tracked or un-ignored: run `cargo xtask verify-git`",
                f.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ),
        Err(e) => check(ITEM, Verdict::Unknown, format!("cannot ask git: {e:#}")),
    }
}

fn file_modes(target: &Target, current: &Current) -> Check {
    const ITEM: &str = "env and secret files private (0600, dir 0700)";
    if !current.env_file_exists {
        return check(ITEM, Verdict::Unknown, "no env file");
    }
    let mut wrong = Vec::new();
    let mut paths = vec![(target.env_file.clone(), 0o600)];
    if target.secrets_dir.is_dir() {
        paths.push((target.secrets_dir.clone(), 0o700));
        if let Ok(rd) = std::fs::read_dir(&target.secrets_dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "txt") {
                    paths.push((p, 0o600));
                }
            }
        }
    }
    for (p, want) in paths {
        let mode = std::fs::metadata(&p).map(|m| m.mode() & 0o777).unwrap_or(0);
        if mode & !want != 0 {
            wrong.push(format!("{} is {mode:o} (chmod {want:o})", target.show(&p)));
        }
    }
    if wrong.is_empty() {
        check(ITEM, Verdict::Pass, format!("{} and secrets/ are private", target.show(&target.env_file)))
    } else {
        check(ITEM, Verdict::Fail, wrong.join("; "))
    }
}

/// The configured user of `image` in the local engine (`None`: no such image).
fn image_user(image: &str) -> anyhow::Result<Option<String>> {
    Ok(BollardEngine::from_env()?.inspect(image)?.map(|i| i.user))
}

fn non_root(image_user: Option<(&str, anyhow::Result<Option<String>>)>) -> Check {
    const ITEM: &str = "image runs as non-root";
    let Some((image, user)) = image_user else {
        return check(ITEM, Verdict::Unknown, "pass --image TAG to inspect the image's user");
    };
    match user {
        Ok(None) => check(ITEM, Verdict::Unknown, format!("no image {image} in the engine")),
        Ok(Some(u)) if ["", "root", "0"].contains(&u.split(':').next().unwrap_or("")) => check(
            ITEM,
            Verdict::Fail,
            format!(
                "{image} runs as {:?}: add `USER 10001` to the Dockerfile",
                if u.is_empty() { "root (no USER)" } else { &u }
            ),
        ),
        Ok(Some(u)) => check(ITEM, Verdict::Pass, format!("{image} runs as {u}")),
        Err(e) => check(ITEM, Verdict::Unknown, format!("{e:#}")),
    }
}

fn rotation(schema: &Schema, target: &Target, current: &Current, meta: &Meta, today: i64) -> Check {
    const ITEM: &str = "secrets rotated within their period";
    let all = ages(schema, meta, &target.env, today);
    let present: Vec<_> = all.iter().filter(|a| current.has(&a.name)).collect();
    let overdue: Vec<&str> = present.iter().filter(|a| a.overdue).map(|a| a.name.as_str()).collect();
    let unknown: Vec<&str> = present.iter().filter(|a| a.age_days.is_none()).map(|a| a.name.as_str()).collect();
    if !overdue.is_empty() {
        check(ITEM, Verdict::Fail, format!("overdue: {} (`cargo xtask secrets rotate NAME`)", overdue.join(", ")))
    } else if present.is_empty() || !unknown.is_empty() {
        check(
            ITEM,
            Verdict::Unknown,
            format!(
                "no rotation date recorded for {}",
                if unknown.is_empty() { "any secret".into() } else { unknown.join(", ") }
            ),
        )
    } else {
        check(ITEM, Verdict::Pass, format!("{} secrets within their period", present.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_missing_users_fail_and_a_numeric_user_passes() {
        let user = |u: Option<&str>| Some(("i", Ok(u.map(str::to_string))));
        assert_eq!(non_root(user(Some(""))).verdict, Verdict::Fail);
        assert_eq!(non_root(user(Some("0:0"))).verdict, Verdict::Fail);
        assert_eq!(non_root(user(Some("10001"))).verdict, Verdict::Pass);
        assert_eq!(non_root(user(None)).verdict, Verdict::Unknown);
        assert_eq!(non_root(None).verdict, Verdict::Unknown);
    }

    #[test]
    fn cors_wildcards_and_plain_http_fail_in_production() {
        let s = |v: &str| Some(Secret::new(v));
        assert_eq!(cors("production", true, s("*")).verdict, Verdict::Fail);
        assert_eq!(cors("production", true, s("http://app.example.com")).verdict, Verdict::Fail);
        assert_eq!(cors("production", true, s("https://app.example.com")).verdict, Verdict::Pass);
        assert_eq!(cors("dev", true, s("http://localhost:5173")).verdict, Verdict::Pass);
        assert_eq!(cors("production", false, None).verdict, Verdict::Unknown);
    }
}
