//! The generic-assignment prefilter. Its keywords (`token`, `secret`, `password`, ...) are
//! so common in code that a keyword search hands the rule a hit every few dozen bytes of
//! minified JS; an assignment operator followed by a long value is much rarer. So this
//! searches for `=`/`:` with memchr, keeps those followed by a value-shaped run, and only
//! then looks back for a keyword: the same candidates the keyword search gave, minus the
//! ones the assignment regex could never match. The engine uses it only where keywords
//! turn out dense; elsewhere one literal search over every rule is cheaper.

use aho_corasick::AhoCorasick;

/// Shortest value the assignment regex accepts (`{12,128}` in the rule).
const MIN_VALUE: usize = 12;
/// Farthest a keyword can start before its operator: the longest keyword (8), the
/// identifier tail (32), a quote and 4 spaces, with room to spare so a longer literal that
/// swallows a keyword (`aws_secret_access_key`) is seen whole, as the full search sees it.
pub(crate) const LOOK_BACK: usize = 64;

/// `token`, `secret`: a key shorter than this holds no keyword.
const SHORTEST_KEYWORD: usize = 5;

/// Bytes the rule's value class `[^\s"'`;,<>(){}\[\]\\&|]` can contain. Bytes >= 0x80 count
/// (Unicode spaces too: a superset only adds candidates, never loses one).
const VALUE: [bool; 256] = {
    let mut t = [true; 256];
    let stop = b"\t\n\x0b\x0c\r \"'`;,<>(){}[]\\&|";
    let mut i = 0;
    while i < stop.len() {
        t[stop[i] as usize] = false;
        i += 1;
    }
    t
};

/// Bytes of a key: the rule's `[A-Za-z0-9_.-]`.
const IDENT: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-';
        b += 1;
    }
    t
};

/// Can a value of at least [`MIN_VALUE`] bytes follow the operator at `op`? Skips what may
/// sit between operator and value (a second operator byte, spaces, a quote, `&quot;`)
/// greedily; `=` may also start the value, so skipped `=` still count toward its length.
fn value_follows(hay: &[u8], op: usize) -> bool {
    let mut i = op + 1;
    let mut eq = 0;
    let cap = (op + 1 + LOOK_BACK).min(hay.len());
    while i < cap && matches!(hay[i], b'=' | b'>' | b' ' | b'\t' | b'"' | b'\'' | b'`') {
        eq += usize::from(hay[i] == b'=');
        i += 1;
    }
    if i == cap && cap < hay.len() {
        return true; // an odd run of filler: let the regex decide
    }
    if hay[i..].starts_with(b"&quot;") {
        i += 6;
    }
    let need = MIN_VALUE.saturating_sub(eq);
    hay.get(i..i + need).is_some_and(|v| v.iter().all(|&b| VALUE[b as usize]))
}

/// Where the key of an operator at `op` ends: `key["']?[ \t]{0,4}op`.
fn key_end(hay: &[u8], op: usize) -> usize {
    let mut j = op;
    let floor = op.saturating_sub(4);
    while j > floor && matches!(hay[j - 1], b' ' | b'\t') {
        j -= 1;
    }
    if j > 0 && matches!(hay[j - 1], b'"' | b'\'') {
        j -= 1;
    }
    j
}

/// Where the key ending at `end` starts (looking back at most [`LOOK_BACK`] bytes).
fn key_start(hay: &[u8], end: usize) -> usize {
    let floor = end.saturating_sub(LOOK_BACK);
    let mut j = end;
    while j > floor && IDENT[hay[j - 1] as usize] {
        j -= 1;
    }
    j
}

/// Every keyword holds one of these letter pairs (`passw`, `secret`, `token`, `api`), in
/// any case: keys of real code mostly hold none, and this is cheaper than the keyword search.
fn may_hold_keyword(key: &[u8]) -> bool {
    key.windows(2).any(|w| matches!([w[0] | 0x20, w[1] | 0x20], [b's', b's'] | [b'c', b'r'] | [b'o', b'k'] | [b'p', b'i']))
}

/// Call `f(pattern, start)` for every literal of `literals` (the full rule literal set, in
/// its leftmost-longest order) found in the key of an assignment whose operator lies in
/// `hay[from..to]` and which a long enough value follows. Keys are visited once even when
/// several operators share one.
pub(crate) fn candidates(literals: &AhoCorasick, hay: &[u8], from: usize, to: usize, mut f: impl FnMut(usize, usize)) {
    let to = to.min(hay.len());
    let mut last_key_end = usize::MAX;
    for op in memchr::memchr2_iter(b'=', b':', &hay[from..to]).map(|p| p + from) {
        // Cheapest test first: most operators in code follow a short name (`var e=`, `a:`).
        let end = key_end(hay, op);
        if end < SHORTEST_KEYWORD || end == last_key_end || !hay[end - SHORTEST_KEYWORD..end].iter().all(|&b| IDENT[b as usize]) || !value_follows(hay, op) {
            continue;
        }
        let key = key_start(hay, end)..end;
        last_key_end = key.end;
        if !may_hold_keyword(&hay[key.clone()]) {
            continue;
        }
        for m in literals.find_iter(&hay[key.clone()]) {
            f(m.pattern().as_usize(), key.start + m.start());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Rules;

    /// Generic findings `(secret start, secret)` the way they were found before this
    /// prefilter: every keyword hit of the full literal search goes to the rule.
    fn by_keyword_search(rules: &Rules, hay: &[u8]) -> Vec<(usize, Vec<u8>)> {
        let mut out: Vec<_> = rules
            .literals
            .find_iter(hay)
            .filter(|m| rules.is_generic(m.pattern().as_usize()))
            .filter_map(|m| rules.check(m.pattern().as_usize(), hay, m.start()))
            .map(|h| (h.start, h.secret.to_vec()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn by_candidates(rules: &Rules, hay: &[u8]) -> Vec<(usize, Vec<u8>)> {
        let mut out = Vec::new();
        super::candidates(&rules.literals, hay, 0, hay.len(), |p, at| {
            if rules.is_generic(p) {
                out.extend(rules.check(p, hay, at).map(|h| (h.start, h.secret.to_vec())));
            }
        });
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn finds_exactly_what_the_keyword_search_found() {
        let rules = Rules::new();
        let v = "Xk9qL2mZ8Rt7Vb1N";
        let cases = [
            format!("DB_PASSWORD={v}"),
            format!("password = \"{v}\""),
            format!("password\t=\t'{v}'"),
            format!("secret: `{v}`"),
            format!("token := {v}"),
            format!("apiKey => {v}"),
            format!("api_key==={v}"),
            format!("token=&quot;{v}&quot;"),
            format!("\"client_secret\": \"{v}\""),
            format!("x.tokenValue.cache-v2=\"{v}\";"),
            format!("Secret={v} token={v}2 PASSWD: {v}3"),
            format!("my_secret_token_for_the_service_account_xx={v}"),
            format!("my_secret_token_for_the_service_account_xxxxxxxxxxxxxxxxxxxxxxxxxxx={v}"),
            format!("password     = {v}"),
            format!("aws_secret_access_key = {v}Ab3dEf9hIjKlMnOpQrStUvWx"),
            format!("SecretAccessKey: {v}Ab3dEf9hIjKlMnOpQrStUvWx"),
            format!("_authToken={v}abcdefgh"),
            format!("token={}", "=".repeat(20)),
            format!("secret={}", "= ".repeat(40)),
            format!("tokenpassword{}={v}", "_".repeat(30)),
            "function qg(r,t){var n=r.token||t.accessToken;return{password:n.password,secret:null}}".to_string(),
            format!("passwordé={v}é"),
        ];
        let mut found = 0;
        for text in &cases {
            let (old, new) = (by_keyword_search(&rules, text.as_bytes()), by_candidates(&rules, text.as_bytes()));
            assert_eq!(new, old, "{text}");
            found += old.len();
        }
        // The cases are not all rejections: most carry a real-looking assignment.
        assert!(found >= 14, "{found}");
    }

    #[test]
    fn agrees_with_the_keyword_search_on_random_assignment_soup() {
        let rules = Rules::new();
        // Pieces that make and break the assignment shape, joined at random.
        let pieces: &[&str] = &[
            "token", "Token", "PASSWORD", "passwd", "secret", "apikey", "api_key", "aws_secret_access_key", "_authToken",
            "_", ".", "-", "x", "DB", "=", ":", "=>", ":=", "==", " ", "\t", "\"", "'", "`", "&quot;", ";", ",", "\n",
            "Xk9qL2mZ", "8Rt7Vb1N", "c85175a4", "QWxhZGRp", "=", "(", "|", "\u{e9}",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut found = 0;
        for _ in 0..3000 {
            let len = 4 + next(24);
            let text: String = (0..len).map(|_| pieces[next(pieces.len())]).collect();
            let (old, new) = (by_keyword_search(&rules, text.as_bytes()), by_candidates(&rules, text.as_bytes()));
            assert_eq!(new, old, "{text:?}");
            found += old.len();
        }
        assert!(found > 20, "the soup must hold real assignments too: {found}");
    }
}
