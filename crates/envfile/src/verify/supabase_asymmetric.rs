//! Supabase's asymmetric scheme: the private JWKs (`ec-jwk-private`) hold one signing key,
//! the public set (`jwks-public`) holds exactly their public keys, every ES256 token
//! verifies against that set, opaque keys carry the checksum of their project ref; and a
//! schema with only the legacy HS256 keys is told about the deprecation.

use super::{Code, Ctx, Finding, Severity, finding};
use crate::schema::{Generator, OpaquePrefix, Variable};
use secretkit::supabase::{OpaqueKeyError, check_opaque_key, parse_opaque_key};
use secretkit::{EcPublicJwk, Jwk, JwkError, Jwks};

pub(crate) fn check(ctx: &Ctx, out: &mut Vec<Finding>) {
    legacy_only(ctx, out);
    for decl in &ctx.schema.vars {
        match &decl.generator {
            Some(Generator::EcJwkPrivate) => private_keys(ctx, decl, out),
            Some(Generator::JwksPublic { from }) => public_set(ctx, decl, from, out),
            Some(Generator::SupabaseOpaqueKey { prefix, project_ref }) => opaque(ctx, decl, *prefix, project_ref, out),
            Some(Generator::SupabaseJwtEs256 { signed_with, .. }) => es256(ctx, decl, signed_with, out),
            _ => {}
        }
    }
}

/// The value of `name` with its line, when set and not empty (the value rules report
/// empty ones).
fn value<'a>(ctx: &'a Ctx, name: &str) -> Option<(&'a str, Option<usize>)> {
    let var = ctx.env.get(name)?;
    let v = var.value.expose();
    (!v.is_empty()).then_some((v, Some(var.line)))
}

fn error(code: Code, decl: &Variable, line: Option<usize>, message: String, hint: &str) -> Finding {
    finding(Severity::Error, code, Some(&decl.name), line, message, Some(hint.to_string()))
}

/// The EC keys of a private set, or `None` when the value is no usable set (reported by
/// [`private_keys`]).
fn parse_private(text: &str) -> Option<Jwks> {
    let set = Jwks::parse(text).ok()?;
    (set.signing_keys().count() == 1).then_some(set)
}

fn private_keys(ctx: &Ctx, decl: &Variable, out: &mut Vec<Finding>) {
    let Some((text, line)) = value(ctx, &decl.name) else { return };
    let name = &decl.name;
    let hint =
        "generate it: cargo xtask secrets gen (after deleting the line), or rotate it: cargo xtask secrets rotate";
    let problem = match Jwks::parse(text) {
        Err(e) => Some(format!("{name} is not a JWK set of EC P-256 private keys: {e}")),
        Ok(set) => match set.signing_keys().count() {
            1 => None,
            n => Some(format!("{name} must hold exactly one private signing key (key_ops sign); it holds {n}")),
        },
    };
    if let Some(message) = problem {
        out.push(error(Code::InvalidFormat, decl, line, message, hint));
    }
}

/// The public set must hold the public half of every EC key of the private set, under the
/// same `kid`, and nothing else; and no private material, since it is not a secret.
fn public_set(ctx: &Ctx, decl: &Variable, from: &str, out: &mut Vec<Finding>) {
    let Some((text, line)) = value(ctx, &decl.name) else { return };
    let name = &decl.name;
    let remake = format!("remake it from {from}: delete the {name} line and run cargo xtask secrets gen");
    let public = match Jwks::parse_public(text) {
        Ok(set) => set,
        Err(JwkError::PrivateKeyMaterial) => {
            out.push(error(
                Code::JwksMismatch,
                decl,
                line,
                format!("{name} holds private key material (d or k) where only public keys belong; it is readable in the container"),
                &format!("{remake}, and rotate {from}: cargo xtask secrets rotate {from}"),
            ));
            return;
        }
        Err(e) => {
            out.push(error(Code::InvalidFormat, decl, line, format!("{name} is not a public JWK set: {e}"), &remake));
            return;
        }
    };
    let Some(private) = value(ctx, from).and_then(|(t, _)| parse_private(t)) else { return };
    let public_keys: Vec<(Option<&str>, EcPublicJwk)> =
        public.keys.iter().filter_map(|k| k.ec_public().map(|p| (k.kid(), p))).collect();
    for (i, key) in private.keys.iter().enumerate() {
        let Some(want) = key.ec_public() else { continue };
        let role = if matches!(key, Jwk::EcPrivate(_)) { "its signing key" } else { "a retired key" };
        let by_kid: Vec<_> = public_keys.iter().filter(|(kid, _)| *kid == key.kid()).collect();
        let problem = if by_kid.is_empty() {
            Some(format!("{name} has no key with the kid of {role} (key {} of {from})", i + 1))
        } else if !by_kid.iter().any(|(_, p)| p.same_key(&want)) {
            Some(format!("{name}'s key with the kid of {role} (key {} of {from}) is another point", i + 1))
        } else {
            None
        };
        if let Some(message) = problem {
            out.push(error(
                Code::JwksMismatch,
                decl,
                line,
                format!("{message}; tokens it signs fail to verify"),
                &remake,
            ));
        }
    }
    let private_public: Vec<EcPublicJwk> = private.keys.iter().filter_map(Jwk::ec_public).collect();
    let stray = public_keys.iter().filter(|(_, p)| !private_public.iter().any(|q| q.same_key(p))).count();
    if stray > 0 {
        out.push(error(
            Code::JwksMismatch,
            decl,
            line,
            format!("{name} holds {stray} key(s) that {from} does not; verifiers would trust tokens nobody here signs"),
            &remake,
        ));
    }
}

fn opaque(ctx: &Ctx, decl: &Variable, prefix: OpaquePrefix, project_ref: &str, out: &mut Vec<Finding>) {
    let Some((key, line)) = value(ctx, &decl.name) else { return };
    let name = &decl.name;
    let hint = format!(
        "use the key made for project ref {project_ref} (self-hosted: cargo xtask secrets gen after deleting the line)"
    );
    match parse_opaque_key(key) {
        // Another prefix is the format rule's finding (api-key with its prefix).
        Err(OpaqueKeyError::UnknownPrefix) => {}
        Ok(kind) if kind != prefix.kind() => {}
        Err(e) => out.push(error(Code::InvalidFormat, decl, line, format!("{name} {e}"), &hint)),
        Ok(_) => {
            if check_opaque_key(key, project_ref) == Err(OpaqueKeyError::ChecksumMismatch) {
                out.push(error(
                    Code::SupabaseOpaqueChecksum,
                    decl,
                    line,
                    format!("{name}'s checksum does not match project ref {project_ref}: mistyped, or made for another project"),
                    &hint,
                ));
            }
        }
    }
}

/// The public set an ES256 token of `signed_with` must verify against: the `jwks-public`
/// variable made from it when set, else the public halves of the private keys.
fn verifier_set(ctx: &Ctx, signed_with: &str) -> Option<(Jwks, String)> {
    let public = ctx.schema.vars.iter().find(|v| {
        matches!(&v.generator, Some(Generator::JwksPublic { from }) if from == signed_with)
            && value(ctx, &v.name).is_some()
    });
    if let Some(v) = public {
        let (text, _) = value(ctx, &v.name)?;
        return Jwks::parse_public(text).ok().map(|set| (set, v.name.clone()));
    }
    let private = parse_private(value(ctx, signed_with)?.0)?;
    Jwks::parse_public(&private.to_public_json()).ok().map(|set| (set, signed_with.to_string()))
}

fn es256(ctx: &Ctx, decl: &Variable, signed_with: &str, out: &mut Vec<Finding>) {
    let Some((token, line)) = value(ctx, &decl.name) else { return };
    // Malformed tokens are the format rule's; role and expiry are checked with every JWT.
    let Ok(jwt) = secretkit::decode_unverified(token) else { return };
    let Some((set, against)) = verifier_set(ctx, signed_with) else { return };
    let name = &decl.name;
    let problem = if jwt.header().alg != "ES256" {
        Some(format!("{name} is signed with {}, not ES256", jwt.header().alg))
    } else {
        jwt.verify_with_jwks(&set).err().map(|e| format!("{name} does not verify against {against} (ES256): {e}"))
    };
    if let Some(message) = problem {
        out.push(error(
            Code::SupabaseKeySignature,
            decl,
            line,
            message,
            &format!(
                "re-sign it with the signing key of {signed_with}: delete the line and run cargo xtask secrets gen"
            ),
        ));
    }
}

/// A schema whose Supabase keys are all HS256 JWTs signed with a shared secret: Supabase
/// deprecates those for opaque API keys and asymmetric (ES256) signing keys.
fn legacy_only(ctx: &Ctx, out: &mut Vec<Finding>) {
    let generators = || ctx.schema.vars.iter().filter_map(|v| v.generator.as_ref());
    if generators().any(Generator::is_supabase_asymmetric) {
        return;
    }
    let legacy = ctx
        .schema
        .vars
        .iter()
        .find(|v| matches!(v.generator, Some(Generator::SupabaseJwt { .. })) && ctx.env.get(&v.name).is_some());
    let Some(decl) = legacy else { return };
    out.push(finding(
        Severity::Warning,
        Code::SupabaseLegacyKeys,
        Some(&decl.name),
        ctx.env.get(&decl.name).map(|v| v.line),
        format!(
            "{} is a legacy Supabase key (an HS256 JWT signed with a shared secret); Supabase deprecates legacy \
             JWT-based API keys in favour of publishable/secret keys and asymmetric ES256 signing keys",
            decl.name
        ),
        Some(
            "migrate: declare the asymmetric variables in deploy/env.schema.toml (docs/guides/secrets.md, \
             \"Supabase keys\"), then run `cargo xtask secrets gen`, which adds them beside the legacy keys"
                .into(),
        ),
    ));
}
