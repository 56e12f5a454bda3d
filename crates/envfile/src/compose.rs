//! The env file reader of record: returns exactly what Docker Compose v2 (compose-go's
//! `dotenv` + `template` packages, v2.13) returns for an `env_file:`.
//!
//! Why not dotenvy: `.env.production` is consumed by Compose on the server, so the only reading
//! that matters is Compose's. dotenvy disagrees with it on unquoted spaces, `${VAR:-default}`,
//! duplicate keys (first wins when loading, Compose keeps the last), escapes and `#`. dotenvy
//! is used only in [`crate::divergence`] to show where a line would read differently.
//!
//! Deliberate differences from Compose (each also listed in docs/guides/environment-variables.md):
//! - [`parse_bytes`] rejects invalid UTF-8 and NUL bytes (Compose passes the bytes through; a
//!   container env cannot hold a NUL and a broken byte is almost surely a binary file), and files
//!   larger than [`MAX_BYTES`].
//! - `${...}` defaults nested deeper than [`MAX_NESTING`] levels are an error (Go grows its stack;
//!   we refuse instead of overflowing ours).
//! - Key characters: Compose accepts Unicode letters (`unicode.IsLetter`) and numbers; Rust's
//!   `char::is_alphabetic` also accepts combining marks with the Alphabetic property, so a key
//!   made of those is accepted here where Compose rejects it. No real key is affected.

use crate::template;
use std::collections::HashMap;
use std::fmt;

/// Largest env file [`parse_bytes`] accepts. Real env files are a few KiB; a 1,000-variable file
/// is about 100 KiB.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// How deep `${A:-${B:-...}}` defaults may nest.
pub const MAX_NESTING: usize = 32;

/// One `KEY=value` statement as Compose reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    /// 1-based line of the statement's key.
    pub line: usize,
}

// Values may be secrets: Debug shows the key and line only.
impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry").field("key", &self.key).field("value", &"[redacted]").field("line", &self.line).finish()
    }
}

/// Why Compose would reject the file. The message never contains a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line the problem was found on.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// A statement with the raw text it came from, for the divergence check.
#[derive(Clone)]
pub(crate) struct Statement {
    pub entry: Entry,
    /// Byte range of the whole statement (key through end of value) in the text.
    pub span: std::ops::Range<usize>,
    /// Byte range of the raw value text (quotes included); empty for inherited keys.
    pub value_span: std::ops::Range<usize>,
    pub quote: Option<u8>,
    pub inherited: bool,
    /// False for a bare `KEY` line whose KEY the lookup does not have (Compose sets nothing).
    pub present: bool,
    pub yaml_style: bool,
}

/// Parse env file text. Entries come in file order with duplicates kept; Compose's effective
/// value for a key is the last entry with that key (see [`crate::env::Env`]).
///
/// `lookup` is the environment Compose interpolates from (the shell / project environment).
/// As in Compose, it wins over values defined earlier in the file.
pub fn parse(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Entry>, ParseError> {
    let statements = parse_statements(text, lookup)?;
    // A bare `KEY` line whose KEY is not in the lookup sets nothing.
    Ok(statements.into_iter().filter(|s| s.present).map(|s| s.entry).collect())
}

/// Parse raw file bytes: a leading UTF-8 BOM is skipped (as Compose does); invalid UTF-8, NUL
/// bytes and oversized files are errors that name the line.
pub fn parse_bytes(bytes: &[u8], lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Entry>, ParseError> {
    let text = decode(bytes)?;
    parse(text, lookup)
}

/// Bytes to text, with the checks [`parse_bytes`] documents.
pub fn decode(bytes: &[u8]) -> Result<&str, ParseError> {
    let line_at = |pos: usize| 1 + bytes[..pos].iter().filter(|&&b| b == b'\n').count();
    if bytes.len() > MAX_BYTES {
        return Err(ParseError {
            line: line_at(MAX_BYTES),
            message: format!(
                "file is {} bytes; env files over {} MiB are refused (is this really an env file?)",
                bytes.len(),
                MAX_BYTES / (1024 * 1024)
            ),
        });
    }
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        return Err(ParseError {
            line: line_at(pos),
            message: "NUL byte: this looks like a binary file, not an env file".into(),
        });
    }
    std::str::from_utf8(bytes).map_err(|e| ParseError {
        line: line_at(e.valid_up_to()),
        message: "invalid UTF-8: save the file as UTF-8".into(),
    })
}

/// Compose's `isSpace`: blanks that are not a line break.
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}')
}

fn is_key_char(c: char) -> bool {
    matches!(c, '_' | '.' | '-' | '[' | ']') || c.is_alphabetic() || c.is_numeric()
}

/// Tracks 1-based line numbers for increasing byte offsets in linear time.
struct Lines<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl Lines<'_> {
    fn at(&mut self, pos: usize) -> usize {
        if pos < self.pos {
            self.pos = 0;
            self.line = 1;
        }
        self.line += self.text.as_bytes()[self.pos..pos].iter().filter(|&&b| b == b'\n').count();
        self.pos = pos;
        self.line
    }
}

pub(crate) fn parse_statements(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Statement>, ParseError> {
    // ParseWithLookup skips one leading BOM; a BOM anywhere else is a bad key character.
    let base = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let mut lines = Lines { text, pos: 0, line: 1 };
    let mut known: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    let mut pos = base;
    while let Some(start) = statement_start(text, pos) {
        let line = lines.at(start);
        let err = |message: String| ParseError { line, message };
        let key_part = locate_key(text, start).map_err(err)?;
        let key = key_part.key;
        if key.contains(' ') {
            return Err(err("key cannot contain a space".into()));
        }
        let value_start = key_part.value_start;
        if key_part.inherited {
            let value = lookup(key);
            if let Some(value) = &value {
                known.insert(key.to_string(), value.clone());
            }
            out.push(Statement {
                present: value.is_some(),
                entry: Entry { key: key.to_string(), value: value.unwrap_or_default(), line },
                // The line break that ended the key is not part of the statement.
                span: start..key_part.key_end,
                value_span: value_start..value_start,
                quote: None,
                inherited: true,
                yaml_style: false,
            });
            pos = value_start;
            continue;
        }
        let mapping = |name: &str| lookup(name).or_else(|| known.get(name).cloned());
        let (value, end, value_end, quote) = extract_value(text, value_start, &mapping).map_err(err)?;
        known.insert(key.to_string(), value.clone());
        out.push(Statement {
            entry: Entry { key: key.to_string(), value, line },
            span: start..value_end,
            value_span: value_start..value_end,
            quote,
            inherited: false,
            present: true,
            yaml_style: key_part.yaml_style,
        });
        pos = end;
    }
    Ok(out)
}

/// Skip blanks, line breaks and comment lines; `None` at end of input.
fn statement_start(text: &str, mut pos: usize) -> Option<usize> {
    loop {
        let rest = &text[pos..];
        let skip = rest.find(|c: char| !c.is_whitespace())?;
        pos += skip;
        if !text[pos..].starts_with('#') {
            return Some(pos);
        }
        // A comment runs to the line break; the break itself is skipped as whitespace.
        pos += text[pos..].find('\n')?;
    }
}

struct KeyPart<'a> {
    key: &'a str,
    /// Byte offset of the `=`, `:` or line break that ended the key.
    key_end: usize,
    value_start: usize,
    inherited: bool,
    yaml_style: bool,
}

fn locate_key(text: &str, start: usize) -> Result<KeyPart<'_>, String> {
    let mut src = &text[start..];
    let mut offset = start;
    // `export` followed by Go's `\s` ([\t\n\f\r ]) is a prefix, not part of the key.
    if let Some(after) = src.strip_prefix("export")
        && after.starts_with(['\t', '\n', '\u{c}', '\r', ' '])
    {
        let trimmed = after.trim_start_matches(is_space);
        offset += src.len() - trimmed.len();
        src = trimmed;
    }
    if src.is_empty() {
        return Err("`export` without a variable name".into());
    }
    for (i, c) in src.char_indices() {
        if is_space(c) {
            continue;
        }
        match c {
            '=' | ':' | '\n' => {
                let key = src[..i].trim_end_matches(char::is_whitespace);
                let after = &src[i + 1..];
                let value = after.trim_start_matches(is_space);
                return Ok(KeyPart {
                    key,
                    key_end: offset + i,
                    value_start: offset + i + 1 + (after.len() - value.len()),
                    inherited: c == '\n',
                    yaml_style: c == ':',
                });
            }
            c if is_key_char(c) => continue,
            c => {
                return Err(format!("unexpected character {:?} in variable name", c.escape_debug().to_string()));
            }
        }
    }
    // No `=`, `:` or line break before the end of input: compose-go stores the text as the
    // value of the empty key (case bare-key-last-line-no-newline).
    Ok(KeyPart { key: "", key_end: offset, value_start: offset, inherited: false, yaml_style: false })
}

type Extracted = (String, usize, usize, Option<u8>);

/// Returns (value, position to continue at, end of the raw value text, quote).
fn extract_value(text: &str, start: usize, mapping: &dyn Fn(&str) -> Option<String>) -> Result<Extracted, String> {
    let src = &text[start..];
    let quote = match src.as_bytes().first() {
        Some(&q @ (b'"' | b'\'')) => q,
        _ => {
            let (line, next) = match src.find('\n') {
                Some(i) => (&src[..i], start + i),
                None => (src, text.len()),
            };
            // Only " #" starts an inline comment; `a#b` is a value.
            let raw = line.split(" #").next().unwrap_or("");
            let raw = raw.trim_end_matches(char::is_whitespace);
            let value = template::substitute(raw, mapping).map_err(|e| e.to_string())?;
            return Ok((value, next, start + raw.len(), None));
        }
    };
    let bytes = src.as_bytes();
    let mut raw = Vec::new();
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        if escaped {
            escaped = false;
            // An escaped quote drops its backslash; any other escape keeps it.
            if b != quote {
                raw.push(b'\\');
            }
            raw.push(b);
            continue;
        }
        match b {
            b'\\' => escaped = true,
            _ if b == quote => {
                // Splitting only at ASCII bytes keeps UTF-8 intact.
                let raw = String::from_utf8_lossy(&raw).into_owned();
                let end = start + i + 1;
                if quote == b'\'' {
                    return Ok((raw, end, end, Some(quote)));
                }
                let value = template::substitute(&expand_escapes(&raw), mapping).map_err(|e| e.to_string())?;
                return Ok((value, end, end, Some(quote)));
            }
            _ => raw.push(b),
        }
    }
    Err(format!(
        "unterminated {} quote: the value runs to the end of the file",
        if quote == b'"' { "double" } else { "single" }
    ))
}

/// compose-go's `expandEscapes` for double-quoted values: `\a \b \f \n \r \t \v \" \\`, `\$`
/// (kept as `$$`, a literal dollar for the template step) and `\0` + up to three digits (read
/// as a Go octal escape `\ddd`, left as text when that is not valid).
pub(crate) fn expand_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let simple = match after.as_bytes().first() {
            Some(b'a') => Some("\u{7}"),
            Some(b'b') => Some("\u{8}"),
            Some(b'c') => Some("\\c"), // in the class but not a Go escape: kept
            Some(b'f') => Some("\u{c}"),
            Some(b'n') => Some("\n"),
            Some(b'r') => Some("\r"),
            Some(b't') => Some("\t"),
            Some(b'v') => Some("\u{b}"),
            Some(b'$') => Some("$$"),
            Some(b'"') => Some("\""),
            Some(b'\\') => Some("\\"),
            _ => None,
        };
        if let Some(rep) = simple {
            out.push_str(rep);
            rest = &after[1..];
            continue;
        }
        if let Some(zero) = after.strip_prefix('0') {
            let digits = zero.bytes().take(3).take_while(u8::is_ascii_digit).count();
            out.push_str(&octal_escape(&zero[..digits]));
            rest = &zero[digits..];
            continue;
        }
        out.push('\\');
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `\0ddd` is rewritten to Go's `\ddd`: exactly three octal digits up to 0o377 make one
/// character; anything else stays as the rewritten text `\ddd`.
fn octal_escape(digits: &str) -> String {
    if digits.len() == 3
        && let Ok(n) = u32::from_str_radix(digits, 8)
        && n <= 0o377
        && let Some(c) = char::from_u32(n)
    {
        return c.to_string();
    }
    format!("\\{digits}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn lines_are_counted_across_multiline_values_and_comments() {
        let text = "# c\nA=1\nB=\"x\ny\"\n\nC=3\n";
        let got: Vec<_> = parse(text, &none).unwrap().iter().map(|e| (e.key.clone(), e.line)).collect();
        assert_eq!(got, [("A".into(), 2), ("B".into(), 3), ("C".into(), 6)]);
    }

    #[test]
    fn errors_name_the_line_and_never_the_value() {
        let err = parse("A=1\nB=\"canary-value\n", &none).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(!err.to_string().contains("canary"), "{err}");
        let err = parse("A=1\n\nBAD KEY=canary\n", &none).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(!err.to_string().contains("canary"), "{err}");
    }

    #[test]
    fn bad_bytes_are_errors_with_a_line() {
        let err = parse_bytes(b"A=1\nB=\xff\n", &none).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("UTF-8"));
        let err = parse_bytes(b"A=1\n\nB=\0\n", &none).unwrap_err();
        assert_eq!(err.line, 3);
        let big = vec![b'A'; MAX_BYTES + 1];
        assert!(parse_bytes(&big, &none).unwrap_err().message.contains("MiB"));
        let ok = parse_bytes(b"\xef\xbb\xbfA=1\r\nB=2\r\n", &none).unwrap();
        assert_eq!(ok.iter().map(|e| e.value.as_str()).collect::<Vec<_>>(), ["1", "2"]);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("A={}x{}", "${B:-".repeat(10_000), "}".repeat(10_000));
        let err = parse(&deep, &none).unwrap_err();
        assert_eq!(err.line, 1);
        let wide = format!("A={}", "${B:-x}".repeat(100_000));
        assert_eq!(parse(&wide, &none).unwrap()[0].value.len(), 100_000);
    }

    #[test]
    fn octal_and_unknown_escapes() {
        assert_eq!(expand_escapes(r"\0123"), "S");
        assert_eq!(expand_escapes(r"\012"), r"\12");
        assert_eq!(expand_escapes(r"\x07"), r"\x07");
        assert_eq!(expand_escapes(r"a\$b"), "a$$b");
        assert_eq!(expand_escapes(r"\c"), r"\c");
    }
}
