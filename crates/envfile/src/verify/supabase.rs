//! Supabase keys: HS256 JWTs that must verify against `JWT_SECRET`, carry the schema's role
//! and not be expired; demo keys (signed with a published demo secret) are placeholders.

use super::strength::SUPABASE_DEMO_JWT_SECRETS;
use super::{Code, Ctx, Finding, Severity, finding};
use crate::schema::{Format, Generator};

/// A decoded (not verified) JWT: `secretkit`'s, with the checks the rules ask of it.
pub struct Jwt(secretkit::Jwt);

impl Jwt {
    /// A well-formed JWT (three base64url parts, JSON header and claims, a real `alg`).
    pub fn decode(token: &str) -> Option<Jwt> {
        secretkit::decode_unverified(token).ok().map(Jwt)
    }

    pub fn alg(&self) -> &str {
        &self.0.header().alg
    }

    /// HS256 signature check with `secret`'s bytes as the key (as GoTrue and PostgREST do).
    pub fn verifies_with(&self, secret: &[u8]) -> bool {
        self.0.verify_hs256(secret).is_ok()
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.0.claim_str(name)
    }

    pub fn exp(&self) -> Option<u64> {
        self.0.exp()
    }

    /// A key signed with a published demo secret or issued as `supabase-demo`.
    pub fn is_demo(&self) -> bool {
        self.claim_str("iss") == Some("supabase-demo")
            || SUPABASE_DEMO_JWT_SECRETS.iter().any(|s| self.verifies_with(s.as_bytes()))
    }
}

pub(crate) fn check(ctx: &Ctx, out: &mut Vec<Finding>) {
    for decl in ctx.schema.vars.iter().filter(|v| v.format == Format::Jwt) {
        let Some(var) = ctx.env.get(&decl.name) else { continue };
        let Some(jwt) = Jwt::decode(var.value.expose()) else { continue };
        let (name, line) = (decl.name.as_str(), Some(var.line));
        let bad = |code, message: String, hint: &str| {
            finding(Severity::Error, code, Some(name), line, message, Some(hint.to_string()))
        };
        if jwt.is_demo() {
            out.push(bad(
                Code::Placeholder,
                format!("{name} is Supabase's published demo key"),
                "generate real keys: cargo xtask secrets gen",
            ));
            continue;
        }
        if let Some(Generator::SupabaseJwt { signed_with, .. }) = &decl.generator
            && let Some(secret) = ctx.env.value(signed_with)
            && !secret.is_empty()
            && !jwt.verifies_with(secret.as_bytes())
        {
            out.push(bad(
                Code::SupabaseKeySignature,
                format!(
                    "{name} does not verify against {signed_with} (HS256){}",
                    match jwt.alg() {
                        "HS256" => String::new(),
                        a => format!("; its alg is {a}"),
                    }
                ),
                &format!("re-sign it with the current {signed_with}: cargo xtask secrets gen"),
            ));
        }
        if let Some(want) = &decl.jwt_role {
            let role = jwt.claim_str("role");
            if role != Some(want.as_str()) {
                out.push(bad(
                    Code::SupabaseKeyRole,
                    format!("{name} carries role {}, expected {want}", role.unwrap_or("(none)")),
                    "check you did not swap the anon and service-role keys",
                ));
            }
        }
        if let Some(exp) = jwt.exp()
            && exp <= ctx.facts.now
        {
            out.push(bad(
                Code::SupabaseKeyExpired,
                format!("{name} expired (exp is in the past)"),
                "issue a new key: cargo xtask secrets gen",
            ));
        }
    }
}

/// Sign claims as an HS256 JWT (tests and fixtures).
pub fn sign_hs256(claims: &serde_json::Value, secret: &[u8]) -> String {
    // Claims from a JSON value always serialize; an error here is a bug in the caller.
    secretkit::sign_hs256(claims, secret).map(|t| t.expose().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The anon key from Supabase's self-hosting `.env.example`.
    const DEMO_ANON: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyAgCiAgICAicm9sZSI6ICJhbm9uIiwKICAgICJpc3MiOiAic3VwYWJhc2UtZGVtbyIsCiAgICAiaWF0IjogMTY0MTc2OTIwMCwKICAgICJleHAiOiAxNzk5NTM1NjAwCn0.dc_X5iR_VP_qT0zsiyj_I_OZ2T9FtRU2BBNWN8Bu4GE";

    #[test]
    fn the_published_demo_key_verifies_with_the_published_demo_secret() {
        let jwt = Jwt::decode(DEMO_ANON).unwrap();
        assert!(jwt.verifies_with(SUPABASE_DEMO_JWT_SECRETS[0].as_bytes()));
        assert!(jwt.is_demo());
        assert_eq!(jwt.claim_str("role"), Some("anon"));
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let token = sign_hs256(&serde_json::json!({"role": "anon", "exp": 1}), b"k");
        let jwt = Jwt::decode(&token).unwrap();
        assert!(jwt.verifies_with(b"k") && !jwt.verifies_with(b"other"));
        assert!(!jwt.is_demo());
    }
}
