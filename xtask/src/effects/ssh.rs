//! The SSH effect: run a script on a server, upload a file atomically with its mode set
//! before any byte lands, stream a local reader into a remote command. [`Remote`] is the
//! small trait the deploy code is written against; [`Ssh`] is the real thing (the `ssh`
//! CLI, so `~/.ssh/config` applies), [`RecordingRemote`] the fake for unit tests.
//!
//! Secret bytes only ever travel on stdin: command lines are visible in `ps` on both ends.

use anyhow::{Context, bail};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;

pub use super::process::Output;

impl Output {
    /// ssh exits 255 when the connection failed or broke (or the remote command did).
    pub fn ssh_failed(&self) -> bool {
        self.code == Some(255)
    }

    /// `Ok(self)` on exit 0, else an error naming `what` with the last stderr lines.
    pub fn check(self, what: &str) -> anyhow::Result<Output> {
        if self.success() {
            return Ok(self);
        }
        let code = self.code.map_or("a signal".to_string(), |c| c.to_string());
        let why = if self.ssh_failed() { " (ssh connection failed or broke)" } else { "" };
        let stderr = super::process::tail(&self.stderr, 5);
        let stderr = if stderr.trim().is_empty() { "(no output)".to_string() } else { stderr };
        bail!("{what}: exit {code}{why}: {stderr}")
    }
}

/// A server we can reach. Every method blocks until the remote side is done.
pub trait Remote {
    /// Run `script` with the server's login shell. Err only when ssh could not be started;
    /// a non-zero exit comes back in [`Output::code`]. The script is visible in `ps`: never
    /// put a secret in it.
    fn run(&self, script: &str) -> anyhow::Result<Output>;

    /// Write `data` to `path` atomically: under `umask 077` into a temp name beside it (so
    /// the file is 0600 before any byte arrives), `chmod mode`, then rename over `path`.
    /// The parent directory must exist.
    fn upload(&self, data: &mut dyn Read, path: &str, mode: u32) -> anyhow::Result<()>;

    /// Run `command` with `input` streamed to its stdin (e.g. `docker load`).
    fn stream_stdin(&self, command: &str, input: &mut dyn Read) -> anyhow::Result<Output>;

    /// [`Remote::run`], failing on a non-zero exit with `what` and the stderr tail.
    fn run_ok(&self, script: &str, what: &str) -> anyhow::Result<Output> {
        self.run(script)?.check(what)
    }
}

/// The script [`Remote::upload`] runs; the content arrives on its stdin.
pub fn upload_script(path: &str, mode: u32) -> String {
    let p = crate::plan::deploy::scripts::q(path);
    format!(
        "set -e; umask 077; tmp={p}.tmp.$$; trap 'rm -f \"$tmp\"' EXIT; cat > \"$tmp\"; chmod {mode:o} \"$tmp\"; mv -f \"$tmp\" {p}; trap - EXIT"
    )
}

/// Where and how to reach a server with the `ssh` CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ssh {
    /// Host name or `~/.ssh/config` alias.
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity: Option<PathBuf>,
    /// An ssh_config file (`ssh -F`); otherwise ssh reads `~/.ssh/config`.
    pub config: Option<PathBuf>,
    /// Seconds to wait for the TCP connection.
    pub connect_timeout: u32,
    /// An OpenSSH control socket: every call rides the one connection it holds.
    pub control: Option<PathBuf>,
}

impl Ssh {
    pub fn new(host: impl Into<String>) -> Ssh {
        Ssh { host: host.into(), connect_timeout: 10, ..Ssh::default() }
    }

    /// The ssh arguments before the remote command (no secrets here, by construction).
    pub fn args(&self) -> anyhow::Result<Vec<String>> {
        if self.host.is_empty() || self.host.starts_with('-') {
            bail!("invalid ssh host {:?}", self.host);
        }
        let mut a: Vec<String> = Vec::new();
        if let Some(f) = &self.config {
            a.extend(["-F".into(), f.display().to_string()]);
        }
        if let Some(c) = &self.control {
            // Never become a master here: a master started by a call whose output we read
            // would keep that output open.
            a.extend(["-o".into(), format!("ControlPath={}", c.display()), "-o".into(), "ControlMaster=no".into()]);
        }
        for opt in [
            "BatchMode=yes".to_string(),
            format!("ConnectTimeout={}", self.connect_timeout.max(1)),
            // A broken link fails the transfer in ~15 s instead of hanging forever.
            "ServerAliveInterval=5".into(),
            "ServerAliveCountMax=3".into(),
        ] {
            a.extend(["-o".into(), opt]);
        }
        if let Some(u) = &self.user {
            a.extend(["-l".into(), u.clone()]);
        }
        if let Some(p) = self.port {
            a.extend(["-p".into(), p.to_string()]);
        }
        if let Some(i) = &self.identity {
            a.extend(["-i".into(), i.display().to_string(), "-o".into(), "IdentitiesOnly=yes".into()]);
        }
        a.push(self.host.clone());
        Ok(a)
    }

    /// One connection for everything that follows: an OpenSSH master in a private temp dir,
    /// stopped when the returned [`Shared`] is dropped. If the master dies (a cut link), the
    /// calls still work: ssh falls back to a connection of its own each.
    pub fn share(&self) -> anyhow::Result<Shared> {
        let dir = tempfile::Builder::new().prefix("xtask-ssh-").tempdir().context("make the ssh control dir")?;
        let control = dir.path().join("cm");
        let mut master = self.clone();
        master.control = None;
        let mut args = master.args()?;
        let host = args.pop().context("ssh args end with the host")?;
        args.extend([
            "-o".into(),
            "ControlMaster=yes".into(),
            "-o".into(),
            format!("ControlPath={}", control.display()),
        ]);
        args.extend(["-o".into(), "ControlPersist=yes".into(), "-N".into(), "-f".into(), host]);
        let log = dir.path().join("master.log");
        let ok = super::process::detached_ok("ssh", &args, &log).context("start ssh (install openssh-client)")?;
        if !ok {
            bail!("cannot reach {}: {}", self.host, super::process::tail(&std::fs::read(&log).unwrap_or_default(), 4));
        }
        let ssh = Ssh { control: Some(control), ..self.clone() };
        Ok(Shared { ssh, _dir: dir })
    }

    /// The full ssh argument list for running `remote_command` on the server.
    fn argv(&self, remote_command: &str) -> anyhow::Result<Vec<String>> {
        let mut a = self.args()?;
        a.extend(["--".to_string(), remote_command.to_string()]);
        Ok(a)
    }
}

impl Remote for Ssh {
    fn run(&self, script: &str) -> anyhow::Result<Output> {
        super::process::cmd("ssh").args(self.argv(script)?).output().context("start ssh (install openssh-client)")
    }

    fn upload(&self, data: &mut dyn Read, path: &str, mode: u32) -> anyhow::Result<()> {
        self.stream_stdin(&upload_script(path, mode), data)?.check(&format!("upload {path} to {}", self.host))?;
        Ok(())
    }

    fn stream_stdin(&self, command: &str, input: &mut dyn Read) -> anyhow::Result<Output> {
        super::process::feed("ssh", &self.argv(command)?, input).context("send data over ssh")
    }
}

/// An [`Ssh`] sharing one connection (see [`Ssh::share`]).
pub struct Shared {
    pub ssh: Ssh,
    _dir: tempfile::TempDir,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let (Some(c), Ok(mut args)) = (&self.ssh.control, self.ssh.args()) {
            let host = args.pop().unwrap_or_default();
            args.extend(["-o".into(), format!("ControlPath={}", c.display()), "-O".into(), "exit".into(), host]);
            let _ = super::process::cmd("ssh").args(&args).output();
        }
    }
}

impl Remote for Shared {
    fn run(&self, script: &str) -> anyhow::Result<Output> {
        self.ssh.run(script)
    }
    fn upload(&self, data: &mut dyn Read, path: &str, mode: u32) -> anyhow::Result<()> {
        self.ssh.upload(data, path, mode)
    }
    fn stream_stdin(&self, command: &str, input: &mut dyn Read) -> anyhow::Result<Output> {
        self.ssh.stream_stdin(command, input)
    }
}

/// One call the fake saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Run { script: String },
    Upload { path: String, mode: u32, data: Vec<u8> },
    Stream { command: String, bytes: u64 },
}

type Responder = Box<dyn Fn(&Call) -> anyhow::Result<Output> + Send + Sync>;

/// A fake [`Remote`] that records every call and answers with a responder (default: exit 0,
/// no output). Uploaded bytes are kept so tests can assert on them; streamed ones counted.
pub struct RecordingRemote {
    calls: Mutex<Vec<Call>>,
    responder: Responder,
}

impl Default for RecordingRemote {
    fn default() -> Self {
        RecordingRemote::new(|_| Ok(Output::ok("")))
    }
}

impl RecordingRemote {
    pub fn new(responder: impl Fn(&Call) -> anyhow::Result<Output> + Send + Sync + 'static) -> Self {
        RecordingRemote { calls: Mutex::new(Vec::new()), responder: Box::new(responder) }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, call: Call) -> anyhow::Result<Output> {
        let out = (self.responder)(&call);
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
        out
    }
}

impl Remote for RecordingRemote {
    fn run(&self, script: &str) -> anyhow::Result<Output> {
        self.record(Call::Run { script: script.into() })
    }

    fn upload(&self, data: &mut dyn Read, path: &str, mode: u32) -> anyhow::Result<()> {
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes)?;
        self.record(Call::Upload { path: path.into(), mode, data: bytes })?.check(&format!("upload {path}"))?;
        Ok(())
    }

    fn stream_stdin(&self, command: &str, input: &mut dyn Read) -> anyhow::Result<Output> {
        let bytes = std::io::copy(input, &mut std::io::sink())?;
        self.record(Call::Stream { command: command.into(), bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_script_sets_umask_before_writing_and_renames() {
        let s = upload_script("/srv/app/.env production", 0o600);
        let umask = s.find("umask 077").unwrap_or(usize::MAX);
        let cat = s.find("cat >").unwrap_or(0);
        assert!(umask < cat, "{s}");
        assert!(s.contains("chmod 600"), "{s}");
        assert!(s.contains("mv -f \"$tmp\" '/srv/app/.env production'"), "{s}");
    }

    #[test]
    fn ssh_args_carry_options_and_refuse_option_like_hosts() -> anyhow::Result<()> {
        let mut ssh = Ssh::new("vps");
        ssh.port = Some(2222);
        ssh.user = Some("deploy".into());
        let a = ssh.args()?;
        assert!(a.windows(2).any(|w| w == ["-o", "BatchMode=yes"]));
        assert!(a.windows(2).any(|w| w == ["-p", "2222"]));
        assert_eq!(a.last().map(String::as_str), Some("vps"));
        assert!(Ssh::new("-oProxyCommand=x").args().is_err());
        Ok(())
    }

    #[test]
    fn fake_records_uploads_and_streams() -> anyhow::Result<()> {
        let fake = RecordingRemote::default();
        fake.upload(&mut &b"canary"[..], "/x/.env", 0o600)?;
        fake.stream_stdin("docker load", &mut &[0u8; 10][..])?;
        assert_eq!(
            fake.calls(),
            vec![
                Call::Upload { path: "/x/.env".into(), mode: 0o600, data: b"canary".to_vec() },
                Call::Stream { command: "docker load".into(), bytes: 10 },
            ]
        );
        Ok(())
    }

    #[test]
    fn fake_failure_surfaces_as_error_from_upload() {
        let fake = RecordingRemote::new(|_| Ok(Output { code: Some(255), ..Output::default() }));
        let err = fake.upload(&mut &b"x"[..], "/x", 0o600).err().map(|e| format!("{e:#}"));
        assert!(err.is_some_and(|e| e.contains("ssh connection failed")));
    }
}
