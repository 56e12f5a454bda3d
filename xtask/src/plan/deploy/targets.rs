//! Deploy targets (`deploy/targets.toml`): how to reach a server over SSH, where the app
//! lives on it, how its edge proxy serves it (host names, certificates) and how a release is
//! gated before it gets traffic.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Path of the targets file, relative to the project root.
pub const TARGETS_PATH: &str = "deploy/targets.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    default: Option<String>,
    #[serde(default)]
    target: BTreeMap<String, RawTarget>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    #[serde(default)]
    sandbox: bool,
    ssh_alias: Option<String>,
    /// An ssh_config file to use instead of ~/.ssh/config (`ssh -F`), relative to the project.
    ssh_config: Option<PathBuf>,
    host: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    key: Option<String>,
    app_dir: String,
    /// The port the app listens on inside its container (never published on the host).
    app_port: u16,
    #[serde(default = "default_health_path")]
    health_path: String,
    #[serde(default = "default_health_timeout")]
    health_timeout_secs: u64,
    #[serde(default = "default_drain")]
    drain_secs: u64,
    /// `false`: a worker, not behind the proxy; gated on its container healthcheck alone.
    #[serde(default = "default_true")]
    proxy: bool,
    #[serde(default)]
    pub(super) hosts: Vec<String>,
    pub(super) acme_email: Option<String>,
    /// `"sandbox"`: the local sandbox's own ACME CA.
    pub(super) acme_ca: Option<String>,
    pub(super) acme_directory: Option<String>,
    pub(super) acme_ca_root: Option<PathBuf>,
    #[serde(default)]
    pub(super) hsts_include_subdomains: bool,
    /// The server's public address for the internal CA (no `hosts`); default: `host`.
    address: Option<String>,
    #[serde(default = "default_http_port")]
    http_port: u16,
    #[serde(default = "default_https_port")]
    https_port: u16,
    proxy_image: Option<String>,
    gate_image: Option<String>,
    #[serde(default = "default_keep")]
    keep_releases: usize,
    project: Option<String>,
    /// `HOST[:PORT]/REPO`: ship the image through this registry instead of over ssh.
    registry: Option<String>,
    /// The schema environment this target runs (verify-env checks the env file for it).
    environment: Option<String>,
}

fn default_health_timeout() -> u64 {
    60
}

fn default_health_path() -> String {
    "/health".into()
}

fn default_drain() -> u64 {
    5
}

fn default_http_port() -> u16 {
    80
}

fn default_https_port() -> u16 {
    443
}

fn default_true() -> bool {
    true
}

/// The edge proxy's image on a real server (the sandbox's engine holds a local stand-in).
pub const PROXY_IMAGE: &str = "caddy:2";
/// The slot gate's image: a busybox httpd the proxy health-checks.
pub const GATE_IMAGE: &str = "busybox:1.36";

fn default_keep() -> usize {
    5
}

/// How to reach the server. Whatever is not given here comes from `~/.ssh/config`, because
/// the ssh CLI reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Connection {
    /// The local sandbox VPS: its generated ssh config says where it is.
    Sandbox,
    /// A Host entry of the user's ssh config.
    Alias { alias: String },
    /// Explicit address; missing parts fall back to the ssh config and ssh's defaults.
    Direct { host: String, user: Option<String>, port: Option<u16>, key: Option<PathBuf> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub name: String,
    pub connection: Connection,
    /// `ssh -F` file for this target (absolute, or relative to the project root).
    pub ssh_config: Option<PathBuf>,
    pub app_dir: String,
    pub app_port: u16,
    /// Fetched through the slot itself (not the proxy) before the slot gets traffic.
    pub health_path: String,
    pub health_timeout_secs: u64,
    /// How long the old slot keeps serving its in-flight requests after the switch.
    pub drain_secs: u64,
    /// Behind the edge proxy (a web app), or not (a worker gated on its healthcheck alone).
    pub proxy: bool,
    pub tls: Tls,
    /// `Strict-Transport-Security` with `includeSubDomains` (off by default: it binds every
    /// subdomain to HTTPS for a year).
    pub hsts_include_subdomains: bool,
    /// The public address served with the internal CA when there are no `hosts`.
    pub address: Option<String>,
    /// The ports the proxy owns on the server (80 and 443 unless a test shares a server).
    pub http_port: u16,
    pub https_port: u16,
    pub proxy_image: String,
    pub gate_image: String,
    pub keep_releases: usize,
    pub project: String,
    /// `HOST[:PORT]/REPO` the image is pushed to and the server pulls from; `None`: the
    /// image goes over ssh (`docker save | docker load`).
    pub registry: Option<String>,
    /// The schema environment deployed here (default `production`).
    pub environment: String,
}

/// How the proxy gets certificates for the target's host names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Tls {
    /// Certificates from an ACME CA (Let's Encrypt by default) for these host names.
    Acme {
        hosts: Vec<String>,
        email: String,
        /// `None`: the proxy's default (Let's Encrypt).
        directory: Option<String>,
        /// A CA bundle (local path) the proxy must trust to talk to the directory.
        ca_root: Option<PathBuf>,
        /// The sandbox's own CA: directory and bundle come from the running sandbox.
        sandbox: bool,
    },
    /// No host name: the proxy's internal CA, for the server's address.
    Internal,
}

impl Tls {
    pub fn hosts(&self) -> &[String] {
        match self {
            Tls::Acme { hosts, .. } => hosts,
            Tls::Internal => &[],
        }
    }
}

impl Target {
    /// `user@host:port` style description for progress lines (no key path, no secrets).
    pub fn describe(&self) -> String {
        match &self.connection {
            Connection::Sandbox => "sandbox VPS".to_string(),
            Connection::Alias { alias } => format!("ssh alias {alias}"),
            Connection::Direct { host, user, port, .. } => {
                let user = user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                format!("{user}{host}{port}")
            }
        }
    }
}

/// All targets of a project and the default one.
#[derive(Debug, Clone)]
pub struct Targets {
    default: Option<String>,
    targets: BTreeMap<String, Target>,
}

impl Targets {
    /// The targets of a project whose `deploy/targets.toml` holds `text`.
    pub fn from_file(path: &Path, text: &str) -> anyhow::Result<Targets> {
        Targets::parse(text).with_context(|| format!("deploy targets {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Targets> {
        let file: File = toml::from_str(text)?;
        let mut targets = BTreeMap::new();
        for (name, raw) in file.target {
            let t = resolve(&name, raw).with_context(|| format!("target {name}"))?;
            targets.insert(name, t);
        }
        Ok(Targets { default: file.default, targets })
    }

    /// The project's committed targets (unit tests).
    #[cfg(test)]
    pub(crate) fn committed() -> Targets {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/targets.toml"));
        let text = std::fs::read_to_string(path).expect("deploy/targets.toml is readable");
        Targets::from_file(path, &text).expect("deploy/targets.toml parses")
    }

    /// The named target, or the file's default when no name is given.
    pub fn get(&self, name: Option<&str>) -> anyhow::Result<&Target> {
        let name = match name.or(self.default.as_deref()) {
            Some(n) => n,
            None => bail!("no target given and {TARGETS_PATH} names no `default`; pass one of: {}", self.names()),
        };
        self.targets
            .get(name)
            .with_context(|| format!("no target {name:?} in {TARGETS_PATH}; known targets: {}", self.names()))
    }

    fn names(&self) -> String {
        self.targets.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn resolve(name: &str, raw: RawTarget) -> anyhow::Result<Target> {
    let tls = super::tls::resolve(&raw)?;
    if let Some(a) = &raw.address
        && (a.is_empty() || !a.chars().all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c)))
    {
        bail!("address must be an IP address or host name, got {a:?}");
    }
    let connection = match (raw.sandbox, raw.ssh_alias, raw.host) {
        (true, None, None) => Connection::Sandbox,
        (false, Some(alias), None) => Connection::Alias { alias },
        (false, None, Some(host)) => {
            Connection::Direct { host, user: raw.user, port: raw.port, key: raw.key.map(|k| expand_home(&k)) }
        }
        _ => bail!("set exactly one of `sandbox = true`, `ssh_alias` or `host`"),
    };
    if !raw.app_dir.starts_with('/') || raw.app_dir.contains(['\'', '"', ' ', '$', '`']) {
        bail!("app_dir must be an absolute path without spaces or quotes, got {:?}", raw.app_dir);
    }
    if raw.keep_releases < 2 {
        bail!("keep_releases must be at least 2, or there is nothing to roll back to");
    }
    let project = raw.project.unwrap_or_else(|| "app".to_string());
    if !project.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
        bail!("project must be lower-case letters, digits, '-' or '_', got {project:?}");
    }
    if let Some(r) = &raw.registry {
        check_registry(r)?;
    }
    if !raw.health_path.starts_with('/') || !raw.health_path.chars().all(|c| c.is_ascii_graphic()) {
        bail!("health_path must be a path like \"/health\", got {:?}", raw.health_path);
    }
    for image in raw.proxy_image.iter().chain(&raw.gate_image) {
        super::tls::check_image(image)?;
    }
    Ok(Target {
        name: name.to_string(),
        connection,
        ssh_config: raw.ssh_config,
        app_dir: raw.app_dir.trim_end_matches('/').to_string(),
        app_port: raw.app_port,
        health_path: raw.health_path,
        health_timeout_secs: raw.health_timeout_secs,
        drain_secs: raw.drain_secs,
        proxy: raw.proxy,
        tls,
        hsts_include_subdomains: raw.hsts_include_subdomains,
        address: raw.address,
        http_port: raw.http_port,
        https_port: raw.https_port,
        proxy_image: raw.proxy_image.unwrap_or_else(|| PROXY_IMAGE.into()),
        gate_image: raw.gate_image.unwrap_or_else(|| GATE_IMAGE.into()),
        keep_releases: raw.keep_releases,
        project,
        registry: raw.registry,
        environment: raw.environment.unwrap_or_else(|| "production".to_string()),
    })
}

/// `HOST[:PORT]/REPO` with no tag or digest (the deploy picks the tag) and nothing a shell
/// would read specially, since the server's `docker pull` gets it on a command line.
fn check_registry(r: &str) -> anyhow::Result<()> {
    let ok = match r.split_once('/') {
        Some((host, repo)) => {
            !host.is_empty()
                && !repo.is_empty()
                && !repo.contains(':')
                && !r.ends_with('/')
                && r.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c))
                && repo.chars().all(|c| !c.is_ascii_uppercase())
        }
        None => false,
    };
    if !ok {
        bail!(
            "registry must be HOST[:PORT]/REPO (lower-case repo, no tag), e.g. \"registry.example.com:5000/app\", got {r:?}"
        );
    }
    Ok(())
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_targets_parse_and_default_to_the_sandbox() {
        let targets = Targets::committed();
        let t = targets.get(None).unwrap();
        assert_eq!(t.name, "sandbox");
        assert_eq!(t.connection, Connection::Sandbox);
        let p = targets.get(Some("production")).unwrap();
        assert!(matches!(&p.connection, Connection::Direct { user: Some(u), port: Some(22), .. } if u == "deploy"));
    }

    #[test]
    fn an_ssh_alias_target_leaves_the_rest_to_the_ssh_config() {
        let t = Targets::parse(
            r#"
            [target.vps]
            ssh_alias = "myvps"
            app_dir = "/srv/app/"
            app_port = 80
                        "#,
        )
        .unwrap();
        let t = t.get(Some("vps")).unwrap();
        assert_eq!(t.connection, Connection::Alias { alias: "myvps".into() });
        assert_eq!(t.app_dir, "/srv/app");
        assert_eq!(t.keep_releases, 5);
        assert_eq!(t.describe(), "ssh alias myvps");
    }

    #[test]
    fn unknown_target_names_the_known_ones() {
        let targets = Targets::committed();
        let err = format!("{:#}", targets.get(Some("nope")).unwrap_err());
        assert!(err.contains("production") && err.contains("sandbox"), "{err}");
    }

    #[test]
    fn two_connection_kinds_at_once_are_refused() {
        let err = Targets::parse(
            r#"
            [target.x]
            sandbox = true
            host = "h"
            app_dir = "/a"
            app_port = 80
                        "#,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("exactly one"));
    }

    #[test]
    fn a_registry_is_host_port_and_repo_without_a_tag() {
        let parse = |r: &str| {
            Targets::parse(&format!("[target.x]\nhost = \"h\"\napp_dir = \"/a\"\napp_port = 80\nregistry = \"{r}\"\n"))
        };
        let t = parse("10.213.7.1:5000/app").unwrap();
        assert_eq!(t.get(Some("x")).unwrap().registry.as_deref(), Some("10.213.7.1:5000/app"));
        for bad in ["app", "reg:5000/app:latest", "reg/App", "reg/app;rm", "reg/"] {
            let err = format!("{:#}", parse(bad).unwrap_err());
            assert!(err.contains("HOST[:PORT]/REPO"), "{bad}: {err}");
        }
        assert_eq!(Targets::committed().get(Some("sandbox")).unwrap().registry, None);
    }

    #[test]
    fn a_relative_app_dir_is_refused() {
        let err = Targets::parse(
            r#"
            [target.x]
            host = "h"
            app_dir = "srv/app"
            app_port = 80
                        "#,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("absolute"));
    }
}
