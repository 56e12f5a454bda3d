//! A complete, valid production env file for tests, fixtures and benchmarks. Its secrets are
//! fixed strings published here, so they are worthless: never deploy them.

use crate::verify::sign_hs256;

/// A random-looking 48-byte JWT secret (base64), fixed so snapshots are stable.
pub const JWT_SECRET: &str = "vFDUnvbzM1L6CZbPu52g1w7JSU58CJ9GZQLt21tu3j/H77dXP03UadaK20xgX21I";
pub const POSTGRES_PASSWORD: &str = "pWff0pDWbCJmXbepEkUmDRMrQ9pkLlKVMSzaRreiCmc";
pub const OPENROUTER_API_KEY: &str = "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";
/// 2100-01-01: keys that stay valid for every test run.
pub const FAR_FUTURE: u64 = 4_102_444_800;

/// A Supabase key for `role`, signed with `secret`, expiring at `exp`.
pub fn supabase_key(role: &str, secret: &str, exp: u64) -> String {
    sign_hs256(
        &serde_json::json!({"iss": "supabase", "role": role, "iat": 1_700_000_000u64, "exp": exp}),
        secret.as_bytes(),
    )
}

/// Every variable of the reference schema that production needs, each valid.
pub fn production_env() -> String {
    let anon = supabase_key("anon", JWT_SECRET, FAR_FUTURE);
    let service = supabase_key("service_role", JWT_SECRET, FAR_FUTURE);
    format!(
        "# production env (sample)\n\
         VITE_SUPABASE_URL=https://abcd1234.supabase.co\n\
         VITE_SUPABASE_ANON_KEY={anon}\n\
         NODE_ENV=production\n\
         LOG_LEVEL=info\n\
         ALLOWED_ORIGINS=https://app.acme.io,https://www.acme.io\n\
         RATE_LIMIT_MAX=100\n\
         RATE_LIMIT_WINDOW_MS=60000\n\
         JWT_SECRET={JWT_SECRET}\n\
         SUPABASE_SERVICE_ROLE_KEY={service}\n\
         OPENROUTER_API_KEY={OPENROUTER_API_KEY}\n\
         POSTGRES_PASSWORD={POSTGRES_PASSWORD}\n\
         DATABASE_URL=postgres://app:{POSTGRES_PASSWORD}@db:5432/app\n"
    )
}

/// A fixed EC P-256 signing key as `JWT_KEYS` holds it (a one-key array of private JWKs),
/// made with Python's `cryptography` so the sample does not depend on this workspace's
/// own key generation. Published here: worthless.
pub const JWT_KEYS: &str = r#"[{"kty":"EC","kid":"sample-key-1","use":"sig","key_ops":["sign","verify"],"alg":"ES256","ext":true,"crv":"P-256","x":"wUChtAkLp1hnVIKJlfIC3sfkVespa3UAIgzIRDnEDfs","y":"gX7WUfrZgAdywHOrGKC1LsK71oq6hm5bEJwabhjjcI8","d":"GbNEHU5SzUlU5V-lgtKlYrbLaIwJ0mzDtRapBzrgEHk"}]"#;
/// Opaque keys with checksums for `supabase-self-hosted`, computed with Python's hashlib.
pub const PUBLISHABLE_KEY: &str = "sb_publishable_enb3Ojv2pVjR7ttnkJHRud_fn-9KJgV";
pub const SECRET_KEY: &str = "sb_secret_FCTpTO4UOPlMXZjb3PV0mx_Pu4EmJiP";

/// The public set of [`JWT_KEYS`], as `jwks-public` writes it.
pub fn jwt_jwks() -> String {
    secretkit::Jwks::parse(JWT_KEYS).map(|set| set.to_public_json()).unwrap_or_default()
}

/// An ES256 Supabase key for `role`, signed with the signing key of `keys`, expiring at `exp`.
pub fn supabase_key_es256(role: &str, keys: &str, exp: u64) -> String {
    let Some(key) = secretkit::Jwks::parse(keys).ok().and_then(|set| set.signing_keys().next().cloned()) else {
        return String::new();
    };
    let claims = serde_json::json!({"role": role, "iss": "supabase", "iat": 1_700_000_000u64, "exp": exp});
    secretkit::sign_es256(&claims, &key).map(|t| t.expose().to_string()).unwrap_or_default()
}

/// [`production_env`] with every variable of Supabase's asymmetric scheme as well, each
/// valid: the opaque keys, the key sets (single-quoted JSON) and the ES256 keys.
pub fn production_env_asymmetric() -> String {
    let anon = supabase_key_es256("anon", JWT_KEYS, FAR_FUTURE);
    let service = supabase_key_es256("service_role", JWT_KEYS, FAR_FUTURE);
    format!(
        "{}VITE_SUPABASE_PUBLISHABLE_KEY={PUBLISHABLE_KEY}\n\
         VITE_SUPABASE_ANON_KEY_ASYMMETRIC={anon}\n\
         JWT_JWKS='{}'\n\
         JWT_KEYS='{JWT_KEYS}'\n\
         SUPABASE_SERVICE_ROLE_KEY_ASYMMETRIC={service}\n\
         SUPABASE_SECRET_KEY={SECRET_KEY}\n",
        production_env(),
        jwt_jwks()
    )
}
