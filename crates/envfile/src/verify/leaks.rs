//! Rules about secrets ending up where they must not: a public `VITE_*` variable, a second
//! variable, a build secret in the shipped file, and a wildcard CORS allowlist.

use super::strength::estimated_bytes;
use super::supabase::Jwt;
use super::{Code, Ctx, Finding, Severity, finding};
use crate::schema::{Format, Plane};

/// Prefixes of provider secret keys that must never be public.
const SECRET_PREFIXES: &[&str] =
    &["sb_secret_", "sk-or-", "sk-ant-", "sk_live_", "rk_live_", "ghp_", "github_pat_", "npm_", "xoxb-", "AKIA"];

pub(crate) fn check(ctx: &Ctx, out: &mut Vec<Finding>) {
    public_secrets(ctx, out);
    reuse(ctx, out);
    build_secrets(ctx, out);
    cors(ctx, out);
}

fn public_secrets(ctx: &Ctx, out: &mut Vec<Finding>) {
    for var in ctx.env.iter().filter(|v| v.name.starts_with("VITE_")) {
        let (name, value) = (var.name.as_str(), var.value.expose());
        if value.is_empty() {
            continue;
        }
        let twin = ctx.env.iter().find(|o| {
            o.name != var.name && ctx.is_secret(&o.name) && !o.name.starts_with("VITE_") && o.value.expose() == value
        });
        let why = if Jwt::decode(value).is_some_and(|j| j.claim_str("role") == Some("service_role")) {
            Some("a Supabase key with role service_role (it bypasses row-level security)".to_string())
        } else if has_private_jwk(value) {
            Some("a private JWK (it has d or k), which signs tokens".to_string())
        } else if let Some(p) = SECRET_PREFIXES.iter().find(|p| value.starts_with(**p)) {
            Some(format!("a secret key (prefix {p})"))
        } else if let Some(t) = twin {
            Some(format!("the same value as the secret {}", t.name))
        } else if ctx.schema.get(name).is_none()
            && value.len() >= 20
            && estimated_bytes(value) >= 16.0
            && !value.contains("://")
        {
            Some("a high-entropy value, and the schema does not declare it public".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            out.push(finding(
                Severity::Error,
                Code::SecretInPublic,
                Some(name),
                Some(var.line),
                format!("{name} holds {why}; every VITE_ variable is baked into the public JS bundle"),
                Some("move the value to a server-side variable without the VITE_ prefix, and rotate it if it was ever built".into()),
            ));
        }
    }
}

/// Whether `value` is JSON holding a private or symmetric JWK: an object (a key, or one
/// inside a set or array) with `d` or `k`.
fn has_private_jwk(value: &str) -> bool {
    use serde_json::Value;
    fn walk(v: &Value, depth: usize) -> bool {
        match v {
            Value::Object(map) if depth < 4 => {
                (map.contains_key("kty") && (map.contains_key("d") || map.contains_key("k")))
                    || map.values().any(|v| walk(v, depth + 1))
            }
            Value::Array(items) if depth < 4 => items.iter().any(|v| walk(v, depth + 1)),
            _ => false,
        }
    }
    value.trim_start().starts_with(['{', '[']) && serde_json::from_str::<Value>(value).is_ok_and(|v| walk(&v, 0))
}

/// Two variables holding one secret value: a leak of either leaks both, and rotating one
/// silently breaks the other. A declared `derived_from` copy is expected, not reuse.
/// Equal values are grouped through a map and containment is only tested for the schema's
/// secrets, so a 1,000-variable file stays linear.
fn reuse(ctx: &Ctx, out: &mut Vec<Finding>) {
    let vars: Vec<_> = ctx.env.iter().filter(|v| !v.name.starts_with("VITE_") && v.value.len() >= 8).collect();
    let secret: Vec<bool> = vars.iter().map(|v| ctx.is_secret(&v.name)).collect();
    let mut pairs = std::collections::BTreeSet::new();
    let mut by_value: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
    for (i, v) in vars.iter().enumerate() {
        by_value.entry(v.value.expose()).or_default().push(i);
    }
    for group in by_value.values() {
        for (n, &a) in group.iter().enumerate() {
            for &b in &group[n + 1..] {
                pairs.insert((a.min(b), a.max(b)));
            }
        }
    }
    // A declared secret's value inside another variable (e.g. a password inside a URL).
    for (i, v) in vars.iter().enumerate().filter(|(_, v)| ctx.schema.get(&v.name).is_some_and(|d| d.plane.is_secret()))
    {
        if v.value.len() < 12 {
            continue;
        }
        for (j, w) in vars.iter().enumerate() {
            if i != j && w.value.expose().contains(v.value.expose()) {
                pairs.insert((i.min(j), i.max(j)));
            }
        }
    }
    for (i, j) in pairs {
        let (a, b) = (vars[i], vars[j]);
        if !(secret[i] || secret[j]) || derived(ctx, &a.name, &b.name) {
            continue;
        }
        out.push(finding(
            Severity::Error,
            Code::SecretReuse,
            Some(&b.name),
            Some(b.line),
            format!("{} and {} (line {}) share one secret value", b.name, a.name, a.line),
            Some(format!("give each its own value (cargo xtask secrets gen); if {} is built from {}, declare derived_from in the schema", b.name, a.name)),
        ));
    }
}

fn derived(ctx: &Ctx, a: &str, b: &str) -> bool {
    let from = |x: &str, y: &str| ctx.schema.get(x).is_some_and(|d| d.derived_from.iter().any(|f| f == y));
    from(a, b) || from(b, a)
}

fn build_secrets(ctx: &Ctx, out: &mut Vec<Finding>) {
    for var in ctx.env.iter() {
        if ctx.schema.get(&var.name).is_some_and(|d| d.plane == Plane::BuildSecret) {
            let file = var.name.to_ascii_lowercase();
            out.push(finding(
                Severity::Error,
                Code::BuildSecretInEnvFile,
                Some(&var.name),
                Some(var.line),
                format!("{} is a build secret; it must not be in the env file that ships to the server", var.name),
                Some(format!("delete the line; give it to builds through the builder's environment or secrets/{file}.txt, and rotate it")),
            ));
        }
    }
}

fn cors(ctx: &Ctx, out: &mut Vec<Finding>) {
    if ctx.environment != "production" {
        return;
    }
    for decl in ctx.schema.vars.iter().filter(|d| d.format == Format::CsvOrigins) {
        let Some(var) = ctx.env.get(&decl.name) else { continue };
        if var.value.expose().split(',').any(|o| matches!(o.trim(), "*" | "null")) {
            out.push(finding(
                Severity::Error,
                Code::CorsWildcard,
                Some(&decl.name),
                Some(var.line),
                format!("{} allows any origin in production", decl.name),
                Some(format!("list the real origins, e.g. {}=https://app.example.com", decl.name)),
            ));
        }
    }
}
