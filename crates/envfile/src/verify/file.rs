//! Rules about the file itself and how its lines are written: mode, git state, duplicate
//! keys, `$` Compose would interpolate, and lines other readers read differently.

use super::{Code, Ctx, Facts, Finding, Severity, finding};
use crate::divergence;

pub(crate) fn facts(facts: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(mode) = facts.mode
        && mode & 0o077 != 0
    {
        out.push(finding(
            Severity::Error,
            Code::FileMode,
            None,
            None,
            format!("the env file has mode {:04o}; group or others can read it", mode & 0o7777),
            Some("chmod 600 the file (compose reads it as its owner)".into()),
        ));
    }
    if let Some(git) = facts.git {
        let mut push = |code, message: &str, hint: &str| {
            out.push(finding(Severity::Error, code, None, None, message, Some(hint.to_string())));
        };
        if !git.ignored {
            push(
                Code::GitNotIgnored,
                "the env file is not git-ignored",
                "add it to .gitignore (the project's .gitignore lists .env.production)",
            );
        }
        if git.tracked {
            push(
                Code::GitTracked,
                "the env file is tracked by git",
                "git rm --cached the file, commit, and rotate every secret in it (cargo xtask secrets rotate)",
            );
        }
        if git.in_history {
            push(
                Code::GitInHistory,
                "the env file is in git history",
                "rotate every secret in it (cargo xtask secrets rotate), then purge it from history (git filter-repo --invert-paths --path FILE)",
            );
        }
    }
    out
}

/// One `rotation-overdue` warning per secret past its rotation period.
pub(crate) fn rotation(facts: &Facts, environment: &str) -> Vec<Finding> {
    let finding_for = |o: &super::Overdue| {
        finding(
            Severity::Warning,
            Code::RotationOverdue,
            Some(&o.name),
            None,
            format!(
                "{} was last rotated {} ({} days ago); its rotation period is {} days",
                o.name,
                o.since.as_deref().unwrap_or("?"),
                o.age_days,
                o.rotation_days
            ),
            Some(format!("cargo xtask secrets rotate {} --env {environment} (see docs/guides/secrets.md)", o.name)),
        )
    };
    facts.overdue.iter().map(finding_for).collect()
}

pub(crate) fn text_rules(ctx: &Ctx, out: &mut Vec<Finding>) {
    duplicates(ctx, out);
    dollars(ctx, out);
    for d in divergence::check(ctx.text) {
        if d.kind == "dollar" {
            continue; // reported as unquoted-dollar
        }
        out.push(finding(
            Severity::Warning,
            Code::ReaderDivergence,
            Some(&d.key),
            Some(d.line),
            format!("{}: {}", d.key, d.message),
            Some(d.fix),
        ));
    }
}

fn duplicates(ctx: &Ctx, out: &mut Vec<Finding>) {
    for var in ctx.env.iter().filter(|v| !v.shadowed.is_empty()) {
        let earlier: Vec<String> = var.shadowed.iter().map(|l| l.to_string()).collect();
        out.push(finding(
            Severity::Warning,
            Code::DuplicateKey,
            Some(&var.name),
            Some(var.line),
            format!(
                "{} is also set on line {}; Compose uses this last one, dotenvy (first wins) would use line {}",
                var.name,
                earlier.join(", "),
                earlier[0]
            ),
            Some("delete the assignments you do not mean".into()),
        ));
    }
}

/// A `$` Compose interpolates in an unquoted or double-quoted value (`$name`, `$$`, `${`
/// of a name the file does not define): a password containing one silently changes. A
/// `${NAME}` reference to a variable defined earlier in the file is meant and not reported.
fn dollars(ctx: &Ctx, out: &mut Vec<Finding>) {
    let mut defined = std::collections::HashSet::new();
    for st in ctx.statements.iter().filter(|s| !s.inherited) {
        let raw = &ctx.text[st.value_span.clone()];
        if st.quote != Some(b'\'') && surprising_dollar(raw, &defined) {
            let name = st.entry.key.as_str();
            out.push(finding(
                Severity::Warning,
                Code::UnquotedDollar,
                Some(name),
                Some(st.entry.line),
                format!("{name}: Compose interpolates the `$` in this value (the container sees something else than the file says)"),
                Some(format!("if the `$` is literal, single-quote the value: {name}='...'; for a reference write ${{NAME}} with NAME set earlier in the file")),
            ));
        }
        defined.insert(st.entry.key.as_str());
    }
}

fn surprising_dollar(raw: &str, defined: &std::collections::HashSet<&str>) -> bool {
    let b = raw.as_bytes();
    let name_len = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
    (0..b.len()).any(|i| {
        if b[i] != b'$' || i + 1 >= b.len() {
            return false;
        }
        match b[i + 1] {
            b'$' => true,
            b'{' => {
                let n = name_len(i + 2);
                // `${NAME}` of a variable set earlier is a deliberate reference.
                !(n > 0 && b.get(i + 2 + n) == Some(&b'}') && defined.contains(&raw[i + 2..i + 2 + n]))
            }
            c => c == b'_' || c.is_ascii_alphabetic(),
        }
    })
}
