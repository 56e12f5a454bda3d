//! The few Docker engine calls build-image and verify-image need (BuildKit build with secret
//! mounts, inspect, export as a stream, remove), behind [`ImageEngine`] so the commands can be
//! unit-tested on a recording fake while the real-engine tests prove the bollard edge.

use anyhow::Context;
use bollard::Docker;
use bollard::grpc::build::{ImageBuildFrontendOptions, ImageBuildLoadInput, SecretSource};
use bollard::grpc::driver::Build;
use bollard::grpc::driver::moby::Moby;
use envfile::Secret;
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// One build through BuildKit. Plain data, so a fake can record it and a test can assert on it.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// `name:tag` given to the built image.
    pub tag: String,
    /// The build context as a gzipped tar with the `Dockerfile` at its root.
    pub context_tar_gz: Vec<u8>,
    /// BuildKit secrets by mount id (`RUN --mount=type=secret,id=<id>`); they never become
    /// build args, files in the context or labels.
    pub secrets: BTreeMap<String, Secret>,
    /// Plain build args. build-image never puts a secret here; tests use it to prove that a
    /// secret passed this way is caught in the history.
    pub build_args: BTreeMap<String, String>,
    /// Image labels (OCI annotations such as `org.opencontainers.image.revision`).
    pub labels: BTreeMap<String, String>,
}

/// What inspect tells us about an image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageInfo {
    pub id: String,
    pub size: u64,
    pub tags: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// The configured `USER` (empty: root).
    pub user: String,
    /// The layers' diff IDs, bottom first.
    pub layers: Vec<String>,
}

/// The engine operations the image commands use.
pub trait ImageEngine {
    /// Build through BuildKit; `progress` receives human-readable progress lines.
    fn build(&self, request: &BuildRequest, progress: &mut dyn FnMut(&str)) -> anyhow::Result<()>;
    /// `None` when no such image exists.
    fn inspect(&self, image: &str) -> anyhow::Result<Option<ImageInfo>>;
    /// The image as a `docker save` tar stream, read while the engine produces it (never
    /// written to disk as a whole).
    fn export(&self, image: &str) -> anyhow::Result<Box<dyn Read + Send>>;
    /// Remove the tag (and the image when nothing else refers to it).
    fn remove(&self, image: &str) -> anyhow::Result<()>;
}

/// The real engine through bollard. It owns a small runtime because the commands are
/// synchronous and only these calls are async.
pub struct BollardEngine {
    docker: Docker,
    rt: &'static tokio::runtime::Runtime,
}

impl BollardEngine {
    pub fn new(docker: Docker) -> anyhow::Result<BollardEngine> {
        Ok(BollardEngine { docker, rt: super::runtime::get()? })
    }

    /// The engine on a UNIX socket (the test rigs' engines), speaking API 1.41.
    pub fn at_socket(socket: &Path) -> anyhow::Result<BollardEngine> {
        BollardEngine::new(client_for(socket)?)
    }

    /// The client inside, for the rigs' own calls (base image import, teardown).
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    /// The engine `DOCKER_HOST` points at (or the default local socket).
    pub fn from_env() -> anyhow::Result<BollardEngine> {
        let docker = Docker::connect_with_defaults().context(
            "connect to the docker engine (set DOCKER_HOST, or start one: `cargo xtask test` starts a private engine)",
        )?;
        let engine = BollardEngine::new(docker)?;
        // Debian's Docker 20.10 rejects clients newer than API 1.41: speak what it speaks.
        let docker = engine
            .rt
            .block_on(engine.docker.clone().negotiate_version())
            .context("reach the docker engine (is DOCKER_HOST right and the daemon running?)")?;
        Ok(BollardEngine { docker, rt: engine.rt })
    }

    /// Tag `image` as `reference` (`HOST[:PORT]/REPO:TAG`) and push it. `credentials` is
    /// `None` for an open registry; it is handed to bollard only, never formatted.
    pub fn push(
        &self,
        image: &str,
        reference: &str,
        credentials: Option<bollard::auth::DockerCredentials>,
        progress: &mut dyn FnMut(&str),
    ) -> anyhow::Result<()> {
        let (repo, tag) = reference
            .rsplit_once(':')
            .filter(|(_, t)| !t.contains('/'))
            .with_context(|| format!("registry reference {reference} has no tag"))?;
        let opts = bollard::query_parameters::TagImageOptionsBuilder::default().repo(repo).tag(tag).build();
        self.rt
            .block_on(self.docker.tag_image(image, Some(opts)))
            .with_context(|| format!("tag {image} as {reference}"))?;
        let opts = bollard::query_parameters::PushImageOptionsBuilder::default().tag(tag).build();
        self.rt.block_on(async {
            let mut stream = self.docker.push_image(repo, Some(opts), credentials);
            let mut last = String::new();
            while let Some(item) = stream.next().await {
                let item = item.with_context(|| format!("push {reference}"))?;
                // The engine reports a failed push inside the stream, not as an HTTP error.
                if let Some(err) = item.error_detail.and_then(|e| e.message) {
                    anyhow::bail!("push {reference}: {err}");
                }
                if let Some(status) = item.status.filter(|s| *s != last) {
                    if item.progress_detail.is_none_or(|p| p.total.is_none()) {
                        progress(&format!("push: {status}"));
                    }
                    last = status;
                }
            }
            Ok(())
        })
    }
}

impl BollardEngine {
    /// Create a Swarm secret (this engine must be a swarm manager). The value goes to the
    /// engine API only; errors never echo it.
    pub fn create_secret(&self, name: &str, labels: BTreeMap<String, String>, value: &Secret) -> anyhow::Result<()> {
        use base64::Engine as _;
        let spec = bollard::models::SecretSpec {
            name: Some(name.to_string()),
            labels: Some(labels.into_iter().collect()),
            data: Some(base64::engine::general_purpose::STANDARD.encode(value.expose())),
            ..Default::default()
        };
        self.rt.block_on(self.docker.create_secret(spec)).map(|_| ()).map_err(|e| swarm_error(e, name))
    }
}

/// Engine errors carry no value (the request body is not echoed); add what to do next.
fn swarm_error(e: bollard::errors::Error, name: &str) -> anyhow::Error {
    use bollard::errors::Error::DockerResponseServerError;
    match e {
        DockerResponseServerError { status_code: 503, message } => anyhow::anyhow!(
            "create swarm secret {name}: {message}: this engine is not a swarm manager; run \
             `docker swarm init` on the manager (or point DOCKER_HOST at it), or use \
             `--to k8s`, or `--dry-run` to see the plan"
        ),
        DockerResponseServerError { status_code: 409, .. } => anyhow::anyhow!(
            "swarm secret {name} already exists: swarm secrets are immutable; export under a new \
             --name (e.g. with a date) and point the stack at it, then `docker secret rm` the old one"
        ),
        other => anyhow::Error::new(other).context(format!("create swarm secret {name}")),
    }
}

/// Docker 20.10 (Debian's docker.io) speaks API 1.41 and rejects newer clients; newer
/// engines still accept 1.41.
pub const API_VERSION: bollard::ClientVersion = bollard::ClientVersion { major_version: 1, minor_version: 41 };

/// A client for the engine on `socket`, speaking [`API_VERSION`]. The one place a
/// connection to an engine is made from a socket path.
pub fn client_for(socket: &Path) -> anyhow::Result<Docker> {
    let path = socket.to_str().context("engine socket path is not UTF-8")?;
    Docker::connect_with_unix(path, 300, &API_VERSION).with_context(|| format!("connect to {}", socket.display()))
}

/// Write each secret to its own 0600 temp file that lives only for the build: BuildKit reads
/// secret sources from files or the builder's process env, and we never mutate the latter.
fn secret_files(secrets: &BTreeMap<String, Secret>) -> anyhow::Result<Vec<(String, tempfile::NamedTempFile)>> {
    let mut files = Vec::new();
    for (id, value) in secrets {
        // NamedTempFile is created 0600 on unix and deleted when dropped.
        let mut file = tempfile::Builder::new()
            .prefix("xtask-build-secret-")
            .tempfile()
            .with_context(|| format!("create the temp file for build secret {id}"))?;
        file.write_all(value.expose().as_bytes()).with_context(|| format!("write build secret {id}"))?;
        file.flush()?;
        files.push((id.clone(), file));
    }
    Ok(files)
}

impl ImageEngine for BollardEngine {
    fn build(&self, request: &BuildRequest, progress: &mut dyn FnMut(&str)) -> anyhow::Result<()> {
        let files = secret_files(&request.secrets)?;
        let mut opts = ImageBuildFrontendOptions::builder();
        for (id, file) in &files {
            opts = opts.set_secret(id, &SecretSource::File(file.path().to_path_buf()));
        }
        for (k, v) in &request.build_args {
            opts = opts.buildarg(k, v);
        }
        for (k, v) in &request.labels {
            opts = opts.label(k, v);
        }
        progress(&format!(
            "buildkit: solving {} ({} secret mount(s), context {} KiB)",
            request.tag,
            files.len(),
            request.context_tar_gz.len() / 1024
        ));
        let driver = Moby::new(&self.docker);
        let input = ImageBuildLoadInput::Upload(bytes::Bytes::from(request.context_tar_gz.clone()));
        // bollard's BuildKit driver returns only when the solve ends (it exposes no status
        // stream), so progress is a heartbeat with the elapsed time.
        let start = std::time::Instant::now();
        let result = self.rt.block_on(async {
            let build = driver.docker_build(&request.tag, opts.build(), input, None, None);
            tokio::pin!(build);
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
            tick.tick().await;
            loop {
                tokio::select! {
                    r = &mut build => break r,
                    _ = tick.tick() => progress(&format!("buildkit: building {} ({}s)", request.tag, start.elapsed().as_secs())),
                }
            }
        });
        // The secret files go away here, success or not.
        drop(files);
        result.map_err(|e| anyhow::anyhow!("{e}")).context("buildkit build failed")?;
        progress(&format!("buildkit: built {}", request.tag));
        Ok(())
    }

    fn inspect(&self, image: &str) -> anyhow::Result<Option<ImageInfo>> {
        match self.rt.block_on(self.docker.inspect_image(image)) {
            Ok(i) => Ok(Some(ImageInfo {
                id: i.id.unwrap_or_default(),
                size: i.size.unwrap_or(0).max(0) as u64,
                tags: i.repo_tags.unwrap_or_default(),
                user: i.config.as_ref().and_then(|c| c.user.clone()).unwrap_or_default(),
                layers: i.root_fs.and_then(|r| r.layers).unwrap_or_default(),
                labels: i.config.and_then(|c| c.labels).map(|l| l.into_iter().collect()).unwrap_or_default(),
            })),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("inspect image {image}")),
        }
    }

    fn export(&self, image: &str) -> anyhow::Result<Box<dyn Read + Send>> {
        // A bounded channel gives back-pressure: the engine is read only as fast as the
        // scanner consumes, so the export never piles up in memory or on disk.
        let (tx, rx) = mpsc::sync_channel::<std::io::Result<bytes::Bytes>>(16);
        let docker = self.docker.clone();
        let name = image.to_string();
        self.rt.spawn(async move {
            let mut stream = docker.export_image(&name);
            while let Some(chunk) = stream.next().await {
                let item = chunk.map_err(|e| std::io::Error::other(format!("export image {name}: {e}")));
                let stop = item.is_err();
                // Blocking send on a runtime worker is acceptable here: the reader drains
                // concurrently on its own thread.
                if tokio::task::block_in_place(|| tx.send(item)).is_err() || stop {
                    break;
                }
            }
        });
        Ok(Box::new(ChannelReader { rx, current: bytes::Bytes::new() }))
    }

    fn remove(&self, image: &str) -> anyhow::Result<()> {
        let opts = bollard::query_parameters::RemoveImageOptionsBuilder::default().force(true).build();
        self.rt
            .block_on(self.docker.remove_image(image, Some(opts), None))
            .with_context(|| format!("remove image {image}"))?;
        Ok(())
    }
}

/// `Read` over chunks arriving on a channel from the async export task.
struct ChannelReader {
    rx: mpsc::Receiver<std::io::Result<bytes::Bytes>>,
    current: bytes::Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => self.current = chunk,
                Ok(Err(e)) => return Err(e),
                // Sender gone: the stream ended.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// One call the fake saw, secrets reduced to their ids so a test can prove they came through
/// the secret channel without holding their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Build { tag: String, secret_ids: Vec<String>, build_args: Vec<String>, labels: Vec<String> },
    Inspect(String),
    Export(String),
    Remove(String),
}

/// A recording fake: records every call; `export` serves a prepared tar.
#[derive(Default, Clone)]
pub struct FakeEngine {
    pub calls: Arc<Mutex<Vec<Call>>>,
    /// What `export` returns (a `docker save` tar).
    pub export_tar: Arc<Vec<u8>>,
    /// What `inspect` returns after a build.
    pub info: Option<ImageInfo>,
    /// Make `build` fail, to test cleanup paths.
    pub fail_build: bool,
}

impl FakeEngine {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("fake engine lock").clone()
    }
    fn record(&self, call: Call) {
        self.calls.lock().expect("fake engine lock").push(call);
    }
}

impl ImageEngine for FakeEngine {
    fn build(&self, r: &BuildRequest, progress: &mut dyn FnMut(&str)) -> anyhow::Result<()> {
        self.record(Call::Build {
            tag: r.tag.clone(),
            secret_ids: r.secrets.keys().cloned().collect(),
            build_args: r.build_args.keys().cloned().collect(),
            labels: r.labels.keys().cloned().collect(),
        });
        progress("fake: build");
        if self.fail_build {
            anyhow::bail!("fake build failure");
        }
        Ok(())
    }
    fn inspect(&self, image: &str) -> anyhow::Result<Option<ImageInfo>> {
        self.record(Call::Inspect(image.to_string()));
        Ok(self.info.clone())
    }
    fn export(&self, image: &str) -> anyhow::Result<Box<dyn Read + Send>> {
        self.record(Call::Export(image.to_string()));
        Ok(Box::new(std::io::Cursor::new(self.export_tar.as_ref().clone())))
    }
    fn remove(&self, image: &str) -> anyhow::Result<()> {
        self.record(Call::Remove(image.to_string()));
        Ok(())
    }
}

/// A gzipped tar of `(path, mode, bytes)` entries: the build context BuildKit uploads.
pub fn context_tar_gz(entries: &[(String, u32, Vec<u8>)]) -> anyhow::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (path, mode, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, data.as_slice())
            .with_context(|| format!("add {path} to the build context"))?;
    }
    let gz = tar.into_inner().context("finish the build context tar")?;
    gz.finish().context("compress the build context")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_private_and_deleted_after_use() {
        use std::os::unix::fs::PermissionsExt;
        let mut secrets = BTreeMap::new();
        secrets.insert("npm_token".to_string(), Secret::new("canary-npm-0123456789abcdef"));
        let files = secret_files(&secrets).unwrap();
        let path = files[0].1.path().to_path_buf();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "canary-npm-0123456789abcdef");
        drop(files);
        assert!(!path.exists(), "secret file must be gone after the build");
    }

    #[test]
    fn context_tar_holds_exactly_the_given_entries() {
        let gz = context_tar_gz(&[
            ("Dockerfile".into(), 0o644, b"FROM scratch\n".to_vec()),
            ("public/index.html".into(), 0o644, b"<html>".to_vec()),
        ])
        .unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz.as_slice()));
        let names: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, ["Dockerfile", "public/index.html"]);
    }

    #[test]
    fn channel_reader_concatenates_chunks() {
        let (tx, rx) = mpsc::sync_channel(4);
        tx.send(Ok(bytes::Bytes::from_static(b"hello "))).unwrap();
        tx.send(Ok(bytes::Bytes::from_static(b"world"))).unwrap();
        drop(tx);
        let mut out = String::new();
        ChannelReader { rx, current: bytes::Bytes::new() }.read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world");
    }
}
