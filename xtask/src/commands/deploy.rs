//! `cargo xtask deploy`: ship to a VPS over SSH, health-gated, with rollback; plus manual
//! `rollback` and `status`. Parse flags -> [`plan::Plan`] -> act through a [`crate::effects::ssh::Remote`].

pub mod connect;
pub mod execute;
pub mod rollback;
pub mod verify;

use crate::effects::clock::Clock;
use crate::effects::docker::{BollardEngine, ImageEngine};
use crate::plan::compose;
use crate::plan::deploy::envship::{self, Shipment};
use crate::plan::deploy::plan::{self, ImageRef, Inputs};
use crate::plan::deploy::targets::Target;
use crate::project::{EnvArgs, EnvSelection, Project};
use crate::report::{Format, Status, print_json};
use anyhow::{Context, bail};
use execute::{Outcome, Payload, Result_};
use serde::Serialize;

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
    /// What ships: the env file (default: .env.<the target's environment>) or the layers;
    /// `--env`, when given, must be the target's environment
    #[command(flatten)]
    pub env: EnvArgs,
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
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        match self {
            DeployCommand::Vps(a) => a.run(p),
            DeployCommand::Rollback(a) => a.run(p),
            DeployCommand::Status(a) => a.run(p),
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
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let root = p.root().to_path_buf();
        let target = p.targets()?.get(self.target.as_deref())?.clone();
        let schema = p.schema()?;
        let selection = target_env(p, &target, &self.env)?;
        let env_path = selection.file().map(|f| f.to_path_buf()).unwrap_or_else(|| p.path("config"));
        let shipment = ship(p, schema, &selection)?;
        let engine = local_engine()?;
        let info = engine
            .inspect(&self.image)?
            .with_context(|| format!("no local image {}; build it first: cargo xtask build-image", self.image))?;
        let plan = plan::build(Inputs {
            target: &target,
            image: ImageRef { tag: self.image.clone(), id: info.id },
            env_file: env_path.clone(),
            env: shipment.summary.clone(),
            timestamp: utc_stamp(p.clock()),
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
        progress(&format!("verify-env {} for {}", p.show(&env_path), selection.env));
        let v = verify::env(p, &selection)?;
        if v != Status::Ok {
            bail!("verify-env refused {}; fix the findings above, then deploy again", p.show(&env_path));
        }
        progress(&format!("verify-image {}", self.image));
        if verify::image(p, &selection, &engine, &self.image)? != Status::Ok {
            bail!("verify-image refused {}; rebuild it without the findings above", self.image);
        }
        let template = crate::effects::files::read_text(&p.path(compose::TEMPLATE_PATH))?;
        let compose_text = compose::render(schema, &template, compose::Variant::Compose);
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
                when: utc_iso(p.clock()),
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

/// `YYYYmmddTHHMMSSZ`, the release name prefix (sorts by time).
pub fn utc_stamp(clock: &dyn Clock) -> String {
    crate::effects::clock::stamp(clock.now())
}

/// `YYYY-mm-ddTHH:MM:SSZ`, for the audit log.
pub fn utc_iso(clock: &dyn Clock) -> String {
    crate::effects::clock::rfc3339(clock.now())
}

/// The environment a target deploys: its own, unless `--env` names another (refused: the
/// env file would be checked against the wrong requirements).
pub fn target_env(p: &Project, target: &Target, args: &EnvArgs) -> anyhow::Result<EnvSelection> {
    if let Some(env) = &args.env
        && *env != target.environment
    {
        bail!(
            "target {} deploys environment {:?}, not {env:?}; drop --env, or set `environment = \"{env}\"` for it in deploy/targets.toml",
            target.name,
            target.environment
        );
    }
    p.select_env(args, &target.environment)
}

/// The shipment of a selection: its values split by plane, file-delivered secrets from
/// `secrets/` (beside the env file, or the project's) when the env file lacks them.
pub fn ship(p: &Project, schema: &envfile::Schema, selection: &EnvSelection) -> anyhow::Result<Shipment> {
    let env = p.load_env(selection)?;
    let beside = selection.file().and_then(|f| f.parent()).map(|d| d.join(crate::project::SECRETS_DIR));
    let dirs: Vec<_> = beside.into_iter().chain([p.secrets_dir()]).collect();
    let file_secret = |v: &envfile::Variable| {
        let name = format!("{}.txt", v.secret_file_name());
        dirs.iter()
            .find_map(|d| crate::effects::files::read_optional(&d.join(&name)).ok().flatten())
            .map(|s| envfile::Secret::new(s.trim_end_matches(['\n', '\r'])))
    };
    envship::prepare(schema, &env, &file_secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::deploy::targets::Targets;

    /// Regression: every target was verified as `production`, whatever it deploys.
    #[test]
    fn a_target_is_verified_for_its_own_environment() {
        let p = Project::open(Project::workspace_root());
        let mut t = Targets::committed().get(Some("sandbox")).unwrap().clone();
        t.environment = "dev".into();
        let sel = target_env(&p, &t, &EnvArgs::default()).unwrap();
        assert_eq!((sel.env.as_str(), sel.file()), ("dev", Some(p.path(".env.dev").as_path())));
        let other = EnvArgs { env: Some("production".into()), ..EnvArgs::default() };
        let err = format!("{:#}", target_env(&p, &t, &other).unwrap_err());
        assert!(err.contains("deploys environment \"dev\""), "{err}");
    }
}
