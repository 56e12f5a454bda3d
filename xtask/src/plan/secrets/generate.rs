//! Pure secret generation: random encodings, Supabase HS256 keys, Supabase's asymmetric
//! keys (EC P-256 JWKs, their public set, opaque keys, ES256 JWTs) and templates, with the
//! randomness and the time passed in so the logic is unit-tested without effects.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use envfile::{Generator, Secret, Variable};
use rand::RngCore;
use secretkit::supabase::{generate_opaque_key, jwt_keys, sign_api_key_es256};
use secretkit::{EcPrivateJwk, EcPublicJwk, Jwk, Jwks};

/// Supabase keys made by `secrets gen` are valid this long (5 years, as Supabase's own scripts).
pub const JWT_LIFETIME_SECS: i64 = secretkit::supabase::API_KEY_LIFETIME_SECS as i64;

/// Characters a value may hold so that Compose v2, Compose v1 (which keeps quotes
/// literally) and Vite (which expands `$`) all read the same unquoted value.
pub fn is_portable_value(value: &str) -> bool {
    value.chars().all(|c| c.is_ascii_alphanumeric() || "+/=-_.:@,;%~!*?()[]{}^|<>".contains(c))
}

/// A compact JSON value (a JWK set) that every reader keeps as written once it is
/// single-quoted: its only character outside [`is_portable_value`]'s set is `"`, and it
/// holds no `'` or `\` that would end or escape the quotes.
pub fn is_quotable_json(value: &str) -> bool {
    value.starts_with(['[', '{'])
        && value.chars().all(|c| c == '"' || c.is_ascii_alphanumeric() || "+/=-_.:@,;%~!*?()[]{}^|<>".contains(c))
}

/// Whether `secrets gen` can write the value into an env file so every reader agrees.
pub fn is_writable_value(value: &str) -> bool {
    is_portable_value(value) || is_quotable_json(value)
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
        Generator::EcJwkPrivate => "EC P-256 key pair (128-bit security), private JWK".to_string(),
        Generator::JwksPublic { from } => format!("public JWK set of {from} (not secret)"),
        Generator::SupabaseOpaqueKey { prefix, project_ref } => {
            format!("132 bits, sb_{}_ key, checksum for project {project_ref}", prefix.as_str())
        }
        Generator::SupabaseJwtEs256 { role, signed_with } => {
            format!("ES256 JWT, role {role}, signed with {signed_with}")
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
        Generator::EcJwkPrivate => "ec-jwk-private",
        Generator::JwksPublic { .. } => "jwks-public",
        Generator::SupabaseOpaqueKey { .. } => "supabase-opaque-key",
        Generator::SupabaseJwtEs256 { .. } => "supabase-jwt-es256",
        Generator::Template { .. } => "template",
    }
}

/// Variables a generator needs before it can run.
pub fn inputs(generator: &Generator) -> Vec<String> {
    generator.inputs()
}

/// Does `v` derive from `name` (signed with it, templated from it, or declared so)?
pub fn derives_from(v: &Variable, name: &str) -> bool {
    v.derived_from.iter().any(|d| d == name)
        || v.generator.as_ref().is_some_and(|g| inputs(g).iter().any(|i| i == name))
}

use envfile::schema::template_names;

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
    let input = |name: &str| lookup(name).with_context(|| format!("{name} has no value"));
    let value = match generator {
        Generator::Base64 { bytes } => Secret::new(STANDARD.encode(random(rng, *bytes))),
        Generator::Base64url { bytes } => Secret::new(URL_SAFE_NO_PAD.encode(random(rng, *bytes))),
        Generator::Hex { bytes } => Secret::new(hex(&random(rng, *bytes))),
        Generator::SupabaseJwt { role, signed_with } => supabase_jwt(role, &input(signed_with)?, now)?,
        Generator::EcJwkPrivate => {
            let key = EcPrivateJwk::generate(rng).map_err(|e| anyhow::anyhow!("make an EC P-256 key: {e}"))?;
            Jwks::new(vec![Jwk::EcPrivate(key)]).to_key_array_json()
        }
        Generator::JwksPublic { from } => {
            Secret::new(public_jwks(&input(from)?).with_context(|| format!("read {from}"))?)
        }
        Generator::SupabaseOpaqueKey { prefix, project_ref } => generate_opaque_key(prefix.kind(), project_ref, rng),
        Generator::SupabaseJwtEs256 { role, signed_with } => {
            let keys = input(signed_with)?;
            let key = signing_key(&keys).with_context(|| format!("read {signed_with}"))?;
            supabase_jwt_es256(role, &key, now)?
        }
        Generator::Template { template } => {
            let mut out = template.clone();
            for name in template_names(template) {
                let v = input(&name)?;
                out = out.replace(&format!("{{{name}}}"), v.expose());
            }
            Secret::new(out)
        }
    };
    if !is_writable_value(value.expose()) {
        bail!("a {} value holds characters Compose and Vite read differently", generator_name(generator));
    }
    Ok(value)
}

/// The one signing key of a private JWK set (`JWT_KEYS`): Supabase Auth requires exactly one.
pub fn signing_key(keys: &Secret) -> anyhow::Result<EcPrivateJwk> {
    let set = Jwks::parse(keys.expose()).map_err(|e| anyhow::anyhow!("not a JWK set: {e}"))?;
    let mut signing = set.signing_keys();
    match (signing.next(), signing.next()) {
        (Some(key), None) => Ok(key.clone()),
        (None, _) => bail!("no private key with key_ops sign"),
        (Some(_), Some(_)) => bail!("more than one private key with key_ops sign"),
    }
}

/// `{"keys": [...]}` with the public half of every EC key of a private set.
pub fn public_jwks(keys: &Secret) -> anyhow::Result<String> {
    let set = Jwks::parse(keys.expose()).map_err(|e| anyhow::anyhow!("not a JWK set: {e}"))?;
    if set.keys.iter().all(|k| k.ec_public().is_none()) {
        bail!("the set has no EC key");
    }
    Ok(set.to_public_json())
}

/// The first step of a signing-key rotation: a new key signs, and every EC key of the old
/// set stays as a retired public key (`key_ops` verify), so tokens it signed keep verifying.
pub fn rotate_signing_keys(keys: &Secret, rng: &mut dyn RngCore) -> anyhow::Result<Secret> {
    let old = retired_keys(keys)?;
    let new = EcPrivateJwk::generate(rng).map_err(|e| anyhow::anyhow!("make an EC P-256 key: {e}"))?;
    jwt_keys(&new, &old, None).map_err(|e| anyhow::anyhow!("build the key set: {e}"))
}

/// The second step: only the signing key stays; the retired public keys are dropped.
pub fn finish_signing_key_rotation(keys: &Secret) -> anyhow::Result<Secret> {
    let signing = signing_key(keys)?;
    jwt_keys(&signing, &[], None).map_err(|e| anyhow::anyhow!("build the key set: {e}"))
}

/// The public halves of every EC key of a private set: the signing key's (now retired,
/// `key_ops` verify) and those already retired, without repeats.
pub fn retired_keys(keys: &Secret) -> anyhow::Result<Vec<EcPublicJwk>> {
    let set = Jwks::parse(keys.expose()).map_err(|e| anyhow::anyhow!("not a JWK set: {e}"))?;
    let mut out: Vec<EcPublicJwk> = Vec::new();
    for key in set.keys.iter().filter_map(Jwk::ec_public) {
        if key.kid().is_none() {
            bail!("an EC key of the set has no kid");
        }
        if !out.iter().any(|k| k.same_key(&key)) {
            out.push(key);
        }
    }
    Ok(out)
}

/// The number of retired (verify-only) keys in a private set: more than zero while a
/// rotation overlaps.
pub fn retired_count(keys: &Secret) -> usize {
    Jwks::parse(keys.expose()).map(|set| set.keys.iter().filter(|k| matches!(k, Jwk::EcPublic(_))).count()).unwrap_or(0)
}

/// An ES256 JWT with Supabase's API-key claims (role, iss, iat, exp five years on).
pub fn supabase_jwt_es256(role: &str, key: &EcPrivateJwk, now: i64) -> anyhow::Result<Secret> {
    if !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("JWT role {role:?} must be alphanumeric or _");
    }
    let iat = u64::try_from(now).context("the clock is before 1970")?;
    sign_api_key_es256(role, key, iat).map_err(|e| anyhow::anyhow!("sign the {role} key: {e}"))
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

    /// The asymmetric chain as `secrets gen` runs it: keys, their public set, a token.
    fn asymmetric(rng: &mut StdRng) -> (Secret, Secret, Secret) {
        let keys = generate(&Generator::EcJwkPrivate, rng, 0, &|_| None).unwrap();
        let from = |n: &str| (n == "K").then(|| keys.clone());
        let jwks = generate(&Generator::JwksPublic { from: "K".into() }, rng, 0, &from).unwrap();
        let g = Generator::SupabaseJwtEs256 { role: "service_role".into(), signed_with: "K".into() };
        let token = generate(&g, rng, 1_700_000_000, &from).unwrap();
        (keys, jwks, token)
    }

    #[test]
    fn es256_keys_tokens_and_the_public_set_fit_together() {
        let (keys, jwks, token) = asymmetric(&mut rng());
        assert!(is_quotable_json(keys.expose()) && is_quotable_json(jwks.expose()));
        let public = Jwks::parse_public(jwks.expose()).expect("only public keys");
        let signing = signing_key(&keys).unwrap();
        public.check_has_public_of(&signing).unwrap();
        let jwt = secretkit::verify_with_jwks(token.expose(), &public, 1_700_000_001).unwrap();
        assert_eq!(jwt.header().kid.as_deref(), Some(signing.kid()));
        assert_eq!(jwt.claim_str("role"), Some("service_role"));
        assert_eq!(jwt.exp(), Some(1_700_000_000 + JWT_LIFETIME_SECS as u64));
    }

    #[test]
    fn a_rotation_keeps_the_old_public_key_until_it_is_finished() {
        let mut r = rng();
        let (keys, _, old_token) = asymmetric(&mut r);
        let old = signing_key(&keys).unwrap();
        let rotated = rotate_signing_keys(&keys, &mut r).unwrap();
        let new = signing_key(&rotated).unwrap();
        assert_ne!(new.kid(), old.kid());
        assert_eq!(retired_count(&rotated), 1);
        let public = Jwks::parse_public(&public_jwks(&rotated).unwrap()).unwrap();
        public.check_has_public_of(&old).unwrap();
        public.check_has_public_of(&new).unwrap();
        secretkit::verify_with_jwks(old_token.expose(), &public, 1_700_000_001).expect("old tokens still verify");
        // A second rotation retires the first key again without repeating it.
        let twice = rotate_signing_keys(&rotated, &mut r).unwrap();
        assert_eq!(retired_count(&twice), 2);
        let finished = finish_signing_key_rotation(&rotated).unwrap();
        assert_eq!(retired_count(&finished), 0);
        assert_eq!(signing_key(&finished).unwrap().kid(), new.kid());
        let public = Jwks::parse_public(&public_jwks(&finished).unwrap()).unwrap();
        assert!(secretkit::verify_with_jwks(old_token.expose(), &public, 1_700_000_001).is_err());
    }

    #[test]
    fn opaque_keys_check_for_their_project_ref() {
        let g = Generator::SupabaseOpaqueKey { prefix: envfile::OpaquePrefix::Secret, project_ref: "ref-1".into() };
        let key = generate(&g, &mut rng(), 0, &|_| None).unwrap();
        assert!(key.expose().starts_with("sb_secret_") && is_portable_value(key.expose()));
        assert!(secretkit::supabase::check_opaque_key(key.expose(), "ref-1").is_ok());
        assert!(secretkit::supabase::check_opaque_key(key.expose(), "supabase-self-hosted").is_err());
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
