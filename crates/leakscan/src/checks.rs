//! Structure checks behind the pattern rules: what a regex cannot say about a token (its
//! checksum, a PEM body's size, whether a connection string's password is a placeholder,
//! what a base64 payload decodes to).

use base64::Engine as _;

/// GitHub's `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` and npm's `npm_` tokens: 30 base62
/// characters, then the CRC32 of those 30 as 6 base62 digits (`0-9A-Za-z`, zero-padded).
/// `token` is the whole token, prefix included; `None` for a length with no checksum.
pub(crate) fn base62_crc_ok(token: &[u8]) -> Option<bool> {
    let us = token.iter().position(|&b| b == b'_')?;
    let body = &token[us + 1..];
    if body.len() != 36 {
        return None;
    }
    let (random, check) = body.split_at(30);
    Some(base62_6(crc32fast::hash(random)).as_bytes() == check)
}

/// `n` as 6 base62 digits, most significant first (a u32 fits: 62^6 > 2^32).
pub(crate) fn base62_6(mut n: u32) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("base62 digits are ASCII")
}

/// The password of a connection URI (`scheme://user:password@host`, or a JDBC
/// `password=` parameter) is a real one, not a placeholder or a reference: `pass`,
/// `password`, `<password>`, `${VAR}`, `{PASSWORD}`, `****`, `xxx`, a password equal to the
/// user name (`guest:guest`, `postgres:postgres`), and the like do not count.
pub(crate) fn real_uri_password(user: Option<&[u8]>, password: &[u8]) -> bool {
    let Ok(p) = std::str::from_utf8(password) else { return false };
    let lower = p.to_ascii_lowercase();
    if p.is_empty() || user.is_some_and(|u| u.eq_ignore_ascii_case(password)) {
        return false;
    }
    // Also the metasyntactic names of tests and docs (`redis://foo:bar@host`, SQLAlchemy's
    // `scott:tiger`).
    const EXACT: &[&str] = &[
        "pass", "pwd", "pw", "passwd", "password", "secret", "changeme", "changeit", "test", "guest", "root", "foo",
        "bar", "baz", "qux", "demo", "dummy", "sample", "tiger",
    ];
    if EXACT.contains(&lower.as_str()) {
        return false;
    }
    const INSIDE: &[&str] =
        &["password", "passwd", "your", "example", "placeholder", "changeme", "change_me", "xxx", "..."];
    if INSIDE.iter().any(|w| lower.contains(w)) {
        return false;
    }
    if p.starts_with(['<', '$', '{', '%', '[', '*']) || p.contains("{{") || p.contains("}}") {
        return false;
    }
    // One repeated character (`aaaa`, `0000`, `****`).
    let first = p.as_bytes()[0];
    !p.bytes().all(|b| b == first)
}

/// Bytes that may sit between a PEM header, its lines and its body: newlines, JSON/JS
/// escapes (`\n`, `\r`) and string concatenation (`"...\n" +\n "MII..."`).
fn pem_separator(hay: &[u8], i: usize) -> usize {
    match hay[i] {
        b'\n' | b'\r' | b' ' | b'\t' | b'"' | b'\'' | b'`' | b'+' => 1,
        b'\\' if matches!(hay.get(i + 1), Some(b'n' | b'r')) => 2,
        _ => 0,
    }
}

/// What follows a `-----BEGIN … PRIVATE KEY-----` header (`after` starts right past it) is a
/// key body: optional `Name: value` header lines (`Proc-Type: 4,ENCRYPTED`), then base64.
/// At least 60 body characters, or at least 32 closed by an `-----END` line (short encrypted
/// bodies). Returns the length of the body span, or `None` (a parser's constant, a `...`
/// placeholder, an empty body).
pub(crate) fn pem_body(after: &[u8]) -> Option<usize> {
    let mut i = 0;
    let mut body = 0usize;
    let mut counts = [0u32; 256];
    let n = after.len();
    // The separators after the header line.
    let skip = |i: &mut usize| {
        let mut any = false;
        while *i < n {
            let k = pem_separator(after, *i);
            if k == 0 {
                break;
            }
            *i += k;
            any = true;
        }
        any
    };
    if !skip(&mut i) {
        return None;
    }
    // RFC 1421 header lines.
    loop {
        let start = i;
        while i < n && (after[i].is_ascii_alphanumeric() || after[i] == b'-') {
            i += 1;
        }
        if i > start && after[i..].starts_with(b": ") {
            while i < n && !matches!(after[i], b'\n' | b'\r' | b'\\' | b'"') {
                i += 1;
            }
            skip(&mut i);
        } else {
            i = start;
            break;
        }
    }
    loop {
        while i < n && (after[i].is_ascii_alphanumeric() || matches!(after[i], b'+' | b'/' | b'=')) {
            counts[after[i] as usize] += 1;
            body += 1;
            i += 1;
        }
        if body >= 60 || !skip(&mut i) {
            break;
        }
    }
    let closed = after[i..].starts_with(b"-----END ");
    let random = {
        let total = body as f64;
        let h: f64 = counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / total;
                -p * p.log2()
            })
            .sum();
        h >= 3.5
    };
    (random && (body >= 60 || (closed && body >= 32))).then_some(i)
}

/// A PEM private key header at the start of `text`: `-----BEGIN [RSA |EC |…]PRIVATE KEY[ BLOCK]-----`.
/// Returns its length.
pub(crate) fn pem_header(text: &[u8]) -> Option<usize> {
    let rest = text.strip_prefix(b"-----BEGIN ")?;
    let end = memchr::memmem::find(&rest[..rest.len().min(64)], b"-----")?;
    let label = &rest[..end];
    let ok = label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK");
    let words = label.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b' ');
    (ok && words).then_some(11 + end + 5)
}

/// A whole PEM private key, base64-encoded (`LS0tLS1CRUdJTi…` is `-----BEGIN `): the
/// decoded text must be a private key with a body.
pub(crate) fn base64_pem(b64: &[u8]) -> bool {
    let usable = b64.len() / 4 * 4;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let Ok(text) = engine.decode(&b64[..usable]) else { return false };
    pem_header(&text).is_some_and(|h| pem_body(&text[h..]).is_some())
}

/// A Sentry organization token `sntrys_<base64 JSON>_<secret>`: the payload decodes to a
/// JSON object naming the org or its URL.
pub(crate) fn sentry_payload(token: &[u8]) -> bool {
    let Some(rest) = token.strip_prefix(b"sntrys_") else { return false };
    let Some(cut) = rest.iter().rposition(|&b| b == b'_') else { return false };
    let payload: Vec<u8> = rest[..cut].iter().copied().filter(|&b| b != b'=').collect();
    let Ok(json) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(&payload) else { return false };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&json) else { return false };
    v.get("iat").is_some() && (v.get("url").is_some() || v.get("org").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_digits() {
        assert_eq!(base62_6(0), "000000");
        assert_eq!(base62_6(61), "00000z");
        assert_eq!(base62_6(62), "000010");
        assert_eq!(base62_6(u32::MAX), "4gfFC3");
    }

    #[test]
    fn crc_of_a_made_token() {
        let random = "Zk4Lq9Xw2Rt7Vb1Nc6Hw3Jd5Sa0Ye2";
        let token = format!("ghp_{random}{}", base62_6(crc32fast::hash(random.as_bytes())));
        assert_eq!(base62_crc_ok(token.as_bytes()), Some(true));
        let mut bad = token.into_bytes();
        bad[10] ^= 1;
        assert_eq!(base62_crc_ok(&bad), Some(false));
        assert_eq!(base62_crc_ok(b"ghr_abc"), None);
    }

    #[test]
    fn placeholder_passwords() {
        for p in ["pass", "password", "<password>", "${DB_PASS}", "{PASSWORD}", "****", "xxx", "your_password", "aaaa"]
        {
            assert!(!real_uri_password(Some(b"user"), p.as_bytes()), "{p}");
        }
        assert!(!real_uri_password(Some(b"guest"), b"guest"));
        assert!(!real_uri_password(Some(b"foo"), b"bar"));
        assert!(real_uri_password(Some(b"app"), b"Vq8r!2kLw9"));
    }

    #[test]
    fn pem_bodies() {
        let body = "MIIEowIBAAKCAQEA1x2Yk9Lq3mZ8Rt7Vb1Nc6Hw3Jd5Sa0Ye2Pu9oQmXk4Lq9Xw2Rt7Vb1Nc6Hw3";
        assert!(pem_body(format!("\n{body}\n").as_bytes()).is_some());
        assert!(pem_body(format!("\\n{}\\n", &body[..40]).as_bytes()).is_none());
        assert!(pem_body(format!("\n{}\n-----END PRIVATE KEY-----", &body[..40]).as_bytes()).is_some());
        assert!(pem_body(b"\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC...\n-----END PRIVATE KEY-----").is_none());
        assert!(pem_body(b"')").is_none());
        assert!(pem_body(format!("\n{}\n", "A".repeat(80)).as_bytes()).is_none());
    }
}
