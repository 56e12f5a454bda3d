//! Pure secret generation: random encodings, Supabase HS256 keys and templates, with the
//! randomness and the time passed in so the logic is unit-tested without effects.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use envfile::{Generator, Secret, Variable};
use rand::RngCore;

/// Supabase keys made by `secrets gen` are valid this long (5 years, as Supabase's own scripts).
pub const JWT_LIFETIME_SECS: i64 = secretkit::supabase::API_KEY_LIFETIME_SECS as i64;

/// Characters a value may hold so that Compose v2, Compose v1 (which keeps quotes
/// literally) and Vite (which expands `$`) all read the same unquoted value.
pub fn is_portable_value(value: &str) -> bool {
    value.chars().all(|c| c.is_ascii_alphanumeric() || "+/=-_.:@,;%~!*?()[]{}^|<>".contains(c))
}

/// A one-line description of how strong a generated value is; never the value.
pub fn strength(generator: &Generator) -> String {
    match generator {
        Generator::Base64 { bytes } => format!("{} bits ({bytes} random bytes, base64)", bytes * 8),
        Generator::Base64url { bytes } => {
            format!("{} bits ({bytes} random bytes, base64url)", bytes * 8)
        }
        Generator::Hex { bytes } => format!("{} bits ({bytes} random bytes, hex)", bytes * 8),
        Generator::SupabaseJwt { role, signed_with } => {
            format!("HS256 JWT, role {role}, signed with {signed_with}")
        }
        Generator::Template { .. } => "derived (template)".to_string(),
    }
}

pub fn generator_name(generator: &Generator) -> &'static str {
    match generator {
        Generator::Base64 { .. } => "base64",
        Generator::Base64url { .. } => "base64url",
        Generator::Hex { .. } => "hex",
        Generator::SupabaseJwt { .. } => "supabase-jwt",
        Generator::Template { .. } => "template",
    }
}

/// Variables a generator needs before it can run.
pub fn inputs(generator: &Generator) -> Vec<String> {
    match generator {
        Generator::SupabaseJwt { signed_with, .. } => vec![signed_with.clone()],
        Generator::Template { template } => template_names(template),
        _ => Vec::new(),
    }
}

/// Does `v` derive from `name` (signed with it, templated from it, or declared so)?
pub fn derives_from(v: &Variable, name: &str) -> bool {
    v.derived_from.iter().any(|d| d == name)
        || v.generator.as_ref().is_some_and(|g| inputs(g).iter().any(|i| i == name))
}

fn template_names(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        names.push(rest[open + 1..open + close].to_string());
        rest = &rest[open + close + 1..];
    }
    names
}

/// Run a generator. `lookup` gives the (already known) values of its inputs.
pub fn generate(
    generator: &Generator,
    rng: &mut dyn RngCore,
    now: i64,
    lookup: &dyn Fn(&str) -> Option<Secret>,
) -> anyhow::Result<Secret> {
    let random = |rng: &mut dyn RngCore, n: usize| {
        let mut buf = vec![0u8; n];
        rng.fill_bytes(&mut buf);
        buf
    };
    let value = match generator {
        Generator::Base64 { bytes } => STANDARD.encode(random(rng, *bytes)),
        Generator::Base64url { bytes } => URL_SAFE_NO_PAD.encode(random(rng, *bytes)),
        Generator::Hex { bytes } => hex(&random(rng, *bytes)),
        Generator::SupabaseJwt { role, signed_with } => {
            let key = lookup(signed_with).with_context(|| format!("{signed_with} has no value"))?;
            supabase_jwt(role, &key, now)?.expose().to_string()
        }
        Generator::Template { template } => {
            let mut out = template.clone();
            for name in template_names(template) {
                let v = lookup(&name).with_context(|| format!("{name} has no value"))?;
                out = out.replace(&format!("{{{name}}}"), v.expose());
            }
            out
        }
    };
    if !is_portable_value(&value) {
        bail!("a {} value holds characters Compose and Vite read differently", generator_name(generator));
    }
    Ok(Secret::new(value))
}

/// An HS256 JWT with the claims Supabase's own tooling writes (role, iss, iat, exp five
/// years on), keyed with the JWT secret's text itself (not its base64 decoding).
pub fn supabase_jwt(role: &str, key: &Secret, now: i64) -> anyhow::Result<Secret> {
    if !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("JWT role {role:?} must be alphanumeric or _");
    }
    let iat = u64::try_from(now).context("the clock is before 1970")?;
    secretkit::supabase::sign_api_key_hs256(role, key, iat).map_err(|e| anyhow::anyhow!("sign the {role} key: {e}"))
}

/// A clearly-marked throwaway value for a provider key (demo only): the schema's prefix,
/// the word "throwaway", then 24 random bytes as hex, so it has the shape and strength a
/// real key has but no provider will ever accept it.
pub fn throwaway(v: &Variable, rng: &mut dyn RngCore) -> Secret {
    let mut buf = [0u8; 24];
    rng.fill_bytes(&mut buf);
    let body = format!("throwaway-{}", hex(&buf));
    let value = match (v.format, &v.prefix) {
        (_, Some(prefix)) => format!("{prefix}{body}"),
        (envfile::Format::Url, None) => format!("https://{body}@throwaway.invalid/1"),
        _ => body,
    };
    Secret::new(value)
}

pub use secretkit::hex;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    #[test]
    fn encodings_have_the_requested_strength_and_a_portable_alphabet() {
        let none = |_: &str| None;
        let b64 = generate(&Generator::Base64 { bytes: 48 }, &mut rng(), 0, &none).unwrap();
        assert_eq!(STANDARD.decode(b64.expose()).unwrap().len(), 48);
        let url = generate(&Generator::Base64url { bytes: 32 }, &mut rng(), 0, &none).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(url.expose()).unwrap().len(), 32);
        let h = generate(&Generator::Hex { bytes: 32 }, &mut rng(), 0, &none).unwrap();
        assert_eq!(h.len(), 64);
        for v in [&b64, &url, &h] {
            assert!(!v.expose().contains('$') && is_portable_value(v.expose()));
        }
    }

    #[test]
    fn two_draws_differ() {
        let mut r = rng();
        let g = Generator::Base64 { bytes: 32 };
        let a = generate(&g, &mut r, 0, &|_| None).unwrap();
        let b = generate(&g, &mut r, 0, &|_| None).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn supabase_jwt_is_hs256_with_the_claims_and_a_verifiable_signature() {
        let key = Secret::new("super-secret-jwt-token-with-at-least-32-characters-long");
        let jwt = supabase_jwt("anon", &key, 1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "HS256");
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["role"], "anon");
        assert_eq!(claims["iss"], "supabase");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_000_000 + JWT_LIFETIME_SECS);
        secretkit::verify_hs256(jwt.expose(), key.expose().as_bytes(), 1_700_000_001).expect("signature verifies");
    }

    #[test]
    fn templates_substitute_their_inputs() {
        let g = Generator::Template { template: "postgres://app:{PW}@db:5432/app".into() };
        assert_eq!(inputs(&g), vec!["PW".to_string()]);
        let v = generate(&g, &mut rng(), 0, &|n| (n == "PW").then(|| Secret::new("abc_-1"))).unwrap();
        assert_eq!(v.expose(), "postgres://app:abc_-1@db:5432/app");
        assert!(generate(&g, &mut rng(), 0, &|_| None).is_err());
    }

    #[test]
    fn values_with_a_dollar_or_quote_are_not_portable() {
        for bad in ["a$b", "a'b", "a\"b", "a b", "a#b", "a\\b"] {
            assert!(!is_portable_value(bad), "{bad}");
        }
    }
}
