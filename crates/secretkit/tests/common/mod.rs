//! Helpers of the independent tests: running the `openssl` CLI and Python, and the few DER
//! structures needed to hand P-256 keys and signatures to OpenSSL.
//!
//! Secrets go to the tools through standard input or files in a private temporary
//! directory, never through arguments, and no helper puts a tool's output about a secret
//! into a panic message: the tools are asked to print verdicts, not values.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const OPENSSL_MISSING: &str = "the openssl CLI is required by the independent tests and was \
     not found: install it with `apt-get install openssl`";
const PYTHON_MISSING: &str = "python3 is required by the independent tests and was not \
     found: install it with `apt-get install python3`";

/// Runs `openssl` with `args` in `dir`, failing loudly when it is not installed.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl").args(args).current_dir(dir).stdin(Stdio::null()).output().expect(OPENSSL_MISSING)
}

/// Runs an openssl command that must succeed and returns its standard output.
pub fn openssl_ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = openssl(dir, args);
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.first().copied().unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs a Python program (standard library only) with `input` on standard input and
/// returns its standard output.
pub fn python(program: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(PYTHON_MISSING);
    let mut stdin = child.stdin.take().expect("a piped stdin");
    stdin.write_all(input.as_bytes()).expect("write to python3");
    drop(stdin);
    let out = child.wait_with_output().expect("wait for python3");
    assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("python3 prints UTF-8")
}

/// SubjectPublicKeyInfo (RFC 5480) of an uncompressed P-256 point `04 || x || y`.
pub fn spki_der(x: &[u8], y: &[u8]) -> Vec<u8> {
    // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) }
    let mut der = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    der.push(0x04);
    der.extend_from_slice(x);
    der.extend_from_slice(y);
    der
}

/// An RFC 5915 ECPrivateKey holding only `d` and the curve: OpenSSL derives the public
/// key itself, which is what the tests compare.
pub fn sec1_private_der(d: &[u8]) -> Vec<u8> {
    let mut der = hex("30310201010420");
    der.extend_from_slice(d);
    der.extend_from_slice(&hex("a00a06082a8648ce3d030107"));
    der
}

/// The DER `ECDSA-Sig-Value` OpenSSL wants, from the JOSE `r || s`.
pub fn der_signature(jose: &[u8]) -> Vec<u8> {
    assert_eq!(jose.len(), 64, "a JOSE ES256 signature is 64 bytes");
    let (r, s) = (der_integer(&jose[..32]), der_integer(&jose[32..]));
    let mut der = vec![0x30, u8::try_from(r.len() + s.len()).expect("short")];
    der.extend(r);
    der.extend(s);
    der
}

/// The JOSE `r || s` of a DER `ECDSA-Sig-Value` from OpenSSL.
pub fn jose_signature(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30, "a DER SEQUENCE");
    let mut rest = &der[2..];
    let mut out = Vec::with_capacity(64);
    for _ in 0..2 {
        assert_eq!(rest[0], 0x02, "a DER INTEGER");
        let len = usize::from(rest[1]);
        let value = &rest[2..2 + len];
        let value = &value[value.iter().take_while(|b| **b == 0).count()..];
        out.extend(std::iter::repeat_n(0u8, 32 - value.len()));
        out.extend_from_slice(value);
        rest = &rest[2 + len..];
    }
    out
}

/// A minimal DER INTEGER of an unsigned big-endian value.
fn der_integer(value: &[u8]) -> Vec<u8> {
    let trimmed = &value[value.iter().take_while(|b| **b == 0).count()..];
    let mut body = Vec::with_capacity(33);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(trimmed);
    let mut der = vec![0x02, u8::try_from(body.len()).expect("short")];
    der.extend(body);
    der
}

pub fn hex(text: &str) -> Vec<u8> {
    secretkit::hex_decode(text).expect("valid hex in a test")
}

/// Whether `s` of a JOSE signature is above half the group order (the form some
/// verifiers refuse and OpenSSL and Node produce about half the time).
pub fn is_high_s(jose: &[u8]) -> bool {
    let half_n = hex("7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8");
    jose[32..] > half_n[..]
}
