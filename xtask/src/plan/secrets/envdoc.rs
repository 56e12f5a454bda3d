//! An env file as text that can be completed and edited without disturbing a single other
//! byte: appending missing entries, replacing one entry's line.
//!
//! Reading values for checks is the Compose-compatible reader's job (envfile); this only
//! needs to find `KEY=` lines and the simple values `secrets gen` itself writes.

use anyhow::bail;
use envfile::Secret;

pub struct EnvDoc {
    text: String,
}

impl EnvDoc {
    pub fn new(text: String) -> EnvDoc {
        EnvDoc { text }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// (line index, key, raw value) of every assignment line.
    fn entries(&self) -> impl Iterator<Item = (usize, &str, &str)> {
        self.text.split('\n').enumerate().filter_map(|(i, line)| {
            let line = line.strip_suffix('\r').unwrap_or(line).trim_start();
            if line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let key = key.trim();
            let ok = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            ok.then_some((i, key, value))
        })
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entries().any(|(_, k, _)| k == key)
    }

    /// The value of `key`, unquoted the simple way (surrounding matching quotes removed).
    /// The last assignment wins, as in Compose.
    pub fn get(&self, key: &str) -> Option<Secret> {
        let raw = self.entries().filter(|(_, k, _)| *k == key).last()?.2.trim();
        let unquoted =
            ['"', '\''].iter().find_map(|q| raw.strip_prefix(*q).and_then(|r| r.strip_suffix(*q))).unwrap_or(raw);
        Some(Secret::new(unquoted))
    }

    /// Append `KEY=value` (values from `secrets gen` need no quotes, except JSON key sets,
    /// which are single-quoted; see [`written`]).
    pub fn append(&mut self, key: &str, value: &Secret) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
        self.text.push_str(key);
        self.text.push('=');
        self.text.push_str(&written(value));
        self.text.push('\n');
    }

    pub fn append_comment(&mut self, comment: &str) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
        self.text.push_str(&format!("# {comment}\n"));
    }

    /// Replace the value of every `key` line, keeping the line's `export ` and everything
    /// else in the file byte for byte.
    pub fn replace(&mut self, key: &str, value: &Secret) -> anyhow::Result<()> {
        let targets: Vec<usize> = self.entries().filter(|(_, k, _)| *k == key).map(|(i, _, _)| i).collect();
        if targets.is_empty() {
            bail!("{key} is not in the env file");
        }
        let mut lines: Vec<String> = self.text.split('\n').map(str::to_string).collect();
        for i in targets {
            let line = &lines[i];
            let raw_value = line.split_once('=').map(|(_, v)| v).unwrap_or("");
            if raw_value.trim_start().starts_with(['"', '\''])
                && !raw_value.trim_end_matches('\r').trim_end().ends_with(&raw_value.trim_start()[..1])
            {
                bail!("{key} holds a multi-line quoted value; replace it by hand");
            }
            let cr = if line.ends_with('\r') { "\r" } else { "" };
            let head = &line[..line.len() - raw_value.len()];
            lines[i] = format!("{head}{}{cr}", written(value));
        }
        self.text = lines.join("\n");
        Ok(())
    }
}

/// A value as `secrets gen` writes it: unquoted when every reader agrees on it as it is,
/// else single-quoted (a JSON key set, whose `"` Compose v2 and dotenvy read differently
/// unquoted); the generator refuses anything neither form carries.
fn written(value: &Secret) -> String {
    let v = value.expose();
    if super::generate::is_portable_value(v) { v.to_string() } else { format!("'{v}'") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_are_single_quoted_and_read_back_as_written() {
        let json = Secret::new(r#"{"keys":[{"kty":"EC","x":"a-_b"}]}"#);
        let mut d = EnvDoc::new("A=1\n".into());
        d.append("J", &json);
        assert_eq!(d.text(), "A=1\nJ='{\"keys\":[{\"kty\":\"EC\",\"x\":\"a-_b\"}]}'\n");
        assert_eq!(d.get("J").unwrap(), json);
        assert!(envfile::divergence::check(d.text()).is_empty());
        let entries = envfile::compose::parse(d.text(), &|_| None).unwrap();
        assert_eq!(entries[1].value, json.expose());
        d.replace("J", &Secret::new("[]")).unwrap();
        assert_eq!(d.text(), "A=1\nJ=[]\n");
    }

    #[test]
    fn replace_touches_only_that_line() {
        let mut d = EnvDoc::new("# c\nA=1\nexport B='x'\r\nC=3".into());
        d.replace("B", &Secret::new("new")).unwrap();
        assert_eq!(d.text(), "# c\nA=1\nexport B=new\r\nC=3");
        assert!(d.replace("Z", &Secret::new("v")).is_err());
    }

    #[test]
    fn append_adds_a_missing_newline_first() {
        let mut d = EnvDoc::new("A=1".into());
        d.append("B", &Secret::new("2"));
        assert_eq!(d.text(), "A=1\nB=2\n");
        assert_eq!(d.get("B").unwrap().expose(), "2");
        assert_eq!(EnvDoc::new("X=\"q\"\n".into()).get("X").unwrap().expose(), "q");
        assert!(!d.contains("#A"));
    }

    #[test]
    fn a_multi_line_value_is_refused() {
        let mut d = EnvDoc::new("K=\"line1\nline2\"\n".into());
        assert!(d.replace("K", &Secret::new("v")).is_err());
    }
}
