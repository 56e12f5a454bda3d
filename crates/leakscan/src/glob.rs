//! A small path glob for the allowlist: `*` (within one path segment), `**` (any number of
//! segments), `?` (one character). Paths are matched without a leading `/`.

pub(crate) fn matches(pattern: &str, path: &str) -> bool {
    let path = path.trim_start_matches('/');
    let pattern = pattern.trim_start_matches('/');
    match_bytes(pattern.as_bytes(), path.as_bytes())
}

fn match_bytes(p: &[u8], s: &[u8]) -> bool {
    if p.is_empty() {
        return s.is_empty();
    }
    if p.starts_with(b"**") {
        let mut rest = &p[2..];
        if rest.first() == Some(&b'/') {
            rest = &rest[1..];
            // `**/` also matches zero segments.
            if match_bytes(rest, s) {
                return true;
            }
        }
        return (0..=s.len()).any(|i| (i == 0 || s[i - 1] == b'/' || rest.is_empty()) && match_bytes(rest, &s[i..]));
    }
    match p[0] {
        b'*' => (0..=s.len()).take_while(|&i| i == 0 || s[i - 1] != b'/').any(|i| match_bytes(&p[1..], &s[i..])),
        b'?' => !s.is_empty() && s[0] != b'/' && match_bytes(&p[1..], &s[1..]),
        c => !s.is_empty() && s[0] == c && match_bytes(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("usr/lib/**/tests/*.pem", "usr/lib/python3/x/tests/key.pem"));
        assert!(matches("**/*.pem", "key.pem"));
        assert!(matches("**/*.pem", "/a/b/key.pem"));
        assert!(!matches("*.pem", "a/key.pem"));
        assert!(matches("docs/**", "docs/a/b.md"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "a/c"));
    }
}
