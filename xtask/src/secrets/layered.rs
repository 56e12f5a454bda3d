//! Reads the layered configuration of one environment from disk (`config/common.env`,
//! `config/<env>.env`, `secrets/*.txt`) and hands it to the pure layering in
//! `envfile::layers`.

use anyhow::Context;
use envfile::layers::{self, Layer, Layered, SecretFile};
use std::path::Path;

/// The effective environment of `env` with each variable's origin. Interpolation sees no
/// outside variables: the layers must be complete on their own, as on the server.
pub fn load(root: &Path, env: &str) -> anyhow::Result<Vec<Layered>> {
    let mut texts: Vec<(String, String)> = Vec::new();
    for rel in ["config/common.env".to_string(), format!("config/{env}.env")] {
        match std::fs::read_to_string(root.join(&rel)) {
            Ok(t) => texts.push((rel, t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("read {rel}")),
        }
    }
    if texts.is_empty() {
        anyhow::bail!(
            "no config/common.env or config/{env}.env under {}: layered config needs at least one",
            root.display()
        );
    }
    let mut secrets: Vec<(String, String)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(root.join("secrets")) {
        let mut names: Vec<String> =
            rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        for n in names.into_iter().filter(|n| layers::secret_file_key(n).is_some()) {
            let rel = format!("secrets/{n}");
            let text = std::fs::read_to_string(root.join(&rel)).with_context(|| format!("read {rel}"))?;
            secrets.push((rel, text));
        }
    }
    let layers: Vec<Layer> = texts.iter().map(|(p, t)| Layer { path: p, text: t }).collect();
    let files: Vec<SecretFile> = secrets.iter().map(|(p, t)| SecretFile { path: p, content: t }).collect();
    layers::combine(&layers, &files, &|_| None).context("combine the config layers")
}
