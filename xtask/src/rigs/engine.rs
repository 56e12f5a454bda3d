//! The Docker engine that tests and the demo run against: `XTASK_DOCKER_HOST` when it
//! answers, else a private `dockerd` under `<root>/target/engine/`, started (and installed,
//! when root) on first use and left running for the next test process to reuse.

pub mod base_image;
pub mod dockerd;
pub mod provision;

use anyhow::{Context, bail};
use bollard::Docker;
use dockerd::Dockerd;
use provision::FileLock;
use std::path::{Path, PathBuf};

/// Environment variable naming an engine to use instead of the private one (`unix://` only).
pub const DOCKER_HOST_VAR: &str = "XTASK_DOCKER_HOST";

/// The base image the reference Dockerfile, the test suite and the demo build on. No registry
/// is reachable from these machines, so it is made locally from Debian's busybox-static
/// (see [`base_image`]) instead of pulled.
pub const BASE_IMAGE: &str = "busybox:1.36";

pub use crate::effects::docker::{API_VERSION, client_for};

/// A Docker engine that answered a ping.
#[derive(Debug, Clone)]
pub struct Engine {
    socket: PathBuf,
    /// Our own daemon (None when `XTASK_DOCKER_HOST` named someone else's).
    private: Option<Dockerd>,
    /// Whether this call started the daemon (it was not answering before).
    started: bool,
}

impl Engine {
    /// The engine for this workspace (see the module doc). Safe to call from many test
    /// processes at once: a file lock lets exactly one of them start the daemon.
    pub fn ensure() -> anyhow::Result<Engine> {
        Engine::ensure_in(&workspace_root())
    }

    /// Like [`Engine::ensure`] with the private engine under `<root>/target/engine/`.
    pub fn ensure_in(root: &Path) -> anyhow::Result<Engine> {
        if let Some(socket) = configured_socket()? {
            if dockerd::ping(&socket) {
                return Ok(Engine { socket, private: None, started: false });
            }
            eprintln!("infra: {DOCKER_HOST_VAR}={} does not answer; using the private engine", socket.display());
        }
        let daemon = private_daemon(root);
        if daemon.answers() && daemon.bridge_present() {
            return Ok(Engine { socket: daemon.socket(), private: Some(daemon), started: false });
        }
        let _lock = FileLock::exclusive(&daemon.state_dir.join("lock"))?;
        // Another process may have started it while we waited for the lock. A daemon that
        // answered before (even one restarted below for a lost bridge) was not started here.
        let answered = daemon.answers();
        if answered && !daemon.bridge_present() {
            eprintln!("infra: the private engine's bridge is gone; restarting the engine");
            daemon.stop();
        }
        if !daemon.answers() {
            if provision::find_program("dockerd").is_none() {
                provision::apt_install(&["docker.io"], "the test Docker engine")?;
            }
            eprintln!("infra: starting a private dockerd under {}", daemon.state_dir.display());
            let pid = daemon.start().context("start the private Docker engine")?;
            eprintln!("infra: dockerd up (pid {pid}, socket {})", daemon.socket().display());
        }
        Ok(Engine { socket: daemon.socket(), private: Some(daemon), started: !answered })
    }

    /// Stop the private engine of `root` if it runs (the PID it recorded, checked to be
    /// that daemon). Returns whether one was stopped.
    pub fn stop_private(root: &Path) -> anyhow::Result<bool> {
        let daemon = private_daemon(root);
        let _lock = FileLock::exclusive(&daemon.state_dir.join("lock"))?;
        Ok(daemon.stop())
    }

    /// `unix:///…/docker.sock`, for `DOCKER_HOST` / `XTASK_DOCKER_HOST` of a child process.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Whether [`Engine::ensure_in`] started the private daemon, so a caller that records
    /// what it started can stop only its own.
    pub fn started_here(&self) -> bool {
        self.started
    }

    /// Whether this is our private daemon (not one named by `XTASK_DOCKER_HOST`).
    pub fn is_private(&self) -> bool {
        self.private.is_some()
    }

    /// Make [`BASE_IMAGE`] for a build when the engine lacks it. On the private engine it is
    /// always ours (made or checked); on an engine the user named through [`DOCKER_HOST_VAR`]
    /// an existing `busybox:1.36`, perhaps a real pulled one, is left alone. Returns whether
    /// the image was made.
    pub fn ensure_build_base(&self) -> anyhow::Result<bool> {
        if !self.is_private() {
            let docker = self.client()?;
            let present = block_on(async { Ok(docker.inspect_image(BASE_IMAGE).await.is_ok()) })?;
            if present {
                return Ok(false);
            }
        }
        self.ensure_base_image(BASE_IMAGE)?;
        Ok(true)
    }

    /// A bollard client for this engine (API 1.41, see [`API_VERSION`]).
    pub fn client(&self) -> anyhow::Result<Docker> {
        client_for(&self.socket)
    }

    /// Make sure `reference` (e.g. `busybox:1.36`) exists as the local busybox-static image;
    /// returns its ID. Blocking; usable inside or outside a tokio runtime.
    pub fn ensure_base_image(&self, reference: &str) -> anyhow::Result<String> {
        ensure_base_image_at(&self.socket, reference)
    }
}

/// The base-image import against any engine socket (the sandbox's too).
pub fn ensure_base_image_at(socket: &Path, reference: &str) -> anyhow::Result<String> {
    block_on(async {
        let docker = client_for(socket)?;
        base_image::ensure(&docker, reference).await
    })
    .with_context(|| format!("make the local base image {reference} on {}", socket.display()))
}

/// A stand-in image of `kind` under `reference` on any engine socket.
pub fn ensure_image_at(socket: &Path, reference: &str, kind: base_image::Kind) -> anyhow::Result<String> {
    block_on(async {
        let docker = client_for(socket)?;
        base_image::ensure_kind(&docker, reference, kind).await
    })
    .with_context(|| format!("make the local stand-in image {reference} on {}", socket.display()))
}

pub use crate::effects::runtime::block_on;

/// `XTASK_DOCKER_HOST` as a socket path, if set.
fn configured_socket() -> anyhow::Result<Option<PathBuf>> {
    match std::env::var(DOCKER_HOST_VAR) {
        Ok(v) if !v.is_empty() => match v.strip_prefix("unix://") {
            Some(path) => Ok(Some(PathBuf::from(path))),
            None => bail!("{DOCKER_HOST_VAR}={v}: only unix:// sockets are supported"),
        },
        _ => Ok(None),
    }
}

/// Address ranges of the private engine: its own bridge and its own pool for compose
/// networks, so it coexists with any other engine on this host.
fn private_daemon(root: &Path) -> Dockerd {
    Dockerd {
        state_dir: root.join("target/engine"),
        prefix: Vec::new(),
        extra_args: vec!["--default-address-pool".into(), "base=10.204.0.0/16,size=24".into()],
        bridge: Some(bridge_for(root)),
    }
}

/// A bridge name and subnet derived from the checkout, so two checkouts' private engines
/// on one machine never share (or delete) each other's bridge.
fn bridge_for(root: &Path) -> (String, String) {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(root.as_os_str().as_encoded_bytes());
    (format!("xt{:02x}{:02x}{:02x}", h[0], h[1], h[2]), format!("10.203.{}.1/24", h[3]))
}

/// The workspace this xtask was built from (same rule as `Global::root` without a flag).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}
