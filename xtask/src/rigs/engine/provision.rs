//! Host provisioning shared by the engine, the sandbox and `cargo xtask test`: finding
//! programs, installing Debian packages when we are root, cross-process file locks, and
//! stopping a process we started (by recorded PID, after checking it is still ours).

use crate::effects::process;
use anyhow::{Context, bail};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Directories searched besides `PATH`: sbin dirs are often missing from a non-login PATH.
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// Whether this process runs as root (the only case where we install packages ourselves).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The first executable named `name` on PATH or in the sbin/bin dirs.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether a Debian package is installed (dpkg's own view; a file on disk may come from
/// elsewhere, e.g. the dynamic `busybox` instead of `busybox-static`).
pub fn deb_installed(package: &str) -> bool {
    process::cmd("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| o.stdout_text().contains("install ok installed"))
}

/// `apt-get update` runs at most once per process, before the first install.
static APT_UPDATED: Mutex<bool> = Mutex::new(false);

/// Install Debian packages with apt-get (root only), printing what is installed on stderr.
/// Not root: fail with the command the user has to run. Waits for a dpkg lock held by
/// another process (another test binary may be installing at the same moment).
pub fn apt_install(packages: &[&str], why: &str) -> anyhow::Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    let list = packages.join(" ");
    if !is_root() {
        bail!("{why} needs {list}: install it with `sudo apt-get install -y {list}` (or run as root)");
    }
    let mut updated = APT_UPDATED.lock().unwrap_or_else(|e| e.into_inner());
    if !*updated {
        eprintln!("infra: apt-get update");
        apt(&["update", "-q"]).context("apt-get update")?;
        *updated = true;
    }
    eprintln!("infra: apt-get install {list} ({why})");
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    apt(&args).with_context(|| format!("apt-get install {list}"))
}

fn apt(args: &[&str]) -> anyhow::Result<()> {
    let out = process::cmd("apt-get")
        .args(["-o", "DPkg::Lock::Timeout=600"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .context("run apt-get (is this Debian/Ubuntu?)")?;
    if !out.success() {
        bail!("apt-get {} failed (exit {:?}):\n{}", args.join(" "), out.code, tail(&out.stderr, 15));
    }
    Ok(())
}

pub use crate::effects::process::tail;

/// The last lines of a log file ("" when unreadable).
pub fn tail_file(path: &Path, n: usize) -> String {
    std::fs::read(path).map(|b| tail(&b, n)).unwrap_or_default()
}

/// An exclusive `flock` on a file, released on drop (or when the process dies, so a
/// crashed test never leaves a stale lock behind).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Block until the lock on `path` is ours.
    pub fn exclusive(path: &Path) -> anyhow::Result<FileLock> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("open lock file {}", path.display()))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .with_context(|| format!("lock {}", path.display()))?;
        Ok(FileLock { _file: file })
    }
}

/// Read a PID file ("" or garbage → None).
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` is alive (not a zombie) and its command line contains `needle`: a PID
/// from a file may have been reused by an unrelated process since we recorded it.
pub fn pid_is_ours(pid: u32, needle: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'));
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    !zombie && cmdline.contains(needle)
}

/// SIGTERM a process we started (checked with [`pid_is_ours`]), wait up to `timeout`,
/// then SIGKILL. Returns whether it was running.
pub fn stop_pid(pid: u32, needle: &str, timeout: Duration) -> bool {
    use rustix::process::{Pid, Signal, kill_process};
    if !pid_is_ours(pid, needle) {
        return false;
    }
    let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    let _ = kill_process(p, Signal::TERM);
    let start = Instant::now();
    while start.elapsed() < timeout {
        if !pid_is_ours(pid, needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("infra: pid {pid} ignored SIGTERM for {timeout:?}, sending SIGKILL");
    let _ = kill_process(p, Signal::KILL);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail(b"a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail(b"a", 5), "a");
    }

    #[test]
    fn own_process_matches_its_cmdline_and_not_another_needle() {
        let me = std::process::id();
        let exe = std::env::args().next().unwrap_or_default();
        assert!(pid_is_ours(me, &exe));
        assert!(!pid_is_ours(me, "no-such-needle-in-this-cmdline-xyz"));
    }

    #[test]
    fn file_lock_is_reentrant_after_drop() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sub/lock");
        drop(FileLock::exclusive(&path)?);
        let _again = FileLock::exclusive(&path)?;
        Ok(())
    }
}
