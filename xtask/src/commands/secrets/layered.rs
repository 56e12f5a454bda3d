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
        let mut names: Vec<String> = rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
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

/// Is there a layered config for `env` (either config file)?
pub fn has_layers(root: &Path, env: &str) -> bool {
    root.join("config/common.env").is_file() || root.join(format!("config/{env}.env")).is_file()
}

/// The effective environment with origins: the layers when `config/` has them (and no env
/// file was named), else the env file itself (origins are its lines; a repeated key shows
/// what it overrides).
pub fn effective(root: &Path, env: &str, env_file: Option<&Path>) -> anyhow::Result<(String, Vec<Layered>)> {
    if env_file.is_none() && has_layers(root, env) {
        return Ok((format!("config/common.env + config/{env}.env + secrets/*.txt"), load(root, env)?));
    }
    let path =
        env_file.map(Path::to_path_buf).unwrap_or_else(|| crate::plan::secrets::store::default_env_file(root, env));
    let shown = path.strip_prefix(root).unwrap_or(&path).display().to_string();
    let text = std::fs::read_to_string(&path).with_context(|| format!("read env file {}", path.display()))?;
    let vars = layers::combine(&[Layer { path: &shown, text: &text }], &[], &|_| None)
        .context("read the env file as Compose does")?;
    Ok((shown, vars))
}

#[derive(serde::Serialize)]
struct Explained {
    name: String,
    value: String,
    secret: bool,
    source: String,
    overrides: Vec<String>,
}

/// `env show --explain`: every variable with the file (and line) that set it and what it
/// overrides; secret values masked unless `reveal`.
pub fn explain(
    root: &Path,
    schema: &envfile::Schema,
    env: &str,
    env_file: Option<&Path>,
    reveal: bool,
    format: crate::report::Format,
) -> anyhow::Result<crate::report::Status> {
    let (from, vars) = effective(root, env, env_file)?;
    let rows: Vec<Explained> = vars
        .iter()
        .map(|l| {
            let secret = envfile::Env::is_secret(schema, &l.key);
            Explained {
                name: l.key.clone(),
                value: if secret && !reveal { l.value.masked() } else { l.value.expose().to_string() },
                secret,
                source: l.origin.to_string(),
                overrides: l.overrides.iter().map(ToString::to_string).collect(),
            }
        })
        .collect();
    if format == crate::report::Format::Json {
        crate::report::print_json(&serde_json::json!({ "env": env, "from": from, "variables": rows }))?;
    } else {
        println!("{env}: {from}");
        let mut table = super::table(["variable", "value", "set by", "overrides"]);
        for r in &rows {
            let value = if r.secret { format!("{} (secret)", r.value) } else { format!("{:?}", r.value) };
            table.add_row([r.name.clone(), value, r.source.clone(), r.overrides.join(", ")]);
        }
        println!("{table}");
    }
    Ok(crate::report::Status::Ok)
}

/// The layers as one env text for the verify rules, plus where each rendered line came
/// from. Values are written unquoted when every reader agrees on them, single-quoted
/// otherwise; a value no quoting can carry (a `'` together with a newline) is refused.
pub fn render(vars: &[Layered]) -> anyhow::Result<(String, Vec<String>)> {
    let mut text = String::new();
    let mut origins = Vec::new();
    for l in vars {
        let v = l.value.expose();
        let line = if crate::plan::secrets::generate::is_portable_value(v) {
            format!("{}={v}\n", l.key)
        } else if !v.contains('\'') && !v.contains('\n') {
            format!("{}='{v}'\n", l.key)
        } else {
            anyhow::bail!(
                "{} ({}) holds a quote or line break the layered check cannot carry; check it with --env-file",
                l.key,
                l.origin
            );
        };
        text.push_str(&line);
        origins.push(l.origin.to_string());
    }
    Ok((text, origins))
}

/// `verify-env --layered`: the verify rules over the combined layers. Findings point at the
/// layer file that set the variable (their line numbers would otherwise be those of the
/// rendered text).
pub fn verify(root: &Path, schema: &envfile::Schema, env: &str) -> anyhow::Result<crate::commands::verify_env::Report> {
    use crate::effects::clock::Clock;
    // Build secrets sit in secrets/ for BuildKit; they never reach the container's env.
    let build_secret = |k: &str| schema.get(k).is_some_and(|v| v.plane == envfile::Plane::BuildSecret);
    let vars: Vec<Layered> = load(root, env)?.into_iter().filter(|l| !build_secret(&l.key)).collect();
    let (text, origins) = render(&vars)?;
    let facts = envfile::Facts {
        mode: None,
        git: None,
        now: crate::effects::clock::SystemClock.now().max(0) as u64,
        secret_files: vars.iter().filter(|l| l.origin.line.is_none()).map(|l| l.key.clone()).collect(),
    };
    let mut findings = envfile::verify::verify(schema, env, text.as_bytes(), &|_| None, &facts);
    for f in &mut findings {
        if let Some(origin) = f.line.and_then(|l| origins.get(l - 1)) {
            f.message = format!("{} (set in {origin})", f.message);
            f.line = None;
        }
    }
    findings.extend(super::rotation_findings(root, schema, env)?);
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let summary = crate::commands::verify_env::Summary {
        file: format!("config/common.env + config/{env}.env + secrets/*.txt"),
        environment: env.to_string(),
        errors: count(envfile::Severity::Error),
        warnings: count(envfile::Severity::Warning),
        info: count(envfile::Severity::Info),
    };
    Ok(crate::commands::verify_env::Report { findings, summary })
}
