//! What every deploy command does before it plans: reach the server over one shared ssh
//! connection and read its facts (read-only, so `--dry-run` does it too), and render the
//! proxy's files for the target (its TLS: ACME for its hosts, or the internal CA).

use super::connect;
use super::execute::EdgeFiles;
use crate::effects::ssh::{Remote, Shared};
use crate::plan::deploy::edge::{self, Acme};
use crate::plan::deploy::facts::ServerFacts;
use crate::plan::deploy::scripts;
use crate::plan::deploy::targets::{Connection, Target, Tls};
use crate::project::Project;
use anyhow::{Context, bail};

/// A server reached, with what it has.
pub struct Reached {
    pub ssh: Shared,
    pub facts: ServerFacts,
}

/// Open the one connection of this command and read the server's facts.
pub fn reach(p: &Project, t: &Target) -> anyhow::Result<Reached> {
    let ssh = connect::ssh(p.root(), t)?.share().with_context(|| {
        format!("reach {} ({}): check the address, the key and that sshd runs", t.name, t.describe())
    })?;
    let out = ssh
        .run(&scripts::inspect(&t.app_dir, &t.project, &edge::edge_project(&t.project)))
        .context("read the server's state")?
        .check("read the server's state")?;
    let facts = ServerFacts::parse(&out.stdout_text());
    if !facts.compose {
        bail!("the server has neither `docker compose` (v2) nor `docker-compose` (v1): install one, then deploy again");
    }
    if t.proxy && !facts.curl {
        bail!("the server has no `curl`: the deploy checks the proxy's certificate and routing with it; install curl");
    }
    Ok(Reached { ssh, facts })
}

/// The proxy's files for a target, their config hash, and the host names it serves.
pub struct EdgeRender {
    pub files: EdgeFiles,
    pub hash: String,
    pub hosts: Vec<String>,
}

/// Render the proxy for `t` (`None` for a worker target, which has no proxy).
pub fn render_edge(p: &Project, t: &Target) -> anyhow::Result<Option<EdgeRender>> {
    if !t.proxy {
        return Ok(None);
    }
    let (acme, ca_root) = match &t.tls {
        Tls::Acme { email, directory, ca_root, sandbox, .. } => {
            let (directory, ca_path) = if *sandbox {
                let (d, c) = connect::sandbox_acme(p.root())?;
                (Some(d), Some(c))
            } else {
                (directory.clone(), ca_root.as_ref().map(|c| p.path(c)))
            };
            let bundle = match &ca_path {
                Some(c) => Some(std::fs::read(c).with_context(|| format!("read the ACME CA bundle {}", c.display()))?),
                None => None,
            };
            (Some(Acme { email: email.clone(), directory, ca_root: bundle.is_some() }), bundle)
        }
        Tls::Internal => (None, None),
    };
    let address = internal_address(t)?;
    let config = serde_json::to_string_pretty(&edge::caddy_config(t, acme.as_ref(), &address))?;
    let hash = sha256_hex(config.as_bytes());
    let hosts = match &t.tls {
        Tls::Acme { hosts, .. } => hosts.clone(),
        Tls::Internal => vec![address],
    };
    let files = EdgeFiles { compose: edge::compose_file(), interpolation: edge::compose_env(t), config, ca_root };
    Ok(Some(EdgeRender { files, hash, hosts }))
}

/// The address a target without host names is served at (its internal-CA certificate's
/// subject): the sandbox's, or the target's `host`.
fn internal_address(t: &Target) -> anyhow::Result<String> {
    if let Some(a) = &t.address {
        return Ok(a.clone());
    }
    Ok(match &t.connection {
        Connection::Sandbox => crate::rigs::sandbox::VPS_IP.to_string(),
        Connection::Direct { host, .. } => host.clone(),
        Connection::Alias { alias } if !matches!(t.tls, Tls::Internal) => alias.clone(),
        Connection::Alias { alias } => bail!(
            "target {} is reached through the ssh alias {alias:?}, so its public address is unknown here: set \
             `hosts = [\"app.example.com\"]` (with acme_email) for real certificates, or `address` for the \
             internal CA",
            t.name
        ),
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
