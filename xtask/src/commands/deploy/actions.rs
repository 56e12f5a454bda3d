//! What each step of a plan does on the server. Every server call goes through [`Ctx::call`],
//! which rides out a cut connection (ssh's own exit 255) by running the step's script again:
//! the scripts are written to be safe to repeat, and an ssh failure is never read as the
//! app's answer.

use super::execute::{Outcome, Payload, Result_, Shipped};
use crate::effects::ssh::{Output, Remote};
use crate::plan::compose::APP_UID;
use crate::plan::deploy::edge;
use crate::plan::deploy::plan::{Action, Content, Plan};
use crate::plan::deploy::scripts;
use anyhow::{Context, bail};
use std::time::{Duration, Instant};

/// How long a step waits for a cut connection to come back before giving up.
const RECONNECT_SECS: u64 = 60;

/// What this run made on the server, so a failure undoes exactly that.
#[derive(Debug, Clone, Copy, Default)]
pub struct Made {
    pub lock: bool,
    pub release_made: bool,
    pub slot_started: bool,
}

/// The executor's state while it runs a plan.
pub struct Ctx<'a> {
    pub server: &'a dyn Remote,
    pub plan: &'a Plan,
    pub payload: &'a Payload<'a>,
    pub progress: &'a mut dyn FnMut(&str),
    pub made: Made,
    pub shipped: Shipped,
    pub logs: Option<String>,
    pub pruned: Vec<String>,
    pub steps_run: Vec<String>,
    /// How long each step of `steps_run` took, in milliseconds (the last one may be cut short).
    pub step_ms: Vec<u64>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        server: &'a dyn Remote,
        plan: &'a Plan,
        payload: &'a Payload<'a>,
        progress: &'a mut dyn FnMut(&str),
    ) -> Self {
        Ctx {
            server,
            plan,
            payload,
            progress,
            made: Made::default(),
            shipped: Shipped::default(),
            logs: None,
            pruned: Vec::new(),
            steps_run: Vec::new(),
            step_ms: Vec::new(),
        }
    }

    /// Run a script; while ssh itself fails (exit 255: the link is down), wait and run it
    /// again, up to [`RECONNECT_SECS`].
    pub fn call(&mut self, script: &str, what: &str) -> anyhow::Result<Output> {
        let start = Instant::now();
        let mut attempt = 0u64;
        loop {
            let out = self.server.run(script).with_context(|| what.to_string())?;
            if !out.ssh_failed() {
                return Ok(out);
            }
            if start.elapsed() > Duration::from_secs(RECONNECT_SECS) {
                bail!(
                    "{what}: lost the connection to the server (ssh exit 255 for {RECONNECT_SECS}s): {}",
                    out.stderr_text().trim()
                );
            }
            attempt += 1;
            (self.progress)(&format!("{what}: connection lost, retrying ({attempt})"));
            std::thread::sleep(Duration::from_secs(attempt.min(5)));
        }
    }

    /// [`Ctx::call`], failing on a non-zero exit with the script's own words.
    pub fn call_ok(&mut self, script: &str, what: &str) -> anyhow::Result<()> {
        let out = self.call(script, what)?;
        if !out.success() {
            let text = format!("{}{}", out.stdout_text(), out.stderr_text());
            bail!("{what} failed (exit {:?}): {}", out.code, crate::effects::process::tail(text.as_bytes(), 8));
        }
        Ok(())
    }

    pub fn outcome(&self, result: Result_) -> Outcome {
        Outcome {
            result,
            release: self.plan.release.clone(),
            slot: self.plan.slot.clone(),
            previous: self.plan.live.as_ref().map(|l| l.release.clone()),
            image_sent: self.shipped.sent,
            image_bytes: self.shipped.bytes,
            layers_sent: self.shipped.layers_sent,
            layers_skipped: self.shipped.layers_skipped,
            logs: self.logs.clone(),
            pruned: self.pruned.clone(),
            steps_run: self.steps_run.clone(),
            step_ms: self.step_ms.clone(),
        }
    }

    fn say(&mut self, line: &str) {
        (self.progress)(line);
    }
}

/// The compose project of a slot of this plan's target.
pub fn slot_project(plan: &Plan, slot: &str) -> String {
    edge::slot_project(&plan.project, slot)
}

/// The target's compose project name (the slots are `<project>-blue` and `-green`).
fn plan_project(plan: &Plan) -> &str {
    &plan.project
}

/// The last log lines of the new slot's app (masked by the caller).
pub fn logs(ctx: &mut Ctx<'_>) -> String {
    let plan = ctx.plan;
    let script = scripts::last_logs(&plan.release_dir, &slot_project(plan, &plan.slot), 30);
    ctx.call(&script, "read the app's last log lines").map(|o| o.stdout_text()).unwrap_or_default()
}

/// Run one step.
pub fn run(ctx: &mut Ctx<'_>, action: &Action) -> anyhow::Result<()> {
    let plan = ctx.plan;
    match action {
        Action::Lock { dir, stale_after_secs, wait_secs } => lock(ctx, dir, *stale_after_secs, wait_secs.unwrap_or(0)),
        Action::Expect { current } => expect(ctx, current.as_deref()),
        Action::RemoveIncomplete { releases } => {
            let out = ctx.call(&scripts::remove_incomplete(&plan.app_dir, releases), "remove half-made releases")?;
            ctx.say(&format!(
                "removed half-made release(s): {}",
                out.stdout_text().split_whitespace().collect::<Vec<_>>().join(", ")
            ));
            Ok(())
        }
        Action::MakeRelease { dir } => {
            ctx.call_ok(&scripts::make_release(dir, &ctx.payload.token), "make the release directory")?;
            ctx.made.release_made = true;
            ctx.say(&format!("release dir {dir}"));
            Ok(())
        }
        Action::Upload { path, mode, content } => upload(ctx, path, mode, content),
        Action::OwnSecrets { dir } => {
            ctx.call_ok(&scripts::own_secrets(dir, APP_UID), "hand the secret files to the app's uid")
        }
        Action::ShipImage { .. } => {
            let ship = ctx.payload.ship;
            let shipped = ship(ctx.server, ctx.progress).context("ship the image")?;
            ctx.shipped = shipped;
            Ok(())
        }
        Action::PushPull { reference, image_id } => push_pull(ctx, reference, image_id),
        Action::TagImage { image_id, tag } => {
            ctx.call_ok(&scripts::tag_image(image_id, tag), "tag the image for the release")
        }
        Action::CompleteRelease { dir } => ctx.call_ok(&scripts::complete_release(dir), "mark the release complete"),
        Action::EnsureNetwork { name } => {
            let script = format!(
                "docker network inspect {n} >/dev/null 2>&1 || docker network create {n} >/dev/null\n",
                n = scripts::q(name)
            );
            ctx.call_ok(&script, "create the edge network")
        }
        Action::EnsureEdge { reload } => {
            let project = plan_project(plan);
            let script =
                scripts::ensure_edge(&plan.app_dir, &edge::edge_project(project), &edge::network(project), *reload);
            ctx.call_ok(&script, "start the edge proxy")?;
            ctx.say(if *reload { "proxy reloaded with its new config" } else { "proxy running" });
            Ok(())
        }
        Action::AwaitCertificate { host, timeout_secs } => {
            ctx.call_ok(&scripts::await_certificate(host, plan.https_port, *timeout_secs), &format!("get a certificate for {host}")).context(
                "the proxy has no certificate: its ACME directory may be unreachable or refusing (see `docker logs` of the proxy on the server)",
            )?;
            ctx.say(&format!("certificate for {host} ready"));
            Ok(())
        }
        Action::Reslot { dir, slot } => {
            let alias = edge::slot_project(plan_project(plan), slot);
            ctx.call_ok(&scripts::reslot(dir, slot, &alias), "move the release to the other slot")
        }
        Action::StartSlot { dir, slot } => {
            ctx.made.slot_started = true;
            ctx.call_ok(&scripts::start_slot(dir, &slot_project(plan, slot)), &format!("start slot {slot}"))?;
            ctx.say(&format!("slot {slot} started (no traffic yet)"));
            Ok(())
        }
        Action::GateSlot { dir, slot, path, timeout_secs } => gate(ctx, dir, slot, path, *timeout_secs),
        Action::OpenGate { dir, slot } => {
            ctx.call_ok(&scripts::set_gate(dir, &slot_project(plan, slot), true), &format!("open slot {slot}'s gate"))?;
            ctx.say(&format!("slot {slot}'s gate open"));
            Ok(())
        }
        Action::Settle { host, path, wait_ms } => settle(ctx, host, path, *wait_ms),
        Action::CloseGate { dir, slot, confirm, path } => close_gate(ctx, dir, slot, confirm.as_deref(), path),
        Action::StopLegacy { project } => ctx.call_ok(&scripts::stop_legacy(project), "stop the old-layout app"),
        Action::PointCurrent { release } => {
            ctx.call_ok(&scripts::point_current(&plan.app_dir, release), "point current at the release")?;
            ctx.say(&format!("current -> {release}"));
            Ok(())
        }
        Action::Drain { secs } => {
            ctx.say(&format!("draining the old slot for {secs}s"));
            std::thread::sleep(Duration::from_secs(*secs));
            Ok(())
        }
        Action::StopSlot { dir, slot } => {
            ctx.call_ok(&scripts::stop_slot(dir, &slot_project(plan, slot)), &format!("stop slot {slot}"))?;
            ctx.say(&format!("slot {slot} stopped (kept for rollback)"));
            Ok(())
        }
        Action::Prune { keep, previous } => {
            let out = ctx.call(&scripts::prune(&plan.app_dir, *keep, previous.as_deref()), "prune old releases")?;
            ctx.pruned = out.stdout_text().lines().map(str::to_string).collect();
            let n = ctx.pruned.len();
            ctx.say(&format!("pruned {n} old release(s)"));
            Ok(())
        }
    }
}

fn lock(ctx: &mut Ctx<'_>, dir: &str, stale: u64, wait: u64) -> anyhow::Result<()> {
    let p = ctx.payload;
    let holder = format!("{} pid {}", p.who, p.pid);
    if wait > 0 {
        ctx.say(&format!("waiting up to {wait}s for the deploy lock"));
    }
    for _ in 0..2 {
        let out = ctx.call(&scripts::lock(dir, &holder, &p.token, stale, wait), "take the deploy lock")?;
        if out.success() {
            ctx.made.lock = true;
            ctx.say(&format!("lock {dir} taken"));
            return Ok(());
        }
        if out.code != Some(scripts::LOCK_HELD) {
            bail!("take the deploy lock: exit {:?}: {}", out.code, out.stderr_text().trim());
        }
        let stdout = out.stdout_text();
        let mut lines = stdout.lines();
        let held_by = lines.next().unwrap_or("unknown").to_string();
        let age = lines.next().unwrap_or("?").to_string();
        if holder_is_dead(&held_by, &p.who) {
            ctx.say(&format!("lock {dir} was held by {held_by}, which is no longer running here: breaking it"));
            ctx.call_ok(&scripts::break_lock(dir), "break a dead deploy's lock")?;
            continue;
        }
        bail!(
            "another deploy holds the lock {dir} ({held_by}, for {age}s); wait for it to finish, or rerun with \
             --wait SECS; if its machine died, the lock is broken after {stale}s"
        );
    }
    bail!("could not take the deploy lock {dir}")
}

/// A holder `user@host pid N` from this very machine whose process is gone died mid-deploy.
pub fn holder_is_dead(held_by: &str, who: &str) -> bool {
    let Some((holder_who, pid)) = held_by.rsplit_once(" pid ") else { return false };
    holder_who == who && pid.parse::<u32>().is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// The live release changed between the checks and the lock (another deploy went first):
/// the plan was made for a server that is no more.
#[derive(Debug)]
pub struct ServerChanged {
    pub now: String,
    pub planned: String,
}

impl std::fmt::Display for ServerChanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server changed since the checks: the live release is now {:?}, not {:?}; run the command again",
            self.now, self.planned
        )
    }
}

impl std::error::Error for ServerChanged {}

fn expect(ctx: &mut Ctx<'_>, current: Option<&str>) -> anyhow::Result<()> {
    let script = format!("readlink {}/current 2>/dev/null | sed 's#.*/##'\n", scripts::q(&ctx.plan.app_dir));
    let now = ctx.call(&script, "read the live release")?.stdout_text().trim().to_string();
    if now != current.unwrap_or("") {
        return Err(ServerChanged { now, planned: current.unwrap_or("").to_string() }.into());
    }
    Ok(())
}

fn upload(ctx: &mut Ctx<'_>, path: &str, mode: &str, content: &Content) -> anyhow::Result<()> {
    let p = ctx.payload;
    let mode = u32::from_str_radix(mode, 8).context("upload mode")?;
    let edge = || p.edge.as_ref().context("the plan uploads proxy files but none were rendered");
    let bytes: Vec<u8> = match content {
        Content::ComposeFile => p.compose.as_bytes().to_vec(),
        Content::Interpolation => p.interpolation.as_bytes().to_vec(),
        Content::EnvFile { .. } => p.shipment.env_file.expose().as_bytes().to_vec(),
        Content::SecretFile { var } => match p.shipment.secret_files.iter().find(|(n, _)| n == var) {
            Some((_, v)) => v.expose().as_bytes().to_vec(),
            None => bail!("secret {var} is in the plan but not in the env file"),
        },
        Content::EdgeCompose => edge()?.compose.as_bytes().to_vec(),
        Content::EdgeInterpolation => edge()?.interpolation.as_bytes().to_vec(),
        Content::EdgeConfig => edge()?.config.as_bytes().to_vec(),
        Content::EdgeCaRoot => edge()?.ca_root.clone().context("no CA bundle was read")?,
    };
    if let Some(dir) = path.rsplit_once('/').map(|(d, _)| d).filter(|d| d.ends_with("/edge/ca") || d.ends_with("/edge"))
    {
        ctx.call_ok(&format!("mkdir -p {}\n", scripts::q(dir)), "make the proxy's directory")?;
    }
    let start = Instant::now();
    loop {
        match ctx.server.upload(&mut &bytes[..], path, mode) {
            Ok(()) => break,
            // The upload is atomic (temp file, rename): after a cut link, do it again.
            Err(e)
                if start.elapsed() < Duration::from_secs(RECONNECT_SECS) && format!("{e:#}").contains("exit 255") =>
            {
                ctx.say(&format!("upload {path}: connection lost, retrying"));
                std::thread::sleep(Duration::from_secs(2));
            }
            Err(e) => return Err(e).with_context(|| format!("upload {path}")),
        }
    }
    ctx.say(&format!("uploaded {path} ({mode:o})"));
    Ok(())
}

/// Push locally, pull on the server, and make sure the server got this very image: a tag in a
/// shared registry can be overwritten between our push and its pull.
fn push_pull(ctx: &mut Ctx<'_>, reference: &str, image_id: &str) -> anyhow::Result<()> {
    let present = ctx.call(&scripts::has_image(image_id), "look for the image on the server")?;
    if present.stdout_text().trim() == image_id {
        ctx.say("image already on the server: not sent");
        return Ok(());
    }
    ctx.say(&format!("pushing the image as {reference}"));
    (ctx.payload.push)(reference).with_context(|| format!("push {reference} from the local engine"))?;
    let out = ctx.call(&scripts::pull_image(reference), "pull the image on the server")?;
    if !out.success() {
        bail!(
            "docker pull {reference} on the server failed (exit {:?}): {}; check that the server can reach the \
             registry (for a private one: `docker login` on the server)",
            out.code,
            out.stderr_text().trim()
        );
    }
    let pulled = out.stdout_text().trim().to_string();
    if pulled != image_id {
        bail!(
            "the server pulled {reference} as image {pulled}, not {image_id}: someone else pushed that tag; deploy again \
             (the tag is the image's own short ID) or check who writes to the registry"
        );
    }
    // Sent through the registry: no image bytes crossed ssh.
    ctx.shipped = Shipped { sent: true, ..Shipped::default() };
    ctx.say("image pulled");
    Ok(())
}

/// The health gate of a slot: the server-side loop, resumed with the time left when the
/// link drops mid-way (a cut link is not an unhealthy app).
fn gate(ctx: &mut Ctx<'_>, dir: &str, slot: &str, path: &str, timeout: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let project = slot_project(ctx.plan, slot);
    ctx.say(&format!("gating slot {slot} on {path} (up to {timeout}s)"));
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).as_secs().max(1);
        let out = ctx.call(&scripts::gate_slot(dir, &project, path, ctx.plan.app_port, left), "health gate")?;
        let said = out.stdout_text().trim().to_string();
        if out.success() {
            ctx.say(&format!("slot {slot}: {said}"));
            return Ok(());
        }
        if out.code == Some(scripts::SLOT_CRASHED) || Instant::now() >= deadline {
            bail!("slot {slot} failed its health gate: {said}");
        }
    }
}

/// Close the old gate and make sure the proxy now reaches the new slot; if it does not, the
/// old gate opens again before the error, so the old slot goes on serving.
fn close_gate(ctx: &mut Ctx<'_>, dir: &str, slot: &str, confirm: Option<&str>, path: &str) -> anyhow::Result<()> {
    let project = slot_project(ctx.plan, slot);
    ctx.call_ok(&scripts::set_gate(dir, &project, false), &format!("close slot {slot}'s gate"))?;
    let Some(host) = confirm else { return Ok(()) };
    if let Err(e) = settle(ctx, host, path, 4 * edge::HEALTH_INTERVAL_MS) {
        ctx.call_ok(&scripts::set_gate(dir, &project, true), &format!("reopen slot {slot}'s gate"))?;
        return Err(e.context(format!("the proxy did not reach the new slot; slot {slot}'s gate is open again")));
    }
    ctx.say(&format!("slot {slot}'s gate closed: traffic goes to slot {}", ctx.plan.slot));
    Ok(())
}

/// Wait for the proxy to follow the gates, then check a request through it answers 200.
fn settle(ctx: &mut Ctx<'_>, host: &str, path: &str, wait_ms: u64) -> anyhow::Result<()> {
    std::thread::sleep(Duration::from_millis(wait_ms));
    // No wait planned (nothing to switch away from): poll briskly instead.
    let every = if wait_ms == 0 { 200 } else { 500 };
    let start = Instant::now();
    loop {
        let out =
            ctx.call(&scripts::through_proxy(host, ctx.plan.https_port, path), "check a request through the proxy")?;
        let code = out.stdout_text().trim().to_string();
        if code == "200" {
            ctx.say(&format!("https://{host}{path} through the proxy: 200"));
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(15) {
            bail!("a request to https://{host}{path} through the proxy answered {code:?}, not 200");
        }
        std::thread::sleep(Duration::from_millis(every));
    }
}
