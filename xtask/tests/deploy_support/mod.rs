//! Shared fixture of the deploy tests: the real engine, the sandbox VPS, small test images
//! built through BuildKit, a fixture project whose target is the sandbox, and a canary env file.

#![allow(dead_code)]

use anyhow::Context;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use xtask::effects::docker::{BollardEngine, BuildRequest, ImageEngine, context_tar_gz};
use xtask::effects::ssh::Remote;
use xtask::rigs::engine::Engine;
use xtask::rigs::sandbox::{Sandbox, VPS_IP};

pub struct Fixture {
    pub engine: Engine,
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
    pub app_dir: String,
    /// The target's compose project prefix (`t<name>`).
    pub project: String,
    pub port: u16,
    /// Every secret value of the fixture's env file and secret files.
    pub secrets: Vec<String>,
}

/// The secret-plane values of an env file (and the project's secrets/*.txt).
pub fn secret_values(root: &Path, env_file: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = secret_env_values(root, env_file)?;
    if let Ok(rd) = std::fs::read_dir(root.join("secrets")) {
        for e in rd.flatten() {
            out.push(std::fs::read_to_string(e.path())?.trim().to_string());
        }
    }
    Ok(out)
}

/// The secret-plane values (8 bytes or more) of an env file, by the project's schema.
pub fn secret_env_values(root: &Path, env_file: &Path) -> anyhow::Result<Vec<String>> {
    let schema = envfile::Schema::load(&root.join("deploy/env.schema.toml")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = std::fs::read_to_string(env_file).with_context(|| format!("read {}", env_file.display()))?;
    Ok(envfile::compose::parse(&text, &|_| None)?
        .into_iter()
        .filter(|e| schema.get(&e.key).is_some_and(|v| v.plane.is_secret()) && e.value.len() >= 8)
        .map(|e| e.value)
        .collect())
}

/// A test image: busybox httpd serving `/health` and a page naming `variant`; `healthy =
/// false` makes one that prints its env (with a secret) and exits, so its health gate fails.
pub fn image(engine: &Engine, variant: &str, healthy: bool, pad_mb: u32) -> anyhow::Result<String> {
    let cmd = if healthy {
        r#"CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]"#
    } else {
        r#"CMD ["sh", "-c", "echo starting with JWT_SECRET=$JWT_SECRET; echo fatal: cannot start; exit 3"]"#
    };
    build_image(engine, variant, cmd, pad_mb)
}

/// A test image whose app takes `secs` to answer (a slow start the gate must wait out).
pub fn slow_image(engine: &Engine, variant: &str, secs: u32) -> anyhow::Result<String> {
    build_image(engine, variant, &format!(r#"CMD ["sh", "-c", "sleep {secs}; exec httpd -f -p 8080 -h /www"]"#), 0)
}

/// An image of one small layer on top of `base` (a page naming `variant`): a code change.
pub fn derived_image(engine: &Engine, base: &str, variant: &str) -> anyhow::Result<String> {
    let dockerfile = format!(
        "FROM {base}\nUSER root\nRUN echo '<p id=\"status\">variant {variant}</p>' > /www/index.html\nUSER 10001:10001\n"
    );
    build_tag(engine, variant, &dockerfile)
}

fn build_image(engine: &Engine, variant: &str, cmd: &str, pad_mb: u32) -> anyhow::Result<String> {
    engine.ensure_base_image("busybox:1.36")?;
    let pad = if pad_mb > 0 { format!("RUN head -c {}000000 /dev/urandom > /pad\n", pad_mb) } else { String::new() };
    let dockerfile = format!(
        "FROM busybox:1.36\n{pad}RUN mkdir -p /www && echo ok > /www/health && echo '<p id=\"status\">variant {variant}</p>' > /www/index.html\nUSER 10001:10001\n{cmd}\n"
    );
    build_tag(engine, variant, &dockerfile)
}

/// Build `xtask-deploy-test:<variant>` from `dockerfile` unless the engine has it.
fn build_tag(engine: &Engine, variant: &str, dockerfile: &str) -> anyhow::Result<String> {
    let tag = format!("xtask-deploy-test:{variant}");
    let images = BollardEngine::new(engine.client()?)?;
    if images.inspect(&tag)?.is_some() {
        return Ok(tag);
    }
    let request = BuildRequest {
        tag: tag.clone(),
        context_tar_gz: context_tar_gz(&[("Dockerfile".into(), 0o644, dockerfile.as_bytes().to_vec())])?,
        ..BuildRequest::default()
    };
    images.build(&request, &mut |_| {}).with_context(|| format!("build {tag}"))?;
    Ok(tag)
}

impl Fixture {
    /// A fixture project in a temp dir whose `sandbox` target has its own app dir, port and
    /// Compose project, so tests sharing the sandbox do not meet.
    pub fn new(name: &str, port: u16) -> anyhow::Result<Fixture> {
        Fixture::with_target(name, port, port + 100, "")
    }

    /// A fixture whose target listens on `https_port` / `http_port` and has the extra
    /// `targets.toml` lines `extra` (host names, ACME settings).
    pub fn with_target(name: &str, port: u16, http_port: u16, extra: &str) -> anyhow::Result<Fixture> {
        let engine = Engine::ensure()?;
        let sandbox = Sandbox::ensure_in(&sandbox_root())?;
        let dir = tempfile::tempdir()?;
        let root = xtask::rigs::engine::workspace_root();
        std::fs::create_dir_all(dir.path().join("deploy"))?;
        for f in ["deploy/env.schema.toml", "deploy/compose.template.yml", "deploy/leakscan-allow.toml"] {
            std::fs::copy(root.join(f), dir.path().join(f)).with_context(|| format!("copy {f}"))?;
        }
        let app_dir = format!("/srv/test-{name}");
        // Its own proxy ports, project and app dir, so tests sharing the sandbox do not meet;
        // no host names: the proxy's internal CA, for the VPS's address.
        std::fs::write(
            dir.path().join("deploy/targets.toml"),
            format!(
                "default = \"sandbox\"\n[target.sandbox]\nssh_alias = \"vps\"\nssh_config = \"{}\"\naddress = \"{VPS_IP}\"\n\
                 app_dir = \"{app_dir}\"\napp_port = 8080\nhealth_path = \"/health\"\nhealth_timeout_secs = 20\n\
                 drain_secs = 1\nkeep_releases = 2\nproject = \"t{name}\"\nhttps_port = {port}\nhttp_port = {}\n\
                 environment = \"dev\"\n{extra}",
                sandbox.ssh_config().display(),
                http_port
            ),
        )?;
        // Throwaway secrets from the project's own generator, so the env file passes verify-env;
        // every secret value it holds is a canary no output may contain.
        // Throwaway values are refused in production: the fixture deploys dev.
        let env_file = dir.path().join(".env.dev");
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("--project-dir")
            .arg(dir.path())
            .args(["secrets", "gen", "--throwaway", "--env", "dev", "--env-file"])
            .arg(&env_file)
            .output()?;
        anyhow::ensure!(out.status.success(), "secrets gen: {}", String::from_utf8_lossy(&out.stderr));
        let secrets = secret_values(dir.path(), &env_file)?;
        anyhow::ensure!(secrets.len() >= 4, "expected generated secrets, got {}", secrets.len());
        let f = Fixture { engine, sandbox, dir, app_dir, project: format!("t{name}"), port, secrets };
        f.remove_all_on_server()?;
        Ok(f)
    }

    /// Remove everything the fixture's target runs on the server (slots, proxy, volumes, the
    /// edge network, the app dir): for a test holding ports others need after it.
    pub fn remove_all_on_server(&self) -> anyhow::Result<()> {
        let script = xtask::plan::deploy::scripts::remove_target(&self.app_dir, &self.project);
        self.sandbox.ssh().run(&script)?.check("remove the fixture's target on the sandbox")?;
        Ok(())
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.arg("--project-dir").arg(self.dir.path()).args(args);
        c.env("DOCKER_HOST", self.engine.docker_host()).env("NO_COLOR", "1");
        c
    }

    /// Run `xtask ARGS`, returning the output; panics if a secret value shows in it.
    pub fn xtask(&self, args: &[&str]) -> anyhow::Result<Output> {
        let out = self.command(args).output()?;
        self.assert_clean(&text(&out));
        Ok(out)
    }

    /// No secret value of the fixture in `output`.
    pub fn assert_clean(&self, output: &str) {
        for s in &self.secrets {
            assert!(!output.contains(s.as_str()), "a secret value leaked into the output:\n{output}");
        }
    }

    /// The generated JWT_SECRET (the broken test image prints it).
    pub fn jwt_secret(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join(".env.dev")).unwrap_or_default();
        text.lines().find_map(|l| l.strip_prefix("JWT_SECRET=")).unwrap_or_default().trim_matches('\'').to_string()
    }

    pub fn ssh(&self, script: &str) -> anyhow::Result<String> {
        let out = self.sandbox.ssh().run(script)?;
        Ok(out.stdout_text().trim().to_string())
    }

    /// The public HTTPS URL of the fixture's target.
    pub fn url(&self) -> String {
        format!("https://{VPS_IP}:{}/", self.port)
    }

    /// The internal CA root the deploy copied from the proxy (what verifies the URL).
    pub fn ca_root(&self) -> PathBuf {
        self.root().join("target/deploy/sandbox/internal-ca.pem")
    }

    /// The page the app serves, fetched from the host over HTTPS like a visitor would, the
    /// certificate checked against the proxy's CA.
    pub fn page(&self) -> String {
        let out =
            Command::new("curl").arg("-fsS").args(["-m", "5", "--cacert"]).arg(self.ca_root()).arg(self.url()).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    }

    /// A bounded request loop against the public URL (see [`Load`]).
    pub fn load(&self) -> Load {
        Load::start(self.url(), self.ca_root())
    }

    /// Remove an image from the server's engine by ID (every tag), so the next deploy sends it.
    pub fn remove_on_server(&self, tag: &str) -> anyhow::Result<()> {
        let images = BollardEngine::new(self.engine.client()?)?;
        let id = images.inspect(tag)?.context("local image")?.id;
        self.ssh(&format!("docker rmi -f {id} >/dev/null 2>&1; true"))?;
        Ok(())
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A deploy running in the background whose stderr lines are collected as they come.
pub struct Running {
    pub child: Child,
    pub lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn start(mut cmd: Command) -> anyhow::Result<Running> {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let stderr = child.stderr.take().context("stderr")?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l2 = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(line);
            }
        });
        Ok(Running { child, lines, reader: Some(reader) })
    }

    /// Wait (up to `secs`) until a stderr line contains `needle`.
    pub fn wait_for(&self, needle: &str, secs: u64) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if self.lines.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    }

    pub fn finish(mut self) -> anyhow::Result<(i32, String)> {
        let mut stdout = String::new();
        if let Some(mut s) = self.child.stdout.take() {
            std::io::Read::read_to_string(&mut s, &mut stdout)?;
        }
        let status = self.child.wait()?;
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let stderr = self.lines.lock().unwrap().join("\n");
        Ok((status.code().unwrap_or(-1), format!("{stdout}{stderr}")))
    }
}

/// Whose sandbox to use: this workspace's, unless XTASK_SANDBOX_ROOT names another checkout
/// whose sandbox is already up (only one sandbox fits on a machine: the netns name is fixed).
pub fn sandbox_root() -> PathBuf {
    std::env::var_os("XTASK_SANDBOX_ROOT").map(PathBuf::from).unwrap_or_else(workspace)
}

pub fn workspace() -> PathBuf {
    xtask::rigs::engine::workspace_root()
}

/// Requests to a URL every 20 ms from a thread, one fresh `curl` (new TCP and TLS) each,
/// until stopped, 5000 requests or 240 s, whichever comes first: a bounded loop that counts
/// every answer that is not a 200.
pub struct Load {
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<LoadResult>>,
}

#[derive(Debug, Default)]
pub struct LoadResult {
    pub total: usize,
    pub failed: usize,
    /// The first few failures: the status (or curl's error) and when.
    pub failures: Vec<String>,
}

impl Load {
    pub fn start(url: String, ca: PathBuf) -> Load {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let mut r = LoadResult::default();
            while !flag.load(std::sync::atomic::Ordering::SeqCst)
                && r.total < 5000
                && start.elapsed() < std::time::Duration::from_secs(240)
            {
                let out = Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "5", "--cacert"])
                    .arg(&ca)
                    .arg(&url)
                    .output();
                r.total += 1;
                let code = out.as_ref().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
                if code != "200" {
                    r.failed += 1;
                    if r.failures.len() < 10 {
                        let err = out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).unwrap_or_default();
                        r.failures.push(format!("{:.1}s: {code} {err}", start.elapsed().as_secs_f64()));
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r
        });
        Load { stop, handle: Some(handle) }
    }

    /// Stop the loop and return what it saw.
    pub fn finish(mut self) -> LoadResult {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.handle.take().and_then(|h| h.join().ok()).unwrap_or_default()
    }
}
