//! The Dockerfile lint (`cargo xtask lint dockerfile`, and a step of every build-image): the
//! ways a Dockerfile persists a secret in an image (an ARG or ENV holding one, a `COPY .`
//! that sweeps in `.env*` or `secrets/`) or breaks an offline build (`# syntax=` pulls a
//! frontend image). Secret-looking names follow BuildKit's own `SecretsUsedInArgOrEnv`
//! semantics, `# check=` directives included.

mod ignore;
mod parse;

pub use ignore::{DockerIgnore, risky_context_files};
pub use parse::{Directives, Instruction, declared_names};

use serde::Serialize;
use std::collections::BTreeSet;

pub use crate::report::Severity;

/// BuildKit's name for the check of secret-looking ARG/ENV names; `# check=skip=` takes it.
pub const BUILDKIT_CHECK: &str = "SecretsUsedInArgOrEnv";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LintFinding {
    pub rule: &'static str,
    pub severity: Severity,
    /// 1-based line of the instruction in the Dockerfile.
    pub line: usize,
    /// The ARG/ENV name a finding is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    pub message: String,
    pub fix: String,
}

impl LintFinding {
    pub fn diagnostic(&self, file: &str) -> crate::report::Diagnostic {
        crate::report::Diagnostic {
            severity: self.severity,
            rule: self.rule.to_string(),
            message: self.message.clone(),
            place: Some(crate::report::Place::file(file, Some(self.line))),
            hint: Some(self.fix.clone()),
        }
    }
}

/// The rules of the lint, for SARIF and the docs.
pub const RULES: &[(&str, &str)] = &[
    ("secret-arg-env", "an ARG or ENV that holds a secret: its value stays in the image config or history"),
    ("copy-context-secrets", "a COPY/ADD of the whole context while it holds .env files or secrets/"),
    ("syntax-pull", "a `# syntax=` directive, which makes BuildKit pull a frontend image"),
];

/// Words that make a name secret-looking when they are a whole `_`-separated part of it,
/// and words that exempt it (`*_FILE` names a path, `*VERSION*` a version, `PUBLIC*` a
/// public value): BuildKit's rule.
const SECRET_TOKENS: &[&str] =
    &["apikey", "auth", "credential", "credentials", "key", "password", "pword", "passwd", "secret", "token"];
const EXEMPT_TOKENS: &[&str] = &["public", "file", "version"];

/// Does `name` look like it holds a secret, by BuildKit's rule?
pub fn secret_looking(name: &str) -> bool {
    let tokens: Vec<String> = name.split(['_', '-']).map(str::to_ascii_lowercase).collect();
    if tokens.iter().any(|t| EXEMPT_TOKENS.contains(&t.as_str())) {
        return false;
    }
    tokens.iter().any(|t| SECRET_TOKENS.contains(&t.as_str()))
}

fn skipped(list: &[String]) -> bool {
    list.iter().any(|s| s.eq_ignore_ascii_case("all") || s == BUILDKIT_CHECK || s == "secret-arg-env")
}

/// The COPY/ADD sources (flags and the destination dropped; none for `--from=`).
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

/// Lint `dockerfile`; `secret_names` are the schema's secret and build-secret variables
/// (always errors); `risky_context_files` are `.env*`/`secrets/` files the build context
/// would include after `.dockerignore` (see [`risky_context_files`]).
pub fn lint(dockerfile: &str, secret_names: &BTreeSet<String>, risky_context_files: &[String]) -> Vec<LintFinding> {
    let (d, instructions) = parse::read(dockerfile);
    let mut findings = Vec::new();
    if let Some(line) = d.syntax {
        findings.push(LintFinding {
            rule: "syntax-pull",
            severity: Severity::Error,
            line,
            variable: None,
            message: "a `# syntax=` directive makes BuildKit pull a frontend image from a registry".into(),
            fix: "remove the line: the built-in Dockerfile frontend already supports RUN --mount=type=secret".into(),
        });
    }
    let file_skips = skipped(&d.skip);
    for ins in &instructions {
        for name in declared_names(ins) {
            let known = secret_names.contains(&name.to_ascii_uppercase());
            let looks = !file_skips && !skipped(&ins.skip) && secret_looking(&name);
            if !(known || looks) {
                continue;
            }
            let severity = if known || d.error { Severity::Error } else { Severity::Warning };
            let onbuild = if ins.onbuild { "ONBUILD " } else { "" };
            findings.push(LintFinding {
                rule: "secret-arg-env",
                severity,
                line: ins.line,
                variable: Some(name.clone()),
                message: format!(
                    "{onbuild}{} {name}{}: its value is stored in the image config or build history",
                    ins.keyword,
                    if known { " is a secret in the env schema" } else { " looks like a secret" }
                ),
                fix: format!(
                    "use a secret mount instead: RUN --mount=type=secret,id={} ... (build secret) or deliver it at \
                     runtime (env_file / /run/secrets); a name ending in _FILE that holds a path is not flagged",
                    name.to_ascii_lowercase()
                ),
            });
        }
        if copy_sources(ins).iter().any(|s| sweeps_context(s)) && !risky_context_files.is_empty() {
            let sample: Vec<&str> = risky_context_files.iter().take(3).map(String::as_str).collect();
            findings.push(LintFinding {
                rule: "copy-context-secrets",
                severity: Severity::Error,
                line: ins.line,
                variable: None,
                message: format!(
                    "{} {} would copy {} secret-bearing file(s) into a layer: {}",
                    ins.keyword,
                    ins.args,
                    risky_context_files.len(),
                    sample.join(", ")
                ),
                fix: "copy only what the image needs (COPY server public/ ...), or add `.env*`, `!.env*.example` and \
                      `secrets/` to .dockerignore"
                    .into(),
            });
        }
    }
    findings
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
    fn buildkit_names_exempt_files_versions_and_public_values() {
        for yes in ["SECRET_PASSPHRASE", "git_key", "apikey", "auth", "AWS_ACCESS_KEY_ID", "super_duper_secret_token"] {
            assert!(secret_looking(yes), "{yes}");
        }
        for no in ["sunflower", "PUBLIC_KEY", "password_file", "AUTH_MODULE_VERSION", "testkey", "BUILDPLATFORM"] {
            assert!(!secret_looking(no), "{no}");
        }
    }

    #[test]
    fn check_directives_skip_locally_or_everywhere_and_error_escalates() {
        let names = BTreeSet::new();
        assert!(lint("FROM x\n# check=skip=SecretsUsedInArgOrEnv\nARG password\n", &names, &[]).is_empty());
        assert!(lint("# check=skip=all\nFROM x\nARG password\n", &names, &[]).is_empty());
        let f = lint("# check=error=true\nFROM x\nARG password\n", &names, &[]);
        assert_eq!(rules(&f), [("secret-arg-env", Severity::Error, 3)]);
        // A schema secret is an error whatever a skip says.
        let f = lint("FROM x\n# check=skip=all\nARG NPM_TOKEN\n", &secrets(), &[]);
        assert_eq!(rules(&f), [("secret-arg-env", Severity::Error, 3)]);
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
