//! Secret strength: an estimate of the random bytes a value carries, placeholders and a
//! denylist of well-known passwords and published defaults.

/// Supabase's published demo JWT secrets (self-hosting `.env.example` and the CLI's local
/// stack). A key signed with one of them is a demo key, whatever its claims say.
pub const SUPABASE_DEMO_JWT_SECRETS: &[&str] = &[
    "your-super-secret-jwt-token-with-at-least-32-characters-long",
    "super-secret-jwt-token-with-at-least-32-characters-long",
];

/// Passwords that appear in every leaked-password list and in tutorials.
const DENYLIST: &[&str] = &[
    "password",
    "passw0rd",
    "secret",
    "admin",
    "root",
    "postgres",
    "supabase",
    "qwerty",
    "letmein",
    "123456",
    "12345678",
    "123456789",
    "welcome",
    "default",
    "test",
    "master",
    "iloveyou",
    "abc123",
    "trustno1",
    "dragon",
    "monkey",
];

/// Estimated random bytes in `value`: length times bits per character of the smallest
/// alphabet the value fits (hex, base64, ...), lowered to the measured Shannon entropy when
/// the characters repeat much more than random ones would.
pub fn estimated_bytes(value: &str) -> f64 {
    let chars: Vec<char> = value.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let alphabet_bits = alphabet(&chars).log2();
    let shannon = shannon(&chars);
    // A sample of n characters cannot show more than log2(n) bits each.
    let expected = alphabet_bits.min((chars.len() as f64).log2());
    let per_char = if shannon >= 0.75 * expected { alphabet_bits } else { shannon };
    chars.len() as f64 * per_char / 8.0
}

fn alphabet(chars: &[char]) -> f64 {
    let all = |f: fn(&char) -> bool| chars.iter().all(f);
    if all(|c| c.is_ascii_digit()) {
        10.0
    } else if all(|c| c.is_ascii_hexdigit()) && (all(|c| !c.is_ascii_uppercase()) || all(|c| !c.is_ascii_lowercase())) {
        16.0
    } else if all(|c| c.is_ascii_lowercase()) || all(|c| c.is_ascii_uppercase()) {
        26.0
    } else if all(|c| c.is_ascii_alphanumeric()) {
        62.0
    } else if all(|c| c.is_ascii_alphanumeric() || "+/=-_".contains(*c)) {
        64.0
    } else {
        94.0
    }
}

fn shannon(chars: &[char]) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for c in chars {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let n = chars.len() as f64;
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// A well-known password, possibly with digits or punctuation around it.
pub fn denylisted(value: &str) -> bool {
    let core: String = value.to_ascii_lowercase().trim_matches(|c: char| !c.is_ascii_alphabetic()).to_string();
    let lower = value.to_ascii_lowercase();
    DENYLIST.contains(&lower.as_str()) || (core.len() >= 4 && DENYLIST.contains(&core.as_str()))
}

/// Why a value looks like a placeholder, if it does.
pub fn placeholder(value: &str, example: Option<&str>, production: bool) -> Option<&'static str> {
    let lower = value.to_ascii_lowercase();
    let t = lower.trim();
    if SUPABASE_DEMO_JWT_SECRETS.contains(&value) {
        return Some("Supabase's published demo JWT secret");
    }
    if example.is_some_and(|e| e == value) {
        return Some("the schema's example value");
    }
    if let Some(open) = t.find('<')
        && t[open..].contains('>')
    {
        return Some("a <...> placeholder");
    }
    let your = t.starts_with("your") || t.contains("_your") || t.contains("-your") || t.contains("/your");
    let filler = ["here", "key", "secret", "token", "password", "project", "domain"];
    if your && filler.iter().any(|w| t.contains(w)) {
        return Some("a YOUR_..._HERE placeholder");
    }
    let words = [
        "changeme",
        "change-me",
        "change_me",
        "replaceme",
        "replace-me",
        "replace_me",
        "placeholder",
        "todo",
        "fixme",
        "dummy",
        "insert",
    ];
    // Short words only as whole tokens: a random value contains "todo" now and then.
    let tokens = || t.split(|c: char| !c.is_ascii_alphanumeric());
    if words.iter().any(|w| if w.len() >= 5 { t.contains(w) } else { tokens().any(|tok| tok == *w) }) {
        return Some("a change-me placeholder");
    }
    // A run of x's a person typed (`sk-xxxxxxxx`, `xxx`), not three x's a generator happened
    // to draw (about one random 64-character base64 value in 500 has them).
    let x_token = tokens().any(|tok| tok.len() >= 3 && tok.bytes().all(|b| b == b'x'));
    if x_token || t.contains("xxxxxx") {
        return Some("an xxx placeholder");
    }
    if hosts(t).any(reserved) {
        return Some("a reserved example host name (example.com, .example, .invalid, .test)");
    }
    if production && hosts(t).any(|h| h == "localhost" || h.ends_with(".localhost") || h == "127.0.0.1") {
        return Some("a localhost address in production");
    }
    None
}

/// The host names in a value: of each URL (`scheme://[user@]host[:port]/...`), of an email
/// address, or the value itself when it is one bare name; several for a comma list.
fn hosts(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').filter_map(|part| {
        let part = part.trim();
        let rest = part.split_once("://").map(|(_, r)| r).unwrap_or(part);
        let authority = rest.split(['/', '?', '#']).next()?;
        let host = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
        let host = host
            .rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map(|(h, _)| h)
            .unwrap_or(host);
        (host.contains('.') || host == "localhost").then_some(host.trim_end_matches('.'))
    })
}

/// RFC 2606 and RFC 6761 names no real service has: `example.com/.net/.org` and their
/// subdomains, the `.example`, `.invalid` and `.test` top-level domains.
fn reserved(host: &str) -> bool {
    ["example.com", "example.net", "example.org"].iter().any(|d| host == *d || host.ends_with(&format!(".{d}")))
        || [".example", ".invalid", ".test"].iter().any(|tld| host.ends_with(tld))
        || ["example", "invalid", "test"].contains(&host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_values_are_strong_and_patterns_are_weak() {
        // 48 random bytes, base64.
        assert!(estimated_bytes("q5rPj5euFB4iMzJH4WGpzC9nKT5RWSX5bZGyFKRsyyLFdee2Pp6msL7BRpKKkn1z") >= 32.0);
        // 32 random bytes, hex.
        assert!(estimated_bytes("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08") >= 32.0);
        assert!(estimated_bytes("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") < 2.0);
        assert!(estimated_bytes("short") < 8.0);
    }

    /// Regression: any host containing "example" was called a placeholder.
    #[test]
    fn only_reserved_names_are_example_hosts() {
        for real in ["https://db.example-app.com", "postgres://u:p@examples.io:5432/db", "ops@myexample.org"] {
            assert!(placeholder(real, None, true).is_none(), "{real}");
        }
        for reserved in [
            "https://app.example.com,https://www.acme.io",
            "ops@example.org",
            "https://api.example:8443/x",
            "postgres://u:p@db.invalid/db",
            "app.sandbox.test",
        ] {
            assert!(placeholder(reserved, None, false).is_some(), "{reserved}");
        }
        assert!(placeholder("http://localhost:5173", None, true).is_some());
        assert!(placeholder("http://localhost:5173", None, false).is_none(), "localhost is a dev value");
    }

    #[test]
    fn placeholders_and_denylist() {
        for p in [
            "YOUR_API_KEY_HERE",
            "<generate>",
            "postgres://app:<POSTGRES_PASSWORD>@db/app",
            "changeme",
            "sk-or-xxxxxxxx",
            "https://app.example.com",
            "https://your-project.supabase.co",
            "your-super-secret-jwt-token-with-at-least-32-characters-long",
        ] {
            assert!(placeholder(p, None, false).is_some(), "{p}");
        }
        assert!(placeholder("k8Jd9s0Qm2", None, false).is_none());
        // Generated values that happen to hold a short run of x's or a short word.
        for random in ["q1XxXv9+Rk2mTodoS7aZ", "Ab3xxx9Kq0Zp7LmN2v", "sk-or-v1-8fxxx2a"] {
            assert!(placeholder(random, None, false).is_none(), "{random}");
        }
        for typed in ["xxx", "sk-or-v1-xxxxxxxxxxxxxxxx", "token-xxx", "todo"] {
            assert!(placeholder(typed, None, false).is_some(), "{typed}");
        }
        assert!(denylisted("Password123!") && denylisted("postgres") && !denylisted("k8Jd9s0Qm2"));
    }
}
