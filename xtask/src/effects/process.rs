//! Child processes, two ways with one job each. xshell runs a short command to completion
//! (arguments passed as a list, never through a shell string) and hands back what it printed:
//! git, apt-get, ip, chromium, ssh running a script. duct runs what xshell cannot: a stream fed
//! to a child's stdin (`docker save | ssh docker load`), a child whose whole environment we set
//! (the frontend build sees public values only), output passed straight through to ours while
//! it runs (cargo, npm, a nested xtask), and a daemon left running (dockerd). The crate uses
//! no third process API: no `std::process::Command` outside tests.

use anyhow::Context;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::Path;

/// What a finished child left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn ok(stdout: impl Into<Vec<u8>>) -> Output {
        Output { code: Some(0), stdout: stdout.into(), stderr: Vec::new() }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    fn from_std(o: std::process::Output) -> Output {
        Output { code: o.status.code(), stdout: o.stdout, stderr: o.stderr }
    }
}

/// A command to run to completion through xshell.
pub struct Run {
    program: OsString,
    args: Vec<OsString>,
    dir: Option<std::path::PathBuf>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    secret: bool,
}

/// `program args...`, run without a shell.
pub fn cmd(program: impl AsRef<OsStr>) -> Run {
    Run {
        program: program.as_ref().to_owned(),
        args: Vec::new(),
        dir: None,
        env: Vec::new(),
        stdin: None,
        secret: false,
    }
}

impl Run {
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Run {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Run {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn dir(mut self, dir: impl AsRef<Path>) -> Run {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Run {
        self.env.push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }

    /// Bytes for the child's stdin (default: none, stdin closed).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Run {
        self.stdin = Some(bytes.into());
        self
    }

    /// The command line carries a secret: xshell never echoes it.
    pub fn secret(mut self) -> Run {
        self.secret = true;
        self
    }

    fn name(&self) -> String {
        Path::new(&self.program).display().to_string()
    }

    /// Run to completion and return what it printed, whatever its exit code. Err only when
    /// the program could not be started.
    pub fn output(self) -> anyhow::Result<Output> {
        let name = self.name();
        let sh = xshell::Shell::new().context("start a shell context")?;
        if let Some(dir) = &self.dir {
            sh.change_dir(dir);
        }
        let mut c = sh.cmd(&self.program).args(&self.args).quiet().ignore_status();
        for (k, v) in &self.env {
            c = c.env(k, v);
        }
        if let Some(input) = self.stdin {
            c = c.stdin(input);
        }
        if self.secret {
            c = c.secret();
        }
        let out = c.output().with_context(|| format!("run {name} (is it installed?)"))?;
        Ok(Output::from_std(out))
    }

    /// Run to completion; a non-zero exit is an error naming the program and its stderr tail.
    pub fn checked(self) -> anyhow::Result<Output> {
        let name = self.name();
        let out = self.output()?;
        if !out.success() {
            anyhow::bail!("{name} failed (exit {:?}): {}", out.code, tail(&out.stderr, 4));
        }
        Ok(out)
    }

    /// Whether it ran and exited 0.
    pub fn succeeds(self) -> bool {
        self.output().is_ok_and(|o| o.success())
    }
}

/// Run `program args` with `input` streamed to its stdin while its output is collected, so
/// neither pipe fills up. Returns the child's exit; a failed write (the child went away) is
/// an error only when the child itself claims success.
pub fn feed(program: &str, args: &[String], input: &mut dyn Read) -> anyhow::Result<Output> {
    let (reader, mut writer) = std::io::pipe().context("create a pipe")?;
    let handle = duct::cmd(program, args)
        .stdin_file(reader)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .with_context(|| format!("start {program}"))?;
    let copied = std::io::copy(input, &mut writer).and_then(|_| writer.flush());
    drop(writer);
    let out = Output::from_std(handle.into_output().with_context(|| format!("wait for {program}"))?);
    match copied {
        Err(e) if out.success() => Err(e).with_context(|| format!("send data to {program}")),
        _ => Ok(out),
    }
}

/// Start `argv` as a daemon: detached stdin, stdout and stderr to `log`, left running after
/// this process exits. Returns the launcher's PID.
pub fn spawn_daemon(argv: &[OsString], log: &Path) -> anyhow::Result<u32> {
    let (program, args) = argv.split_first().context("empty daemon command")?;
    let file = std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    let handle = duct::cmd(program, args)
        .stdin_null()
        .stdout_file(file.try_clone()?)
        .stderr_file(file)
        .unchecked()
        .start()
        .with_context(|| format!("start {}", Path::new(program).display()))?;
    let pid = handle.pids().first().copied().context("the daemon has no PID")?;
    // Dropping the handle neither waits for nor kills the child: it runs on (duct reaps it
    // later if it exits while we still run).
    drop(handle);
    Ok(pid)
}

/// Run `program args` to completion with stdin and stdout on /dev/null and stderr into
/// `log`: for a child that leaves a process behind (`ssh -f`), which must not hold our pipes.
pub fn detached_ok(program: &str, args: &[String], log: &Path) -> anyhow::Result<bool> {
    let out = duct::cmd(program, args)
        .stdin_null()
        .stdout_null()
        .stderr_path(log)
        .unchecked()
        .run()
        .with_context(|| format!("run {program}"))?;
    Ok(out.status.success())
}

/// The last `n` lines of a child's output, for error messages.
pub fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_reports_exit_and_streams_without_a_shell() {
        let out = cmd("sh").args(["-c", "echo out; echo err >&2; exit 3"]).output().unwrap();
        assert_eq!((out.code, out.stdout_text(), out.stderr_text()), (Some(3), "out\n".into(), "err\n".into()));
        // An argument with shell syntax stays one literal argument.
        let out = cmd("printf").args(["%s", "$(echo no); ls"]).checked().unwrap();
        assert_eq!(out.stdout_text(), "$(echo no); ls");
        assert!(cmd("sh").args(["-c", "exit 1"]).checked().is_err());
    }

    #[test]
    fn feed_streams_a_large_input_through_a_child() {
        let mut input = std::io::repeat(b'x').take(5 << 20);
        let out = feed("wc", &["-c".into()], &mut input).unwrap();
        assert_eq!(out.stdout_text().trim(), (5u64 << 20).to_string());
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail(b"a\nb\nc\n", 2), "b\nc");
    }
}
