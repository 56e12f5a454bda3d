//! Random secret values drawn from a generator the caller passes in, so that production
//! code hands in the OS-seeded CSPRNG and tests hand in a seeded one.
//!
//! Every function here expects a cryptographically secure generator; the type cannot
//! check that, because xtask passes `rand`'s `&mut dyn RngCore`.

use crate::encoding::{base64_std, base64url, hex};
use crate::secret::Secret;
use rand_core::RngCore;
use zeroize::Zeroizing;

/// `n` random bytes, wiped when dropped.
pub fn random_bytes(rng: &mut dyn RngCore, n: usize) -> Zeroizing<Vec<u8>> {
    let mut buf = Zeroizing::new(vec![0u8; n]);
    rng.fill_bytes(&mut buf);
    buf
}

/// `n` random bytes as lower-case hex (`2n` characters).
pub fn random_hex(rng: &mut dyn RngCore, n: usize) -> Secret {
    Secret::new(hex(&random_bytes(rng, n)))
}

/// `n` random bytes as standard padded base64.
pub fn random_base64(rng: &mut dyn RngCore, n: usize) -> Secret {
    Secret::new(base64_std(&random_bytes(rng, n)))
}

/// `n` random bytes as URL-safe base64 without padding.
pub fn random_base64url(rng: &mut dyn RngCore, n: usize) -> Secret {
    Secret::new(base64url(&random_bytes(rng, n)))
}

/// A random (version 4) UUID in its lower-case hyphenated form, as `crypto.randomUUID()`
/// writes it. Supabase's self-hosting script uses one as the `kid` of its signing key.
pub fn uuid_v4(rng: &mut dyn RngCore) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    // RFC 9562 section 5.4: version 4 in the high nibble of byte 6, variant 10 in the
    // two high bits of byte 8.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::{base64_std_decode, base64url_decode, hex_decode};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn encodings_carry_the_requested_number_of_bytes() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(random_bytes(&mut rng, 7).len(), 7);
        assert_eq!(hex_decode(random_hex(&mut rng, 32).expose()).unwrap().len(), 32);
        let b64 = random_base64(&mut rng, 48);
        assert_eq!(base64_std_decode(b64.expose()).unwrap().len(), 48);
        let url = random_base64url(&mut rng, 32);
        assert_eq!(base64url_decode(url.expose()).unwrap().len(), 32);
    }

    #[test]
    fn two_draws_differ() {
        let mut rng = StdRng::seed_from_u64(2);
        assert_ne!(random_hex(&mut rng, 16), random_hex(&mut rng, 16));
    }

    #[test]
    fn uuid_has_version_4_and_the_rfc_variant() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..32 {
            let id = uuid_v4(&mut rng);
            let groups: Vec<&str> = id.split('-').collect();
            let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
            assert_eq!(lens, [8, 4, 4, 4, 12], "{id}");
            assert!(groups[2].starts_with('4'), "{id}");
            assert!(matches!(&groups[3][..1], "8" | "9" | "a" | "b"), "{id}");
            assert_eq!(id, id.to_ascii_lowercase());
        }
    }
}
