//! A sampled search for long needles: look at the input only every `stride` bytes, and
//! there test the 8 bytes found against a bit table of the needles' 8-byte pieces.
//!
//! Why it is exact: a needle of length `len` starting at `q` covers the sample positions
//! `q..=q + len - GRAM`; when `stride <= len - GRAM + 1`, one of the first `stride`
//! positions `q + k` (`k < stride`) is a sample, and the 8 bytes there are the needle's
//! piece at offset `k`. The table holds every needle's pieces at offsets `0..stride`, so
//! each occurrence is met at exactly one sample (its first), and then confirmed by comparing
//! the whole needle. A secret of 24+ bytes costs one table probe per `stride` (17 to 32)
//! input bytes instead of work on every byte, which is what lets known values and all their
//! encodings cost less than a plain multi-string search for the raw values.

/// Bytes read at each sample.
const GRAM: usize = 8;
/// Needles at least this long are searched by sampling (shorter ones by Aho-Corasick).
pub(crate) const MIN_SAMPLED_LEN: usize = 24;
/// Longest step between samples: longer needles gain little past it and the table grows.
const MAX_STRIDE: usize = 32;

/// One needle piece: its 8 bytes, which needle and where in it.
#[derive(Debug, Clone, Copy)]
struct Piece {
    slot: u32,
    gram: u64,
    needle: u32,
    offset: u32,
}

pub(crate) struct Sampled {
    stride: usize,
    shift: u32,
    /// One bit per table slot: some piece hashes there.
    table: Vec<u64>,
    /// Every piece, sorted by slot (then by offset, largest first, so that a periodic
    /// needle's occurrences met at one sample come out in start order).
    pieces: Vec<Piece>,
    needles: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Sampled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampled").field("needles", &self.needles.len()).field("stride", &self.stride).finish()
    }
}

fn gram(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..GRAM].try_into().expect("a gram is 8 bytes"))
}

impl Sampled {
    /// Build for `needles` (each at least [`MIN_SAMPLED_LEN`] bytes); `None` when empty.
    pub(crate) fn build(needles: Vec<Vec<u8>>) -> Option<Sampled> {
        let shortest = needles.iter().map(Vec::len).min()?;
        assert!(shortest >= MIN_SAMPLED_LEN, "needle shorter than the sampled minimum");
        let stride = (shortest - GRAM + 1).min(MAX_STRIDE);
        // About 1 in 256 table bits set: a random sample probes the piece list that rarely.
        let entries = needles.len() * stride;
        let bits = (entries * 256).next_power_of_two().trailing_zeros().clamp(12, 22);
        let shift = 64 - bits;
        let mut table = vec![0u64; 1 << (bits - 6)];
        let mut pieces = Vec::with_capacity(entries);
        for (n, needle) in needles.iter().enumerate() {
            for offset in 0..stride {
                let g = gram(&needle[offset..]);
                let slot = hash(g, shift);
                table[slot as usize >> 6] |= 1 << (slot & 63);
                pieces.push(Piece { slot, gram: g, needle: n as u32, offset: offset as u32 });
            }
        }
        pieces.sort_by_key(|p| (p.slot, std::cmp::Reverse(p.offset)));
        Some(Sampled { stride, shift, table, pieces, needles })
    }

    /// Call `f(needle, start)` for every occurrence of a needle that lies wholly in `hay`,
    /// in order of the sample that met it (so by start, up to `stride` bytes of reordering
    /// between different needles).
    pub(crate) fn find(&self, hay: &[u8], mut f: impl FnMut(usize, usize)) {
        let Some(last) = hay.len().checked_sub(GRAM) else { return };
        let mut p = 0;
        // Repetitive input (zero runs) probes the same gram again and again.
        let mut last_miss = None;
        while p <= last {
            let g = gram(&hay[p..]);
            let slot = hash(g, self.shift);
            if self.table[slot as usize >> 6] & (1 << (slot & 63)) != 0
                && last_miss != Some(g)
                && !self.confirm(hay, p, g, slot, &mut f)
            {
                last_miss = Some(g);
            }
            p += self.stride;
        }
    }

    /// Compare every needle with a piece equal to `g` at its implied start; true if any
    /// piece's bytes matched the gram (whether or not the whole needle then did).
    fn confirm(&self, hay: &[u8], p: usize, g: u64, slot: u32, f: &mut impl FnMut(usize, usize)) -> bool {
        let first = self.pieces.partition_point(|x| x.slot < slot);
        let mut any = false;
        for piece in self.pieces[first..].iter().take_while(|x| x.slot == slot).filter(|x| x.gram == g) {
            any = true;
            let Some(start) = p.checked_sub(piece.offset as usize) else { continue };
            let needle = &self.needles[piece.needle as usize];
            if hay.get(start..start + needle.len()) == Some(needle) {
                f(piece.needle as usize, start);
            }
        }
        any
    }
}

fn hash(g: u64, shift: u32) -> u32 {
    (g.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every occurrence of every needle, overlapping ones included, the slow and obvious way.
    fn naive(needles: &[Vec<u8>], hay: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (n, needle) in needles.iter().enumerate() {
            out.extend((0..hay.len()).filter(|&start| hay[start..].starts_with(needle)).map(|start| (n, start)));
        }
        out.sort();
        out
    }

    fn sampled(s: &Sampled, hay: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        s.find(hay, |n, start| out.push((n, start)));
        out.sort();
        out
    }

    #[test]
    fn finds_every_occurrence_at_every_offset() {
        let mut next = crate::test_rng(0x1234_5678_9abc_def1);
        for round in 0..200 {
            // Needles of mixed lengths over a small alphabet, so they share pieces and
            // overlap each other; one periodic needle.
            let alphabet = if round % 2 == 0 { &b"ab"[..] } else { &b"abcdefghXYZ0189/+="[..] };
            let mut needles: Vec<Vec<u8>> = (0..1 + next(6))
                .map(|_| (0..MIN_SAMPLED_LEN + next(40)).map(|_| alphabet[next(alphabet.len())]).collect())
                .collect();
            needles.push(b"abcabcabcabcabcabcabcabcabc".to_vec());
            needles.sort();
            needles.dedup();
            let s = Sampled::build(needles.clone()).unwrap();
            let mut hay: Vec<u8> = (0..next(3000)).map(|_| alphabet[next(alphabet.len())]).collect();
            for _ in 0..next(8) {
                let n = &needles[next(needles.len())];
                let at = next(hay.len() + 1);
                hay.splice(at..at, n.iter().copied());
            }
            assert_eq!(sampled(&s, &hay), naive(&needles, &hay), "round {round}");
        }
    }

    #[test]
    fn stride_follows_the_shortest_needle() {
        let s = Sampled::build(vec![vec![b'x'; 24], vec![b'y'; 100]]).unwrap();
        assert_eq!(s.stride, 17);
        let s = Sampled::build(vec![vec![b'y'; 100]]).unwrap();
        assert_eq!(s.stride, MAX_STRIDE);
        assert!(Sampled::build(Vec::new()).is_none());
    }

    #[test]
    fn needle_at_the_very_ends() {
        let needle = b"0123456789abcdefghijklmnopqrstuv".to_vec();
        let s = Sampled::build(vec![needle.clone()]).unwrap();
        for pad in 0..40 {
            let mut hay = vec![b'.'; pad];
            hay.extend_from_slice(&needle);
            assert_eq!(sampled(&s, &hay), vec![(0, pad)], "at the end after {pad}");
            let mut hay = needle.clone();
            hay.extend(std::iter::repeat_n(b'.', pad));
            assert_eq!(sampled(&s, &hay), vec![(0, 0)], "at the start before {pad}");
        }
    }
}
