//! A Dockerfile read the way the lint needs it: logical instructions (continuations joined,
//! comment lines inside them dropped, `ONBUILD` unwrapped), the parser directives at the top
//! (`# syntax=`, `# check=skip=...`, `# check=error=true`), and the `# check=skip=` comments
//! directly above an instruction, which BuildKit applies to that instruction only.

/// One logical instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub line: usize,
    /// Upper case; for `ONBUILD ARG x` this is `ARG` and `onbuild` is set.
    pub keyword: String,
    pub args: String,
    pub onbuild: bool,
    /// Checks skipped for this instruction by comments right above it (`all` for every one).
    pub skip: Vec<String>,
}

/// The file-wide parser directives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    /// Line of a `# syntax=` directive.
    pub syntax: Option<usize>,
    /// Checks skipped for the whole file.
    pub skip: Vec<String>,
    /// `# check=error=true`: warnings fail the build.
    pub error: bool,
}

/// The checks a `check=` directive's value skips, and whether it makes warnings errors:
/// `skip=A,B;error=true`.
fn check_value(value: &str, skip: &mut Vec<String>, error: &mut bool) {
    for part in value.split(';') {
        match part.trim().split_once('=') {
            Some(("skip", list)) => {
                skip.extend(list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
            }
            Some(("error", v)) => *error = v.trim().eq_ignore_ascii_case("true"),
            _ => {}
        }
    }
}

/// `directive=value` of a comment line, directive lower-cased; a trailing `// note` dropped.
fn directive(comment: &str) -> Option<(String, String)> {
    let body = comment.trim_start().strip_prefix('#')?.trim();
    let (name, value) = body.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let value = value.split("//").next().unwrap_or("").trim();
    Some((name.to_ascii_lowercase(), value.to_string()))
}

pub fn read(text: &str) -> (Directives, Vec<Instruction>) {
    let mut d = Directives::default();
    let mut out = Vec::new();
    let mut in_header = true;
    let mut skip_next: Vec<String> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if pending.is_none() && trimmed.starts_with('#') {
            match directive(trimmed) {
                Some((name, value)) if in_header => match name.as_str() {
                    "syntax" => d.syntax = Some(i + 1),
                    "check" => check_value(&value, &mut d.skip, &mut d.error),
                    _ => {}
                },
                Some((name, value)) if name == "check" => {
                    let mut ignored = false;
                    check_value(&value, &mut skip_next, &mut ignored);
                }
                _ => in_header = false,
            }
            continue;
        }
        if pending.is_none() && trimmed.is_empty() {
            in_header = false;
            continue;
        }
        in_header = false;
        // Comment lines inside a continuation are dropped by Docker too.
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
        out.push(instruction(start, &acc, std::mem::take(&mut skip_next)));
    }
    // A continuation the file never ends: Docker reads what is there.
    if let Some((start, acc)) = pending {
        out.push(instruction(start, &acc, skip_next));
    }
    (d, out)
}

fn instruction(line: usize, text: &str, skip: Vec<String>) -> Instruction {
    let (keyword, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let keyword = keyword.to_ascii_uppercase();
    if keyword == "ONBUILD" {
        let inner = args.trim();
        let (k, a) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
        return Instruction { line, keyword: k.to_ascii_uppercase(), args: a.trim().to_string(), onbuild: true, skip };
    }
    Instruction { line, keyword, args: args.trim().to_string(), onbuild: false, skip }
}

/// Names an ARG or ENV instruction declares (`ARG a=1 b`, `ENV a=1 b=2`, legacy `ENV a 1`).
pub fn declared_names(ins: &Instruction) -> Vec<String> {
    let words = || ins.args.split_whitespace();
    match ins.keyword.as_str() {
        "ARG" => words().map(|a| a.split('=').next().unwrap_or(a).to_string()).collect(),
        "ENV" if words().next().is_some_and(|first| first.contains('=')) => {
            words().filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_string())).collect()
        }
        "ENV" => words().next().map(str::to_string).into_iter().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_at_the_top_apply_to_the_file_and_comments_above_one_instruction_to_it() {
        let (d, ins) = read(
            "# syntax=docker/dockerfile:1\n# check=skip=A,B;error=true\nFROM x\n# check=skip=all // local\nARG p\nARG q\n",
        );
        assert_eq!((d.syntax, d.skip.clone(), d.error), (Some(1), vec!["A".into(), "B".into()], true));
        assert_eq!(ins[1].skip, ["all"]);
        assert!(ins[2].skip.is_empty(), "a skip comment is local to the next instruction");
    }

    #[test]
    fn onbuild_continuations_and_an_unterminated_line_are_read() {
        let (_, ins) = read("FROM x\nONBUILD ARG TOKEN\nENV A=1 \\\n  # note\n  B=2\nARG LAST \\");
        assert_eq!((ins[1].keyword.as_str(), ins[1].onbuild), ("ARG", true));
        assert_eq!(declared_names(&ins[2]), ["A", "B"]);
        assert_eq!(declared_names(&ins[3]), ["LAST"]);
    }
}
