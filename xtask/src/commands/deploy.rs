//! `cargo xtask deploy`: ship to a VPS over SSH, health-gated, with rollback; plus manual
//! `rollback` and `status`. Parse flags -> [`plan::Plan`] -> act through a [`crate::effects::ssh::Remote`].

pub mod connect;
pub mod execute;
pub mod rollback;
pub mod verify;

use crate::cli::Global;
use crate::effects::docker::{BollardEngine, ImageEngine};
use crate::plan::compose;
use crate::plan::deploy::plan::{self, ImageRef, Inputs};
use crate::plan::deploy::{envship, targets};
use crate::report::{Format, Status, print_json};
use anyhow::{Context, bail};
use envfile::Schema;
use execute::{Outcome, Payload, Result_};
use serde::Serialize;
use std::path::PathBuf;
use targets::Targets;

/// The image `build-image` produces unless told otherwise.
pub const DEFAULT_IMAGE: &str = "reference-app:latest";

#[derive(Debug, clap::Subcommand)]
pub enum DeployCommand {
    /// Deploy the image to a VPS: verify, lock, upload, ship the image, compose up, health gate
    Vps(VpsArgs),
    /// Bring a kept release back (the one before `current`, or --to RELEASE)
    Rollback(rollback::Args),
    /// Show the current release, the kept ones, the lock and the last deploys
    Status(rollback::StatusArgs),
}

#[derive(Debug, clap::Args)]
pub struct VpsArgs {
    /// Target name from deploy/targets.toml (default: its `default`)
    pub target: Option<String>,
    /// The env file to ship (runtime config and secrets)
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// The local image to ship
    #[arg(long, value_name = "TAG", default_value = DEFAULT_IMAGE)]
    pub image: String,
    /// Print the plan and stop
    #[arg(long)]
    pub dry_run: bool,
    /// Wait up to SECS for another deploy's lock instead of failing at once
    #[arg(long, value_name = "SECS")]
    pub wait: Option<u64>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

impl DeployCommand {
    pub fn run(self, g: &Global) -> anyhow::Result<Status> {
        match self {
            DeployCommand::Vps(a) => a.run(g),
            DeployCommand::Rollback(a) => a.run(g),
            DeployCommand::Status(a) => a.run(g),
        }
    }
}

/// The JSON output of `deploy vps`.
#[derive(Serialize)]
struct Report<'a> {
    plan: &'a plan::Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a Outcome>,
}

impl VpsArgs {
    pub fn run(self, g: &Global) -> anyhow::Result<Status> {
        let root = g.root();
        let targets = Targets::load(&root)?;
        let target = targets.get(self.target.as_deref())?.clone();
        let schema = Schema::load(&g.schema_path()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let env_path = self.env_file.clone().unwrap_or_else(|| root.join(compose::ENV_FILE_NAME));
        let shipment = envship::prepare(&schema, &env_path, &root)?;
        let engine = local_engine()?;
        let info = engine
            .inspect(&self.image)?
            .with_context(|| format!("no local image {}; build it first: cargo xtask build-image", self.image))?;
        let plan = plan::build(Inputs {
            target: &target,
            image: ImageRef { tag: self.image.clone(), id: info.id },
            env_file: env_path.clone(),
            env: shipment.summary.clone(),
            timestamp: utc_stamp(),
            wait_secs: self.wait,
        });
        let human = self.format == Format::Human;
        if self.dry_run {
            if human {
                print!("{plan}");
            } else {
                print_json(&Report { plan: &plan, outcome: None })?;
            }
            return Ok(Status::Ok);
        }
        let mut progress = |line: &str| {
            if human {
                eprintln!("deploy: {line}");
            }
        };
        progress(&format!("verify-env {}", env_path.display()));
        let v = verify::env(g, &schema, &env_path)?;
        if v != Status::Ok {
            bail!("verify-env refused {}; fix the findings above, then deploy again", env_path.display());
        }
        progress(&format!("verify-image {}", self.image));
        if verify::image(g, &schema, &env_path, &engine, &self.image)? != Status::Ok {
            bail!("verify-image refused {}; rebuild it without the findings above", self.image);
        }
        let template = std::fs::read_to_string(root.join(compose::TEMPLATE_PATH))
            .with_context(|| format!("read {}", compose::TEMPLATE_PATH))?;
        let compose_text = compose::render(&schema, &template, compose::Variant::Compose);
        let server = connect::ssh(&root, &target)?;
        let image_tag = self.image.clone();
        let open_image = || engine.export(&image_tag);
        let push = |reference: &str| {
            engine.push(&image_tag, reference, registry_credentials(), &mut |l| progress_line(human, l))
        };
        let outcome = execute::execute(
            &server,
            &plan,
            Payload {
                compose: compose_text,
                shipment: &shipment,
                image: &open_image,
                push: &push,
                who: who(),
                pid: std::process::id(),
                when: utc_iso(),
            },
            &mut progress,
        )?;
        if human {
            print_outcome(&plan, &outcome);
        } else {
            print_json(&Report { plan: &plan, outcome: Some(&outcome) })?;
        }
        Ok(Status::failed_if(outcome.result != Result_::Deployed))
    }
}

fn print_outcome(plan: &plan::Plan, o: &Outcome) {
    match o.result {
        Result_::Deployed => println!(
            "deployed {} to {} as release {} (image {})",
            plan.image.tag,
            plan.target,
            o.release,
            if o.image_sent { format!("sent, {} bytes", o.image_bytes) } else { "already there".into() }
        ),
        Result_::RolledBack | Result_::Failed => {
            if let Some(logs) = &o.logs {
                println!("last log lines of the failing container (secrets masked):");
                for l in logs.lines() {
                    println!("  | {l}");
                }
            }
            match (&o.result, &o.previous) {
                (Result_::RolledBack, Some(p)) => {
                    println!("release {} failed its health check; rolled back to {p}, which is healthy", o.release)
                }
                _ => println!("release {} failed its health check and nothing healthy is serving", o.release),
            }
        }
    }
}

fn progress_line(human: bool, line: &str) {
    if human {
        eprintln!("deploy: {line}");
    }
}

/// Push credentials for a registry target: DEPLOY_REGISTRY_USER and DEPLOY_REGISTRY_PASSWORD,
/// or none (an open registry). Handed to the engine only, never printed.
fn registry_credentials() -> Option<bollard::auth::DockerCredentials> {
    let username = std::env::var("DEPLOY_REGISTRY_USER").ok().filter(|u| !u.is_empty())?;
    let password = std::env::var("DEPLOY_REGISTRY_PASSWORD").ok();
    Some(bollard::auth::DockerCredentials { username: Some(username), password, ..Default::default() })
}

/// The local engine that holds the image: the one `DOCKER_HOST` names, as for build-image
/// and verify-image.
pub fn local_engine() -> anyhow::Result<BollardEngine> {
    BollardEngine::from_env()
}

/// `user@host` of whoever runs the deploy, for the lock and the audit log.
pub fn who() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let host =
        std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "unknown".into());
    format!("{user}@{host}")
}

fn now_secs() -> i64 {
    use crate::effects::clock::Clock;
    crate::effects::clock::SystemClock.now()
}

/// `YYYYmmddTHHMMSSZ`, the release name prefix (sorts by time).
pub fn utc_stamp() -> String {
    let (y, mo, d, h, m, s) = crate::effects::clock::civil(now_secs());
    format!("{y:04}{mo:02}{d:02}T{h:02}{m:02}{s:02}Z")
}

/// `YYYY-mm-ddTHH:MM:SSZ`, for the audit log.
pub fn utc_iso() -> String {
    crate::effects::clock::rfc3339(now_secs())
}
