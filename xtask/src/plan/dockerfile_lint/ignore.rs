//! `.dockerignore` as Docker reads it: glob patterns anchored at the context root (`*`, `?`,
//! `**`, character classes, through `globset`), `!` re-includes, the last matching rule wins,
//! and a pattern that matches a directory excludes everything below it.

use globset::GlobMatcher;

#[derive(Debug, Default)]
pub struct DockerIgnore {
    rules: Vec<(bool, GlobMatcher)>,
}

impl DockerIgnore {
    /// Parse the file; a pattern `globset` cannot read is left out (Docker would refuse the
    /// build, and the lint then errs on the side of seeing the file as sent).
    pub fn parse(text: &str) -> DockerIgnore {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (negate, pat) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                let pat = pat.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
                let glob = globset::GlobBuilder::new(pat).literal_separator(true).build().ok()?;
                Some((negate, glob.compile_matcher()))
            })
            .collect();
        DockerIgnore { rules }
    }

    pub fn excludes(&self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').collect();
        let mut excluded = false;
        for (negate, glob) in &self.rules {
            // A rule matches the path or any of its parent directories.
            if (1..=parts.len()).any(|n| glob.is_match(parts[..n].join("/"))) {
                excluded = !negate;
            }
        }
        excluded
    }
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
