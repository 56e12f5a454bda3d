//! Byte encodings the project writes secrets in: lower-case hex, standard base64 (padded)
//! and URL-safe base64 without padding (the JOSE form), plus strict decoders.
//!
//! The decoders return [`DecodeError`] rather than the `base64` crate's error on purpose:
//! that error names the offending byte, and the input is usually a secret.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::fmt;

/// Why a string did not decode. It never carries any part of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A character outside the alphabet, or padding where none belongs.
    InvalidCharacter,
    /// A length no encoding of whole bytes has.
    InvalidLength,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::InvalidCharacter => "the value has a character outside its alphabet",
            DecodeError::InvalidLength => "the value's length does not encode whole bytes",
        })
    }
}

impl std::error::Error for DecodeError {}

/// Lower-case hex, two characters a byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes hex of either case.
pub fn hex_decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let digits = text.as_bytes();
    if digits.len() % 2 != 0 {
        return Err(DecodeError::InvalidLength);
    }
    digits.chunks_exact(2).map(|pair| Ok(nibble(pair[0])? << 4 | nibble(pair[1])?)).collect()
}

fn nibble(digit: u8) -> Result<u8, DecodeError> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        _ => Err(DecodeError::InvalidCharacter),
    }
}

/// Standard base64 (`+/`) with `=` padding.
pub fn base64_std(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard padded base64; padding is required and trailing bits must be zero.
pub fn base64_std_decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    STANDARD.decode(text).map_err(map_error)
}

/// URL-safe base64 (`-_`) without padding, as JOSE writes every binary field.
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes URL-safe base64; padding is refused (JOSE forbids it) and trailing bits must be
/// zero, so every byte string has exactly one accepted encoding.
pub fn base64url_decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    URL_SAFE_NO_PAD.decode(text).map_err(map_error)
}

fn map_error(error: base64::DecodeError) -> DecodeError {
    match error {
        base64::DecodeError::InvalidLength(_) => DecodeError::InvalidLength,
        _ => DecodeError::InvalidCharacter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_and_round_trips() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex(&[]), "");
        assert_eq!(hex_decode("000FA0ff").unwrap(), vec![0x00, 0x0f, 0xa0, 0xff]);
        assert_eq!(hex_decode("abc"), Err(DecodeError::InvalidLength));
        assert_eq!(hex_decode("zz"), Err(DecodeError::InvalidCharacter));
    }

    #[test]
    fn base64_variants_match_rfc_4648_vectors() {
        // RFC 4648 section 10 test vectors.
        for (plain, std) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64_std(plain.as_bytes()), std);
            assert_eq!(base64_std_decode(std).unwrap(), plain.as_bytes());
            let url = std.trim_end_matches('=');
            assert_eq!(base64url(plain.as_bytes()), url);
            assert_eq!(base64url_decode(url).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_std(&[0xfb, 0xff]), "+/8=");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn decoders_are_strict() {
        assert_eq!(base64url_decode("Zg=="), Err(DecodeError::InvalidCharacter));
        assert_eq!(base64url_decode("+/8"), Err(DecodeError::InvalidCharacter));
        // "Zh" has non-zero trailing bits: a second encoding of "f" that must not pass.
        assert!(base64url_decode("Zh").is_err());
        assert!(base64_std_decode("Zg").is_err());
        assert_eq!(base64url_decode("Z"), Err(DecodeError::InvalidLength));
    }
}
