//! `cargo xtask test`: the whole test suite, with everything it needs installed and started
//! (Debian packages when root, the frontend's npm packages, the private Docker engine and
//! its base image), so a fresh machine and CI need nothing but this one command.

use crate::project::Project;
use crate::report::Status;
use crate::rigs::engine::{self, BASE_IMAGE, Engine, provision};
use anyhow::Context;
use std::path::Path;
use xshell::{Shell, cmd};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stop the sandbox VPS and the private Docker engine this suite started, then exit
    #[arg(long, conflicts_with = "provision_only")]
    pub teardown: bool,
    /// Install and start everything the suite needs, then exit without running it
    #[arg(long)]
    pub provision_only: bool,
    /// Extra arguments passed to `cargo test` (after `--`)
    #[arg(last = true)]
    pub cargo_args: Vec<String>,
}

/// A Debian package the suite needs, and how to tell it is already there.
struct Need {
    package: &'static str,
    why: &'static str,
    present: fn() -> bool,
}

const NEEDS: &[Need] = &[
    Need { package: "docker.io", why: "the Docker engine", present: || provision::find_program("dockerd").is_some() },
    Need {
        package: "docker-compose",
        why: "Compose v1 on the sandbox VPS",
        present: || Path::new("/usr/bin/docker-compose").exists(),
    },
    Need { package: "openssh-server", why: "the sandbox VPS's sshd", present: || Path::new("/usr/sbin/sshd").exists() },
    Need {
        package: "docker-registry",
        why: "the registry the deploy-through-a-registry test pushes to",
        present: || Path::new("/usr/bin/docker-registry").exists(),
    },
    Need {
        package: "busybox-static",
        why: "the local base image",
        present: || provision::deb_installed("busybox-static"),
    },
    Need {
        package: "caddy",
        why: "the local stand-in for the edge proxy image (caddy:2)",
        present: || Path::new("/usr/bin/caddy").exists(),
    },
    Need {
        package: "pebble",
        why: "the sandbox's ACME CA (Pebble and its DNS test server)",
        present: || provision::find_program("pebble-challtestsrv").is_some(),
    },
    Need {
        package: "chromium",
        why: "the headless page check",
        present: || provision::find_program("chromium").is_some(),
    },
];

impl Args {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let root = p.root().to_path_buf();
        if self.teardown {
            return teardown(&root);
        }
        let sh = Shell::new()?;
        sh.change_dir(&root);
        phase(0, "style: cargo fmt --check, cargo clippy -D warnings");
        if !style(&sh) {
            eprintln!("test: STYLE CHECK FAILED (see above); fix it with `cargo fmt --all` and the clippy hints");
            return Ok(Status::Failed);
        }

        phase(1, "system packages");
        let missing: Vec<&str> = NEEDS.iter().filter(|n| !(n.present)()).map(|n| n.package).collect();
        if missing.is_empty() {
            eprintln!("  all present");
        } else {
            for n in NEEDS.iter().filter(|n| missing.contains(&n.package)) {
                eprintln!("  missing {} ({})", n.package, n.why);
            }
            provision::apt_install(&missing, "the test suite").context("install the test suite's packages")?;
        }

        phase(2, "frontend packages");
        let web = root.join("web");
        if web.join("package-lock.json").exists() && !web.join("node_modules").exists() {
            eprintln!("  npm ci in web/");
            let _dir = sh.push_dir(&web);
            cmd!(sh, "npm ci --no-audit --no-fund").run().context("npm ci in web/")?;
        } else {
            eprintln!("  nothing to do");
        }

        phase(3, "Docker engine");
        let engine = Engine::ensure_in(&root).context("start the test Docker engine")?;
        let id = engine.ensure_base_image(BASE_IMAGE)?;
        eprintln!("  {} ({}), base image {BASE_IMAGE} {}", engine.docker_host(), kind(&engine), short(&id));

        phase(4, "sandbox VPS");
        let sandbox = crate::rigs::sandbox::Sandbox::ensure_in(&root).context("start the sandbox VPS")?;
        eprintln!("  ssh -F {} vps ({}:{})", sandbox.ssh_config().display(), sandbox.host(), sandbox.port());

        if self.provision_only {
            eprintln!(
                "test: provisioned; to run tests by hand: export {}={} {}={}",
                engine::DOCKER_HOST_VAR,
                engine.docker_host(),
                crate::rigs::sandbox::SANDBOX_DIR_VAR,
                sandbox.dir().display()
            );
            return Ok(Status::Ok);
        }
        // --no-fail-fast: one failing test binary must not hide the results of the others.
        phase(5, "cargo test --workspace");
        let extra = &self.cargo_args;
        let host = engine.docker_host();
        let ok = cmd!(sh, "cargo test --workspace --locked --no-fail-fast {extra...}")
            .env(engine::DOCKER_HOST_VAR, &host)
            .env(crate::rigs::sandbox::SANDBOX_DIR_VAR, sandbox.dir())
            .run()
            .is_ok();
        eprintln!("test: {}", if ok { "all tests passed" } else { "TESTS FAILED (see above)" });
        Ok(Status::failed_if(!ok))
    }
}

/// The house style, checked before anything is installed: formatting and every clippy lint
/// as an error, on every target (tests and benches included).
fn style(sh: &Shell) -> bool {
    let fmt = cmd!(sh, "cargo fmt --all --check").run().is_ok();
    let clippy = cmd!(sh, "cargo clippy --workspace --all-targets --locked -- -D warnings").run().is_ok();
    fmt && clippy
}

fn teardown(root: &Path) -> anyhow::Result<Status> {
    phase(1, "stop the sandbox VPS");
    crate::rigs::sandbox::Sandbox::stop_in(root)?;
    phase(2, "stop the private Docker engine");
    let stopped = Engine::stop_private(root)?;
    eprintln!("  {}", if stopped { "stopped" } else { "was not running" });
    Ok(Status::Ok)
}

fn phase(n: u32, what: &str) {
    eprintln!("test: [{n}] {what}");
}

fn kind(engine: &Engine) -> &'static str {
    if engine.is_private() { "private engine" } else { "from XTASK_DOCKER_HOST" }
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_id_drops_the_algorithm() {
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short("abc"), "abc");
    }

    #[test]
    fn every_need_names_a_package_and_a_reason() {
        assert!(NEEDS.iter().all(|n| !n.package.is_empty() && !n.why.is_empty()));
    }
}
