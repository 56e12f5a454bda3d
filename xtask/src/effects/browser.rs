//! A headless-Chromium look at a deployed page (Debian's `chromium`; downloading a browser
//! does not work here): the DOM after scripts ran, and a screenshot.

use super::process;
use anyhow::{Context, bail};
use std::path::Path;

/// What the page showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Text of the `#status` element, where the page shows the server's answer.
    pub status: String,
}

/// The flags this kind of machine's Chromium needs (root, no GPU, no network chatter).
fn chromium(profile: &Path) -> process::Run {
    process::cmd("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Let the page's fetch of /api/whoami finish before the DOM is dumped.
            "--virtual-time-budget=8000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
}

fn ensure_installed() -> anyhow::Result<()> {
    if crate::rigs::engine::provision::find_program("chromium").is_none() {
        crate::rigs::engine::provision::apt_install(&["chromium"], "the headless page check")?;
    }
    Ok(())
}

/// Load `url`, return `#status`, and save a screenshot to `screenshot`. Fails when `#status`
/// does not show the server's successful answer.
/// `flags` are extra Chromium switches (e.g. `--host-resolver-rules` for a name no DNS knows).
pub fn check_page(url: &str, screenshot: &Path, flags: &[String]) -> anyhow::Result<Page> {
    ensure_installed()?;
    let profile = tempfile::tempdir()?;
    // The chain of an https page is checked by the caller's own client (curl with the CA's
    // root); Chromium is here to run the page's scripts, so it is told to accept it.
    let tls = if url.starts_with("https://") { vec!["--ignore-certificate-errors".to_string()] } else { Vec::new() };
    let out = chromium(profile.path()).args(flags).args(&tls).arg("--dump-dom").arg(url).output()?;
    if !out.success() {
        bail!("chromium --dump-dom {url} failed: {}", process::tail(&out.stderr, 5));
    }
    let dom = String::from_utf8_lossy(&out.stdout);
    let status = element_text(&dom, "status").with_context(|| format!("no #status element in the page at {url}"))?;
    if let Some(parent) = screenshot.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let shot = chromium(profile.path())
        .args(flags)
        .args(&tls)
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--window-size=1024,768")
        .arg(url)
        .output()?;
    if !shot.success() || !screenshot.exists() {
        bail!("chromium --screenshot failed: {}", process::tail(&shot.stderr, 5));
    }
    if status.contains("error") || status.trim().is_empty() || status.contains("loading") {
        bail!("the page's #status shows {status:?}, not the server's answer (screenshot: {})", screenshot.display());
    }
    Ok(Page { status })
}

/// Text inside the element with `id="<id>"` (tags inside it stripped). Enough for the page we
/// ship; not an HTML parser.
pub fn element_text(dom: &str, id: &str) -> Option<String> {
    let start = dom.find(&format!("id=\"{id}\""))?;
    let open_end = start + dom[start..].find('>')? + 1;
    let rest = &dom[open_end..];
    let mut depth = 0usize;
    let mut text = String::new();
    let mut i = 0;
    while i < rest.len() {
        let tail = &rest[i..];
        if tail.starts_with("</") {
            if depth == 0 {
                break;
            }
            depth -= 1;
            i += tail.find('>')? + 1;
        } else if tail.starts_with('<') {
            depth += 1;
            i += tail.find('>')? + 1;
        } else {
            let c = tail.chars().next()?;
            text.push(c);
            i += c.len_utf8();
        }
    }
    Some(text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_text_reads_nested_markup() {
        let dom = r#"<html><body><p id="status" class="ok">role: <b>anon</b> ✓</p><p id="x">y</p></body></html>"#;
        assert_eq!(element_text(dom, "status").as_deref(), Some("role: anon ✓"));
        assert_eq!(element_text(dom, "missing"), None);
    }
}
