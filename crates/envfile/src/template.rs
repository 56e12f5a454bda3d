//! Compose's `${VAR}` interpolation (compose-go `template`), as applied to env file values.
//!
//! compose-go matches `\$(?i:(\$)|([_a-z][_a-z0-9]*)|\{(?:([_a-z][_a-z0-9]*(?::?[-+?](.*))?)\}|()))`
//! where the greedy `(.*)` stops at a line break. A braced reference with an operator therefore
//! first swallows everything up to the last `}` on its line; the match is then cut after the
//! first balanced `}` and the remainder is interpolated on its own. Scanning the remainder in
//! place gives the same result (it ends at that last `}`), so this is done iteratively, with
//! a cache for "last `}` on this line" to stay linear on long lines.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `${` not followed by a valid reference.
    Invalid,
    /// `${VAR:?message}` / `${VAR?message}` with VAR missing. The reason text is not kept: it
    /// can be built from other variables' values.
    MissingRequired {
        variable: String,
    },
    TooDeep,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Invalid => f.write_str(
                "invalid interpolation: `${` must be followed by NAME, NAME:-default, ... and `}` on the same line (write `$$` for a literal dollar)",
            ),
            TemplateError::MissingRequired { variable } => {
                write!(f, "required variable {variable} is missing a value (`${{{variable}:?...}}`)")
            }
            TemplateError::TooDeep => write!(
                f,
                "`${{...}}` defaults nested deeper than {} levels",
                crate::compose::MAX_NESTING
            ),
        }
    }
}

type Mapping<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Interpolate `$NAME`, `${NAME}`, `${NAME<op>word}` and `$$` the way Compose does.
pub fn substitute(template: &str, mapping: Mapping) -> Result<String, TemplateError> {
    substitute_at(template, mapping, 0)
}

fn is_name_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_name_char(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// Caches the last `}` before the line break that ends the current line.
#[derive(Default)]
struct LastBrace {
    /// (line end, last `}` in [line start, line end)).
    cached: Option<(usize, Option<usize>)>,
}

impl LastBrace {
    /// The last `}` at or after `from` and before the next line break.
    fn find(&mut self, s: &[u8], from: usize) -> Option<usize> {
        let fresh = match self.cached {
            Some((end, _)) => from >= end,
            None => true,
        };
        if fresh {
            let end = s[from..].iter().position(|&b| b == b'\n').map_or(s.len(), |i| from + i);
            let last = s[from..end].iter().rposition(|&b| b == b'}').map(|i| from + i);
            self.cached = Some((end, last));
        }
        let (_, last) = self.cached?;
        last.filter(|&l| l >= from)
    }
}

fn substitute_at(template: &str, mapping: Mapping, depth: usize) -> Result<String, TemplateError> {
    if depth > crate::compose::MAX_NESTING {
        return Err(TemplateError::TooDeep);
    }
    let s = template.as_bytes();
    let mut out = String::with_capacity(template.len());
    let mut braces = LastBrace::default();
    let mut i = 0;
    while let Some(off) = template[i..].find('$') {
        let j = i + off;
        out.push_str(&template[i..j]);
        match s.get(j + 1) {
            Some(b'$') => {
                out.push('$');
                i = j + 2;
            }
            Some(&b) if is_name_start(b) => {
                let end = name_end(s, j + 1);
                out.push_str(&mapping(&template[j + 1..end]).unwrap_or_default());
                i = end;
            }
            Some(b'{') => {
                let (value, next) = braced(template, j, mapping, depth, &mut braces)?;
                out.push_str(&value);
                i = next;
            }
            // `$1`, `$-`, a trailing `$`: no match, the dollar is literal.
            _ => {
                out.push('$');
                i = j + 1;
            }
        }
    }
    out.push_str(&template[i..]);
    Ok(out)
}

fn name_end(s: &[u8], from: usize) -> usize {
    from + s[from..].iter().take_while(|&&b| is_name_char(b)).count()
}

#[derive(Clone, Copy)]
enum Op {
    RequiredNonEmpty,
    Required,
    DefaultIfEmpty,
    DefaultIfUnset,
    AltIfNonEmpty,
    AltIfSet,
}

/// A `${` at `j`: returns the replacement and where scanning continues.
fn braced(
    template: &str,
    j: usize,
    mapping: Mapping,
    depth: usize,
    braces: &mut LastBrace,
) -> Result<(String, usize), TemplateError> {
    let s = template.as_bytes();
    let name_start = j + 2;
    if !s.get(name_start).is_some_and(|&b| is_name_start(b)) {
        return Err(TemplateError::Invalid);
    }
    let n = name_end(s, name_start);
    let name = &template[name_start..n];
    let (op, op_end) = match (s.get(n), s.get(n + 1)) {
        (Some(b':'), Some(b'?')) => (Op::RequiredNonEmpty, n + 2),
        (Some(b':'), Some(b'-')) => (Op::DefaultIfEmpty, n + 2),
        (Some(b':'), Some(b'+')) => (Op::AltIfNonEmpty, n + 2),
        (Some(b'?'), _) => (Op::Required, n + 1),
        (Some(b'-'), _) => (Op::DefaultIfUnset, n + 1),
        (Some(b'+'), _) => (Op::AltIfSet, n + 1),
        (Some(b'}'), _) => return Ok((mapping(name).unwrap_or_default(), n + 1)),
        _ => return Err(TemplateError::Invalid),
    };
    // The regex's greedy `(.*)\}` reaches the last `}` on the line; none means no match.
    let last = braces.find(s, op_end).ok_or(TemplateError::Invalid)?;
    // compose-go then cuts the match after its first balanced `}`.
    let close = first_closing_brace(&s[j..=last]).map_or(last, |c| j + c);
    let word = &template[op_end..close];
    let value = apply(op, name, word, mapping, depth)?;
    Ok((value, close + 1))
}

/// compose-go's `getFirstBraceClosingIndex`, quirk included: the byte after each `{` is skipped.
fn first_closing_brace(s: &[u8]) -> Option<usize> {
    let mut open = 0i64;
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'}' {
            open -= 1;
            if open == 0 {
                return Some(i);
            }
        }
        if s[i] == b'{' {
            open += 1;
            i += 1;
        }
        i += 1;
    }
    None
}

fn apply(op: Op, name: &str, word: &str, mapping: Mapping, depth: usize) -> Result<String, TemplateError> {
    let value = mapping(name);
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let word_value = || substitute_at(word, mapping, depth + 1);
    let missing = || {
        // The message is interpolated first, so its own errors win, as in compose-go.
        word_value()?;
        Err(TemplateError::MissingRequired { variable: name.to_string() })
    };
    match op {
        Op::RequiredNonEmpty if !non_empty => missing(),
        Op::Required if !set => missing(),
        Op::DefaultIfEmpty if !non_empty => word_value(),
        Op::DefaultIfUnset if !set => word_value(),
        Op::AltIfNonEmpty if non_empty => word_value(),
        Op::AltIfSet if set => word_value(),
        _ => Ok(value.unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(name: &str) -> Option<String> {
        match name {
            "SET" => Some("v".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn operators() {
        let t = |s: &str| substitute(s, &map);
        assert_eq!(t("${SET:-d}${UNSET:-d}${EMPTY:-d}").unwrap(), "vdd");
        assert_eq!(t("${EMPTY-d}${UNSET-d}").unwrap(), "d");
        assert_eq!(t("${SET:+a}${EMPTY:+a}${EMPTY+a}${UNSET+a}").unwrap(), "aa");
        assert_eq!(t("$$SET $SET.x ${SET}").unwrap(), "$SET v.x v");
        assert_eq!(t("${A:-{x}}").unwrap(), "{x}");
        assert_eq!(t("${A:-x}}").unwrap(), "x}");
        assert_eq!(t("${UNSET:-$SET}").unwrap(), "v");
        assert!(matches!(t("${UNSET:?boom}"), Err(TemplateError::MissingRequired { .. })));
        assert_eq!(t("${A:x}"), Err(TemplateError::Invalid));
        assert_eq!(t("${}"), Err(TemplateError::Invalid));
    }

    #[test]
    fn a_default_cannot_span_a_line_break() {
        assert_eq!(substitute("${A:-x\n}", &map), Err(TemplateError::Invalid));
    }
}
