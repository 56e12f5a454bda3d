//! Per-variable rules: presence, unknown names, empty values, placeholders, strength, format.

use super::strength::{denylisted, estimated_bytes, placeholder};
use super::{Code, Ctx, Finding, Severity, finding};
use crate::schema::{Delivery, Format, Generator, Plane, Variable};

pub(crate) fn check(ctx: &Ctx, out: &mut Vec<Finding>) {
    missing(ctx, out);
    for var in ctx.env.iter() {
        let name = var.name.as_str();
        let line = Some(var.line);
        let value = var.value.expose();
        let Some(decl) = ctx.schema.get(name) else {
            out.push(finding(
                Severity::Warning,
                Code::UnknownVariable,
                Some(name),
                line,
                format!("{name} is not declared in the schema; it is treated as a secret"),
                Some(match did_you_mean(ctx, name) {
                    Some(near) => format!("did you mean {near}? Otherwise declare it in deploy/env.schema.toml"),
                    None => "declare it in deploy/env.schema.toml, or delete it".into(),
                }),
            ));
            continue;
        };
        if value.is_empty() {
            let required = decl.is_required_in(ctx.environment);
            out.push(finding(
                if required { Severity::Error } else { Severity::Warning },
                Code::EmptyValue,
                Some(name),
                line,
                format!("{name} is empty{}", if required { &" but required" as &dyn std::fmt::Display } else { &"" }),
                Some(if required { how_to_get(decl) } else { format!("set a value or delete the line for {name}") }),
            ));
            continue;
        }
        let production = is_production(ctx.environment);
        if value.contains(THROWAWAY_MARK) {
            // Made for a demo on purpose: fine there, never in production.
            let severity = if production { Severity::Error } else { Severity::Info };
            out.push(finding(
                severity,
                Code::ThrowawayValue,
                Some(name),
                line,
                format!("{name} holds a throwaway demo value (secrets gen --throwaway); no provider accepts it"),
                Some(how_to_get(decl)),
            ));
            continue;
        }
        // A config example ("info", "100") is a fine value; a secret's never is.
        let example = decl.example.as_deref().filter(|_| decl.plane.is_secret());
        if let Some(why) = placeholder(value, example, production) {
            out.push(finding(
                Severity::Error,
                Code::Placeholder,
                Some(name),
                line,
                format!("{name} holds {why}, not a real value"),
                Some(how_to_get(decl)),
            ));
            continue;
        }
        weak(decl, value, line, out);
        format_rule(decl, value, line, out);
    }
}

/// What `secrets gen --throwaway` puts in every value it makes up (see the generator).
pub const THROWAWAY_MARK: &str = "throwaway";

/// Whether an environment is production (by name: `production`, `prod`, `prod-eu`...).
pub fn is_production(env: &str) -> bool {
    env == "production" || env == "prod" || env.starts_with("prod-") || env.starts_with("production-")
}

fn missing(ctx: &Ctx, out: &mut Vec<Finding>) {
    for decl in &ctx.schema.vars {
        // Build secrets never belong in the env file; file-delivered secrets may live in
        // secrets/<name>.txt instead.
        let elsewhere = decl.plane == Plane::BuildSecret
            || (decl.delivery == Delivery::File && ctx.facts.secret_files.contains(&decl.name));
        if decl.is_required_in(ctx.environment) && !elsewhere && ctx.env.get(&decl.name).is_none() {
            out.push(finding(
                Severity::Error,
                Code::MissingRequired,
                Some(&decl.name),
                None,
                format!("{} is required in {} but not set ({})", decl.name, ctx.environment, decl.description),
                Some(how_to_get(decl)),
            ));
        }
    }
}

fn did_you_mean<'a>(ctx: &'a Ctx, name: &str) -> Option<&'a str> {
    ctx.schema
        .vars
        .iter()
        // A typo keeps the length within a few characters; skipping the rest keeps a file of
        // a thousand unknown names fast.
        .filter(|v| v.name.len().abs_diff(name.len()) <= 3)
        .map(|v| (strsim::jaro_winkler(&v.name, name), v.name.as_str()))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

/// How to obtain a proper value, from the schema's generator or provider.
pub fn how_to_get(decl: &Variable) -> String {
    match (&decl.generator, &decl.provided_by) {
        (Some(g), _) => format!("generate it: {}", generator_text(g)),
        (None, Some(p)) => format!("get it from {p}"),
        (None, None) => match &decl.example {
            Some(e) if !decl.plane.is_secret() => format!("set it, e.g. {}={e}", decl.name),
            _ => format!("set {}", decl.name),
        },
    }
}

/// One-line description of a generator, shared with the generated docs.
pub fn generator_text(g: &Generator) -> String {
    match g {
        Generator::Base64 { bytes } => format!("cargo xtask secrets gen (or: openssl rand -base64 {bytes})"),
        Generator::Base64url { bytes } => {
            format!("cargo xtask secrets gen (or: openssl rand -base64 {bytes} | tr '+/' '-_' | tr -d '=')")
        }
        Generator::Hex { bytes } => format!("cargo xtask secrets gen (or: openssl rand -hex {bytes})"),
        Generator::SupabaseJwt { role, signed_with } => {
            format!("cargo xtask secrets gen (an HS256 JWT with role {role}, signed with {signed_with})")
        }
        Generator::EcJwkPrivate => {
            "cargo xtask secrets gen (an EC P-256 signing key as a JSON array of private JWKs)".to_string()
        }
        Generator::JwksPublic { from } => format!("cargo xtask secrets gen (the public JWK set of {from})"),
        Generator::SupabaseOpaqueKey { prefix, project_ref } => format!(
            "cargo xtask secrets gen (an sb_{}_ key with its checksum for project ref {project_ref})",
            prefix.as_str()
        ),
        Generator::SupabaseJwtEs256 { role, signed_with } => {
            format!("cargo xtask secrets gen (an ES256 JWT with role {role}, signed with {signed_with})")
        }
        Generator::Template { template } => format!("built from other variables: {template}"),
    }
}

fn weak(decl: &Variable, value: &str, line: Option<usize>, out: &mut Vec<Finding>) {
    if !decl.plane.is_secret() || matches!(decl.format, Format::Jwt | Format::Url | Format::PostgresUrl) {
        return;
    }
    // A key set's strength is its curve's, checked by the asymmetric rules.
    if matches!(decl.generator, Some(Generator::EcJwkPrivate)) {
        return;
    }
    let name = decl.name.as_str();
    let min = decl.min_bytes.unwrap_or(16) as f64;
    let body = decl.prefix.as_deref().and_then(|p| value.strip_prefix(p)).unwrap_or(value);
    let estimate = estimated_bytes(body);
    let why = if denylisted(value) {
        Some("a well-known password".to_string())
    } else if estimate < min {
        Some(format!("about {estimate:.0} random bytes, the schema asks for at least {min:.0}"))
    } else {
        None
    };
    if let Some(why) = why {
        out.push(finding(
            Severity::Error,
            Code::WeakSecret,
            Some(name),
            line,
            format!("{name} is weak: {why}"),
            Some(how_to_get(decl)),
        ));
    }
}

fn format_rule(decl: &Variable, value: &str, line: Option<usize>, out: &mut Vec<Finding>) {
    let problem = format_problem(decl, value);
    if let Some(problem) = problem {
        let name = decl.name.as_str();
        let hint = match &decl.example {
            Some(e) if !decl.plane.is_secret() => format!("e.g. {name}={e}"),
            _ => how_to_get(decl),
        };
        out.push(finding(
            Severity::Error,
            Code::InvalidFormat,
            Some(name),
            line,
            format!("{name} {problem}"),
            Some(hint),
        ));
    }
}

fn format_problem(decl: &Variable, value: &str) -> Option<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let ok = match decl.format {
        Format::String => true,
        Format::Url => is_url(value, &["http", "https"]),
        Format::Integer => value.parse::<u64>().is_ok(),
        Format::Enum => decl.values.iter().any(|v| v == value),
        Format::CsvOrigins => {
            return value.split(',').map(str::trim).find_map(|o| {
                (o != "*" && !is_origin(o)).then(|| {
                    "must be a comma-separated list of origins like https://app.example.com (scheme and host, no path)".to_string()
                })
            });
        }
        Format::PostgresUrl => is_url(value, &["postgres", "postgresql"]) && value.contains('@'),
        Format::Jwt => super::supabase::Jwt::decode(value).is_some(),
        Format::Base64 => {
            [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().any(|e| e.decode(value).is_ok())
        }
        Format::Hex => value.len().is_multiple_of(2) && value.chars().all(|c| c.is_ascii_hexdigit()),
        Format::ApiKey => decl.prefix.as_deref().is_none_or(|p| value.starts_with(p)),
    };
    if ok {
        return None;
    }
    Some(match decl.format {
        Format::Enum => format!("must be one of {}", decl.values.join(", ")),
        Format::ApiKey => format!("must start with {}", decl.prefix.as_deref().unwrap_or("")),
        Format::Url => "must be an http(s) URL".into(),
        Format::PostgresUrl => "must be a postgres://user:password@host:port/db URL".into(),
        Format::Jwt => "must be a JWT (three base64url parts separated by dots)".into(),
        f => format!("must be {}", format!("{f:?}").to_ascii_lowercase()),
    })
}

fn is_url(value: &str, schemes: &[&str]) -> bool {
    let Some((scheme, rest)) = value.split_once("://") else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    schemes.contains(&scheme) && !host.is_empty() && !value.chars().any(char::is_whitespace)
}

fn is_origin(value: &str) -> bool {
    is_url(value, &["http", "https"]) && value.splitn(4, '/').nth(3).is_none()
}
