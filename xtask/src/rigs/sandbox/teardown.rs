//! Tearing the sandbox down: exactly what the state file says a start created (processes
//! by recorded PID, checked to still be ours; mounts; netns; veth; our cgroups), and the
//! leases tests hold so a disruptive test never runs under another one.

use super::{Layout, State, setup};
use crate::rigs::engine::provision;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Undo a recorded start, in reverse dependency order.
pub fn teardown(l: &Layout) {
    let state = State::read(&l.state_file());
    if state.is_empty() {
        return;
    }
    eprintln!("infra: stopping the sandbox VPS");
    super::acme::stop(&state);
    let sshd_needle = l.sshd_config().display().to_string();
    for (_, pid) in state.iter().filter(|(k, _)| k == "sshd") {
        if let Ok(pid) = pid.parse() {
            provision::stop_pid(pid, &sshd_needle, Duration::from_secs(10));
        }
    }
    if l.engine.answers() {
        // Containers first: a busybox httpd as PID 1 ignores SIGTERM and would cost
        // dockerd 10 s each on shutdown.
        let _ = remove_all_containers(&l.engine.socket());
    }
    l.engine.stop();
    for (_, m) in state.iter().filter(|(k, _)| k == "mount").rev() {
        if setup::sh("umount", &[m]).is_err() {
            let _ = setup::sh("umount", &["-l", m]);
        }
    }
    for (_, ns) in state.iter().filter(|(k, _)| k == "netns") {
        let _ = setup::sh("ip", &["netns", "del", ns]);
    }
    for (_, link) in state.iter().filter(|(k, _)| k == "link") {
        let _ = setup::sh("ip", &["link", "del", link]);
    }
    remove_cgroups("xtask-vps");
    // The VPS's files and engine data are throw-away; the ssh keys stay so an
    // ssh_config someone copied keeps working after a restart.
    for dir in ["fs", "docker", "nsfiles"] {
        let _ = std::fs::remove_dir_all(l.dir.join(dir));
    }
    let _ = std::fs::remove_file(l.state_file());
}

/// A held lease on the sandbox (a `flock`, released on drop or process exit).
#[derive(Debug)]
pub struct Lease {
    _file: std::fs::File,
}

impl Lease {
    pub(super) fn take(path: &Path, exclusive: bool) -> anyhow::Result<Lease> {
        use rustix::fs::{FlockOperation, flock};
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        let op = if exclusive { FlockOperation::LockExclusive } else { FlockOperation::LockShared };
        flock(&file, op).with_context(|| format!("lock {}", path.display()))?;
        Ok(Lease { _file: file })
    }
}

fn remove_all_containers(socket: &Path) -> anyhow::Result<()> {
    use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
    crate::rigs::engine::block_on(async {
        let docker = crate::rigs::engine::client_for(socket)?;
        let all = docker.list_containers(Some(ListContainersOptionsBuilder::new().all(true).build())).await?;
        for c in all.into_iter().filter_map(|c| c.id) {
            docker.remove_container(&c, Some(RemoveContainerOptionsBuilder::new().force(true).build())).await?;
        }
        Ok(())
    })
}

/// rmdir the (empty) cgroups under our cgroup parent, deepest first; rmdir only succeeds on
/// empty cgroups, so nothing still running is touched.
fn remove_cgroups(parent: &str) {
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup").join(parent)];
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        roots.extend(entries.flatten().map(|e| e.path().join(parent)));
    }
    for root in roots.into_iter().filter(|r| r.is_dir()) {
        let mut dirs = vec![root.clone()];
        let mut i = 0;
        while i < dirs.len() {
            if let Ok(entries) = std::fs::read_dir(&dirs[i]) {
                dirs.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
            }
            i += 1;
        }
        for d in dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}
