//! What of the local env file ships: runtime config and env_file secrets go into the
//! release's `.env.production`, file-delivered secrets into `secrets/<name>.txt`; public
//! build-time variables and build secrets stay home.

use super::plan::EnvSummary;
use anyhow::{Context, bail};
use envfile::Secret;
use envfile::schema::{Delivery, Plane, Schema};
use std::collections::BTreeMap;
use std::path::Path;

/// The shipped contents, values wrapped so they cannot be printed by accident.
#[derive(Debug, Default)]
pub struct Shipment {
    pub env_file: Secret,
    /// (variable name, value) for each `secrets/<lowercase name>.txt`.
    pub secret_files: Vec<(String, Secret)>,
    pub summary: EnvSummary,
    /// Every secret-plane value, to mask in anything the deploy prints (container logs).
    pub secret_values: Vec<Secret>,
}

/// The env file's effective values as Compose reads them (the last of duplicate keys wins),
/// through the reader of record, `envfile::compose`.
pub fn read_pairs(text: &str) -> anyhow::Result<BTreeMap<String, Secret>> {
    let entries = envfile::compose::parse(text, &|_| None)?;
    Ok(entries.into_iter().map(|e| (e.key, Secret::new(e.value))).collect())
}

/// One `KEY=value` line both Compose v1 and v2 read back to the same value.
fn line(name: &str, value: &Secret) -> anyhow::Result<String> {
    let v = value.expose();
    let plain = v.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:/+=,@%".contains(c));
    if plain {
        Ok(format!("{name}={v}\n"))
    } else if !v.contains(['\'', '\n', '\r']) {
        Ok(format!("{name}='{v}'\n"))
    } else {
        bail!(
            "{name}: the value holds a quote or newline that Compose v1 and v2 read differently; regenerate it (`cargo xtask secrets gen`)"
        )
    }
}

/// Split the local env file (and `secrets/<name>.txt` beside it or in the project, for file
/// secrets missing from it; that is where `secrets gen` writes them) into what ships.
pub fn prepare(schema: &Schema, env_path: &Path, root: &Path) -> anyhow::Result<Shipment> {
    let text = std::fs::read_to_string(env_path).with_context(|| format!("read env file {}", env_path.display()))?;
    let pairs = read_pairs(&text).with_context(|| format!("parse env file {}", env_path.display()))?;
    let secrets_dirs = [env_path.parent().unwrap_or(Path::new(".")).join("secrets"), root.join("secrets")];
    let mut ship = Shipment::default();
    let mut env_text = String::from("# Written by cargo xtask deploy vps; runtime config and secrets (0600).\n");
    for v in &schema.vars {
        let value = match pairs.get(&v.name) {
            Some(value) => Some(value.clone()),
            None if v.delivery == Delivery::File => {
                let name = format!("{}.txt", v.secret_file_name());
                secrets_dirs
                    .iter()
                    .find_map(|d| std::fs::read_to_string(d.join(&name)).ok())
                    .map(|s| Secret::new(s.trim_end_matches(['\n', '\r'])))
            }
            None => None,
        };
        let Some(value) = value else { continue };
        if v.plane.is_secret() && !value.is_empty() {
            ship.secret_values.push(value.clone());
        }
        match (v.plane, v.delivery) {
            (Plane::Config, _) | (Plane::Secret, Delivery::EnvFile) => {
                env_text.push_str(&line(&v.name, &value)?);
                ship.summary.env_file_vars.push(v.name.clone());
            }
            (Plane::Secret, Delivery::File) => {
                ship.secret_files.push((v.name.clone(), value));
                ship.summary.secret_files.push(v.name.clone());
            }
            _ => ship.summary.left_behind.push(v.name.clone()),
        }
    }
    ship.env_file = Secret::new(env_text);
    Ok(ship)
}

/// Replace every known secret value in `text` by its masked form.
pub fn mask_all(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_string();
    // Longest first, so a secret containing another is masked whole.
    let mut sorted: Vec<&Secret> = secrets.iter().filter(|s| s.len() >= 4).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in sorted {
        out = out.replace(s.expose(), &format!("[masked {}]", s.masked()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        Schema::load(&root.join("deploy/env.schema.toml")).unwrap()
    }

    #[test]
    fn planes_go_where_they_belong() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env.production");
        std::fs::write(
            &env,
            "VITE_SUPABASE_URL=https://x.supabase.co\nNODE_ENV=production\nJWT_SECRET='canary-jwt-6f1b7c2e9d0a4411'\n\
             POSTGRES_PASSWORD=canary-pg-2b8e4c6d1f3a5b7c\nNPM_TOKEN=canary-npm\nALLOWED_ORIGINS=\"https://a.example\"\n",
        )
        .unwrap();
        let s = prepare(&schema(), &env, dir.path()).unwrap();
        let text = s.env_file.expose();
        assert!(text.contains("NODE_ENV=production\n"));
        assert!(text.contains("JWT_SECRET=canary-jwt-6f1b7c2e9d0a4411\n"));
        assert!(text.contains("ALLOWED_ORIGINS=https://a.example\n"));
        assert!(!text.contains("VITE_") && !text.contains("NPM_TOKEN") && !text.contains("POSTGRES_PASSWORD"));
        assert_eq!(s.secret_files.len(), 1);
        assert_eq!(s.secret_files[0].1.expose(), "canary-pg-2b8e4c6d1f3a5b7c");
        assert_eq!(s.summary.left_behind, ["VITE_SUPABASE_URL", "NPM_TOKEN"]);
        assert!(!format!("{s:?}").contains("canary"));
    }

    #[test]
    fn a_file_secret_can_come_from_the_secrets_dir() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env.production");
        std::fs::write(&env, "NODE_ENV=production\n").unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/postgres_password.txt"), "from-file-123\n").unwrap();
        let s = prepare(&schema(), &env, dir.path()).unwrap();
        assert_eq!(s.secret_files[0].1.expose(), "from-file-123");
    }

    #[test]
    fn masking_hides_every_secret_value() {
        let secrets = vec![Secret::new("canary-abcdefghijklmnop"), Secret::new("tiny")];
        let out = mask_all("boom canary-abcdefghijklmnop and tiny", &secrets);
        assert!(!out.contains("canary-abcdefghijklmnop") && !out.contains(" tiny"), "{out}");
    }

    #[test]
    fn a_value_with_a_quote_and_space_is_refused() {
        assert!(line("X", &Secret::new("a b'c")).is_err());
        assert_eq!(line("X", &Secret::new("a b")).unwrap(), "X='a b'\n");
    }
}
