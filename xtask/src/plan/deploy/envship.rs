//! What of the local env file ships: runtime config and env_file secrets go into the
//! release's `.env.production`, file-delivered secrets into `secrets/<name>.txt`; public
//! build-time variables and build secrets stay home.

use super::plan::EnvSummary;
use anyhow::bail;
use envfile::schema::{Delivery, Plane, Schema, Variable};
use envfile::{Env, Secret};

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

/// One `KEY=value` line both Compose v1 (python-dotenv) and v2 read back to the same value.
/// Plain values go unquoted; others in single quotes, which v2 keeps as written but v1 still
/// decodes `\\` and `\'` in: a value with a backslash goes unquoted (both keep unquoted
/// backslashes) when nothing else in it needs quotes, and is refused otherwise.
fn line(name: &str, value: &Secret) -> anyhow::Result<String> {
    let v = value.expose();
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.:/+=,@%".contains(c);
    if v.chars().all(plain) {
        Ok(format!("{name}={v}\n"))
    } else if v.contains('\\') {
        if v.chars().all(|c| plain(c) || c == '\\') {
            return Ok(format!("{name}={v}\n"));
        }
        bail!(
            "{name}: the value holds a backslash next to characters that need quotes, and Compose v1 and v2 read \
             quoted backslashes differently; choose a value without backslashes (or regenerate it: `cargo xtask secrets gen`)"
        )
    } else if !v.contains(['\'', '\n', '\r']) {
        Ok(format!("{name}='{v}'\n"))
    } else {
        bail!(
            "{name}: the value holds a quote or newline that Compose v1 and v2 read differently; regenerate it (`cargo xtask secrets gen`)"
        )
    }
}

/// Split an environment's values into what ships. A file-delivered secret missing from the
/// env file comes from `file_secret` (`secrets/<name>.txt`, where `secrets gen` writes it).
pub fn prepare(
    schema: &Schema,
    env: &Env,
    file_secret: &dyn Fn(&Variable) -> Option<Secret>,
) -> anyhow::Result<Shipment> {
    let mut ship = Shipment::default();
    let mut env_text = String::from("# Written by cargo xtask deploy vps; runtime config and secrets (0600).\n");
    for v in &schema.vars {
        let value = match env.get(&v.name) {
            Some(var) => Some(var.value.clone()),
            None if v.delivery == Delivery::File => file_secret(v),
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

/// Replace every known secret value in `text` by its masked form: the value itself, every
/// encoding the scanner searches for (base64, hex, URL- and JSON-escaped), and long pieces of
/// it (a log line that prints half a key still leaks half a key).
pub fn mask_all(text: &str, secrets: &[Secret]) -> String {
    let mut forms: Vec<(String, String)> = Vec::new();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        let v = s.expose();
        let label = format!("[masked {}]", s.masked());
        forms.push((v.to_string(), label.clone()));
        if v.len() < 8 {
            continue;
        }
        for (_, bytes) in leakscan::encodings(v.as_bytes()) {
            if let Ok(form) = String::from_utf8(bytes)
                && form.len() >= 8
            {
                forms.push((form, label.clone()));
            }
        }
        // Prefixes and suffixes of at least half the value (and 12 characters).
        let chars: Vec<char> = v.chars().collect();
        let min = (chars.len() / 2).max(12);
        for n in (min..chars.len()).rev() {
            forms.push((chars[..n].iter().collect(), label.clone()));
            forms.push((chars[chars.len() - n..].iter().collect(), label.clone()));
        }
    }
    // Longest first, so a form containing another is masked whole.
    forms.sort_by_key(|(f, _)| std::cmp::Reverse(f.len()));
    let mut out = text.to_string();
    for (form, label) in forms {
        if out.contains(&form) {
            out = out.replace(&form, &label);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn env(text: &str) -> Env {
        Env::from_entries(envfile::compose::parse(text, &|_| None).unwrap())
    }

    fn schema() -> Schema {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        Schema::load(&root.join("deploy/env.schema.toml")).unwrap()
    }

    #[test]
    fn planes_go_where_they_belong() {
        let env = env(
            "VITE_SUPABASE_URL=https://x.supabase.co\nNODE_ENV=production\nJWT_SECRET='canary-jwt-6f1b7c2e9d0a4411'\n\
             POSTGRES_PASSWORD=canary-pg-2b8e4c6d1f3a5b7c\nNPM_TOKEN=canary-npm\nALLOWED_ORIGINS=\"https://a.example\"\n",
        );
        let s = prepare(&schema(), &env, &|_| None).unwrap();
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
        let from_file = |v: &Variable| (v.name == "POSTGRES_PASSWORD").then(|| Secret::new("from-file-123"));
        let s = prepare(&schema(), &env("NODE_ENV=production\n"), &from_file).unwrap();
        assert_eq!(s.secret_files[0].1.expose(), "from-file-123");
    }

    /// Regression: a failing release's log that printed a secret base64-encoded, or half of
    /// it, was shown as it was.
    #[test]
    fn masking_hides_encodings_and_long_pieces() {
        use base64::Engine as _;
        let secret = "canary-3f9a1c7e5b2d4f6a8c0e";
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let hex = secretkit::hex(secret.as_bytes());
        let log = format!("key b64={b64} hex={hex} head={} tail={}", &secret[..16], &secret[10..]);
        let out = mask_all(&log, &[Secret::new(secret)]);
        for leak in [b64.as_str(), hex.as_str(), &secret[..16], &secret[10..]] {
            assert!(!out.contains(leak), "{leak} still in {out}");
        }
        assert!(out.contains("key b64=[masked"), "{out}");
    }

    #[test]
    fn masking_hides_every_secret_value() {
        let secrets = vec![Secret::new("canary-abcdefghijklmnop"), Secret::new("tiny")];
        let out = mask_all("boom canary-abcdefghijklmnop and tiny", &secrets);
        assert!(!out.contains("canary-abcdefghijklmnop") && !out.contains(" tiny"), "{out}");
    }

    /// Regression: a single-quoted value with `\\` shipped unchanged and Compose v1 gave the
    /// container one backslash instead of two.
    #[test]
    fn backslashes_ship_unquoted_or_not_at_all() {
        let l = line("X", &Secret::new(r"a\\b\c")).unwrap();
        assert_eq!(l, "X=a\\\\b\\c\n");
        // The reader of record (Compose v2) reads it back as written.
        let back = envfile::compose::parse(&l, &|_| None).unwrap();
        assert_eq!(back[0].value, r"a\\b\c");
        assert!(line("X", &Secret::new(r"a b\c")).is_err());
    }

    #[test]
    fn a_value_with_a_quote_and_space_is_refused() {
        assert!(line("X", &Secret::new("a b'c")).is_err());
        assert_eq!(line("X", &Secret::new("a b")).unwrap(), "X='a b'\n");
    }
}
