//! The deploy plan: plain data saying what a deploy (or a rollback) checks, uploads, starts,
//! switches and keeps, made from the target and the server's facts before any change. The
//! executor runs exactly these steps in this order, so `--dry-run` prints what will run; each
//! step carries its data and what a failure of it means.

use super::edge::{self, HEALTH_INTERVAL_MS};
use super::facts::{EdgeState, ServerFacts};
use super::targets::Target;
use crate::plan::compose::{ENV_FILE_NAME, SECRETS_DIR};
use serde::Serialize;

/// Seconds after which a lock left by a crashed deploy on another machine is broken.
pub const LOCK_STALE_SECS: u64 = 15 * 60;
/// How long the proxy gets to obtain a certificate when its TLS setup changed.
pub const CERTIFICATE_TIMEOUT_SECS: u64 = 90;

/// The image that ships: its tag (what the compose file runs) and content ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    pub tag: String,
    /// `sha256:...`
    pub id: String,
}

impl ImageRef {
    /// The 12 hex digits `docker images` shows.
    pub fn short_id(&self) -> &str {
        let hex = self.id.strip_prefix("sha256:").unwrap_or(&self.id);
        &hex[..hex.len().min(12)]
    }

    /// The tag every release runs: the image's repository plus its short ID, so each release
    /// keeps naming its own image after the build tag moves on.
    pub fn release_tag(&self) -> String {
        // A ':' after the last '/' starts the tag; one before it is a registry's port.
        let repo = match self.tag.rsplit_once(':') {
            Some((r, tag)) if !tag.contains('/') => r,
            _ => &self.tag,
        };
        format!("{repo}:{}", self.short_id())
    }
}

/// What the env file that ships holds, by name only (values stay in the env file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnvSummary {
    /// Runtime config and env_file secrets, written to the release's `.env.production`.
    pub env_file_vars: Vec<String>,
    /// File-delivered secrets, one `secrets/<name>.txt` each.
    pub secret_files: Vec<String>,
    /// Variables present locally that never ship (public build-time, build secrets).
    pub left_behind: Vec<String>,
}

/// What an upload carries; never the bytes themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Content {
    ComposeFile,
    /// The slot's `.env` for Compose interpolation: image, slot alias, networks; no secret.
    Interpolation,
    EnvFile {
        vars: Vec<String>,
    },
    SecretFile {
        var: String,
    },
    /// The proxy's compose file, its `.env`, its config and the ACME CA bundle.
    EdgeCompose,
    EdgeInterpolation,
    EdgeConfig,
    EdgeCaRoot,
}

/// What a failed step means for the deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Nothing on the server changed yet: stop with the error.
    Abort,
    /// Remove what this deploy made (the new slot, its release dir); the live slot never
    /// stopped serving.
    Discard,
    /// The new slot failed its health gate: show its logs, discard it, exit 1.
    Reject,
    /// The new slot already serves: stop and say what is left to do.
    Stop,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Action {
    Lock {
        dir: String,
        stale_after_secs: u64,
        wait_secs: Option<u64>,
    },
    /// Under the lock, the server is still as the checks saw it (no deploy in between).
    Expect {
        current: Option<String>,
    },
    RemoveIncomplete {
        releases: Vec<String>,
    },
    MakeRelease {
        dir: String,
    },
    Upload {
        path: String,
        mode: String,
        content: Content,
    },
    OwnSecrets {
        dir: String,
    },
    ShipImage {
        image_id: String,
    },
    /// Through the target's registry: push locally, `docker pull` on the server, check the ID.
    PushPull {
        reference: String,
        image_id: String,
    },
    TagImage {
        image_id: String,
        tag: String,
    },
    CompleteRelease {
        dir: String,
    },
    EnsureNetwork {
        name: String,
    },
    /// Start the proxy, or reload it because its TLS config changed.
    EnsureEdge {
        reload: bool,
    },
    AwaitCertificate {
        host: String,
        timeout_secs: u64,
    },
    /// Give a kept release the other slot colour (rollback onto the live colour).
    Reslot {
        dir: String,
        slot: String,
    },
    StartSlot {
        dir: String,
        slot: String,
    },
    GateSlot {
        dir: String,
        slot: String,
        path: String,
        timeout_secs: u64,
    },
    OpenGate {
        dir: String,
        slot: String,
    },
    /// Wait until the proxy follows the gates, then check a request through it.
    Settle {
        host: String,
        path: String,
        wait_ms: u64,
    },
    /// Close the old slot's gate, then check a request through the proxy reaches the new
    /// one; when it does not, the old gate opens again and the new slot is discarded.
    CloseGate {
        dir: String,
        slot: String,
        confirm: Option<String>,
        path: String,
    },
    StopLegacy {
        project: String,
    },
    PointCurrent {
        release: String,
    },
    Drain {
        secs: u64,
    },
    StopSlot {
        dir: String,
        slot: String,
    },
    Prune {
        keep: usize,
        previous: Option<String>,
    },
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub action: Action,
    pub on_failure: OnFailure,
}

/// What the deploy is: the new release, the live one, and the steps in order. The audit line
/// and the unlock run after the steps whatever happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub kind: Kind,
    pub target: String,
    pub connection: String,
    pub app_dir: String,
    /// The target's compose project; the slots are `<project>-blue` and `-green`.
    pub project: String,
    /// The port the app listens on inside its slot.
    pub app_port: u16,
    /// The proxy's HTTPS port on the server.
    pub https_port: u16,
    pub image: Option<ImageRef>,
    pub release: String,
    pub release_dir: String,
    pub slot: String,
    pub live: Option<Live>,
    pub proxy: bool,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Deploy,
    Rollback,
}

/// The release serving when the plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Live {
    pub release: String,
    pub dir: String,
    /// `None`: the old layout (one compose project on a host port), taken over by this deploy.
    pub slot: Option<String>,
}

/// Everything a deploy plan is made of; the clock, the image and the server were asked before.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub target: &'a Target,
    pub image: ImageRef,
    pub env: EnvSummary,
    /// The release's unique name (time, image, random suffix).
    pub release: String,
    pub wait_secs: Option<u64>,
    pub facts: &'a ServerFacts,
    /// sha256 of the proxy config this deploy wants (`None`: a target without the proxy).
    pub edge_config: Option<String>,
    /// The host names the proxy serves (the server's address for the internal CA).
    pub hosts: Vec<String>,
    /// Whether an ACME CA bundle is uploaded with the proxy's files.
    pub ca_root: bool,
}

pub fn lock_dir(app_dir: &str) -> String {
    format!("{app_dir}/.deploy.lock")
}

pub fn audit_log(app_dir: &str) -> String {
    format!("{app_dir}/deploy.log")
}

fn release_dir(t: &Target, release: &str) -> String {
    format!("{}/releases/{release}", t.app_dir)
}

fn step(action: Action, on_failure: OnFailure) -> Step {
    Step { action, on_failure }
}

fn live(t: &Target, f: &ServerFacts) -> Option<Live> {
    f.current.as_ref().map(|r| Live { release: r.clone(), dir: release_dir(t, r), slot: f.current_slot.clone() })
}

/// The steps that take the lock and check the server did not change since the checks.
fn locked(t: &Target, f: &ServerFacts, wait_secs: Option<u64>) -> Vec<Step> {
    let mut steps = vec![
        step(
            Action::Lock { dir: lock_dir(&t.app_dir), stale_after_secs: LOCK_STALE_SECS, wait_secs },
            OnFailure::Abort,
        ),
        step(Action::Expect { current: f.current.clone() }, OnFailure::Abort),
    ];
    let leftovers = f.incomplete();
    if !leftovers.is_empty() {
        steps.push(step(Action::RemoveIncomplete { releases: leftovers }, OnFailure::Abort));
    }
    steps
}

/// Uploads, image and completion of a new release directory.
fn prepare(i: &Inputs<'_>, dir: &str) -> Vec<Step> {
    let d = OnFailure::Discard;
    let upload = |name: &str, mode: &str, content: Content| {
        step(Action::Upload { path: format!("{dir}/{name}"), mode: mode.into(), content }, d)
    };
    let mut s = vec![
        step(Action::MakeRelease { dir: dir.into() }, d),
        upload("docker-compose.yml", "0644", Content::ComposeFile),
        upload(".env", "0644", Content::Interpolation),
        upload(ENV_FILE_NAME, "0600", Content::EnvFile { vars: i.env.env_file_vars.clone() }),
    ];
    for var in &i.env.secret_files {
        s.push(upload(
            &format!("{SECRETS_DIR}/{}.txt", var.to_ascii_lowercase()),
            "0600",
            Content::SecretFile { var: var.clone() },
        ));
    }
    s.push(step(Action::OwnSecrets { dir: dir.into() }, d));
    s.push(step(
        match &i.target.registry {
            Some(r) => {
                Action::PushPull { reference: format!("{r}:{}", i.image.short_id()), image_id: i.image.id.clone() }
            }
            None => Action::ShipImage { image_id: i.image.id.clone() },
        },
        d,
    ));
    s.push(step(Action::TagImage { image_id: i.image.id.clone(), tag: i.image.release_tag() }, d));
    s.push(step(Action::CompleteRelease { dir: dir.into() }, d));
    s
}

/// The proxy's files and start (or reload), when it is not running with this config.
fn edge_steps(i: &Inputs<'_>) -> Vec<Step> {
    let Some(want) = &i.edge_config else { return Vec::new() };
    let f = i.facts;
    let changed = f.edge_config.as_ref() != Some(want);
    if f.edge == EdgeState::Running && !changed {
        return Vec::new();
    }
    let d = OnFailure::Discard;
    let edge_dir = format!("{}/edge", i.target.app_dir);
    let upload = |name: &str, content: Content| {
        step(Action::Upload { path: format!("{edge_dir}/{name}"), mode: "0644".into(), content }, d)
    };
    let mut s = vec![
        upload("docker-compose.yml", Content::EdgeCompose),
        upload(".env", Content::EdgeInterpolation),
        upload("caddy.json", Content::EdgeConfig),
    ];
    if i.ca_root {
        s.push(upload("ca/acme-ca.pem", Content::EdgeCaRoot));
    }
    s.push(step(Action::EnsureEdge { reload: f.edge == EdgeState::Running && changed }, d));
    for host in &i.hosts {
        s.push(step(Action::AwaitCertificate { host: host.clone(), timeout_secs: CERTIFICATE_TIMEOUT_SECS }, d));
    }
    s
}

/// A release about to go live in a slot, and what serves now.
struct Switch<'a> {
    target: &'a Target,
    hosts: &'a [String],
    dir: &'a str,
    slot: &'a str,
    release: &'a str,
    old: Option<&'a Live>,
}

/// Bring the slot live: start, gate, switch, drain and stop what served before. The proxy's
/// own steps (`edge`) come before the switch; a takeover of the old layout puts them after
/// stopping it, since both may want the same ports.
fn go_live(sw: &Switch<'_>, edge: Vec<Step>, prune: Option<Step>) -> Vec<Step> {
    let Switch { target: t, hosts, dir, slot, release, old } = *sw;
    let (d, stop) = (OnFailure::Discard, OnFailure::Stop);
    let mut s = vec![step(Action::StartSlot { dir: dir.into(), slot: slot.into() }, d)];
    s.push(step(
        Action::GateSlot {
            dir: dir.into(),
            slot: slot.into(),
            path: t.health_path.clone(),
            timeout_secs: t.health_timeout_secs,
        },
        OnFailure::Reject,
    ));
    let legacy = old.is_some_and(|o| o.slot.is_none());
    // With an old slot to close, the proxy's health checks must have seen the new gate first;
    // with none, the first 200 through the proxy is enough.
    let wait_ms = if old.is_some_and(|o| o.slot.is_some()) { 4 * HEALTH_INTERVAL_MS } else { 0 };
    let settle =
        || hosts.first().map(|h| step(Action::Settle { host: h.clone(), path: t.health_path.clone(), wait_ms }, d));
    if t.proxy {
        s.push(step(Action::OpenGate { dir: dir.into(), slot: slot.into() }, d));
        if legacy {
            // The old layout may hold the proxy's ports: stop it, then start the proxy.
            s.push(step(Action::StopLegacy { project: t.project.clone() }, stop));
            s.extend(edge.into_iter().map(|e| Step { on_failure: stop, ..e }));
        } else {
            s.extend(edge);
        }
        s.extend(settle());
        if let Some(Live { dir: od, slot: Some(os), .. }) = old {
            let close = Action::CloseGate {
                dir: od.clone(),
                slot: os.clone(),
                confirm: hosts.first().cloned(),
                path: t.health_path.clone(),
            };
            s.push(step(close, d));
        }
    } else if legacy {
        s.push(step(Action::StopLegacy { project: t.project.clone() }, stop));
    }
    s.push(step(Action::PointCurrent { release: release.into() }, stop));
    if let Some(Live { dir: od, slot: Some(os), .. }) = old {
        if t.proxy {
            s.push(step(Action::Drain { secs: t.drain_secs }, stop));
        }
        s.push(step(Action::StopSlot { dir: od.clone(), slot: os.clone() }, stop));
    }
    s.extend(prune);
    s
}

/// The plan of `deploy vps`.
pub fn deploy(i: Inputs<'_>) -> Plan {
    let t = i.target;
    let dir = release_dir(t, &i.release);
    let old = live(t, i.facts);
    let slot = edge::other_slot(old.as_ref().and_then(|o| o.slot.as_deref())).to_string();
    let mut steps = locked(t, i.facts, i.wait_secs);
    steps.push(step(Action::EnsureNetwork { name: edge::network(&t.project) }, OnFailure::Abort));
    steps.extend(prepare(&i, &dir));
    let edge = edge_steps(&i);
    let prune = step(
        Action::Prune { keep: t.keep_releases, previous: old.as_ref().map(|o| o.release.clone()) },
        OnFailure::Stop,
    );
    let sw = Switch { target: t, hosts: &i.hosts, dir: &dir, slot: &slot, release: &i.release, old: old.as_ref() };
    steps.extend(go_live(&sw, edge, Some(prune)));
    Plan {
        kind: Kind::Deploy,
        target: t.name.clone(),
        connection: t.describe(),
        app_dir: t.app_dir.clone(),
        project: t.project.clone(),
        app_port: t.app_port,
        https_port: t.https_port,
        image: Some(i.image),
        release: i.release,
        release_dir: dir,
        slot,
        live: old,
        proxy: t.proxy,
        steps,
    }
}

/// The plan of `deploy rollback`: bring `to` (a complete kept release) back the same way a
/// deploy brings a new one, without uploading anything.
pub fn rollback(t: &Target, facts: &ServerFacts, to: &str, to_slot: Option<&str>, hosts: &[String]) -> Plan {
    let dir = release_dir(t, to);
    let old = live(t, facts);
    let live_slot = old.as_ref().and_then(|o| o.slot.as_deref());
    let slot = edge::other_slot(live_slot).to_string();
    let mut steps = locked(t, facts, None);
    if to_slot != Some(slot.as_str()) {
        steps.push(step(Action::Reslot { dir: dir.clone(), slot: slot.clone() }, OnFailure::Abort));
    }
    let sw = Switch { target: t, hosts, dir: &dir, slot: &slot, release: to, old: old.as_ref() };
    steps.extend(go_live(&sw, Vec::new(), None));
    Plan {
        kind: Kind::Rollback,
        target: t.name.clone(),
        connection: t.describe(),
        app_dir: t.app_dir.clone(),
        project: t.project.clone(),
        app_port: t.app_port,
        https_port: t.https_port,
        image: None,
        release: to.to_string(),
        release_dir: dir,
        slot,
        live: old,
        proxy: t.proxy,
        steps,
    }
}

#[path = "plan_display.rs"]
mod display;

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
