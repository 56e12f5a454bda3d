//! Pattern rules for secrets nobody declared. Each rule is reached only through a literal
//! prefix found by one Aho-Corasick pass, so the regexes run on a few bytes around rare hits
//! and the scan keeps the speed of a plain multi-string search. The generic rule's keywords
//! are too common for that pass: they are looked for only in the keys of likely
//! assignments ([`crate::assign`]).
//!
//! [`RULES`] is the one list of rule ids (the allowlist, SARIF and the scanning guide are
//! made from it); the table below holds one or more patterns per id.

use crate::checks;
use crate::finding::Severity;
use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use regex::bytes::Regex;

/// Bytes after a literal that a rule may look at (a PEM header plus its first lines, a JWT).
pub(crate) const WINDOW: usize = 4096;
/// Most bytes before a literal that a rule may look at (rules whose marker is mid-token:
/// OpenAI's `T3BlbkFJ` sits up to 82 bytes into a key). The stream keeps this much before
/// the first literal it has not checked yet.
pub(crate) const MAX_BACK: usize = 128;

/// A pattern rule as documented: its id (for the allowlist), severity and what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    pub id: &'static str,
    pub severity: Severity,
    pub description: &'static str,
}

const fn info(id: &'static str, severity: Severity, description: &'static str) -> RuleInfo {
    RuleInfo { id, severity, description }
}

/// Every pattern rule, in the order of the guide. Severities are the rule's usual ones (a
/// GitHub or npm token whose checksum fails is reported as a warning: an example token).
pub const RULES: &[RuleInfo] = {
    use Severity::*;
    &[
        info(
            "private-key",
            Error,
            "PEM/OpenSSH private key with a key body: plain, JSON-escaped, string-concatenated, encrypted (`ENCRYPTED PRIVATE KEY`, `Proc-Type: 4,ENCRYPTED`) or the whole PEM base64-encoded (`LS0tLS1CRUdJTi…`)",
        ),
        info(
            "gcp-service-account",
            Error,
            "Google Cloud service-account JSON (`\"type\": \"service_account\"`) holding a `\"private_key\"`",
        ),
        info("aws-access-key-id", Error, "AWS access key id (`AKIA`, `ASIA`, `ABIA`, `ACCA` + 16 base32 characters)"),
        info(
            "aws-secret-access-key",
            Error,
            "AWS secret access key (40 base64 characters) named by its key (`aws_secret_access_key`, `SecretAccessKey`, `awsSecretKey`, also inside escaped JSON)",
        ),
        info(
            "aws-bedrock-api-key",
            Error,
            "Amazon Bedrock API key (`ABSK` + base64 of `BedrockAPIKey-…`, or a short-term `bedrock-api-key-…`)",
        ),
        info(
            "github-token",
            Error,
            "GitHub token: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` (CRC32-checked; a failing checksum is a warning) and fine-grained `github_pat_`",
        ),
        info("github-oauth-secret", Error, "40-hex GitHub OAuth client secret named by its key (`github…secret`)"),
        info(
            "gitlab-token",
            Error,
            "GitLab token (`glpat-`, `gloas-`, `gldt-`, `glrt-`, `glrtr-`, `glcbt-`, `glptt-`, `glft-`, `glimt-`, `glagent-`, `glsoat-`, `glffct-`, `glwt-`; runner registration `GR1348941…`)",
        ),
        info(
            "npm-token",
            Error,
            "npm token: `npm_` (CRC32-checked; a failing checksum is a warning), `_authToken=` in `.npmrc`, a legacy UUID named `NPM_TOKEN`",
        ),
        info("docker-hub-token", Error, "Docker Hub personal or organization access token (`dckr_pat_`, `dckr_oat_`)"),
        info("stripe-live-key", Error, "Stripe live secret or restricted key (`sk_live_`, `rk_live_`)"),
        info(
            "slack-token",
            Error,
            "Slack token (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`, rotating `xoxe.xoxp-`/`xoxe-`, app-level `xapp-`)",
        ),
        info("slack-webhook", Error, "Slack incoming webhook or workflow URL (`hooks.slack.com/services/T…/B…/…`)"),
        info("sendgrid-api-key", Error, "SendGrid API key (`SG.` + 22 + `.` + 43 characters)"),
        info(
            "twilio-api-key",
            Error,
            "Twilio API key SID, account SID or auth token (`SK`/`AC` + 32 hex, 32 hex) next to a `twilio` name",
        ),
        info("postmark-server-token", Error, "Postmark server or account token (a UUID) next to a `postmark` name"),
        info("resend-api-key", Error, "Resend API key (`re_` + 8 + `_` + 24 characters)"),
        info(
            "digitalocean-token",
            Error,
            "DigitalOcean personal, OAuth or refresh token (`dop_v1_`, `doo_v1_`, `dor_v1_` + 64 hex)",
        ),
        info(
            "sentry-token",
            Error,
            "Sentry organization token (`sntrys_` + a base64 JSON payload) or user token (`sntryu_` + 64 hex)",
        ),
        info("cloudflare-origin-ca-key", Error, "Cloudflare Origin CA key (`v1.0-` + hex)"),
        info("google-api-key", Warning, "Google API key (`AIza…`): browser keys are public by design, so a warning"),
        info("google-oauth-token", Error, "Google OAuth access token (`ya29.`) or refresh token (`1//0…`)"),
        info("google-oauth-client-secret", Error, "Google OAuth client secret (`GOCSPX-` + 28 characters)"),
        info(
            "openai-key",
            Error,
            "OpenAI API key (`sk-proj-`, `sk-svcacct-`, `sk-admin-`, `sk-None-`, legacy `sk-`; each with the `T3BlbkFJ` marker)",
        ),
        info("openrouter-key", Error, "OpenRouter API key (`sk-or-v1-` + 64 hex)"),
        info(
            "anthropic-key",
            Error,
            "Anthropic API key (`sk-ant-api03-`, `sk-ant-admin01-`, … + 93 characters + `AA`)",
        ),
        info(
            "mongodb-atlas-key",
            Error,
            "MongoDB Atlas service-account secret (`mdb_sa_sk_`) or API private key (a UUID named `atlas…private`/`secret`)",
        ),
        info(
            "supabase-secret-key",
            Error,
            "Supabase secret API key (`sb_secret_` + 22 + `_` + 8 characters; `sb_publishable_` keys are public and pass)",
        ),
        info("supabase-access-token", Error, "Supabase personal access token (`sbp_` + 40 hex)"),
        info("supabase-service-role-jwt", Error, "JWT whose payload says `\"role\":\"service_role\"` (anon JWTs pass)"),
        info(
            "database-uri-password",
            Error,
            "Connection URI with a password (postgres, postgresql, postgis, mysql, mariadb, mongodb, mongodb+srv, redis, rediss, amqp, amqps; JDBC `password=`): placeholders such as `user:pass@`, `<password>`, `${VAR}`, `****` pass",
        ),
        info(
            "generic-secret-assignment",
            Warning,
            "`password=`/`secret:`/`token`/`api_key` with a high-entropy value; values in a provider's format belong to that provider's rule",
        ),
    ]
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// The match (or its first group) is the secret; it must look random (rejects
    /// `ghp_xxxxxxxx...`).
    RandomToken,
    /// A GitHub/npm token with a CRC32 in its last 6 characters (a mismatch: a warning).
    Base62Crc,
    /// A PEM header: the body after it is checked by [`checks::pem_body`].
    Pem,
    /// A base64-encoded PEM private key.
    Base64Pem,
    /// Groups 1 and 2 are a connection URI's user and password (or group 1 a JDBC password).
    UriPassword,
    /// A Sentry org token with a base64 JSON payload.
    SentryOrg,
    /// A `"private_key"` PEM value near `"type": "service_account"`.
    ServiceAccount,
    /// A JWT whose payload says `"role":"service_role"`.
    ServiceRoleJwt,
    /// `key = value` where the value must look like a real, high-entropy secret.
    Assignment,
}

struct Rule {
    id: &'static str,
    literals: &'static [&'static str],
    /// Anchored at the literal unless `back` is non-zero (then searched from `back` bytes
    /// before it: rules whose marker is mid-token).
    regex: &'static str,
    back: usize,
    /// How many bytes after the literal the regex may need.
    window: usize,
    /// The secret must not touch an ASCII letter or digit on either side (token boundaries).
    boundary: bool,
    check: Check,
    /// Value prefixes whose format this rule owns: the generic rule leaves values starting
    /// with them alone (a truncated or over-long `ghp_…` is not a secret of unknown format).
    owns: &'static [&'static str],
    /// Searched by the second automaton (see [`SECOND_PASS`]).
    second: bool,
}

/// Literals per automaton: up to this many, aho-corasick keeps its SIMD (Teddy) prefilter;
/// past it the search is several times slower (forcing Teddy on all the literals at once
/// was slower still: its verification drowns). So the rule literals are two automata: the
/// first holds the generic keywords and every rule whose literals overlap them or each
/// other (leftmost-longest decides between those), the second the rules of
/// [`SECOND_PASS`], whose literals overlap nothing of the first.
pub(crate) const TEDDY_MAX: usize = 64;

/// The rules searched by the second automaton.
const SECOND_PASS: &[&str] = &[
    "gcp-service-account",
    "aws-bedrock-api-key",
    "gitlab-token",
    "docker-hub-token",
    "slack-webhook",
    "twilio-api-key",
    "postmark-server-token",
    "digitalocean-token",
    "sentry-token",
    "cloudflare-origin-ca-key",
    "google-oauth-token",
    "google-oauth-client-secret",
    "mongodb-atlas-key",
    "supabase-access-token",
    "database-uri-password",
];

/// A token's end: a byte outside `[A-Za-z0-9_-]`, or the end of the input.
const END: &str = r"(?:[^A-Za-z0-9_-]|\z)";
/// Between a quoted key and its value: `"key": "v"`, `key = 'v'`, `\"key\":\"v\"`, `key => v`.
const ASSIGN: &str = r#"\\?["']?\s{0,4}(?::=|=>|[:=]{1,2})\s{0,4}\\?["'`]?"#;
const UUID: &str = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

const GITHUB: &[&str] = &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"];
const GITLAB: &[&str] = &[
    "glpat-",
    "gloas-",
    "gldt-",
    "glrt-",
    "glrtr-",
    "glcbt-",
    "glptt-",
    "glft-",
    "glimt-",
    "glagent-",
    "glsoat-",
    "glffct-",
    "glwt-",
    "GR1348941",
];
const SLACK: &[&str] = &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"];
const SLACK_ROTATING: &[&str] = &["xoxe.xox", "xoxe-", "xapp-"];
const OPENAI: &[&str] = &["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"];
const DB_SCHEMES: &[&str] = &[
    "postgres://",
    "postgresql://",
    "postgresql+",
    "postgis://",
    "mysql://",
    "mysql+",
    "mysqlx://",
    "mariadb://",
    "mongodb://",
    "mongodb+srv://",
    "redis://",
    "rediss://",
    "amqp://",
    "amqps://",
];

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[rustfmt::skip]
fn rule_table() -> Vec<Rule> {
    use Check::*;
    let rule = |id, literals, regex, check, owns| Rule {
        id, literals, regex, back: 0, window: 512, boundary: true, check, owns, second: SECOND_PASS.contains(&id),
    };
    vec![
        Rule { window: WINDOW, boundary: false, ..rule("private-key", &["-----BEGIN "], r"\A-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----", Pem, &[]) },
        Rule { window: WINDOW, ..rule("private-key", &["LS0tLS1CRUdJTi"], r"\ALS0tLS1CRUdJTi[A-Za-z0-9+/]{80,}", Base64Pem, &[]) },
        Rule { window: WINDOW, boundary: false, ..rule("gcp-service-account", &["\"private_key\""],
            r#"\A\\?"private_key\\?"\s{0,4}:\s{0,4}\\?"(-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----(?:\\[rn]|[A-Za-z0-9+/=\s])+)"#, ServiceAccount, &[]) },
        rule("aws-access-key-id", &["AKIA", "ASIA", "ABIA", "ACCA"], r"\A(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}", RandomToken, &["AKIA", "ASIA"]),
        Rule { boundary: false, ..rule("aws-secret-access-key", &[
                // `SecretAccessKey` also finds `awsSecretAccessKey`.
                "aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "aws_secret_key", "AWS_SECRET_KEY", "SecretAccessKey",
                "secretAccessKey", "awsSecretKey",
            ],
            leak(format!(r"\A(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key){ASSIGN}([A-Za-z0-9/+]{{40}})(?:[^A-Za-z0-9/+]|\z)")),
            RandomToken, &[]) },
        Rule { window: WINDOW, ..rule("aws-bedrock-api-key", &["ABSKQmVkcm9ja0FQSUtleS", "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t"],
            r"\A(?:ABSKQmVkcm9ja0FQSUtleS|bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t)[A-Za-z0-9+/]{60,}={0,2}", RandomToken,
            &["ABSK", "bedrock-api-key-"]) },
        rule("github-token", &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
            // Refresh tokens may be longer (76 characters), with no documented checksum.
            r"\A(?:ghr_[A-Za-z0-9]{76}|gh[pousr]_[A-Za-z0-9]{36})", Base62Crc, GITHUB),
        rule("github-token", &["github_pat_"], r"\Agithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}", RandomToken, &[]),
        rule("gitlab-token", GITLAB,
            leak(format!(r"\A((?:gl(?:pat|oas|dt|rt|rtr|cbt|ptt|ft|imt|agent|soat|ffct|wt)-[A-Za-z0-9_-]{{20,}}(?:\.[0-9a-z]{{2}}\.[0-9a-z]{{9}})?|GR1348941[A-Za-z0-9_-]{{20}})){END}")),
            RandomToken, GITLAB),
        rule("npm-token", &["npm_"], r"\Anpm_[A-Za-z0-9]{36}", Base62Crc, &["npm_"]),
        Rule { boundary: false, ..rule("npm-token", &["_authToken"], leak(format!(r#"\A_authToken{ASSIGN}([^\s"'`$\{{\\]{{20,}})"#)), RandomToken, &[]) },
        rule("docker-hub-token", &["dckr_pat_", "dckr_oat_"], leak(format!(r"\A(dckr_(?:pat|oat)_[A-Za-z0-9_-]{{27}}){END}")), RandomToken, &["dckr_"]),
        rule("stripe-live-key", &["sk_live_", "rk_live_"], r"\A[sr]k_live_[A-Za-z0-9]{20,247}", RandomToken,
            // Publishable keys are public: the generic rule must not flag them either.
            &["sk_live_", "rk_live_", "pk_live_", "pk_test_"]),
        rule("slack-token", SLACK, r"\Axox[bpars]-[0-9A-Za-z]{6,}-[0-9A-Za-z-]{10,250}", RandomToken, &["xox"]),
        rule("slack-token", SLACK_ROTATING,
            r"\A(?:xoxe(?:\.xox[bp])?-\d-[A-Za-z0-9]{60,400}|xapp-\d-[A-Z0-9]{8,14}-\d{8,16}-[a-f0-9]{64})", RandomToken, &["xapp-"]),
        // `.slack.com/`: `hooks` would make the literal search stop at every `hooks` of code.
        Rule { boundary: false, back: 5, ..rule("slack-webhook", &[".slack.com/"],
            r"\Ahooks\.slack\.com/(?:services/T[A-Za-z0-9]{8,12}/B[A-Za-z0-9]{8,12}/[A-Za-z0-9]{24}|workflows/T[A-Za-z0-9]{8,12}/A[A-Za-z0-9]{8,12}/\d{10,20}/[A-Za-z0-9]{32}|triggers/T[A-Za-z0-9]{8,12}/\d{10,20}/[a-f0-9]{32})(?:[^A-Za-z0-9]|\z)",
            RandomToken, &[]) },
        rule("sendgrid-api-key", &["SG."], leak(format!(r"\A(SG\.[A-Za-z0-9_-]{{22}}\.[A-Za-z0-9_-]{{43}}){END}")), RandomToken, &["SG."]),
        Rule { boundary: false, ..rule("twilio-api-key", &["twilio", "Twilio", "TWILIO"],
            r"\A(?i:twilio)[^\r\n]{0,100}?[^A-Za-z0-9]((?:SK|AC)?[0-9a-fA-F]{32})(?:[^A-Za-z0-9]|\z)", RandomToken, &[]) },
        Rule { boundary: false, back: 1, ..rule("postmark-server-token", &["ostmark", "OSTMARK"],
            leak(format!(r"\A(?i:postmark)[^\r\n]{{0,100}}?[^A-Za-z0-9-]({UUID})(?:[^A-Za-z0-9-]|\z)")), RandomToken, &[]) },
        rule("resend-api-key", &["re_"], leak(format!(r"\A(re_[A-Za-z0-9]{{8}}_[A-Za-z0-9]{{24}}){END}")), RandomToken, &["re_"]),
        rule("digitalocean-token", &["dop_v1_", "doo_v1_", "dor_v1_"], r"\Ado[por]_v1_[a-f0-9]{64}", RandomToken, &["dop_v1_", "doo_v1_", "dor_v1_"]),
        rule("sentry-token", &["sntrys_"], leak(format!(r"\A(sntrys_eyJ[A-Za-z0-9+/=]{{20,}}_[A-Za-z0-9+/]{{43}}){END}")), SentryOrg, &["sntrys_"]),
        rule("sentry-token", &["sntryu_"], r"\Asntryu_[a-f0-9]{64}", RandomToken, &["sntryu_"]),
        rule("cloudflare-origin-ca-key", &["v1.0-"], r"\Av1\.0-[a-f0-9]{24,64}-[a-f0-9]{100,}", RandomToken, &[]),
        // Browser API keys (Firebase, Maps) are public by design: worth a look, not a failure.
        rule("google-api-key", &["AIza"], r"\AAIza[0-9A-Za-z_-]{35}", RandomToken, &["AIza"]),
        rule("google-oauth-token", &["ya29."], leak(format!(r"\A(ya29\.[0-9A-Za-z_-]{{30,}}){END}")), RandomToken, &["ya29."]),
        rule("google-oauth-token", &["1//0"], leak(format!(r"\A(1//0[0-9A-Za-z_-]{{60,}}){END}")), RandomToken, &["1//0"]),
        rule("google-oauth-client-secret", &["GOCSPX-"], leak(format!(r"\A(GOCSPX-[A-Za-z0-9_-]{{28}}){END}")), RandomToken, &["GOCSPX-"]),
        Rule { back: 96, ..rule("openai-key", &["T3BlbkFJ"],
            leak(format!(r"(sk-(?:(?:proj|svcacct|admin|None)-(?:[A-Za-z0-9_-]{{74}}|[A-Za-z0-9_-]{{58}})T3BlbkFJ(?:[A-Za-z0-9_-]{{74}}|[A-Za-z0-9_-]{{58}})|[A-Za-z0-9]{{20}}T3BlbkFJ[A-Za-z0-9]{{20}})){END}")),
            RandomToken, OPENAI) },
        rule("openrouter-key", &["sk-or-v1-"], r"\Ask-or-v1-[a-f0-9]{64}", RandomToken, &["sk-or-"]),
        rule("anthropic-key", &["sk-ant-"], leak(format!(r"\A(sk-ant-[a-z]{{3,6}}\d{{2,3}}-[A-Za-z0-9_-]{{93}}AA){END}")), RandomToken, &["sk-ant-"]),
        rule("mongodb-atlas-key", &["mdb_sa_sk_"], leak(format!(r"\A(mdb_sa_sk_[A-Za-z0-9_-]{{40}}){END}")), RandomToken, &["mdb_sa_sk_"]),
        Rule { boundary: false, ..rule("mongodb-atlas-key", &["atlas", "ATLAS", "Atlas"],
            leak(format!(r"\A(?i:atlas)[A-Za-z0-9_.-]{{0,24}}(?i:private|secret)[A-Za-z0-9_.-]{{0,16}}{ASSIGN}({UUID})(?:[^A-Za-z0-9-]|\z)")),
            RandomToken, &[]) },
        rule("supabase-secret-key", &["sb_secret_"], leak(format!(r"\A(sb_secret_[A-Za-z0-9_-]{{22}}_[A-Za-z0-9_-]{{8}}){END}")), RandomToken, &["sb_secret_", "sb_publishable_"]),
        rule("supabase-access-token", &["sbp_"], r"\Asbp_(?:oauth_)?[a-f0-9]{40}", RandomToken, &["sbp_"]),
        Rule { window: WINDOW, ..rule("supabase-service-role-jwt", &["eyJ"],
            r"\AeyJ[A-Za-z0-9_-]{8,}\.(eyJ[A-Za-z0-9_-]{8,})\.[A-Za-z0-9_-]{16,}", ServiceRoleJwt, &[]) },
        // Literals from inside the scheme (`tgres` of postgres): the scheme starts are common
        // words (`post`, `red`, `mon`) that would make the literal search stop everywhere.
        Rule { boundary: false, back: 3, ..rule("database-uri-password", &["tgres", "tgis:", "ysql", "riadb:", "ngodb", "edis:/", "ediss:/", "amqp"],
            r#"(?:postgres(?:ql)?|postgis|mysqlx?|mariadb|mongodb|rediss?|amqps?)(?:\+[a-z0-9]+)?://([^\s:/@"'`<>]{0,128}):([^\s"'`<>/?#]{1,256})@[A-Za-z0-9_\[]"#,
            UriPassword, DB_SCHEMES) },
        Rule { boundary: false, ..rule("database-uri-password", &["jdbc:"],
            r#"\Ajdbc:[a-z0-9]+:[^\s"'`<>]{0,256}?[;?&:](?i:password)=([^;&\s"'`<>]{1,128})"#, UriPassword, &[]) },
        Rule { window: 256, boundary: false, ..rule("generic-secret-assignment", &[
                "password", "Password", "PASSWORD", "passwd", "PASSWD", "secret", "Secret", "SECRET", "token", "Token",
                "TOKEN", "api_key", "apiKey", "API_KEY", "apikey", "APIKEY",
            ],
            r#"\A(?i:password|passwd|secret|token|api_?key)[A-Za-z0-9_.-]{0,32}["']?[ \t]{0,4}(?::=|=>|=|:)[ \t]{0,4}(?:["'`]|&quot;)?([^\s"'`;,<>(){}\[\]\\&|]{12,128})"#,
            Assignment, &[]) },
    ]
}

pub(crate) struct Rules {
    rules: Vec<Rule>,
    /// Each rule's severity, from [`RULES`].
    severities: Vec<Severity>,
    regexes: Vec<Regex>,
    /// Literal pattern id -> rule index.
    literal_rule: Vec<usize>,
    /// Every value prefix a specific rule owns (see [`Rule::owns`]).
    owned: Vec<&'static str>,
    /// Every rule's literals, the generic keywords included (searched over the input while
    /// those keywords are rare, else only inside the keys of likely assignments, see
    /// [`crate::assign`]).
    pub(crate) literals: AhoCorasick,
    /// The first automaton's literals but the generic keywords, searched over the whole
    /// input. The keywords come last, so pattern ids agree with `literals`.
    pub(crate) prefixes: AhoCorasick,
    /// The second automaton (the rules of [`SECOND_PASS`]); its pattern `p` is literal
    /// `second_base + p`.
    pub(crate) second: AhoCorasick,
    pub(crate) second_base: usize,
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
        let severities = rules
            .iter()
            .map(|r| RULES.iter().find(|i| i.id == r.id).map(|i| i.severity).expect("every rule id is in RULES"))
            .collect();
        // ASCII classes and case folding (`\s`, `(?i:github)`) for the token rules: smaller
        // automata, a faster start. The generic rule keeps Unicode: its value class must
        // not take in invalid UTF-8 or Unicode spaces.
        let regexes = rules
            .iter()
            .map(|r| {
                regex::bytes::RegexBuilder::new(r.regex)
                    .unicode(r.check == Check::Assignment)
                    .build()
                    .expect("rule regexes are valid")
            })
            .collect();
        let generic = rules.iter().position(|r| r.check == Check::Assignment).expect("the table has a generic rule");
        assert_eq!(generic, rules.len() - 1, "the generic rule comes last");
        // Literal order: the first automaton's rules, the generic keywords, the second's.
        let mut lits = Vec::new();
        let mut literal_rule = Vec::new();
        let order = (0..generic)
            .filter(|&i| !rules[i].second)
            .chain([generic])
            .chain((0..generic).filter(|&i| rules[i].second));
        for i in order {
            for l in rules[i].literals {
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
        assert!(rules.iter().all(|r| r.back <= MAX_BACK), "a rule looks back past MAX_BACK");
        let prefix_count = literal_rule.iter().take_while(|&&r| r != generic).count();
        let second_base = literal_rule.iter().rposition(|&r| r == generic).expect("generic keywords") + 1;
        assert!(
            second_base <= TEDDY_MAX && lits.len() - second_base <= TEDDY_MAX,
            "rule literals {second_base} + {}: move rules between the automata (SECOND_PASS)",
            lits.len() - second_base
        );
        let owned = rules.iter().flat_map(|r| r.owns.iter().copied()).collect();
        Rules {
            literals: build(&lits[..second_base], true),
            prefixes: build(&lits[..prefix_count], true),
            second: build(&lits[second_base..], true),
            second_base,
            rules,
            severities,
            regexes,
            literal_rule,
            owned,
        }
    }

    /// Every literal of both automata in `hay`, in order: `(pattern, start)`.
    #[cfg(test)]
    pub(crate) fn every_literal(&self, hay: &[u8]) -> Vec<(usize, usize)> {
        let mut out: Vec<_> = self.literals.find_iter(hay).map(|m| (m.pattern().as_usize(), m.start())).collect();
        out.extend(self.second.find_iter(hay).map(|m| (self.second_base + m.pattern().as_usize(), m.start())));
        out.sort_by_key(|&(_, start)| start);
        out
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
        let start = at.saturating_sub(rule.back);
        // The DFA search is cheap; captures (slower) only run on the matched span.
        let span = re.find(&hay[start..end])?;
        let m = re.captures(&hay[start..start + span.end()])?;
        let whole = m.get(0)?;
        let mut secret_m = m.get(1).unwrap_or(whole);
        let mut severity = self.severities[ri];
        let mut id = rule.id;
        let mut secret_end = start + secret_m.end();
        let ok = match rule.check {
            Check::RandomToken => looks_random(secret_m.as_bytes()),
            Check::Base62Crc => {
                if checks::base62_crc_ok(secret_m.as_bytes()) == Some(false) {
                    // Not a token the provider issued (GitHub and npm check the CRC offline):
                    // an example or a redacted token, unless it does not even look random.
                    severity = Severity::Warning;
                }
                looks_random(secret_m.as_bytes())
            }
            Check::Pem => match checks::pem_body(&hay[start + whole.end()..end]) {
                Some(body) => {
                    secret_end = start + whole.end() + body;
                    true
                }
                None => false,
            },
            Check::Base64Pem => checks::base64_pem(secret_m.as_bytes()),
            Check::UriPassword => {
                let (user, password) = match m.get(2) {
                    Some(p) => (m.get(1).map(|u| u.as_bytes()), p),
                    None => (None, m.get(1)?),
                };
                secret_m = password;
                secret_end = start + password.end();
                checks::real_uri_password(user, password.as_bytes())
            }
            Check::SentryOrg => checks::sentry_payload(secret_m.as_bytes()),
            Check::ServiceAccount => {
                let around = &hay[at.saturating_sub(WINDOW / 2)..end];
                let body = secret_m.as_bytes();
                let pem_ok = checks::pem_header(body).is_some_and(|h| checks::pem_body(&body[h..]).is_some());
                pem_ok && memchr::memmem::find(around, b"service_account").is_some()
            }
            Check::ServiceRoleJwt => jwt_is_service_role(m.get(1)?.as_bytes()),
            Check::Assignment => {
                let v = secret_m.as_bytes();
                if let Some(named) = named_by_key(&hay[at.saturating_sub(32)..start + secret_m.start()], v) {
                    id = named;
                    severity = severity_of(named);
                    return looks_random(v).then_some(RuleHit {
                        id,
                        severity,
                        secret: v,
                        start: start + secret_m.start(),
                    });
                }
                // OpenAI's marker sits mid-key: a key holding it is the OpenAI rule's to judge.
                let openai = memchr::memmem::find(v, b"T3BlbkFJ").is_some();
                !openai && !self.owned.iter().any(|p| v.starts_with(p.as_bytes())) && plausible_assigned_secret(v)
            }
        };
        let secret_start = start + secret_m.start();
        if rule.boundary {
            let token = |b: u8| b.is_ascii_alphanumeric();
            if secret_start > 0 && token(hay[secret_start - 1]) {
                return None;
            }
            // A token running past the window is long, not cut off: only a byte the regex saw counts.
            if secret_end < end && token(hay[secret_end]) {
                return None;
            }
        }
        let secret = &hay[secret_start..secret_end];
        ok.then_some(RuleHit { id, severity, secret, start: secret_start })
    }
}

/// Rules found through the generic rule's keywords: a value whose format alone says
/// nothing (40 hex digits, a UUID) is a secret when its key names the provider. These need
/// no literal of their own (`github` would make the literal search stop at every URL).
const VIA_GENERIC: &[&str] = &["github-oauth-secret", "npm-token"];

/// The rule that a generic assignment's key and value make it: `key` ends where the value
/// starts and holds the key (and a few bytes before it).
fn named_by_key(key: &[u8], value: &[u8]) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    let has = |w: &[u8]| memchr::memmem::find(&key, w).is_some();
    let hex40 = value.len() == 40 && value.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    let uuid = std::str::from_utf8(value).is_ok_and(is_uuid);
    if hex40 && has(b"github") {
        Some(VIA_GENERIC[0])
    } else if uuid && has(b"npm") {
        Some(VIA_GENERIC[1])
    } else {
        None
    }
}

fn severity_of(id: &str) -> Severity {
    RULES.iter().find(|r| r.id == id).map_or(Severity::Error, |r| r.severity)
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
        for (pattern, start) in rules.every_literal(hay) {
            if let Some(h) = rules.check(pattern, hay, start) {
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
            ("sb_secret_N7gQ2xL9kR4tV8bZ1cW6hJ_3dXk9qL2", "supabase-secret-key"),
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

    /// Every rule id the text's literals lead to, with its severity.
    fn all_hits(text: &str) -> Vec<(&'static str, Severity)> {
        let rules = Rules::new();
        let hay = text.as_bytes();
        let mut out: Vec<_> = rules
            .every_literal(hay)
            .into_iter()
            .filter_map(|(pattern, start)| rules.check(pattern, hay, start))
            .map(|h| (h.id, h.severity))
            .collect();
        out.dedup();
        out
    }

    fn ids(text: &str) -> Vec<&'static str> {
        all_hits(text).into_iter().map(|h| h.0).collect()
    }

    /// A random string over `alphabet` (deterministic per seed).
    fn rand(seed: u64, alphabet: &str, n: usize) -> String {
        let mut next = crate::test_rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let a = alphabet.as_bytes();
        (0..n).map(|_| a[next(a.len())] as char).collect()
    }

    const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    const HEX: &str = "0123456789abcdef";
    const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    fn uuid(seed: u64) -> String {
        let h = rand(seed, HEX, 32);
        format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// A GitHub/npm style token with a correct CRC32.
    fn crc_token(prefix: &str, seed: u64) -> String {
        let random = rand(seed, ALNUM, 30);
        format!("{prefix}{random}{}", checks::base62_6(crc32fast::hash(random.as_bytes())))
    }

    fn pem_body(seed: u64) -> String {
        format!("MII{}", rand(seed, B64, 61))
    }

    #[test]
    fn every_table_rule_is_documented_once_and_used() {
        let table = rule_table();
        for r in &table {
            assert!(RULES.iter().any(|i| i.id == r.id), "{} is not in RULES", r.id);
        }
        for (i, info) in RULES.iter().enumerate() {
            assert!(
                table.iter().any(|r| r.id == info.id) || VIA_GENERIC.contains(&info.id),
                "{} has no pattern",
                info.id
            );
            assert!(!RULES[..i].iter().any(|o| o.id == info.id), "{} twice", info.id);
            assert!(!info.description.is_empty() && !info.description.contains('\n'), "{}", info.id);
        }
        // One literal, one rule: a literal shared by two rules would hide one of them.
        let mut lits: Vec<&str> = table.iter().flat_map(|r| r.literals.iter().copied()).collect();
        lits.sort();
        let n = lits.len();
        lits.dedup();
        assert_eq!(lits.len(), n, "a literal is listed twice");
        // Each automaton stays small enough for Teddy (checked when the rules are built).
        let _ = Rules::new();
    }

    #[test]
    fn github_and_npm_checksums() {
        for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
            let good = crc_token(prefix, 1);
            assert_eq!(all_hits(&format!("t = \"{good}\"")), vec![("github-token", Severity::Error)], "{good}");
            // Same shape, wrong checksum: an example token, reported as a warning.
            let mut bad = good.clone().into_bytes();
            bad[6] = if bad[6] == b'a' { b'b' } else { b'a' };
            let bad = String::from_utf8(bad).unwrap();
            assert_eq!(all_hits(&format!("t = \"{bad}\"")), vec![("github-token", Severity::Warning)], "{bad}");
            // Truncated and over-long: no rule, the generic one included.
            assert_eq!(ids(&format!("GITHUB_TOKEN={}", &good[..good.len() - 1])), Vec::<&str>::new());
            assert_eq!(ids(&format!("GITHUB_TOKEN={good}Q")), Vec::<&str>::new());
            assert_eq!(ids(&format!("GITHUB_TOKEN={good}_x")), vec!["github-token"]);
        }
        let long_refresh = format!("ghr_{}", rand(2, ALNUM, 76));
        assert_eq!(ids(&format!("\"refresh_token\": \"{long_refresh}\"")), vec!["github-token"]);
        let npm = crc_token("npm_", 3);
        assert_eq!(all_hits(&npm), vec![("npm-token", Severity::Error)]);
        assert_eq!(ids(&format!("NPM_TOKEN={}", &npm[..39])), Vec::<&str>::new());
        // Other providers' truncated or over-long keys go unflagged too.
        for bad in [
            format!("sk-proj-{}T3BlbkFJ{}", rand(90, URLSAFE, 70), rand(91, URLSAFE, 74)),
            format!("sk-{}T3BlbkFJ{}", rand(92, ALNUM, 20), rand(93, ALNUM, 25)),
            format!("glpat-{}", rand(94, ALNUM, 15)),
            format!("sb_publishable_{}", rand(95, URLSAFE, 31)),
            format!("pk_live_{}", rand(96, ALNUM, 30)),
        ] {
            assert_eq!(ids(&format!("API_TOKEN={bad}")), Vec::<&str>::new(), "{bad}");
        }
        let pat = format!("github_pat_{}_{}", rand(4, ALNUM, 22), rand(5, ALNUM, 59));
        assert_eq!(ids(&pat), vec!["github-token"]);
    }

    #[test]
    fn github_oauth_secret_needs_its_name() {
        let hex = rand(6, HEX, 40);
        assert_eq!(ids(&format!("GITHUB_CLIENT_SECRET={hex}")), vec!["github-oauth-secret"]);
        assert_eq!(ids(&format!("\"githubSecret\": \"{hex}\"")), vec!["github-oauth-secret"]);
        // A commit SHA next to `github` is not a secret.
        assert_eq!(ids(&format!("GITHUB_SHA={hex}")), Vec::<&str>::new());
        assert_eq!(ids(&format!("https://github.com/o/r/commit/{hex}")), Vec::<&str>::new());
    }

    #[test]
    fn private_key_forms() {
        let body = pem_body(7);
        let concat = format!("\"-----BEGIN RSA PRIVATE KEY-----\" +\n\"{}\" +\n\"{}\"", &body[..32], &body[32..]);
        assert_eq!(ids(&concat), vec!["private-key"]);
        let escaped = format!("{{\"key\": \"-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n\"}}");
        assert_eq!(ids(&escaped), vec!["private-key"]);
        let encrypted = format!(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,{}\n\n{body}\n-----END RSA PRIVATE KEY-----\n",
            rand(8, "0123456789ABCDEF", 32)
        );
        assert_eq!(ids(&encrypted), vec!["private-key"]);
        let short =
            format!("-----BEGIN ENCRYPTED PRIVATE KEY-----\n{}\n-----END ENCRYPTED PRIVATE KEY-----\n", &body[..40]);
        assert_eq!(ids(&short), vec!["private-key"]);
        let pem =
            format!("-----BEGIN EC PRIVATE KEY-----\n{}\n{}\n-----END EC PRIVATE KEY-----\n", &body[..64], &body[..40]);
        assert_eq!(ids(&format!("PRIVATE_KEY_B64={}", b64(pem.as_bytes()))), vec!["private-key"]);
        // Not keys: a parser's constants, a placeholder body, a public key (also base64-wrapped).
        for clean in [
            "const H = \"-----BEGIN PRIVATE KEY-----\\n\" + body + \"\\n-----END PRIVATE KEY-----\";".to_string(),
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC...\n-----END PRIVATE KEY-----".to_string(),
            format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----", "A".repeat(64)),
            b64(format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n").as_bytes()),
        ] {
            assert_eq!(ids(&clean), Vec::<&str>::new(), "{clean}");
        }
    }

    #[test]
    fn gcp_service_account_json() {
        let body = pem_body(9);
        let sa = format!(
            "{{\"type\": \"service_account\", \"project_id\": \"p\", \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n\"}}"
        );
        assert_eq!(ids(&sa), vec!["gcp-service-account", "private-key"]);
        let other = sa.replace("service_account", "authorized_user");
        assert_eq!(ids(&other), vec!["private-key"]);
    }

    #[test]
    fn aws_secret_in_escaped_json_and_bedrock_keys() {
        let secret = rand(10, B64, 40);
        assert_eq!(ids(&format!(r#""{{\"awsSecretKey\":\"{secret}\"}}""#)), vec!["aws-secret-access-key"]);
        assert_eq!(ids(&format!("aws_secret_access_key = {secret}")), vec!["aws-secret-access-key"]);
        assert_eq!(ids(&format!("aws_secret_access_key = {}", &secret[..39])), Vec::<&str>::new());
        let long = format!("ABSK{}", b64(format!("BedrockAPIKey-{}", rand(11, ALNUM, 90)).as_bytes()));
        assert_eq!(ids(&format!("AWS_BEARER_TOKEN_BEDROCK={long}")), vec!["aws-bedrock-api-key"]);
        assert_eq!(ids("k = ABSKQmVkcm9ja0FQSUtleS1"), Vec::<&str>::new());
    }

    #[test]
    fn prefixed_provider_tokens() {
        let ok = [
            (format!("glpat-{}", rand(12, URLSAFE, 20)), "gitlab-token"),
            (format!("glpat-{}.01.{}", rand(13, URLSAFE, 36), rand(14, "abcdefghijklmnopqrstuvwxyz0123456789", 9)), "gitlab-token"),
            (format!("glrt-{}", rand(15, URLSAFE, 20)), "gitlab-token"),
            (format!("--registration-token \"GR1348941{}\"", rand(16, URLSAFE, 20)), "gitlab-token"),
            (format!("docker login -p dckr_pat_{}", rand(17, URLSAFE, 27)), "docker-hub-token"),
            (format!("xapp-1-A{}-{}-{}", rand(18, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10), rand(19, "0123456789", 13), rand(20, HEX, 64)), "slack-token"),
            (format!("xoxe.xoxp-1-{}", rand(21, ALNUM, 140)), "slack-token"),
            (format!("xoxe-1-{}", rand(22, ALNUM, 140)), "slack-token"),
            (format!("https://hooks.slack.com/services/T{}/B{}/{}", rand(23, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8), rand(24, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10), rand(25, ALNUM, 24)), "slack-webhook"),
            (format!("SG.{}.{}", rand(26, URLSAFE, 22), rand(27, URLSAFE, 43)), "sendgrid-api-key"),
            (format!("Authorization: Bearer re_{}_{}", rand(28, ALNUM, 8), rand(29, ALNUM, 24)), "resend-api-key"),
            (format!("dop_v1_{}", rand(30, HEX, 64)), "digitalocean-token"),
            (format!("Bearer doo_v1_{}", rand(31, HEX, 64)), "digitalocean-token"),
            (format!("sntryu_{}", rand(32, HEX, 64)), "sentry-token"),
            (format!("sntrys_{}_{}", b64(br#"{"iat":1700000000.0,"url":"https://sentry.io","region_url":"https://us.sentry.io","org":"acme"}"#).trim_end_matches('='), rand(33, B64, 43)), "sentry-token"),
            (format!("v1.0-{}-{}", rand(34, HEX, 24), rand(35, HEX, 146)), "cloudflare-origin-ca-key"),
            (format!("ya29.{}", rand(36, URLSAFE, 120)), "google-oauth-token"),
            (format!("refresh_token: '1//0{}'", rand(37, URLSAFE, 100)), "google-oauth-token"),
            (format!("GOCSPX-{}", rand(38, URLSAFE, 28)), "google-oauth-client-secret"),
            (format!("sk-proj-{}T3BlbkFJ{}", rand(39, URLSAFE, 74), rand(40, URLSAFE, 74)), "openai-key"),
            (format!("sk-None-{}T3BlbkFJ{}", rand(41, URLSAFE, 58), rand(42, URLSAFE, 58)), "openai-key"),
            (format!("sk-{}T3BlbkFJ{}", rand(43, ALNUM, 20), rand(44, ALNUM, 20)), "openai-key"),
            (format!("sk-ant-api03-{}AA", rand(45, URLSAFE, 93)), "anthropic-key"),
            (format!("mdb_sa_sk_{}", rand(46, URLSAFE, 40)), "mongodb-atlas-key"),
            (format!("ATLAS_PRIVATE_KEY={}", uuid(47)), "mongodb-atlas-key"),
            (format!("sb_secret_{}_{}", rand(48, URLSAFE, 22), rand(49, URLSAFE, 8)), "supabase-secret-key"),
            (format!("sbp_{}", rand(50, HEX, 40)), "supabase-access-token"),
            (format!("\"_authToken\": \"{}\"", uuid(51)), "npm-token"),
            (format!("export NPM_TOKEN=\"{}\"", uuid(52)), "npm-token"),
            (format!("'API' => env('TWILIO_API','SK{}'),", rand(53, HEX, 32)), "twilio-api-key"),
            (format!("\"X-Postmark-Server-Token\": \"{}\",", uuid(54)), "postmark-server-token"),
        ];
        for (text, id) in &ok {
            assert_eq!(ids(text), vec![*id], "{text}");
        }
        let clean = [
            format!("glpat-{}", rand(55, URLSAFE, 12)),
            format!("docker login -p dckr_pat_{}", rand(56, URLSAFE, 26)),
            format!("dckr_pat_{}", rand(57, ALNUM, 30)),
            "xapp-1-A0-1-abc".to_string(),
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX".to_string(),
            format!("SG.{}.{}", rand(58, URLSAFE, 22), rand(59, URLSAFE, 40)),
            "if re_compile_pattern_in_the_module_cache(x):".to_string(),
            format!("dop_v1_{}", rand(60, HEX, 63)),
            format!("sntrys_{}_{}", b64(b"not json at all, nope").trim_end_matches('='), rand(61, B64, 43)),
            "ya29.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".to_string(),
            format!("GOCSPX-{}", rand(62, URLSAFE, 27)),
            // Malformed OpenAI keys: no marker, or the marker at the wrong place.
            format!("sk-admin-{}", rand(63, URLSAFE, 120)),
            format!("sk-admin-{}T3BlbkFJ{}", rand(64, URLSAFE, 60), rand(65, URLSAFE, 60)),
            // A too-short Anthropic key.
            format!("sk-ant-api03-{}AA", rand(66, URLSAFE, 40)),
            format!("ATLAS_PUBLIC_KEY={}", rand(67, "abcdefghijklmnopqrstuvwxyz", 8)),
            format!("sb_publishable_{}_{}", rand(68, URLSAFE, 22), rand(69, URLSAFE, 8)),
            format!("sb_secret_{}", rand(70, ALNUM, 20)),
            format!("sbp_{}", rand(71, HEX, 39)),
            "//registry.npmjs.org/:_authToken=${NPM_TOKEN}".to_string(),
            format!("sid = 'SK{}'", rand(72, HEX, 32)),
            format!("request_id: \"{}\"", uuid(73)),
            "postmark: \"00000000-0000-0000-0000-000000000000\"".to_string(),
        ];
        for text in &clean {
            assert_eq!(ids(text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn database_uris_with_a_password() {
        let pw = "Vq8r!2k@Lw9zT";
        for scheme in [
            "postgres",
            "postgresql",
            "postgresql+psycopg2",
            "postgis",
            "mysql",
            "mariadb",
            "mongodb",
            "mongodb+srv",
            "redis",
            "rediss",
            "amqp",
            "amqps",
        ] {
            let text = format!("DATABASE_URL=\"{scheme}://app:{pw}@db.internal:5432/app\"");
            assert_eq!(ids(&text), vec!["database-uri-password"], "{text}");
        }
        // Redis URIs often have no user name.
        assert_eq!(ids(&format!("REDIS_URL=redis://:{pw}@cache:6379/0")), vec!["database-uri-password"]);
        // (The generic rule may see the `password=` too.)
        for jdbc in [
            "jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=",
            "jdbc:postgresql://db/app?user=app&password=",
        ] {
            assert!(ids(&format!("url = {jdbc}{pw}")).contains(&"database-uri-password"), "{jdbc}");
        }
        for placeholder in [
            "tiger",
            "pass",
            "password",
            "<password>",
            "${DB_PASSWORD}",
            "{PASSWORD}",
            "****",
            "xxx",
            "app",
            "your-password",
        ] {
            let text = format!("postgres://app:{placeholder}@localhost:5432/app");
            assert_eq!(ids(&text), Vec::<&str>::new(), "{text}");
        }
        for clean in [
            "postgres://app@localhost/app",
            "redis://localhost:6379/0",
            "mongodb://db1:27017,db2:27017/app",
            "jdbc:postgresql://db/app?user=app&password=${DB_PASSWORD}",
            "Server=tcp:x.database.windows.net;Password={your_password};",
        ] {
            assert_eq!(ids(clean), Vec::<&str>::new(), "{clean}");
        }
    }
}
