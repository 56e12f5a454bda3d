//! Deploy targets (`deploy/targets.toml`): how to reach a server over SSH and where the app
//! lives on it.

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
struct RawTarget {
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
    app_port: u16,
    health_url: String,
    #[serde(default = "default_health_timeout")]
    health_timeout_secs: u64,
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
    pub health_url: String,
    pub health_timeout_secs: u64,
    pub keep_releases: usize,
    pub project: String,
    /// `HOST[:PORT]/REPO` the image is pushed to and the server pulls from; `None`: the
    /// image goes over ssh (`docker save | docker load`).
    pub registry: Option<String>,
    /// The schema environment deployed here (default `production`).
    pub environment: String,
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
    Ok(Target {
        name: name.to_string(),
        connection,
        ssh_config: raw.ssh_config,
        app_dir: raw.app_dir.trim_end_matches('/').to_string(),
        app_port: raw.app_port,
        health_url: raw.health_url,
        health_timeout_secs: raw.health_timeout_secs,
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
            health_url = "http://127.0.0.1/health"
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
            health_url = "http://127.0.0.1/health"
            "#,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("exactly one"));
    }

    #[test]
    fn a_registry_is_host_port_and_repo_without_a_tag() {
        let parse = |r: &str| {
            Targets::parse(&format!(
                "[target.x]\nhost = \"h\"\napp_dir = \"/a\"\napp_port = 80\nhealth_url = \"http://127.0.0.1/health\"\nregistry = \"{r}\"\n"
            ))
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
            health_url = "http://127.0.0.1/health"
            "#,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("absolute"));
    }
}
