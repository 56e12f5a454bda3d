//! Dockerfile lint run before every build: the ways a Dockerfile persists a secret in an image
//! (ARG/ENV of a secret, a `COPY .` that sweeps in `.env*` or `secrets/`) or breaks an offline
//! build (a `# syntax=` line makes BuildKit pull a frontend image).

use serde::Serialize;
use std::collections::BTreeSet;

pub use crate::report::Severity;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LintFinding {
    pub rule: &'static str,
    pub severity: Severity,
    /// 1-based line of the instruction in the Dockerfile.
    pub line: usize,
    pub message: String,
    pub fix: String,
}

impl LintFinding {
    pub fn diagnostic(&self) -> crate::report::Diagnostic {
        crate::report::Diagnostic {
            severity: self.severity,
            rule: self.rule.to_string(),
            message: self.message.clone(),
            place: Some(crate::report::Place::file("deploy/Dockerfile", Some(self.line))),
            hint: Some(self.fix.clone()),
        }
    }
}

/// Words that make an ARG/ENV name look like a secret even when the schema does not know it.
const SECRET_WORDS: &[&str] = &["SECRET", "TOKEN", "PASSWORD", "PASSWD", "API_KEY", "PRIVATE_KEY", "SERVICE_ROLE"];

/// One logical instruction: continuation lines joined, comments dropped.
struct Instruction {
    line: usize,
    keyword: String,
    args: String,
}

fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if pending.is_none() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        // Comment lines inside a continuation are skipped by Docker too.
        if pending.is_some() && trimmed.starts_with('#') {
            continue;
        }
        let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        if let Some(body) = trimmed.strip_suffix('\\') {
            acc.push_str(body);
            acc.push(' ');
            pending = Some((start, acc));
            continue;
        }
        acc.push_str(trimmed);
        let (keyword, args) = acc.split_once(char::is_whitespace).unwrap_or((&acc, ""));
        out.push(Instruction { line: start, keyword: keyword.to_ascii_uppercase(), args: args.trim().to_string() });
    }
    if let Some((start, acc)) = pending {
        let (keyword, args) = acc.split_once(char::is_whitespace).unwrap_or((&acc, ""));
        out.push(Instruction { line: start, keyword: keyword.to_ascii_uppercase(), args: args.trim().to_string() });
    }
    out
}

/// Names an ARG or ENV instruction declares.
fn declared_names(ins: &Instruction) -> Vec<String> {
    match ins.keyword.as_str() {
        "ARG" => ins.args.split_whitespace().map(|a| a.split('=').next().unwrap_or(a).to_string()).collect(),
        "ENV" => {
            if ins.args.split_whitespace().next().is_some_and(|first| first.contains('=')) {
                ins.args.split_whitespace().filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_string())).collect()
            } else {
                // Legacy `ENV NAME value` form.
                ins.args.split_whitespace().next().map(str::to_string).into_iter().collect()
            }
        }
        _ => Vec::new(),
    }
}

/// The sources of a COPY/ADD (flags and the destination removed).
fn copy_sources(ins: &Instruction) -> Vec<String> {
    if ins.keyword != "COPY" && ins.keyword != "ADD" {
        return Vec::new();
    }
    let words: Vec<&str> = ins.args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
    // COPY --from=stage copies from another stage, not from the context.
    if ins.args.split_whitespace().any(|w| w.starts_with("--from=")) || words.len() < 2 {
        return Vec::new();
    }
    words[..words.len() - 1]
        .iter()
        .map(|w| w.trim_matches(|c| c == '"' || c == '[' || c == ']' || c == ',').to_string())
        .collect()
}

fn sweeps_context(source: &str) -> bool {
    matches!(source, "." | "./" | "*" | "./*" | "/")
}

/// Lint `dockerfile`; `secret_names` are the schema's secret and build-secret variables;
/// `risky_context_files` are `.env*`/`secrets/` files the build context would include after
/// `.dockerignore` (see [`risky_context_files`]).
pub fn lint(dockerfile: &str, secret_names: &BTreeSet<String>, risky_context_files: &[String]) -> Vec<LintFinding> {
    let mut findings = Vec::new();
    for raw in dockerfile.lines().take_while(|l| l.trim_start().starts_with('#')) {
        let directive = raw.trim_start_matches('#').trim();
        if directive.to_ascii_lowercase().starts_with("syntax") && directive.contains('=') {
            findings.push(LintFinding {
                rule: "syntax-pull",
                severity: Severity::Error,
                line: 1,
                message: "a `# syntax=` directive makes BuildKit pull a frontend image from a registry".into(),
                fix: "remove the line: the built-in Dockerfile frontend already supports RUN --mount=type=secret"
                    .into(),
            });
        }
    }
    for ins in instructions(dockerfile) {
        for name in declared_names(&ins) {
            let upper = name.to_ascii_uppercase();
            let known = secret_names.contains(&upper);
            if known || SECRET_WORDS.iter().any(|w| upper.contains(w)) {
                findings.push(LintFinding {
                    rule: "secret-arg-env",
                    severity: if known { Severity::Error } else { Severity::Warning },
                    line: ins.line,
                    message: format!(
                        "{} {name}{}: its value is stored in the image config or build history",
                        ins.keyword,
                        if known { " is a secret in the env schema" } else { " looks like a secret" }
                    ),
                    fix: format!(
                        "use a secret mount instead: RUN --mount=type=secret,id={} ... (build secret) or deliver it at runtime (env_file / /run/secrets)",
                        name.to_ascii_lowercase()
                    ),
                });
            }
        }
        if copy_sources(&ins).iter().any(|s| sweeps_context(s)) && !risky_context_files.is_empty() {
            let sample: Vec<&str> = risky_context_files.iter().take(3).map(String::as_str).collect();
            findings.push(LintFinding {
                rule: "copy-context-secrets",
                severity: Severity::Error,
                line: ins.line,
                message: format!(
                    "{} {} would copy {} secret-bearing file(s) into a layer: {}",
                    ins.keyword,
                    ins.args,
                    risky_context_files.len(),
                    sample.join(", ")
                ),
                fix: "copy only what the image needs (COPY server public/ ...), or add `.env*`, `!.env*.example` and `secrets/` to .dockerignore".into(),
            });
        }
    }
    findings
}

/// The `.env*` (not `*.example`) and `secrets/**` files among a context's files (paths
/// relative to its root) that `.dockerignore` (its text, when present) lets through.
pub fn risky_context_files(files: &[String], dockerignore: Option<&str>) -> Vec<String> {
    let ignore = dockerignore.map(DockerIgnore::parse).unwrap_or_default();
    let mut out: Vec<String> = files
        .iter()
        .filter(|rel| {
            let name = rel.rsplit('/').next().unwrap_or(rel);
            let risky = (name.starts_with(".env") && !name.ends_with(".example"))
                || (rel.starts_with("secrets/") && !name.ends_with(".example") && name != ".gitkeep");
            risky && !ignore.excludes(rel)
        })
        .cloned()
        .collect();
    out.sort();
    out
}

/// `.dockerignore` rules: glob patterns (`*`, `?`, `**`), `!` re-includes, the last match wins,
/// and a pattern that matches a directory excludes everything below it.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    rules: Vec<(bool, Vec<String>)>,
}

impl DockerIgnore {
    pub fn parse(text: &str) -> DockerIgnore {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (negate, pat) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                let pat = pat.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
                (negate, pat.split('/').map(str::to_string).collect())
            })
            .collect();
        DockerIgnore { rules }
    }

    pub fn excludes(&self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').collect();
        let mut excluded = false;
        for (negate, pat) in &self.rules {
            // A rule matches the path or any of its parent directories.
            let hit = (1..=parts.len()).any(|n| match_parts(pat, &parts[..n]));
            if hit {
                excluded = !negate;
            }
        }
        excluded
    }
}

fn match_parts(pat: &[String], parts: &[&str]) -> bool {
    match pat.split_first() {
        None => parts.is_empty(),
        Some((p, rest)) if p == "**" => (0..=parts.len()).any(|i| match_parts(rest, &parts[i..])),
        Some((p, rest)) => {
            parts.split_first().is_some_and(|(h, t)| glob(p.as_bytes(), h.as_bytes()) && match_parts(rest, t))
        }
    }
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.split_first(), s.split_first()) {
        (None, None) => true,
        (Some((b'*', pr)), _) => glob(pr, s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some((b'?', pr)), Some((_, sr))) => glob(pr, sr),
        (Some((a, pr)), Some((b, sr))) if a == b => glob(pr, sr),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> BTreeSet<String> {
        ["NPM_TOKEN", "JWT_SECRET"].into_iter().map(String::from).collect()
    }

    fn rules(f: &[LintFinding]) -> Vec<(&str, Severity, usize)> {
        f.iter().map(|f| (f.rule, f.severity, f.line)).collect()
    }

    #[test]
    fn arg_and_env_of_a_schema_secret_are_errors() {
        let df = "FROM busybox:1.36\nARG NPM_TOKEN\nENV JWT_SECRET=x \\\n    OTHER=1\nENV LEGACY_TOKEN value\n";
        let f = lint(df, &secrets(), &[]);
        assert_eq!(
            rules(&f),
            [
                ("secret-arg-env", Severity::Error, 2),
                ("secret-arg-env", Severity::Error, 3),
                ("secret-arg-env", Severity::Warning, 5)
            ]
        );
    }

    #[test]
    fn secret_mount_and_plain_copies_are_clean() {
        let df = "FROM busybox:1.36\nRUN --mount=type=secret,id=npm_token test -s /run/secrets/npm_token\nCOPY server /server\nCOPY public/ /public/\nENV PORT=8080\n";
        assert!(lint(df, &secrets(), &[".env.production".into()]).is_empty());
    }

    #[test]
    fn copy_dot_is_an_error_only_when_the_context_holds_secrets() {
        let df = "FROM busybox:1.36\nCOPY . /app\n";
        assert!(lint(df, &secrets(), &[]).is_empty());
        let f = lint(df, &secrets(), &[".env.production".into()]);
        assert_eq!(rules(&f), [("copy-context-secrets", Severity::Error, 2)]);
        assert!(lint("FROM x\nCOPY --from=build . /app\n", &secrets(), &[".env".into()]).is_empty());
    }

    #[test]
    fn syntax_directive_needs_a_pull() {
        let f = lint("# syntax=docker/dockerfile:1.7\nFROM busybox:1.36\n", &secrets(), &[]);
        assert_eq!(rules(&f), [("syntax-pull", Severity::Error, 1)]);
    }

    #[test]
    fn dockerignore_globs_negation_and_directories() {
        let ig = DockerIgnore::parse("# comment\n.env*\n!.env.example\nsecrets/\n**/*.pem\n");
        assert!(ig.excludes(".env.production"));
        assert!(!ig.excludes(".env.example"));
        assert!(ig.excludes("secrets/npm_token.txt"));
        assert!(ig.excludes("deep/dir/key.pem"));
        assert!(!ig.excludes("web/.env.production"), "patterns are anchored at the context root");
        assert!(!ig.excludes("server/src/main.rs"));
    }

    #[test]
    fn risky_files_respect_dockerignore() {
        let files: Vec<String> = [
            ".env.production",
            ".env.production.example",
            "secrets/npm_token.txt",
            "secrets/.gitkeep",
            "web/.env",
            "src/a.rs",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(risky_context_files(&files, None), [".env.production", "secrets/npm_token.txt", "web/.env"]);
        assert!(risky_context_files(&files, Some(".env*\nsecrets\n**/.env\n")).is_empty());
    }
}
