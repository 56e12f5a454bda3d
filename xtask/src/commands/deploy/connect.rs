//! From a target to a live [`Remote`]: the ssh CLI with the target's connection details
//! (the sandbox's generated ssh config, an alias of `~/.ssh/config`, or host/user/port/key).

use crate::effects::ssh::Ssh;
use crate::plan::deploy::targets::{Connection, Target};
use std::path::Path;

/// The sandbox's ACME directory (Pebble, next to the sandbox VPS) and the CA bundle a client
/// of that directory must trust, once the sandbox runs.
pub fn sandbox_acme(root: &Path) -> anyhow::Result<(String, std::path::PathBuf)> {
    let sandbox = crate::rigs::sandbox::Sandbox::at(root);
    let ca = sandbox.acme_ca_bundle();
    anyhow::ensure!(
        ca.exists(),
        "the sandbox's ACME CA is not running ({} missing); start it with `cargo xtask demo`",
        ca.display()
    );
    Ok((sandbox.acme_directory(), ca))
}

pub fn ssh(root: &Path, target: &Target) -> anyhow::Result<Ssh> {
    let mut ssh = connection(root, target)?;
    if let Some(cfg) = &target.ssh_config {
        ssh.config = Some(root.join(cfg));
    }
    Ok(ssh)
}

fn connection(root: &Path, target: &Target) -> anyhow::Result<Ssh> {
    Ok(match &target.connection {
        Connection::Sandbox => {
            // Written by the sandbox (xtask/src/rigs/sandbox.rs) with a `vps` Host entry.
            let config = crate::rigs::sandbox::sandbox_dir(root).join("ssh_config");
            anyhow::ensure!(
                config.exists(),
                "the sandbox VPS is not running ({} missing); start it with `cargo xtask demo`",
                config.display()
            );
            Ssh { config: Some(config), ..Ssh::new("vps") }
        }
        Connection::Alias { alias } => Ssh::new(alias.clone()),
        Connection::Direct { host, user, port, key } => {
            Ssh { user: user.clone(), port: *port, identity: key.clone(), ..Ssh::new(host.clone()) }
        }
    })
}
