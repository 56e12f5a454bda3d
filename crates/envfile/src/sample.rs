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
