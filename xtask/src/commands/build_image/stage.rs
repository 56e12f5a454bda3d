//! The staged build context: exactly the Dockerfile, the static server binary and the built
//! frontend (`public/`), assembled from named inputs, so `.env*` and `secrets/` cannot be in
//! it whatever the project directory holds.

use crate::effects::docker::context_tar_gz;
use anyhow::Context;
use std::path::Path;

/// A gzipped context tar and the paths it holds (for the report and tests).
#[derive(Debug)]
pub struct StagedContext {
    pub tar_gz: Vec<u8>,
    pub paths: Vec<String>,
}

/// Context layout the Dockerfile builds from: `Dockerfile`, `.dockerignore` (when
/// `deploy/.dockerignore` exists), `server` (0755) and `public/**`.
pub fn stage_context(dockerfile: &Path, server_binary: &Path, dist: &Path) -> anyhow::Result<StagedContext> {
    let mut entries = vec![
        (
            "Dockerfile".to_string(),
            0o644,
            std::fs::read(dockerfile).with_context(|| format!("read {}", dockerfile.display()))?,
        ),
        (
            "server".to_string(),
            0o755,
            std::fs::read(server_binary)
                .with_context(|| format!("read the server binary {}", server_binary.display()))?,
        ),
    ];
    // deploy/.dockerignore travels along (it denies everything else), when the project has one.
    if let Some(ignore) = dockerfile.parent().map(|d| d.join(".dockerignore")).filter(|p| p.is_file()) {
        entries.push((
            ".dockerignore".to_string(),
            0o644,
            std::fs::read(&ignore).with_context(|| format!("read {}", ignore.display()))?,
        ));
    }
    add_dir(dist, dist, &mut entries).with_context(|| format!("read the frontend build {}", dist.display()))?;
    let paths = entries.iter().map(|e| e.0.clone()).collect();
    Ok(StagedContext { tar_gz: context_tar_gz(&entries)?, paths })
}

fn add_dir(root: &Path, dir: &Path, out: &mut Vec<(String, u32, Vec<u8>)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if e.file_type()?.is_dir() {
            add_dir(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            out.push((format!("public/{rel}"), 0o644, std::fs::read(&path)?));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_holds_only_dockerfile_server_and_public() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("dist/assets")).unwrap();
        std::fs::write(d.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(d.join("server"), "ELF").unwrap();
        std::fs::write(d.join("dist/index.html"), "<html>").unwrap();
        std::fs::write(d.join("dist/assets/app.js"), "x").unwrap();
        // Stray secrets next to the inputs never reach the context.
        std::fs::write(d.join(".env.production"), "JWT_SECRET=x").unwrap();
        let staged = stage_context(&d.join("Dockerfile"), &d.join("server"), &d.join("dist")).unwrap();
        assert_eq!(staged.paths, ["Dockerfile", "server", "public/assets/app.js", "public/index.html"]);
    }
}
