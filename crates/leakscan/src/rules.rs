//! Pattern rules for secrets nobody declared. Each rule is reached only through a literal
//! prefix found by one Aho-Corasick pass, so the regexes run on a few bytes around rare hits
//! and the scan keeps the speed of a plain multi-string search. The generic rule's keywords
//! are too common for that pass: they are looked for only in the keys of likely
//! assignments ([`crate::assign`]).

use crate::finding::Severity;
use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use regex::bytes::Regex;

/// Bytes after a literal that a rule may look at (a PEM header plus its first lines, a JWT).
pub(crate) const WINDOW: usize = 4096;
/// Bytes before a literal that a rule may look at (rules whose marker is mid-token).
pub(crate) const BACK: usize = 64;

/// The ids of every pattern rule, for the allowlist and the docs.
pub const RULE_IDS: &[&str] = &[
    "private-key",
    "aws-access-key-id",
    "aws-secret-access-key",
    "github-token",
    "stripe-live-key",
    "slack-token",
    "google-api-key",
    "openai-key",
    "openrouter-key",
    "anthropic-key",
    "npm-token",
    "supabase-secret-key",
    "supabase-service-role-jwt",
    "generic-secret-assignment",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// The match (or its first group) is the secret as is.
    Token,
    /// Like `Token`, plus the token must look random (rejects `ghp_xxxxxxxx...`).
    RandomToken,
    /// A JWT whose payload says `"role":"service_role"`.
    ServiceRoleJwt,
    /// `key = value` where the value must look like a real, high-entropy secret.
    Assignment,
}

struct Rule {
    id: &'static str,
    severity: Severity,
    literals: &'static [&'static str],
    /// Anchored at the literal unless `back` is set (then searched in the window around it).
    regex: &'static str,
    back: bool,
    /// How many bytes after the literal the regex may need.
    window: usize,
    /// Byte classes that must not touch the match on either side (token boundaries).
    boundary: bool,
    check: Check,
}

const SPACE: &str = r"(?:\\[rn]|\s)";

fn rule_table() -> Vec<Rule> {
    use Check::*;
    use Severity::*;
    let pem = format!(
        r"\A-----BEGIN (?:RSA |DSA |EC |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----{SPACE}+(?:[A-Za-z-]+: [^\r\n\\]*{SPACE}+)*[A-Za-z0-9+/=]{{60,}}"
    );
    let pem: &'static str = Box::leak(pem.into_boxed_str());
    vec![
        Rule {
            id: "private-key",
            severity: Error,
            literals: &["-----BEGIN "],
            regex: pem,
            window: 512,
            back: false,
            boundary: false,
            check: Token,
        },
        Rule {
            id: "aws-access-key-id",
            severity: Error,
            literals: &["AKIA", "ASIA", "ABIA", "ACCA"],
            regex: r"\A(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
            window: 512,
            back: false,
            boundary: true,
            check: RandomToken,
        },
        Rule {
            id: "aws-secret-access-key",
            severity: Error,
            literals: &[
                "aws_secret_access_key",
                "AWS_SECRET_ACCESS_KEY",
                "SecretAccessKey",
                "aws_secret_key",
                "AWS_SECRET_KEY",
            ],
            regex: r#"\A(?i:aws_secret_access_key|secretaccesskey|aws_secret_key)["']?\s{0,4}[:=]{1,2}\s{0,4}["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|\z)"#,
            window: 512,
            back: false,
            boundary: false,
            check: RandomToken,
        },
        Rule {
            id: "github-token",
            severity: Error,
            literals: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
            regex: r"\A(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})",
            window: 512,
            back: false,
            boundary: true,
            check: RandomToken,
        },
        Rule {
            id: "stripe-live-key",
            severity: Error,
            literals: &["sk_live_", "rk_live_"],
            regex: r"\A[sr]k_live_[A-Za-z0-9]{20,247}",
            window: 512,
            back: false,
            boundary: true,
            check: RandomToken,
        },
        Rule {
            id: "slack-token",
            severity: Error,
            literals: &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"],
            regex: r"\Axox[bpares]-[0-9A-Za-z]{6,}-[0-9A-Za-z-]{10,250}",
            window: 512,
            back: false,
            boundary: true,
            check: RandomToken,
        },
        // Browser API keys (Firebase, Maps) are public by design: worth a look, not a failure.
        Rule {
            id: "google-api-key",
            severity: Warning,
            literals: &["AIza"],
            regex: r"\AAIza[0-9A-Za-z_-]{35}",
            window: 512,
            back: false,
            boundary: true,
            check: RandomToken,
        },
        Rule {
            id: "openai-key",
            severity: Error,
            literals: &["sk-proj-", "sk-svcacct-", "sk-admin-"],
            regex: r"\Ask-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}",
            window: 512,
            back: false,
            boundary: true,
            check: RandomToken,
        },
        Rule {
            id: "openai-key",
            severity: Error,
            literals: &["T3BlbkFJ"],
            regex: r"sk-[A-Za-z0-9_-]{10,}T3BlbkFJ[A-Za-z0-9_-]{10,}",
            window: 512,
            back: true,
            boundary: true,
            check: RandomToken,
        },
        Rule {
            id: "openrouter-key",
            severity: Error,
            literals: &["sk-or-v1-"],
            regex: r"\Ask-or-v1-[a-f0-9]{64}",
            window: 512,
            back: false,
            boundary: true,
            check: RandomToken,
        },
        Rule {
            id: "anthropic-key",
            severity: Error,
            literals: &["sk-ant-"],
            regex: r"\Ask-ant-[a-z0-9]{2,10}-[A-Za-z0-9_-]{40,}",
            window: 512,
            back: false,
            boundary: true,
            check: RandomToken,
        },
        Rule {
            id: "npm-token",
            severity: Error,
            literals: &["npm_"],
            regex: r"\Anpm_[A-Za-z0-9]{36}",
            window: 512,
            back: false,
            boundary: true,
            check: RandomToken,
        },
        Rule {
            id: "npm-token",
            severity: Error,
            literals: &["_authToken"],
            regex: r#"\A_authToken\s{0,4}=\s{0,4}["']?([^\s"'$\{]{20,})"#,
            window: 512,
            back: false,
            boundary: false,
            check: RandomToken,
        },
        Rule {
            id: "supabase-secret-key",
            severity: Error,
            literals: &["sb_secret_"],
            regex: r"\Asb_secret_[A-Za-z0-9_-]{20,}",
            window: 512,
            back: false,
            boundary: true,
            check: RandomToken,
        },
        Rule {
            id: "supabase-service-role-jwt",
            severity: Error,
            literals: &["eyJ"],
            regex: r"\AeyJ[A-Za-z0-9_-]{8,}\.(eyJ[A-Za-z0-9_-]{8,})\.[A-Za-z0-9_-]{16,}",
            window: WINDOW,
            back: false,
            boundary: true,
            check: ServiceRoleJwt,
        },
        Rule {
            id: "generic-secret-assignment",
            severity: Warning,
            literals: &[
                "password", "Password", "PASSWORD", "passwd", "PASSWD", "secret", "Secret", "SECRET", "token", "Token",
                "TOKEN", "api_key", "apiKey", "API_KEY", "apikey", "APIKEY",
            ],
            regex: r#"\A(?i:password|passwd|secret|token|api_?key)[A-Za-z0-9_.-]{0,32}["']?[ \t]{0,4}(?::=|=>|=|:)[ \t]{0,4}(?:["'`]|&quot;)?([^\s"'`;,<>(){}\[\]\\&|]{12,128})"#,
            window: 256,
            back: false,
            boundary: false,
            check: Assignment,
        },
    ]
}

pub(crate) struct Rules {
    rules: Vec<Rule>,
    regexes: Vec<Regex>,
    /// Literal pattern id -> rule index.
    literal_rule: Vec<usize>,
    /// Every rule's literals, the generic keywords included (searched over the input while
    /// those keywords are rare, else only inside the keys of likely assignments, see
    /// [`crate::assign`]).
    pub(crate) literals: AhoCorasick,
    /// The literals of every rule but the generic one, searched over the whole input. The
    /// generic rule comes last in the table, so pattern ids agree with `literals`.
    pub(crate) prefixes: AhoCorasick,
}

/// A rule that matched: the secret's byte range within the window and the rule.
pub(crate) struct RuleHit<'a> {
    pub id: &'static str,
    pub severity: Severity,
    pub secret: &'a [u8],
    /// Offset of the secret from the start of the slice passed to [`Rules::check`].
    pub start: usize,
}

impl Rules {
    pub(crate) fn new() -> Rules {
        let rules = rule_table();
        let regexes = rules.iter().map(|r| Regex::new(r.regex).expect("rule regexes are valid")).collect();
        let mut lits = Vec::new();
        let mut literal_rule = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            for l in r.literals {
                lits.push(*l);
                literal_rule.push(i);
            }
        }
        let build = |lits: &[&str], prefilter: bool| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .prefilter(prefilter)
                .build(lits)
                .expect("rule literals are valid")
        };
        let generic = rules.iter().position(|r| r.check == Check::Assignment).expect("the table has a generic rule");
        assert_eq!(generic, rules.len() - 1, "the generic rule must come last (pattern ids are shared)");
        let prefix_count = literal_rule.iter().filter(|&&r| r != generic).count();
        Rules {
            literals: build(&lits, true),
            prefixes: build(&lits[..prefix_count], true),
            rules,
            regexes,
            literal_rule,
        }
    }

    /// Is literal `pattern` a keyword of the generic assignment rule?
    pub(crate) fn is_generic(&self, pattern: usize) -> bool {
        self.rules[self.literal_rule[pattern]].check == Check::Assignment
    }

    /// Check the rule of literal `pattern` found at `at` in `hay`; `hay` holds at least
    /// [`WINDOW`] bytes after `at` unless the input ended.
    pub(crate) fn check<'h>(&self, pattern: usize, hay: &'h [u8], at: usize) -> Option<RuleHit<'h>> {
        let ri = self.literal_rule[pattern];
        let rule = &self.rules[ri];
        let re = &self.regexes[ri];
        if rule.check == Check::Assignment && !assignment_shape(&hay[at..]) {
            return None;
        }
        let end = (at + rule.window).min(hay.len());
        let start = if rule.back { at.saturating_sub(BACK) } else { at };
        // The DFA search is cheap; captures (slower) only run on the matched span.
        let span = re.find(&hay[start..end])?;
        let m = re.captures(&hay[start..start + span.end()])?;
        let whole = m.get(0)?;
        let secret_m = m.get(1).unwrap_or(whole);
        let (abs_s, abs_e) = (start + whole.start(), start + whole.end());
        if rule.boundary {
            let token = |b: u8| b.is_ascii_alphanumeric();
            if abs_s > 0 && token(hay[abs_s - 1]) {
                return None;
            }
            if abs_e < hay.len() && token(hay[abs_e]) {
                return None;
            }
        }
        let secret = secret_m.as_bytes();
        let ok = match rule.check {
            Check::Token => true,
            Check::RandomToken => looks_random(secret),
            Check::ServiceRoleJwt => jwt_is_service_role(m.get(1)?.as_bytes()),
            Check::Assignment => plausible_assigned_secret(secret),
        };
        ok.then_some(RuleHit { id: rule.id, severity: rule.severity, secret, start: start + secret_m.start() })
    }
}

/// A cheap pre-check before the assignment regex: keyword, identifier tail, optional quote
/// and spaces, then `=` or `:`. Most keyword hits in code (`e.token||`, `tokenize(`) stop here.
fn assignment_shape(hay: &[u8]) -> bool {
    let mut i = 0;
    let n = hay.len().min(64);
    while i < n && (hay[i].is_ascii_alphanumeric() || matches!(hay[i], b'_' | b'.' | b'-')) {
        i += 1;
    }
    if i < n && matches!(hay[i], b'"' | b'\'') {
        i += 1;
    }
    while i < n && matches!(hay[i], b' ' | b'\t') {
        i += 1;
    }
    i < n && matches!(hay[i], b'=' | b':')
}

fn entropy(v: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in v {
        counts[b as usize] += 1;
    }
    let n = v.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Rejects placeholders and documentation examples (`xxxx`, `EXAMPLE`, repeated characters).
fn looks_random(v: &[u8]) -> bool {
    let lower = String::from_utf8_lossy(v).to_ascii_lowercase();
    if ["example", "xxxxxx", "000000", "placeholder", "your_", "dummy"].iter().any(|p| lower.contains(p)) {
        return false;
    }
    entropy(v) >= 3.0
}

fn jwt_is_service_role(payload_b64: &[u8]) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload_b64) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return false;
    };
    v.get("role").and_then(|r| r.as_str()) == Some("service_role")
}

/// The false-positive filter for `password = value` style hits. Real content is full of
/// assignments that are not secrets: code (`token: e.accessToken`), references
/// (`${DB_PASSWORD}`, `process.env.X`), paths, lockfile integrity hashes, git SHAs, UUIDs.
pub(crate) fn plausible_assigned_secret(v: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(v) else { return false };
    let lower = s.to_ascii_lowercase();
    const PLACEHOLDERS: &[&str] = &[
        "example",
        "changeme",
        "change_me",
        "change-me",
        "placeholder",
        "your",
        "xxxx",
        "****",
        "dummy",
        "sample",
        "redacted",
        "secret",
        "password",
        "token",
        "process.env",
        "import.meta",
        "${",
        "{{",
        "%(",
        "todo",
        "fixme",
        "null",
        "undefined",
        "localhost",
    ];
    if PLACEHOLDERS.iter().any(|p| lower.contains(p)) {
        return false;
    }
    if s.starts_with(['$', '%', '/', '.', '#', '@', '!', '-', '=', ':'])
        || lower.starts_with("http")
        || s.contains("::")
    {
        return false;
    }
    if ["sha1-", "sha256-", "sha384-", "sha512-", "md5-"].iter().any(|p| lower.starts_with(p)) {
        return false;
    }
    let hex = s.bytes().all(|b| b.is_ascii_hexdigit());
    // Hex of hash lengths, and short hex (ids, hash prefixes like cfn-lint's `"c85175a4ebcce361"`).
    if hex && (s.len() < 32 || matches!(s.len(), 32 | 40 | 56 | 64 | 96 | 128)) {
        return false;
    }
    if is_uuid(s) {
        return false;
    }
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    let lowers = s.bytes().filter(u8::is_ascii_lowercase).count();
    let uppers = s.bytes().filter(u8::is_ascii_uppercase).count();
    let others = s.len() - digits - lowers - uppers;
    // Identifiers and member expressions (`e.accessToken`, `getToken2`) are code.
    let identifier = s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'.');
    if identifier && digits < 2 {
        return false;
    }
    if s.contains('.')
        && s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        && digits < 4
    {
        return false;
    }
    let classes = [digits, lowers, uppers, others].iter().filter(|&&c| c > 0).count();
    // Without a digit, only long values count: short letter runs are names, not secrets.
    classes >= 2 && (s.len() >= 16 || classes >= 3) && (digits > 0 || s.len() >= 24) && entropy(v) >= 3.2
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter()
            .enumerate()
            .all(|(i, &c)| if [8, 13, 18, 23].contains(&i) { c == b'-' } else { c.is_ascii_hexdigit() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_hit(text: &str) -> Option<(&'static str, String)> {
        let rules = Rules::new();
        let hay = text.as_bytes();
        for m in rules.literals.find_iter(hay) {
            if let Some(h) = rules.check(m.pattern().as_usize(), hay, m.start()) {
                return Some((h.id, String::from_utf8_lossy(h.secret).into_owned()));
            }
        }
        None
    }

    #[test]
    fn prefixed_tokens_are_found() {
        let cases = [
            ("x AKIAZ7Q3RL5NW2XK4PYT y", "aws-access-key-id"),
            ("token ghp_4fK9qL2mZx8Rt7Vb1Nc6Hw3Jd5Sa0Ye2Pu9o", "github-token"),
            ("k=sk_live_51HqLp2Ck9xZ8rT7vB3nM6wQ", "stripe-live-key"),
            ("xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "slack-token"),
            ("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", "openrouter-key"),
            ("npm_Zk4Lq9Xw2Rt7Vb1Nc6Hw3Jd5Sa0Ye2Pu9oQm", "npm-token"),
            ("sb_secret_N7gQ2xL9kR4tV8bZ1cW6hJ3d", "supabase-secret-key"),
            ("DB_PASSWORD=Xk9#qL2mZ8Rt7Vb1", "generic-secret-assignment"),
        ];
        for (text, id) in cases {
            assert_eq!(first_hit(text).map(|h| h.0), Some(id), "{text}");
        }
    }

    #[test]
    fn pem_private_key_with_body() {
        let body = "MIIEowIBAAKCAQEA1x2Yk9Lq3mZ8Rt7Vb1Nc6Hw3Jd5Sa0Ye2Pu9oQmXk4Lq9Xw2Rt7Vb1Nc6Hw3";
        let text = format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n");
        assert_eq!(first_hit(&text).map(|h| h.0), Some("private-key"));
        let escaped = format!("\"-----BEGIN OPENSSH PRIVATE KEY-----\\n{body}\\n\"");
        assert_eq!(first_hit(&escaped).map(|h| h.0), Some("private-key"));
        // A parser's constant is not a key.
        assert_eq!(first_hit("if(s.startsWith('-----BEGIN RSA PRIVATE KEY-----'))"), None);
    }

    #[test]
    fn service_role_jwt_but_not_anon() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = |role: &str| {
            format!(
                "{}.{}.{}",
                b64(r#"{"alg":"HS256","typ":"JWT"}"#),
                b64(&format!(r#"{{"role":"{role}","iss":"supabase"}}"#)),
                "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWc"
            )
        };
        assert_eq!(first_hit(&jwt("service_role")).map(|h| h.0), Some("supabase-service-role-jwt"));
        assert_eq!(first_hit(&jwt("anon")), None);
    }

    #[test]
    fn real_content_does_not_match() {
        let clean = [
            r#""integrity": "sha512-Wg1pRzJJRFYDEkoWsdRHQDvnEnyAB+xUSg3k6Tr3FRpKo3mPx+7wBTkqYsZp5ZVvHjx6mMkDl0+4E4y3gS0A1w==""#,
            "token: e.accessToken, secret: this.clientSecret",
            "password=${DB_PASSWORD}",
            "git_token = 3f786850e387550fdab836ed7e6dc881de23001b",
            "session_token: 123e4567-e89b-12d3-a456-426614174000",
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "password: process.env.DB_PASSWORD",
            "const tokenizer=new Tokenizer(options);",
            "password_file=/run/secrets/db_password",
            r#""AWS::SecretsManager::Secret": "c85175a4ebcce361","#,
            "SecretsManager::ResourcePolicy\u{0}x",
        ];
        for text in clean {
            assert_eq!(first_hit(text), None, "{text}");
        }
    }
}
