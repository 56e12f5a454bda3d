//! `cargo xtask deploy`: ship to a VPS over SSH, health-gated, with rollback; plus manual
//! `rollback` and `status`. Parse flags -> [`plan::Plan`] -> act through a [`crate::effects::ssh::Remote`].

pub mod actions;
pub mod connect;
pub mod execute;
pub mod rollback;
pub mod server;
pub mod ship;
pub mod status;
pub mod verify;

use crate::effects::clock::Clock;
use crate::effects::docker::{BollardEngine, ImageEngine};
use crate::effects::ssh::Remote;
use crate::plan::compose;
use crate::plan::deploy::envship::{self, Shipment};
use crate::plan::deploy::facts::ServerFacts;
use crate::plan::deploy::plan::{self, ImageRef, Inputs};
use crate::plan::deploy::targets::{self, Target};
use crate::plan::deploy::{edge, scripts};
use crate::project::{EnvArgs, EnvSelection, Project};
use crate::report::{Format, Status, print_json};
use anyhow::{Context, bail};
use execute::{Outcome, Payload, Result_};
use serde::Serialize;

/// The image `build-image` produces unless told otherwise.
pub const DEFAULT_IMAGE: &str = "reference-app:latest";

#[derive(Debug, clap::Subcommand)]
pub enum DeployCommand {
    /// Deploy the image to a VPS behind its edge proxy: verify, lock, upload, ship the image,
    /// start the new slot, gate it on health, switch, drain, keep the old one for rollback
    Vps(VpsArgs),
    /// Bring a kept release back without downtime (the one before `current`, or --to RELEASE)
    Rollback(rollback::Args),
    /// Show the live slot, the kept releases, the proxy and its certificates, the lock and
    /// the last deploys (exit 1 when the app is not running healthy, 2 when unreachable)
    Status(status::Args),
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
    /// Run the read-only checks (verify-env, verify-image, the server's state and lock),
    /// print the plan and stop
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
    /// The server as the read-only checks found it.
    server: &'a ServerFacts,
    plan: &'a plan::Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a Outcome>,
}

impl VpsArgs {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let target = p.targets()?.get(self.target.as_deref())?.clone();
        let schema = p.schema()?;
        let selection = target_env(p, &target, &self.env)?;
        let shown = selection.file().map(|f| p.show(f)).unwrap_or_else(|| "the layered config".into());
        let shipment = ship(p, schema, &selection)?;
        let engine = local_engine()?;
        let info = engine
            .inspect(&self.image)?
            .with_context(|| format!("no local image {}; build it first: cargo xtask build-image", self.image))?;
        let human = self.format == Format::Human;
        let mut progress = |line: &str| progress_line(human, line);

        // The read-only checks, in a dry run too: the values, the image, the server.
        progress(&format!("verify-env {shown} for {}", selection.env));
        if verify::env(p, &selection)? != Status::Ok {
            bail!("verify-env refused {shown}; fix the findings above, then deploy again");
        }
        progress(&format!("verify-image {}", self.image));
        if verify::image(p, &selection, &engine, &self.image)? != Status::Ok {
            bail!("verify-image refused {}; rebuild it without the findings above", self.image);
        }
        let edge = server::render_edge(p, &target)?;
        let template = crate::effects::files::read_text(&p.path(compose::TEMPLATE_PATH))?;
        let compose_text = compose::render(schema, &template, compose::Variant::Compose);
        let image = ImageRef { tag: self.image.clone(), id: info.id.clone() };
        // A deploy that waited for the lock may find another deploy went first: it plans
        // again for the server as it is now (a few times at most).
        let mut attempts = 0;
        let (reached, plan, outcome) = loop {
            attempts += 1;
            progress(&format!("reach {} ({})", target.name, target.describe()));
            let reached = server::reach(p, &target)?;
            if let Some(holder) = &reached.facts.lock {
                progress(&format!("the deploy lock is held by {holder} now"));
            }
            let plan = plan::deploy(Inputs {
                target: &target,
                image: image.clone(),
                env: shipment.summary.clone(),
                release: release_name(p.clock(), &image),
                wait_secs: self.wait,
                facts: &reached.facts,
                edge_config: edge.as_ref().map(|e| e.hash.clone()),
                hosts: edge.as_ref().map(|e| e.hosts.clone()).unwrap_or_default(),
                ca_root: edge.as_ref().is_some_and(|e| e.files.ca_root.is_some()),
            });
            if self.dry_run {
                match self.format {
                    Format::Human => print!("{plan}"),
                    Format::Json => print_json(&Report { server: &reached.facts, plan: &plan, outcome: None })?,
                }
                return Ok(Status::Ok);
            }
            let image_tag = self.image.clone();
            let ship_image = |server: &dyn Remote, progress: &mut dyn FnMut(&str)| {
                ship::ship_image(server, &engine, &image_tag, &info, progress)
            };
            let push = |reference: &str| {
                engine.push(&image_tag, reference, registry_credentials(), &mut |l| progress_line(human, l))
            };
            let payload = Payload {
                compose: compose_text.clone(),
                interpolation: interpolation(&target, &plan.slot, &image),
                shipment: &shipment,
                edge: edge.as_ref().map(|e| e.files.clone()),
                ship: &ship_image,
                push: &push,
                who: who(),
                pid: std::process::id(),
                when: utc_iso(p.clock()),
                token: token(p.clock()),
            };
            match execute::execute(&reached.ssh, &plan, payload, &mut progress) {
                Err(e) if attempts < 3 && e.downcast_ref::<actions::ServerChanged>().is_some() => {
                    progress(&format!("{e}: planning again"));
                }
                result => break (reached, plan, result?),
            }
        };
        if outcome.result == Result_::Deployed && matches!(target.tls, targets::Tls::Internal) && target.proxy {
            let path = fetch_internal_root(p, &target, &reached.ssh)?;
            progress(&format!("the proxy's internal CA root (trust it to check the certificate): {}", p.show(&path)));
        }
        match self.format {
            Format::Human => print_outcome(&plan, &outcome, &target),
            Format::Json => print_json(&Report { server: &reached.facts, plan: &plan, outcome: Some(&outcome) })?,
        }
        Ok(Status::failed_if(outcome.result != Result_::Deployed))
    }
}

/// Where the internal CA root of a target's proxy is kept locally.
pub fn internal_root_path(p: &Project, t: &Target) -> std::path::PathBuf {
    p.path(format!("target/deploy/{}/internal-ca.pem", t.name))
}

/// Copy the proxy's internal CA root (a public certificate) from the server, so a client can
/// verify what the target serves: `curl --cacert PATH`.
pub fn fetch_internal_root(p: &Project, t: &Target, server: &dyn Remote) -> anyhow::Result<std::path::PathBuf> {
    let script = format!(
        "px=$(docker ps -q --filter label=com.docker.compose.project={} --filter label=com.docker.compose.service=proxy | head -n1)\n\
         [ -n \"$px\" ] && docker exec \"$px\" cat /data/caddy/pki/authorities/local/root.crt\n",
        scripts::q(&edge::edge_project(&t.project))
    );
    let pem = server.run(&script)?.check("read the proxy's internal CA root")?.stdout_text();
    anyhow::ensure!(pem.contains("BEGIN CERTIFICATE"), "the proxy has no internal CA root yet");
    let path = internal_root_path(p, t);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    crate::effects::files::Writer::default().write(&path, pem.as_bytes(), 0o644)?;
    Ok(path)
}

/// The slot's `.env`: what Compose interpolates into the release's compose file.
pub fn interpolation(t: &Target, slot: &str, image: &ImageRef) -> String {
    format!(
        "APP_IMAGE={}\nSLOT={slot}\nSLOT_ALIAS={}\nEDGE_NETWORK={}\nGATE_IMAGE={}\n",
        image.release_tag(),
        edge::slot_project(&t.project, slot),
        edge::network(&t.project),
        t.gate_image
    )
}

/// A release name no other deploy can take: time, short image ID and a random suffix.
pub fn release_name(clock: &dyn Clock, image: &ImageRef) -> String {
    format!("{}-{}-{:04x}", crate::effects::clock::stamp(clock.now()), image.short_id(), rand::random::<u16>())
}

/// The mark of this deploy on the server (its lock and its release dir).
fn token(clock: &dyn Clock) -> String {
    format!("{}-{}-{:08x}", std::process::id(), clock.now(), rand::random::<u32>())
}

/// The image over ssh when the server lacks it: the whole `docker save` into `docker load`.
fn print_outcome(plan: &plan::Plan, o: &Outcome, t: &Target) {
    let image = plan.image.as_ref().map(|i| i.tag.as_str()).unwrap_or("?");
    if let Some(logs) = &o.logs {
        println!("last log lines of the failing release (secrets masked):");
        for l in logs.lines() {
            println!("  | {l}");
        }
    }
    match (o.result, &o.previous) {
        (Result_::Deployed, _) => {
            let sent = if o.image_sent { format!("sent, {} bytes", o.image_bytes) } else { "already there".into() };
            println!("deployed {image} to {} as release {} in slot {} (image {sent})", plan.target, o.release, o.slot);
            if let Some(url) = public_url(t) {
                println!("serving {url}");
            }
        }
        (Result_::Rejected, Some(prev)) => println!(
            "release {} failed its health gate and never received traffic; {prev} kept serving throughout",
            o.release
        ),
        _ => println!("release {} failed its health gate; nothing was serving before it", o.release),
    }
}

/// The https URL a target serves (its first host, or its address with the internal CA).
pub fn public_url(t: &Target) -> Option<String> {
    if !t.proxy {
        return None;
    }
    let port = if t.https_port == 443 { String::new() } else { format!(":{}", t.https_port) };
    if let (None, Some(a)) = (t.tls.hosts().first(), &t.address) {
        return Some(format!("https://{a}{port}/"));
    }
    match (t.tls.hosts().first(), &t.connection) {
        (Some(h), _) => Some(format!("https://{h}{port}/")),
        (None, targets::Connection::Sandbox) => Some(format!("https://{}{port}/", crate::rigs::sandbox::VPS_IP)),
        (None, targets::Connection::Direct { host, .. }) => Some(format!("https://{host}{port}/")),
        (None, targets::Connection::Alias { .. }) => None,
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
