//! One diagnostics model for every command: the exit-status contract, the `--format`
//! choices a command really prints, and one renderer of findings for humans, JSON and SARIF.
//! Library findings (env rules, scanner hits, Dockerfile lint, git hygiene) become
//! [`Diagnostic`]s here; nothing else in the xtask formats a finding.

use serde::Serialize;
use std::io::IsTerminal;
use std::process::ExitCode;

/// What a command ended with; `main` turns it into the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Exit 0: nothing wrong.
    Ok,
    /// Exit 1: error-level findings, or a deploy that failed (and was rolled back).
    Failed,
    /// Exit 2: usage or environment error (also what any `Err` maps to).
    Error,
}

impl Status {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Status::Ok => ExitCode::from(0),
            Status::Failed => ExitCode::from(1),
            Status::Error => ExitCode::from(2),
        }
    }

    /// `Failed` when `bad` holds, else `Ok`.
    pub fn failed_if(bad: bool) -> Status {
        if bad { Status::Failed } else { Status::Ok }
    }
}

/// `--format` of a command that prints a report (human or JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
}

/// `--format` of a command whose output is findings: also SARIF 2.1.0, for code scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FindingsFormat {
    #[default]
    Human,
    Json,
    Sarif,
}

impl FindingsFormat {
    /// The plain format this one prints as, where SARIF has no meaning (progress lines).
    pub fn base(self) -> Format {
        match self {
            FindingsFormat::Human => Format::Human,
            FindingsFormat::Json | FindingsFormat::Sarif => Format::Json,
        }
    }
}

/// How bad a finding is: the one scale the env rules, the scanner and the lint share.
pub use secretkit::Severity;

/// Where a finding is: a file (with a line), a path inside an artifact, or a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// The SARIF artifact URI, and what humans see unless a label says more.
    pub uri: String,
    pub line: Option<usize>,
    /// The human form when it says more than the URI (`layer 2 (ab12…) app/.env`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl Place {
    pub fn file(uri: impl Into<String>, line: Option<usize>) -> Place {
        Place { uri: uri.into(), line, label: None }
    }

    pub fn labelled(uri: impl Into<String>, label: impl Into<String>) -> Place {
        Place { uri: uri.into(), line: None, label: Some(label.into()) }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(label) = &self.label {
            return f.write_str(label);
        }
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.uri),
            None => f.write_str(&self.uri),
        }
    }
}

/// One finding in the shape every output takes. It never holds a secret value: messages
/// name variables and places, at most with a masked preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The stable rule id or code (`cors-wildcard`, `aws-access-key-id`, `known-value`).
    pub rule: String,
    pub message: String,
    pub place: Option<Place>,
    pub hint: Option<String>,
}

/// A rule a tool can report, for SARIF's rule table.
#[derive(Debug, Clone, Copy)]
pub struct RuleDoc {
    pub id: &'static str,
    pub description: &'static str,
}

/// Count of diagnostics by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
}

impl Counts {
    pub fn of(diagnostics: &[Diagnostic]) -> Counts {
        let n = |s| diagnostics.iter().filter(|d| d.severity == s).count();
        Counts { errors: n(Severity::Error), warnings: n(Severity::Warning), info: n(Severity::Info) }
    }
}

/// Print diagnostics for a human: grouped by severity, worst first, each with its fix.
pub fn print_human(diagnostics: &[Diagnostic]) {
    print!("{}", human(diagnostics, colour_enabled()));
}

/// The human rendering of [`print_human`], as text (tests, stderr).
pub fn human(diagnostics: &[Diagnostic], colour: bool) -> String {
    use std::fmt::Write as _;
    let paint = |style: Style, text: &str| -> String { self::paint(colour, style, text) };
    let mut out = String::new();
    for (severity, title, col) in
        [(Severity::Error, "Errors", RED), (Severity::Warning, "Warnings", YELLOW), (Severity::Info, "Notes", CYAN)]
    {
        let group: Vec<_> = diagnostics.iter().filter(|d| d.severity == severity).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}", paint(col, &format!("{title} ({})", group.len())));
        for d in group {
            let place = d.place.as_ref().map(|p| format!(" {}", paint(DIM, &p.to_string()))).unwrap_or_default();
            let _ =
                writeln!(out, "  {}{place} {}", paint(col, &format!("{}[{}]", severity.as_str(), d.rule)), d.message);
            if let Some(h) = &d.hint {
                let _ = writeln!(out, "      {} {h}", paint(GREEN, "fix:"));
            }
        }
        out.push('\n');
    }
    out
}

use anstyle::{AnsiColor, Effects, Style};

const RED: Style = AnsiColor::Red.on_default().effects(Effects::BOLD);
const YELLOW: Style = AnsiColor::Yellow.on_default().effects(Effects::BOLD);
const CYAN: Style = AnsiColor::Cyan.on_default().effects(Effects::BOLD);
const GREEN: Style = AnsiColor::Green.on_default();
/// Bold green, for a passing summary.
pub const OK: Style = AnsiColor::Green.on_default().effects(Effects::BOLD);
const DIM: Style = Style::new().effects(Effects::DIMMED);

/// `text` in `style` when colour is on, plain otherwise.
pub fn paint(colour: bool, style: Style, text: &str) -> String {
    if colour { format!("{style}{text}{style:#}") } else { text.to_string() }
}

/// One line per diagnostic, for progress output on stderr (`verify-env: error[code] ...`).
pub fn line(prefix: &str, d: &Diagnostic) -> String {
    let place = d.place.as_ref().map(|p| format!(" {p}")).unwrap_or_default();
    let hint = d.hint.as_ref().map(|h| format!(" (fix: {h})")).unwrap_or_default();
    format!("{prefix}: {}[{}]{place} {}{hint}", d.severity.as_str(), d.rule, d.message)
}

/// SARIF 2.1.0: one run of `tool` with its rule table and one result per diagnostic.
pub fn sarif(tool: &str, rules: &[RuleDoc], diagnostics: &[Diagnostic]) -> serde_json::Value {
    let rules: Vec<_> = rules
        .iter()
        .map(|r| serde_json::json!({ "id": r.id, "shortDescription": { "text": r.description } }))
        .collect();
    let results: Vec<_> = diagnostics
        .iter()
        .map(|d| {
            let mut result = serde_json::json!({
                "ruleId": d.rule,
                "level": d.severity.sarif_level(),
                "message": { "text": d.message },
            });
            if let Some(p) = &d.place {
                let mut physical = serde_json::json!({ "artifactLocation": { "uri": p.uri } });
                if let Some(line) = p.line {
                    physical["region"] = serde_json::json!({ "startLine": line });
                }
                result["locations"] = serde_json::json!([{ "physicalLocation": physical }]);
            }
            result
        })
        .collect();
    serde_json::json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{ "tool": { "driver": { "name": tool, "informationUri": "docs/guides/scanning.md", "rules": rules } }, "results": results }],
    })
}

/// Print a value as pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    println!("{text}");
    Ok(())
}

/// A human table in the project's style (secrets, verify-git, audit, env show).
pub fn table<const N: usize>(header: [&str; N]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    table.set_header(header.to_vec());
    table
}

/// Colour only on a terminal and only when NO_COLOR is unset (https://no-color.org).
pub fn colour_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Progress bars only on a terminal (stderr), never in CI logs or JSON mode.
pub fn progress_enabled(format: Format) -> bool {
    format == Format::Human && std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(severity: Severity, rule: &str, line: Option<usize>) -> Diagnostic {
        Diagnostic {
            severity,
            rule: rule.into(),
            message: format!("{rule} happened"),
            place: Some(Place::file(".env.production", line)),
            hint: Some("do this".into()),
        }
    }

    #[test]
    fn human_output_groups_worst_first_with_fixes() {
        let text = human(&[d(Severity::Warning, "w", Some(2)), d(Severity::Error, "e", None)], false);
        assert_eq!(
            text,
            "Errors (1)\n  error[e] .env.production e happened\n      fix: do this\n\n\
             Warnings (1)\n  warning[w] .env.production:2 w happened\n      fix: do this\n\n"
        );
    }

    #[test]
    fn sarif_has_rules_levels_and_lines() {
        let v = sarif("t", &[RuleDoc { id: "e", description: "an e" }], &[d(Severity::Info, "e", Some(7))]);
        assert_eq!(v["version"], "2.1.0");
        let r = &v["runs"][0];
        assert_eq!(r["tool"]["driver"]["rules"][0]["id"], "e");
        assert_eq!(r["results"][0]["level"], "note");
        assert_eq!(r["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 7);
    }

    #[test]
    fn counts_by_severity() {
        let c =
            Counts::of(&[d(Severity::Error, "a", None), d(Severity::Error, "b", None), d(Severity::Info, "c", None)]);
        assert_eq!(c, Counts { errors: 2, warnings: 0, info: 1 });
    }
}
