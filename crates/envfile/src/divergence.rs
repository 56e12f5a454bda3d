//! Lines whose meaning differs between the readers an env file meets: Compose v2 (the reader
//! of record, [`crate::compose`]), Compose v1 (python-dotenv), dotenvy, and Vite (Node's
//! `util.parseEnv` + dotenv-expand, which loads `.env.production` for `vite build`).
//!
//! Most rules look at how a value is written (quotes, `$`, `#`, backslashes). For lines none of
//! them flags, dotenvy itself is asked to read the line and its answer is compared with
//! Compose's. dotenvy's own errors quote the line, so they are never passed on.

use crate::compose::{self, Statement};

/// One line that another reader would read differently, with the fix that makes every reader
/// agree. Messages name the construct, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// What kind of construct: `dollar`, `hash`, `backslash`, `yaml`, `same-line`, `bare`,
    /// `multiline`, `backtick` or `dotenvy` (any other disagreement dotenvy shows).
    pub kind: &'static str,
    pub line: usize,
    pub key: String,
    pub message: String,
    pub fix: String,
}

/// Per-line divergence notes for a file Compose accepts (an unparsable file has none: the
/// parse error comes first). `${VAR}` references resolve to nothing here; only the form matters.
pub fn check(text: &str) -> Vec<Divergence> {
    let Ok(statements) = compose::parse_statements(text, &|_| None) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, st) in statements.iter().enumerate() {
        let next_line = statements.get(i + 1).map(|n| n.entry.line);
        let before = out.len();
        rules(text, st, next_line, &mut out);
        if out.len() == before && !st.inherited {
            dotenvy_disagrees(text, st, &mut out);
        }
    }
    out
}

fn note(out: &mut Vec<Divergence>, kind: &'static str, st: &Statement, message: &str, fix: &str) {
    out.push(Divergence {
        kind,
        line: st.entry.line,
        key: st.entry.key.clone(),
        message: message.to_string(),
        fix: fix.to_string(),
    });
}

const SINGLE_QUOTE: &str = "single-quote the value (KEY='value'); every reader keeps single-quoted text as written when it has no quote or backslash inside";

fn rules(text: &str, st: &Statement, next_line: Option<usize>, out: &mut Vec<Divergence>) {
    let raw = &text[st.value_span.clone()];
    let end_line = st.entry.line + text[st.span.clone()].matches('\n').count();
    if st.inherited {
        note(
            out,
            "bare",
            st,
            "a bare name takes its value from the shell running Compose v2; Compose v1, dotenvy and Vite set nothing (or fail)",
            "write KEY=value, or delete the line",
        );
        return;
    }
    if next_line == Some(end_line) {
        note(
            out,
            "same-line",
            st,
            "another variable follows on the same line after the closing quote: Compose v2 reads both, the other readers ignore the rest or fail",
            "put one variable per line",
        );
    }
    if st.yaml_style {
        note(
            out,
            "yaml",
            st,
            "`KEY: value` is read by Compose v2 and Vite but is an error for dotenvy and Compose v1",
            "write KEY=value",
        );
    }
    match st.quote {
        None => unquoted_rules(raw, st, out),
        Some(b'"') => double_quoted_rules(raw, st, out),
        Some(_) => {
            if raw.contains('\\') {
                note(
                    out,
                    "backslash",
                    st,
                    "a backslash inside single quotes: Compose v2 turns \\' into ' and keeps other backslashes, python-dotenv also turns \\\\ into \\, dotenvy and Vite keep every backslash (dotenvy fails on \\')",
                    "avoid quotes and backslashes in the value (e.g. generate it as base64url)",
                );
            }
        }
    }
    // Skip the opening quote (ASCII) so only line breaks inside the value count.
    let inner = if st.quote.is_some() { &raw[1..] } else { raw };
    if inner.contains('\n') {
        note(
            out,
            "multiline",
            st,
            "a multi-line value: Compose v2 and python-dotenv keep the line breaks, other tools and shells read only the first line",
            "keep values on one line (base64-encode multi-line keys)",
        );
    }
}

fn unquoted_rules(raw: &str, st: &Statement, out: &mut Vec<Divergence>) {
    if raw.contains('$') {
        note(
            out,
            "dollar",
            st,
            "an unquoted `$`: Compose v2 interpolates $NAME, ${NAME} and ${NAME:-default} and reads $$ as $, Compose v1 only ${NAME}, dotenvy has no defaults, Vite expands it again",
            &format!("if the `$` is literal, {SINGLE_QUOTE}"),
        );
    }
    if raw.contains('#') {
        note(
            out,
            "hash",
            st,
            "a `#` inside an unquoted value: Compose v2 keeps it unless a space precedes it, Vite cuts the value at any `#`, python-dotenv at any blank before `#`",
            SINGLE_QUOTE,
        );
    }
    if raw.contains('\\') {
        note(
            out,
            "backslash",
            st,
            "a backslash in an unquoted value: Compose v2 keeps it, dotenvy reads it as an escape",
            SINGLE_QUOTE,
        );
    }
    if raw.starts_with('`') {
        note(
            out,
            "backtick",
            st,
            "backticks: Vite strips them as quotes, Compose v2 keeps them in the value",
            "remove the backticks or single-quote the value",
        );
    }
}

fn double_quoted_rules(raw: &str, st: &Statement, out: &mut Vec<Divergence>) {
    if raw.contains('$') {
        note(
            out,
            "dollar",
            st,
            "a `$` inside double quotes: Compose v2 interpolates it (and reads $$ and \\$ as $), Compose v1 only ${NAME}, dotenvy has no defaults, Vite expands it again",
            &format!("if the `$` is literal, {SINGLE_QUOTE}"),
        );
    }
    let inner = raw.trim_start_matches('"');
    if inner.replace("\\n", "").contains('\\') {
        note(
            out,
            "backslash",
            st,
            "backslash escapes inside double quotes: Compose v2 expands \\t \\\\ \\0ddd and more, Vite only \\n, python-dotenv and dotenvy each a different set",
            &format!("use no escapes other than \\n, or {SINGLE_QUOTE}"),
        );
    }
}

/// Ask dotenvy to read the statement's lines; report when it fails or reads another value.
fn dotenvy_disagrees(text: &str, st: &Statement, out: &mut Vec<Divergence>) {
    let start = text[..st.span.start].rfind('\n').map_or(0, |i| i + 1);
    let end = text[st.span.end..].find('\n').map_or(text.len(), |i| st.span.end + i);
    let lines = &text[start..end];
    // dotenvy would substitute from this process's environment: lines with `$` are covered by
    // the rules above instead.
    if lines.contains('$') {
        return;
    }
    if plainly_agreed(lines, &st.entry.value) {
        return;
    }
    let read: Vec<_> = dotenvy::from_read_iter(lines.as_bytes()).collect();
    let agrees = matches!(read.as_slice(), [Ok((k, v))] if *k == st.entry.key && *v == st.entry.value);
    if agrees {
        return;
    }
    let message = if read.iter().any(|r| r.is_err()) {
        "dotenvy cannot parse this line (Compose v2 reads it); typical causes: spaces or a quote inside an unquoted value, a key with `-`"
    } else {
        "dotenvy reads a different value for this line than Compose v2"
    };
    note(out, "dotenvy", st, message, SINGLE_QUOTE);
}

/// `NAME=value` with a shell-style name and a value of plain characters: every reader agrees,
/// so dotenvy need not be asked (it dominated the time on large files).
fn plainly_agreed(line: &str, value: &str) -> bool {
    let Some((k, v)) = line.split_once('=') else { return false };
    let name_ok = k.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    name_ok && v == value && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./:@,+-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<usize> {
        check(text).iter().map(|d| d.line).collect()
    }

    #[test]
    fn the_fast_path_only_takes_lines_dotenvy_reads_the_same() {
        for line in ["A=1", "_X=a.b/c:d@e,f+g-h", "LONG_NAME_2=abcDEF123"] {
            assert!(plainly_agreed(line, line.split_once('=').unwrap().1), "{line}");
            let read: Vec<_> = dotenvy::from_read_iter(line.as_bytes()).collect();
            assert!(matches!(read.as_slice(), [Ok((_, v))] if v == line.split_once('=').unwrap().1), "{line}");
        }
        for line in ["1A=x", "A-B=1", "A=a b", "A=it's", "A =x"] {
            assert!(!plainly_agreed(line, "x"), "{line}");
        }
    }

    #[test]
    fn plain_values_agree_everywhere() {
        assert!(check("A=1\nB='x y'\nC=\"x y\"\nexport D=abc_DEF-123\n# c\n").is_empty());
    }

    #[test]
    fn each_reader_difference_is_flagged_on_its_line() {
        assert_eq!(lines("A=p$ss\nB=ok\nC=a#b\n"), [1, 3]);
        assert_eq!(lines("A=a b\n"), [1], "dotenvy rejects unquoted spaces");
        assert_eq!(lines("A: x\n"), [1]);
        assert_eq!(lines("A=\"x\" B=2\n"), [1, 1]);
        assert_eq!(lines("A=\"a\\tb\"\n"), [1]);
        assert_eq!(lines("A='a\\'b'\n"), [1]);
        assert_eq!(lines("BARE\nA=1\n"), [1]);
    }

    #[test]
    fn messages_never_carry_the_value() {
        for d in check("A=canary$1 b\nB='canary\\'x'\nC=canary value\n") {
            assert!(!d.message.contains("canary") && !d.fix.contains("canary"), "{d:?}");
        }
    }

    /// Found by the fuzz target: slicing inside a multi-byte character.
    #[test]
    fn multibyte_values_and_blanks_do_not_panic() {
        for text in ["\u{447}", "A\n\u{a0}B=1", "A\n\u{85}\u{85}B=\u{447}\n", "\u{447}=\u{447}\n"] {
            let _ = check(text);
        }
    }

    #[test]
    fn a_file_compose_rejects_has_no_notes() {
        assert!(check("A=\"open\n").is_empty());
    }
}
