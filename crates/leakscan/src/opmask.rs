//! Byte classes of the assignment prefilter as bitmasks, 64 bytes at a time (AVX2 where the
//! CPU has it, a table lookup elsewhere), and the walk handing out the operators that a test
//! on those masks (in [`crate::assign`]) lets through.

/// Class bitmasks of a 64-byte block: bit `j` stands for byte `j`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Masks {
    /// `=` or `:`.
    pub op: u64,
    /// A key byte: `[A-Za-z0-9_.-]`.
    pub ident: u64,
    /// Space, tab, `"` or `'`: what may sit between a key and its operator.
    pub quote: u64,
    /// A byte that can be neither a value byte nor filler before a value:
    /// `\n \x0b \x0c \r , < ( ) { } [ ] \ |`.
    pub stop: u64,
}

/// Bytes outside the haystack read as this: a stop byte, and in no other class.
const PAD: u8 = b'\n';

const OP: u8 = 1;
const IDENT: u8 = 2;
const QUOTE: u8 = 4;
const STOP: u8 = 8;

/// The classes of every byte, as `OP | IDENT | QUOTE | STOP` bits.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c == b'=' || c == b':' {
            t[b] |= OP;
        }
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-' {
            t[b] |= IDENT;
        }
        if matches!(c, b' ' | b'\t' | b'"' | b'\'') {
            t[b] |= QUOTE;
        }
        if matches!(
            c,
            b'\n' | 0x0b | 0x0c | b'\r' | b',' | b'<' | b'(' | b')' | b'{' | b'}' | b'[' | b']' | b'\\' | b'|'
        ) {
            t[b] |= STOP;
        }
        b += 1;
    }
    t
};

/// The masks of one block, one byte at a time.
fn classify(block: &[u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (j, &b) in block.iter().enumerate() {
        let c = CLASS[b as usize];
        m.op |= u64::from(c & OP != 0) << j;
        m.ident |= u64::from(c & IDENT != 0) << j;
        m.quote |= u64::from(c & QUOTE != 0) << j;
        m.stop |= u64::from(c & STOP != 0) << j;
    }
    m
}

/// Blocks classified per refill of [`Picked`].
const BATCH: usize = 16;

/// The operators (`=`, `:`) in `hay[from..to]` whose bits `pick(prev, cur, next)` sets, in
/// order. `cur` holds the masks of a 64-byte block, `prev` and `next` those of the blocks
/// either side, so `pick` can look a few bytes past either end of `cur`; bytes before `hay[0]`
/// or past its end read as `\n`. Blocks without an operator may be skipped.
pub(crate) fn picked<P: Fn(&Masks, &Masks, &Masks) -> u64>(
    hay: &[u8],
    from: usize,
    to: usize,
    pick: P,
) -> Picked<'_, P> {
    #[cfg(target_arch = "x86_64")]
    let avx2 = is_x86_feature_detected!("avx2"); // std caches the answer
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    Picked::new(hay, from, to, pick, avx2)
}

/// The iterator of [`picked`]. It classifies up to [`BATCH`] blocks at a time (so the SIMD
/// loop runs without calling out), then asks `pick` about those with an operator.
pub(crate) struct Picked<'a, P> {
    hay: &'a [u8],
    to: usize,
    pick: P,
    /// Whether to classify with AVX2 (only set where the CPU has it).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    avx2: bool,
    /// The next block to classify.
    start: usize,
    /// `masks[k + 1]`: the masks of block k of a batch (at `start + 64 k`), `masks[0]` those
    /// of the block before; a batch starts with the last two of the one before it.
    masks: [Masks; BATCH + 2],
    /// Whether nearly every block of the last batch had an operator.
    dense: bool,
    /// The blocks of the last batch with bits set: `(start, bits)`; `found[i..n]` are left.
    found: [(usize, u64); BATCH],
    i: usize,
    n: usize,
    /// The block being handed out, and its bits not handed out yet.
    base: usize,
    bits: u64,
}

impl<'a, P: Fn(&Masks, &Masks, &Masks) -> u64> Picked<'a, P> {
    fn new(hay: &'a [u8], from: usize, to: usize, pick: P, avx2: bool) -> Self {
        assert!(from <= to && to <= hay.len(), "range {from}..{to} of {} bytes", hay.len());
        let mut masks = [Masks::default(); BATCH + 2];
        // The first two blocks through the table: it gives the same masks.
        (masks[0], masks[1]) = (padded(hay, from as isize - 64, &classify), padded(hay, from as isize, &classify));
        Picked {
            hay,
            to,
            pick,
            avx2,
            start: from,
            masks,
            dense: false,
            found: [(0, 0); BATCH],
            i: 0,
            n: 0,
            base: 0,
            bits: 0,
        }
    }

    /// Classifies the next blocks, keeping those with bits set in `found`. (Out of line, so
    /// that `next` stays small in the caller's loop.)
    #[inline(never)]
    fn refill(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is only set where the CPU has AVX2.
            return unsafe { self.refill_avx2() };
        }
        self.fill(classify);
    }

    /// [`Self::fill`] with [`avx2::classify`] inlined into it.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn refill_avx2(&mut self) {
        self.fill(|block| avx2::classify(block));
    }

    #[inline(always)]
    fn fill(&mut self, classify: impl Fn(&[u8; 64]) -> Masks) {
        let (hay, to, start) = (self.hay, self.to, self.start);
        // The block at `at`: in place when whole, else (at the end of `hay`) padded.
        let block = |at: usize| match hay.get(at..at + 64) {
            Some(b) => classify(b.try_into().expect("64 bytes")),
            None => padded(hay, at as isize, &classify),
        };
        let masks = &mut self.masks;
        let count = (to - start).div_ceil(64).min(BATCH);
        // `pick` runs only on blocks with an operator. Where nearly all have one (minified
        // JS), it runs on each block as soon as the next one is classified; elsewhere the
        // blocks with one are listed first (without a branch), and picked from after.
        let (mut m, mut n) = (0, 0);
        if self.dense {
            for k in 0..count {
                masks[k + 2] = block(start + 64 * (k + 1));
                let bits = masks[k + 1].op & (self.pick)(&masks[k], &masks[k + 1], &masks[k + 2]);
                self.found[n] = (start + 64 * k, bits);
                n += usize::from(bits != 0);
                m += usize::from(masks[k + 1].op != 0);
            }
        } else {
            let mut with_op = [0; BATCH];
            for k in 0..count {
                masks[k + 2] = block(start + 64 * (k + 1));
                with_op[m] = k;
                m += usize::from(masks[k + 1].op != 0);
            }
            for &k in &with_op[..m] {
                let bits = masks[k + 1].op & (self.pick)(&masks[k], &masks[k + 1], &masks[k + 2]);
                self.found[n] = (start + 64 * k, bits);
                n += usize::from(bits != 0);
            }
        }
        self.dense = m * 8 >= count * 7;
        (masks[0], masks[1]) = (masks[count], masks[count + 1]);
        (self.start, self.i, self.n) = (start + 64 * count, 0, n);
    }
}

/// The masks of the 64 bytes at `at` (which may lie partly or wholly outside `hay`).
#[cold]
#[inline(never)]
fn padded(hay: &[u8], at: isize, classify: &impl Fn(&[u8; 64]) -> Masks) -> Masks {
    let mut pad = [PAD; 64];
    for (j, b) in pad.iter_mut().enumerate() {
        if let Some(&h) = usize::try_from(at + j as isize).ok().and_then(|i| hay.get(i)) {
            *b = h;
        }
    }
    classify(&pad)
}

impl<P: Fn(&Masks, &Masks, &Masks) -> u64> Iterator for Picked<'_, P> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.bits == 0 {
            if self.i < self.n {
                (self.base, self.bits) = self.found[self.i];
                self.i += 1;
            } else if self.start < self.to {
                self.refill();
            } else {
                return None;
            }
        }
        let at = self.base + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        if at >= self.to {
            // Only the last block reaches past `to`: nothing is left.
            (self.bits, self.i, self.n) = (0, 0, 0);
            return None;
        }
        Some(at)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Masks;
    use std::arch::x86_64::*;

    // Each class is a union of rectangles (a set of low nibbles by a set of high nibbles),
    // one bit each, so two table lookups (`pshufb`) and an AND tell the classes of 32 bytes.
    // Bytes >= 0x80 have high nibbles no rectangle holds: they are in no class.

    /// Key bytes `[A-Za-z0-9_.-]`, one rectangle per bit: (low nibbles, high nibbles).
    const KEY: [(u16, u16); 5] = [
        (0xfffe, 1 << 4 | 1 << 6),   // A-O a-o
        (0x07ff, 1 << 5 | 1 << 7),   // P-Z p-z
        (0x03ff, 1 << 3),            // 0-9
        (1 << 13 | 1 << 14, 1 << 2), // - .
        (1 << 15, 1 << 5),           // _
    ];
    /// Quotes (bits 0-1), stop bytes (bits 2-5) and operators (bit 7, which `movemask` reads).
    const OTHER: [(u16, u16); 8] = [
        (1 << 9, 1 << 0),                                      // \t
        (1 << 0 | 1 << 2 | 1 << 7, 1 << 2),                    // space " '
        (1 << 12, 1 << 0 | 1 << 2 | 1 << 3 | 1 << 5 | 1 << 7), // \x0c , < \ |
        (1 << 11 | 1 << 13, 1 << 0 | 1 << 5 | 1 << 7),         // \x0b \r [ ] { }
        (1 << 10, 1 << 0),                                     // \n
        (1 << 8 | 1 << 9, 1 << 2),                             // ( )
        (0, 0),
        (1 << 10 | 1 << 13, 1 << 3), // : =
    ];
    const QUOTE_BITS: i8 = 0b11;
    const STOP_BITS: i8 = 0b11_1100;

    /// The lookup tables of `parts`: byte `b` is in part `k` when bit `k` is set in both
    /// `low[b & 15]` and `high[b >> 4]`.
    const fn nibble_tables(parts: &[(u16, u16)]) -> [[u8; 16]; 2] {
        let mut t = [[0u8; 16]; 2];
        let mut k = 0;
        while k < parts.len() {
            let mut n = 0;
            while n < 16 {
                t[0][n] |= ((parts[k].0 >> n & 1) as u8) << k;
                t[1][n] |= ((parts[k].1 >> n & 1) as u8) << k;
                n += 1;
            }
            k += 1;
        }
        t
    }
    const KEY_TABLES: [[u8; 16]; 2] = nibble_tables(&KEY);
    const OTHER_TABLES: [[u8; 16]; 2] = nibble_tables(&OTHER);

    /// A 16-byte table in both 128-bit lanes, as `pshufb` wants it.
    #[target_feature(enable = "avx2")]
    fn table(t: [u8; 16]) -> __m256i {
        let (lo, hi) = (i64::from_le_bytes(*t.first_chunk().unwrap()), i64::from_le_bytes(*t.last_chunk().unwrap()));
        _mm256_set_epi64x(hi, lo, hi, lo)
    }

    /// Bytes in a class of `tables`, as 32 bits.
    #[target_feature(enable = "avx2")]
    fn lookup(tables: [[u8; 16]; 2], low: __m256i, high: __m256i) -> __m256i {
        _mm256_and_si256(_mm256_shuffle_epi8(table(tables[0]), low), _mm256_shuffle_epi8(table(tables[1]), high))
    }

    /// The bytes with none of `bits` set, as 32 bits.
    #[target_feature(enable = "avx2")]
    fn none_of(v: __m256i, bits: i8) -> u32 {
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_and_si256(v, _mm256_set1_epi8(bits)), _mm256_setzero_si256()))
            as u32
    }

    /// The four masks (`Masks` order) of 32 bytes.
    #[target_feature(enable = "avx2")]
    fn half(v: __m256i) -> [u32; 4] {
        let nibble = _mm256_set1_epi8(0x0f);
        let low = _mm256_and_si256(v, nibble);
        let high = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
        let key = lookup(KEY_TABLES, low, high);
        let other = lookup(OTHER_TABLES, low, high);
        [_mm256_movemask_epi8(other) as u32, !none_of(key, -1), !none_of(other, QUOTE_BITS), !none_of(other, STOP_BITS)]
    }

    /// The same masks as [`super::classify`].
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) fn classify(block: &[u8; 64]) -> Masks {
        let (lo, hi) = block.split_at(32);
        // SAFETY: each load reads the 32 bytes of a 32-byte slice; `loadu` takes any alignment.
        let (lo, hi) = unsafe { (_mm256_loadu_si256(lo.as_ptr().cast()), _mm256_loadu_si256(hi.as_ptr().cast())) };
        let (lo, hi) = (half(lo), half(hi));
        let join = |k: usize| u64::from(lo[k]) | u64::from(hi[k]) << 32;
        Masks { op: join(0), ident: join(1), quote: join(2), stop: join(3) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_documented_classes() {
        for b in 0..=255u8 {
            let c = CLASS[b as usize];
            assert_eq!(c & OP != 0, b"=:".contains(&b), "{b:#x}");
            assert_eq!(c & IDENT != 0, b.is_ascii_alphanumeric() || b"_.-".contains(&b), "{b:#x}");
            assert_eq!(c & QUOTE != 0, b" \t\"'".contains(&b), "{b:#x}");
            assert_eq!(c & STOP != 0, b"\n\x0b\x0c\r,<(){}[]\\|".contains(&b), "{b:#x}");
        }
        assert_eq!(CLASS[PAD as usize], STOP);
    }

    /// Random blocks, plain and biased towards the class edges, give the same masks either way.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_masks_match_the_table() {
        if !is_x86_feature_detected!("avx2") {
            return;
        }
        let edges: Vec<u8> = (0..=255u8)
            .filter(|&b| {
                b < 0x80
                    && (CLASS[b as usize] != 0
                        || CLASS[b.wrapping_sub(1) as usize] != 0
                        || CLASS[(b + 1) as usize & 0x7f] != 0)
            })
            .chain([0x80, 0x9f, 0xa0, 0xdb, 0xfb, 0xfd, 0xff])
            .collect();
        let mut next = crate::test_rng(0x2545_f491_4f6c_dd1d);
        for round in 0..20_000 {
            let mut block = [0u8; 64];
            for b in &mut block {
                *b = if round % 2 == 0 { next(256) as u8 } else { edges[next(edges.len())] };
            }
            // SAFETY: the CPU has AVX2, checked above.
            assert_eq!(unsafe { avx2::classify(&block) }, classify(&block), "{block:?}");
        }
        // Every byte value in every lane.
        for shift in 0..64 {
            let block: [u8; 64] = std::array::from_fn(|j| (j * 4 + shift) as u8);
            // SAFETY: as above.
            assert_eq!(unsafe { avx2::classify(&block) }, classify(&block));
        }
    }

    /// `picked` (either classifier) hands `pick` the table's masks of the right bytes, with
    /// the padding outside `hay`, for any range and length, and hands out the operators it
    /// picks.
    #[test]
    fn picked_sees_the_right_bytes() {
        let mut next = crate::test_rng(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"=:a_.- \t\"'\n,<([{}|\\x\xe9";
        #[cfg(target_arch = "x86_64")]
        let walks = [false, is_x86_feature_detected!("avx2")];
        #[cfg(not(target_arch = "x86_64"))]
        let walks = [false];
        for _ in 0..3000 {
            // Stretches with an operator every few bytes, and without any.
            let len = next(3000);
            let mut hay = Vec::new();
            while hay.len() < len {
                let letters = if next(2) == 0 { &alphabet[..] } else { &alphabet[2..] };
                hay.extend((0..next(400)).map(|_| letters[next(letters.len())]));
            }
            hay.truncate(len);
            let from = next(len + 1);
            let to = from + next(len - from + 1);
            let at = |p: isize| -> u8 { if p < 0 || p >= len as isize { PAD } else { hay[p as usize] } };
            let expect = |start: isize| classify(&std::array::from_fn(|j| at(start + j as isize)));
            for avx2 in walks {
                let seen = std::cell::RefCell::new(Vec::new());
                // Pick the operators before a stop byte (which may be the first of `next`).
                let pick = |prev: &Masks, cur: &Masks, next: &Masks| {
                    seen.borrow_mut().push((*prev, *cur, *next));
                    cur.stop >> 1 | next.stop << 63
                };
                let got: Vec<usize> = Picked::new(&hay, from, to, pick, avx2).collect();
                // Every block with an operator was seen, in order, with the right neighbours
                // (blocks without one may be seen too).
                let seen = seen.into_inner();
                let all: Vec<_> = (from..to)
                    .step_by(64)
                    .map(|s| s as isize)
                    .map(|s| (expect(s - 64), expect(s), expect(s + 64)))
                    .collect();
                let mut rest = all.iter();
                assert!(seen.iter().all(|t| rest.any(|a| a == t)), "{len} {from} {to} {avx2}");
                let with_op =
                    |v: &[(Masks, Masks, Masks)]| v.iter().filter(|t| t.1.op != 0).copied().collect::<Vec<_>>();
                assert_eq!(with_op(&seen), with_op(&all), "{len} {from} {to} {avx2}");
                let want: Vec<usize> = (from..to)
                    .filter(|&i| matches!(hay[i], b'=' | b':') && CLASS[at(i as isize + 1) as usize] & STOP != 0)
                    .collect();
                assert_eq!(got, want, "{len} {from} {to} {avx2}");
            }
        }
    }
}
