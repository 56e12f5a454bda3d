//! Supabase keys: HS256 JWTs that must verify against `JWT_SECRET`, carry the schema's role
//! and not be expired; demo keys (signed with a published demo secret) are placeholders.

use super::strength::SUPABASE_DEMO_JWT_SECRETS;
use super::{Code, Ctx, Finding, Severity, finding};
use crate::schema::{Format, Generator};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A decoded (not verified) JWT.
pub struct Jwt<'a> {
    signing_input: &'a str,
    signature: Vec<u8>,
    pub alg: Option<String>,
    pub claims: serde_json::Value,
}

impl<'a> Jwt<'a> {
    pub fn decode(token: &'a str) -> Option<Jwt<'a>> {
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
        if !claims.is_object() {
            return None;
        }
        Some(Jwt {
            signing_input: &token[..h.len() + 1 + p.len()],
            signature: URL_SAFE_NO_PAD.decode(s).ok()?,
            alg: header.get("alg").and_then(|a| a.as_str()).map(str::to_string),
            claims,
        })
    }

    /// HS256 signature check with `secret`'s bytes as the key (as GoTrue and PostgREST do).
    pub fn verifies_with(&self, secret: &[u8]) -> bool {
        if self.alg.as_deref() != Some("HS256") {
            return false;
        }
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
        mac.update(self.signing_input.as_bytes());
        mac.verify_slice(&self.signature).is_ok()
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(|v| v.as_str())
    }

    pub fn exp(&self) -> Option<u64> {
        self.claims.get("exp").and_then(|v| v.as_u64())
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
                    match jwt.alg.as_deref() {
                        Some("HS256") => String::new(),
                        Some(a) => format!("; its alg is {a}"),
                        None => "; it has no alg".into(),
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
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
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
