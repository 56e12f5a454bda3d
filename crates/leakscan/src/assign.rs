//! The generic-assignment prefilter. Its keywords (`token`, `secret`, `password`, ...) are
//! so common in code that a keyword search hands the rule a hit every few dozen bytes of
//! minified JS; an assignment operator followed by a long value is much rarer. So this
//! finds the `=`/`:` after a key-shaped and before a value-shaped run, 64 bytes at a time
//! from byte-class bitmasks ([`crate::opmask`]), checks those one by one, and only then
//! looks back for a keyword: the same candidates the keyword search gave, minus the
//! ones the assignment regex could never match. The engine uses it only where keywords
//! turn out dense; elsewhere one literal search over every rule is cheaper.

use crate::opmask::Masks;
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
    key.windows(2)
        .any(|w| matches!([w[0] | 0x20, w[1] | 0x20], [b's', b's'] | [b'c', b'r'] | [b'o', b'k'] | [b'p', b'i']))
}

/// Call `f(pattern, start)` for every literal of `literals` (the full rule literal set, in
/// its leftmost-longest order) found in the key of an assignment whose operator lies in
/// `hay[from..to]` and which a long enough value follows.
pub(crate) fn candidates(literals: &AhoCorasick, hay: &[u8], from: usize, to: usize, f: impl FnMut(usize, usize)) {
    let to = to.min(hay.len());
    // The operators `possible_ops` drops would fail the checks in `keys_of` anyway.
    keys_of(literals, hay, crate::opmask::picked(hay, from, to, possible_ops), f);
}

/// The checks of [`candidates`] on each operator of `ops`, and the keyword search over the
/// keys that pass. (Two operators never share a key: the bytes between a key and its
/// operator are spaces, tabs and a quote, never another operator.)
fn keys_of(literals: &AhoCorasick, hay: &[u8], ops: impl Iterator<Item = usize>, mut f: impl FnMut(usize, usize)) {
    for op in ops {
        // Cheapest test first: most operators in code follow a short name (`var e=`, `a:`).
        let end = key_end(hay, op);
        if end < SHORTEST_KEYWORD
            || !hay[end - SHORTEST_KEYWORD..end].iter().all(|&b| IDENT[b as usize])
            || !value_follows(hay, op)
        {
            continue;
        }
        let key = key_start(hay, end)..end;
        if !may_hold_keyword(&hay[key.clone()]) {
            continue;
        }
        for m in literals.find_iter(&hay[key.clone()]) {
            f(m.pattern().as_usize(), key.start + m.start());
        }
    }
}

/// The positions in the block `cur` where an operator may pass the scalar tests of
/// [`candidates`] (a superset, from the masks of `cur` and its neighbours):
/// - the key: unless a space, tab or quote precedes the operator, `key_end` is the operator
///   itself, and the [`SHORTEST_KEYWORD`] bytes before it must be key bytes;
/// - the value: `value_follows` skips filler (`=`, `>`, spaces, tabs, quotes, backticks and
///   `&quot;`), then needs [`MIN_VALUE`] value bytes less one per skipped `=`, so the first
///   [`MIN_VALUE`] bytes after the operator are filler, `&quot;` or value bytes: none is a
///   stop byte (also when it answers early after [`LOOK_BACK`] bytes of filler). With fewer
///   than [`MIN_VALUE`] bytes left in `hay` it fails, and the bytes past the end read as stop
///   bytes.
fn possible_ops(prev: &Masks, cur: &Masks, next: &Masks) -> u64 {
    // Shifting a mask left by k moves byte j - k to bit j (right: byte j + k), and AND-ing
    // (OR-ing) a mask with a shifted copy of itself doubles the run of bytes a bit covers.
    // Plain u64 shifts: the u128 ones compile to `shld`, which made this a third slower.
    // The key: bytes j - 5 ..= j - 1 are key bytes. Within `cur`, right for j >= 5 ...
    let key = cur.ident << 1;
    let key = key & key << 1;
    let key = key & key << 2;
    let key = key & key << 1;
    // ... and for j < 5 from a window 5 bytes earlier (bit i of `early` is byte i - 5).
    let early = cur.ident << 5 | prev.ident >> 59;
    let early = early & early >> 1;
    let early = early & early >> 2;
    let early = early & early >> 1;
    let key_before = key | early & 0x1f;
    let spaced = cur.quote << 1 | prev.quote >> 63;
    // The value: one of bytes j + 1 ..= j + 12 is a stop byte. Within `cur` ...
    let stop = cur.stop >> 1;
    let stop = stop | stop >> 1;
    let stop = stop | stop >> 2;
    let stop = stop | stop >> 4;
    let stop = stop | stop >> 4;
    // ... or the first stop of `next`, byte 64 + q with q < 12, which stops bits j >= 52 + q.
    let q = (next.stop | 1 << 12).trailing_zeros();
    let stop = stop | (!0 << 52) << q;
    (key_before | spaced) & !stop
}
// `possible_ops` spells out runs of these lengths.
const _: () = assert!(SHORTEST_KEYWORD == 5 && MIN_VALUE == 12);

#[cfg(test)]
mod tests {
    use super::*;
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

    /// Pieces that make and break the assignment shape, joined at random.
    const SOUP: &[&str] = &[
        "token",
        "Token",
        "PASSWORD",
        "passwd",
        "secret",
        "apikey",
        "api_key",
        "aws_secret_access_key",
        "_authToken",
        "_",
        ".",
        "-",
        "x",
        "DB",
        "=",
        ":",
        "=>",
        ":=",
        "==",
        " ",
        "\t",
        "\"",
        "'",
        "`",
        "&quot;",
        ";",
        ",",
        "\n",
        "Xk9qL2mZ",
        "8Rt7Vb1N",
        "c85175a4",
        "QWxhZGRp",
        "=",
        "(",
        "|",
        "\u{e9}",
    ];

    /// Pieces of minified JS: short names, long names, keywords, operators, punctuation.
    const JS: &[&str] = &[
        "var ",
        "e",
        "t",
        "n=",
        "r:",
        "function(e,t){",
        "return ",
        "}",
        "{",
        "(",
        ")",
        ";",
        ",",
        ".",
        "=",
        ":",
        "==",
        "===",
        "=>",
        "!",
        "&&",
        "||",
        "?",
        "[",
        "]",
        "\"",
        "'",
        " ",
        "tokenize",
        "accessToken",
        "password",
        "secretKey",
        "apiKey:",
        "getToken=",
        "this.options",
        "abcdefghijklmnop",
        "0123456789",
        "xYz_-.",
        "&quot;",
        "\\",
        "\n",
        "<",
        ">",
        "\u{e9}",
        "\t",
        "    ",
        "`",
        "=\"",
        ":\"",
        "Xk9qL2mZ8Rt7Vb1N",
    ];

    fn pieces(next: &mut impl FnMut(usize) -> usize, from: &[&str], n: usize) -> Vec<u8> {
        (0..n).flat_map(|_| from[next(from.len())].bytes()).collect()
    }

    #[test]
    fn agrees_with_the_keyword_search_on_random_assignment_soup() {
        let rules = Rules::new();
        let mut next = crate::test_rng(0x9e37_79b9_7f4a_7c15);
        let mut found = 0;
        for _ in 0..3000 {
            let len = 4 + next(24);
            let text = String::from_utf8(pieces(&mut next, SOUP, len)).unwrap();
            let (old, new) = (by_keyword_search(&rules, text.as_bytes()), by_candidates(&rules, text.as_bytes()));
            assert_eq!(new, old, "{text:?}");
            found += old.len();
        }
        assert!(found > 20, "the soup must hold real assignments too: {found}");
    }

    /// `candidates` as it was before the operator bitmasks: memchr for every operator.
    fn by_memchr(literals: &AhoCorasick, hay: &[u8], from: usize, to: usize, f: impl FnMut(usize, usize)) {
        let to = to.min(hay.len());
        keys_of(literals, hay, memchr::memchr2_iter(b'=', b':', &hay[from..to]).map(|p| p + from), f);
    }

    /// The operators of `hay[from..to]` the bitmasks let through.
    fn possible(hay: &[u8], from: usize, to: usize) -> Vec<usize> {
        crate::opmask::picked(hay, from, to.min(hay.len()), possible_ops).collect()
    }

    /// The calls of the old and the new `candidates` on `hay[from..to]` are the same, and
    /// every operator that passes the scalar key and value tests is one the masks let through.
    fn check(literals: &AhoCorasick, hay: &[u8], from: usize, to: usize) -> usize {
        let (mut old, mut new) = (Vec::new(), Vec::new());
        by_memchr(literals, hay, from, to, |p, at| old.push((p, at)));
        candidates(literals, hay, from, to, |p, at| new.push((p, at)));
        assert_eq!(new, old, "{from}..{to} of {:?}", String::from_utf8_lossy(hay));
        let possible = possible(hay, from, to);
        for op in (from..to.min(hay.len())).filter(|&i| matches!(hay[i], b'=' | b':')) {
            let end = key_end(hay, op);
            let passes = end >= SHORTEST_KEYWORD
                && hay[end - SHORTEST_KEYWORD..end].iter().all(|&b| IDENT[b as usize])
                && value_follows(hay, op);
            assert!(
                !passes || possible.binary_search(&op).is_ok(),
                "operator at {op} of {:?}",
                String::from_utf8_lossy(hay)
            );
        }
        old.len()
    }

    const OPERATORS_AND_MORE: &[u8] = b"=:aZ9_.- \t\"'`>&;,(\n\xe9";

    #[test]
    fn the_bitmasks_change_nothing() {
        let rules = Rules::new();
        let mut next = crate::test_rng(0x2545_f491_4f6c_dd1d);
        let mut found = 0;
        for round in 0..6000 {
            let n = next(400);
            let hay = match round % 4 {
                0 => pieces(&mut next, SOUP, n / 5),
                1 => pieces(&mut next, JS, n / 3),
                // Random bytes, and random bytes from a small alphabet full of operators.
                2 => (0..n).map(|_| next(256) as u8).collect(),
                _ => (0..n).map(|_| OPERATORS_AND_MORE[next(OPERATORS_AND_MORE.len())]).collect(),
            };
            let len = hay.len();
            // The whole hay, and a random range of it (bytes either side still count).
            found += check(&rules.literals, &hay, 0, len);
            let from = next(len + 1);
            found += check(&rules.literals, &hay, from, from + next(len - from + 80));
        }
        assert!(found > 1000, "{found}");
    }

    #[test]
    fn the_bitmasks_change_nothing_around_block_edges() {
        let rules = Rules::new();
        let mut next = crate::test_rng(0x0123_4567_89ab_cdef);
        let v = "Xk9qL2mZ8Rt7Vb1N";
        let mut found = 0;
        for len in (0..200).chain(250..270) {
            for _ in 0..30 {
                // An assignment somewhere (often cut off by the end) in JS-like filler.
                let mut hay = pieces(&mut next, JS, len / 4);
                let at = next(hay.len() + 1);
                hay.splice(at..at, format!("x.secret_token = \"{v}\"").bytes());
                hay.truncate(len);
                let len = hay.len();
                for from in [0, 1, 4, 5, 63, 64, 65, 127, 128] {
                    for to in [from, from + 1, from + 63, from + 64, from + 65, len.saturating_sub(12), len, len + 7] {
                        if from <= to.min(len) {
                            found += check(&rules.literals, &hay, from, to);
                        }
                    }
                }
            }
        }
        assert!(found > 1000, "{found}");
    }

    /// Long texts switch between stretches dense and sparse in operators (the walk handles
    /// them differently) and hold runs of filler longer than `value_follows` looks at.
    #[test]
    fn the_bitmasks_change_nothing_on_long_mixed_text() {
        let rules = Rules::new();
        let mut next = crate::test_rng(0x5851_f42d_4c95_7f2d);
        let words: &[&str] = &["the ", "token ", "secret ", "value ", "password ", "build\n", "x ", "\u{e9} "];
        let mut found = 0;
        for _ in 0..150 {
            let mut hay = Vec::new();
            while hay.len() < 6000 {
                let n = 1 + next(60);
                match next(4) {
                    0 => hay.extend(pieces(&mut next, JS, 4 * n)),
                    1 => hay.extend(pieces(&mut next, words, 4 * n)),
                    2 => hay.extend(pieces(&mut next, SOUP, n)),
                    _ => hay.extend(
                        format!("api_key{}Xk9qL2mZ8Rt7Vb1N ", ["= ", "=", ":\t", " =\""][next(4)].repeat(n)).bytes(),
                    ),
                }
            }
            found += check(&rules.literals, &hay, 0, hay.len());
            let from = next(hay.len());
            found += check(&rules.literals, &hay, from, from + next(3000));
        }
        assert!(found > 1000, "{found}");
    }

    /// The classes `opmask` computes are the ones `possible_ops` reasons with.
    #[test]
    fn mask_classes_follow_the_scalar_tables() {
        for b in 0..=255u8 {
            // A block of `b`, ending in an operator so that it is picked from.
            let mut block = [b; 64];
            block[63] = b'=';
            let m = std::cell::Cell::new(crate::opmask::Masks::default());
            crate::opmask::picked(&block, 0, 1, |_, cur, _| {
                m.set(*cur);
                0
            })
            .for_each(drop);
            let m = m.get();
            let bit = |mask: u64| mask & 1 == 1;
            assert_eq!(bit(m.ident), IDENT[b as usize], "{b:#x}");
            assert_eq!(bit(m.quote), matches!(b, b' ' | b'\t' | b'"' | b'\''), "{b:#x}");
            // Stop bytes are neither value bytes, nor filler `value_follows` skips, nor `&quot;`.
            let open = VALUE[b as usize] || b"=> \t\"'`".contains(&b) || b"&quot;".contains(&b);
            assert_eq!(bit(m.stop), !open, "{b:#x}");
        }
    }
}
