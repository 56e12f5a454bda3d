//! The TLS settings of a target, checked before anything reaches a server: host names that
//! are real DNS names, an ACME account email, an https directory, image references without
//! shell syntax. A bad value is refused with what to write instead.

use super::targets::{RawTarget, Tls};
use anyhow::bail;

/// The TLS of a target from its raw fields: ACME for its host names, or the internal CA
/// when it names none.
pub(super) fn resolve(raw: &RawTarget) -> anyhow::Result<Tls> {
    if raw.hosts.is_empty() {
        if raw.acme_email.is_some() || raw.acme_directory.is_some() || raw.acme_ca.is_some() {
            bail!("acme_* settings need `hosts`: the names the certificate is for, e.g. hosts = [\"app.example.com\"]");
        }
        return Ok(Tls::Internal);
    }
    let mut hosts = Vec::new();
    for h in &raw.hosts {
        check_host(h)?;
        let h = h.to_ascii_lowercase();
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    let sandbox = match raw.acme_ca.as_deref() {
        None => false,
        Some("sandbox") => true,
        Some(other) => bail!("acme_ca = {other:?}: the only named CA is \"sandbox\"; for any other set acme_directory"),
    };
    if sandbox && (raw.acme_directory.is_some() || raw.acme_ca_root.is_some()) {
        bail!(
            "acme_ca = \"sandbox\" takes the directory and its CA bundle from the sandbox; drop acme_directory/acme_ca_root"
        );
    }
    let email = match &raw.acme_email {
        Some(e) if is_email(e) => e.clone(),
        Some(e) => bail!("acme_email {e:?} is not an email address (the CA sends expiry notices there)"),
        None => bail!("set acme_email: the ACME account the certificates for {} are registered to", hosts.join(", ")),
    };
    if let Some(d) = &raw.acme_directory
        && (!d.starts_with("https://") || d.chars().any(|c| c.is_whitespace() || "'\"`$\\".contains(c)))
    {
        bail!("acme_directory must be an https URL like https://acme-v02.api.letsencrypt.org/directory, got {d:?}");
    }
    Ok(Tls::Acme { hosts, email, directory: raw.acme_directory.clone(), ca_root: raw.acme_ca_root.clone(), sandbox })
}

/// A host name an ACME CA can issue for: dot-separated labels of letters, digits and
/// inner hyphens, 1-63 bytes each, 253 in all, not all-numeric (that is an address), no
/// wildcard (HTTP-01 cannot prove one).
pub fn check_host(h: &str) -> anyhow::Result<()> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let labels: Vec<&str> = h.split('.').collect();
    let numeric = labels.iter().all(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if h.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) || numeric {
        bail!(
            "host {h:?} is not a DNS name a certificate can be issued for (labels of letters, digits and inner \
             '-', at least one dot, no wildcard, no IP address); a target without hosts uses the proxy's internal CA"
        );
    }
    Ok(())
}

fn is_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !e.chars().any(|c| c.is_whitespace() || "'\"`$\\<>".contains(c))
                && check_host(domain).is_ok()
        }
        None => false,
    }
}

/// An image reference the server's Compose gets through interpolation: `NAME[:TAG]` or with
/// a registry and `@sha256:`, nothing a shell or YAML would read specially.
pub fn check_image(image: &str) -> anyhow::Result<()> {
    let ok = !image.is_empty()
        && image.len() <= 255
        && image.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
        && !image.starts_with(['-', '.', '/', ':']);
    if !ok {
        bail!("image reference {image:?} is not NAME[:TAG] (letters, digits, ._-/:@ only)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_must_be_dns_names_a_ca_issues_for() {
        for ok in ["app.example.com", "a-b.c1.example", "x.sandbox.test", "xn--bcher-kva.example"] {
            check_host(ok).unwrap_or_else(|e| panic!("{ok}: {e:#}"));
        }
        for bad in ["localhost", "*.example.com", "-a.example.com", "a..b", "10.0.0.1", "a b.com", "ex_ample.com", ""] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
        assert!(check_host(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn images_are_plain_references() {
        check_image("caddy:2").unwrap();
        check_image("registry.example.com:5000/team/caddy@sha256:ab12").unwrap();
        for bad in ["", "caddy;rm -rf /", "caddy $(x)", "-caddy", "a b"] {
            assert!(check_image(bad).is_err(), "{bad}");
        }
    }
}
