//! Acting on a plan through a [`Server`]: lock, upload, ship the image, compose up, gate on
//! health, then either point `current` at the release or bring the previous one back.

use crate::effects::ssh::Remote;
use crate::plan::compose::APP_UID;
use crate::plan::deploy::envship::{Shipment, mask_all};
use crate::plan::deploy::plan::{Content, Plan, Step, audit_log, lock_dir};
use crate::plan::deploy::scripts;
use anyhow::{Context, bail};
use serde::Serialize;
use std::io::Read;

/// How a deploy ended (also the JSON output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Result_ {
    /// The release is live and healthy.
    Deployed,
    /// The release failed its health gate; the previous release is serving again.
    RolledBack,
    /// The release failed and there was nothing (healthy) to go back to.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub result: Result_,
    pub release: String,
    pub previous: Option<String>,
    /// Whether the image went over the wire (false: the server already had it).
    pub image_sent: bool,
    pub image_bytes: u64,
    /// The failing container's last log lines, with every known secret value masked.
    pub logs: Option<String>,
    pub pruned: Vec<String>,
}

/// What the executor needs besides the plan: the bytes to upload and the image stream.
pub struct Payload<'a> {
    pub compose: String,
    pub shipment: &'a Shipment,
    /// Opens a `docker save` stream of the image (called only when the server lacks it).
    pub image: &'a dyn Fn() -> anyhow::Result<Box<dyn Read + Send>>,
    /// Tags and pushes the local image as the given registry reference (registry targets
    /// only; called only when the server lacks the image).
    pub push: &'a dyn Fn(&str) -> anyhow::Result<()>,
    /// Who deploys (`user@host`), for the lock holder and the audit log.
    pub who: String,
    /// Local process ID, so a later deploy from this machine can tell a dead holder.
    pub pid: u32,
    /// UTC time for the audit line.
    pub when: String,
}

/// The tag every release runs: the image's repository plus its short ID, so each release
/// keeps naming its own image after the build tag moves on.
pub fn release_tag(plan: &Plan) -> String {
    let repo = plan.image.tag.rsplit_once(':').map(|(r, _)| r).unwrap_or(&plan.image.tag);
    let repo =
        if repo.contains('/') && repo.rsplit_once('/').is_some_and(|(_, last)| last.is_empty()) { "app" } else { repo };
    format!("{repo}:{}", plan.image.short_id())
}

pub fn execute(
    server: &dyn Remote,
    plan: &Plan,
    p: Payload<'_>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Outcome> {
    let token = format!("{}-{}-{}", p.pid, plan.release, p.when);
    acquire_lock(server, plan, &p, &token, progress)?;
    let result = locked(server, plan, &p, progress);
    let audit_result = match &result {
        Ok(o) => format!("{:?}", o.result).to_lowercase(),
        Err(_) => "error".to_string(),
    };
    let line = format!(
        "{} who={} target={} release={} image={}@{} result={}",
        p.when, p.who, plan.target, plan.release, plan.image.tag, plan.image.id, audit_result
    );
    // The audit line and the unlock are attempted whatever happened; a cut link gets a few
    // retries so the lock does not outlive the deploy that took it.
    let audit = retry(|| run_ok(server, &scripts::audit(&audit_log(&plan.app_dir), &line), "append to the audit log"));
    let unlock =
        retry(|| run_ok(server, &scripts::unlock(&lock_dir(&plan.app_dir), &token), "release the deploy lock"));
    progress(&format!("unlock {}", lock_dir(&plan.app_dir)));
    let outcome = result?;
    audit?;
    unlock?;
    Ok(outcome)
}

fn retry(mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<()> {
    let mut last = Ok(());
    // About a minute in all: long enough to outlast a short network cut.
    for attempt in 1..=15u64 {
        last = f();
        if last.is_ok() {
            return last;
        }
        std::thread::sleep(std::time::Duration::from_secs(attempt.min(5)));
    }
    last
}

fn run_ok(server: &dyn Remote, script: &str, what: &str) -> anyhow::Result<()> {
    let out = server.run(script).with_context(|| what.to_string())?;
    if !out.success() {
        bail!("{what} failed (exit {:?}): {}", out.code, out.stderr_text().trim());
    }
    Ok(())
}

fn acquire_lock(
    server: &dyn Remote,
    plan: &Plan,
    p: &Payload<'_>,
    token: &str,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    let Some(Step::Lock { dir, stale_after_secs, wait_secs }) =
        plan.steps.iter().find(|s| matches!(s, Step::Lock { .. }))
    else {
        bail!("the plan has no lock step");
    };
    let holder = format!("{} pid {}", p.who, p.pid);
    for _ in 0..2 {
        let out = server
            .run(&scripts::lock(dir, &holder, token, *stale_after_secs, wait_secs.unwrap_or(0)))
            .context("take the deploy lock")?;
        if out.success() {
            progress(&format!("lock {dir} taken"));
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
            progress(&format!("lock {dir} was held by {held_by}, which is no longer running here: breaking it"));
            run_ok(server, &scripts::break_lock(dir), "break a dead deploy's lock")?;
            continue;
        }
        bail!(
            "another deploy holds the lock {dir} ({held_by}, for {age}s); wait for it to finish, \
             or rerun with --wait SECS; if its machine died, the lock is broken after {stale_after_secs}s"
        );
    }
    bail!("could not take the deploy lock {dir}")
}

/// A holder `user@host pid N` from this very machine whose process is gone died mid-deploy.
fn holder_is_dead(held_by: &str, who: &str) -> bool {
    let Some((holder_who, pid)) = held_by.rsplit_once(" pid ") else { return false };
    holder_who == who && pid.parse::<u32>().is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

fn locked(
    server: &dyn Remote,
    plan: &Plan,
    p: &Payload<'_>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Outcome> {
    let previous = server
        .run(&scripts::current_release(&plan.app_dir))
        .context("read the current release")?
        .stdout_text()
        .trim()
        .to_string();
    let previous = (!previous.is_empty()).then_some(previous);
    let mut outcome = Outcome {
        result: Result_::Failed,
        release: plan.release.clone(),
        previous: previous.clone(),
        image_sent: false,
        image_bytes: 0,
        logs: None,
        pruned: Vec::new(),
    };
    // Everything up to `compose up` leaves the running release untouched; if it fails, the
    // half-made release directory goes away and the error surfaces.
    if let Err(e) = prepare(server, plan, p, &mut outcome, progress) {
        // Retried like the unlock: after a cut link the first attempts fail too.
        let _ = retry(|| run_ok(server, &scripts::remove_release(&plan.release_dir), "remove the unfinished release"));
        return Err(e);
    }
    let up = server.run(&scripts::compose_up(&plan.release_dir, &plan.project)).context("compose up")?;
    progress(&format!("compose -p {} up -d: exit {:?}", plan.project, up.code));
    let healthy = up.success() && gate(server, plan, &plan.release_dir, Some(&plan.image.id), progress)?;
    if healthy {
        run_ok(server, &scripts::point_current(&plan.app_dir, &plan.release), "point current at the release")?;
        progress(&format!("current -> {}", plan.release));
        let keep = plan
            .steps
            .iter()
            .find_map(|s| match s {
                Step::Prune { keep } => Some(*keep),
                _ => None,
            })
            .unwrap_or(5);
        let pruned = server.run(&scripts::prune(&plan.app_dir, keep)).context("prune old releases")?;
        outcome.pruned = pruned.stdout_text().lines().map(str::to_string).collect();
        progress(&format!("pruned {} old release(s)", outcome.pruned.len()));
        outcome.result = Result_::Deployed;
        return Ok(outcome);
    }
    let logs = server
        .run(&scripts::last_logs(&plan.release_dir, &plan.project, 30))
        .map(|o| o.stdout_text())
        .unwrap_or_default();
    let logs = if up.success() { logs } else { format!("{}\n{}", up.stdout_text(), logs) };
    outcome.logs = Some(mask_all(&logs, &p.shipment.secret_values));
    outcome.result = rollback(server, plan, previous.as_deref(), progress)?;
    Ok(outcome)
}

fn prepare(
    server: &dyn Remote,
    plan: &Plan,
    p: &Payload<'_>,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    run_ok(server, &scripts::make_release(&plan.release_dir), "make the release directory")?;
    progress(&format!("release dir {}", plan.release_dir));
    let interpolation =
        format!("APP_IMAGE={}\nAPP_PORT={}\nCOMPOSE_PROJECT_NAME={}\n", release_tag(plan), plan.app_port, plan.project);
    for step in &plan.steps {
        let Step::Upload { path, mode, content } = step else { continue };
        let mode = u32::from_str_radix(mode, 8).context("upload mode")?;
        let secret;
        let bytes: &[u8] = match content {
            Content::ComposeFile => p.compose.as_bytes(),
            Content::Interpolation => interpolation.as_bytes(),
            Content::EnvFile { .. } => p.shipment.env_file.expose().as_bytes(),
            Content::SecretFile { var } => {
                secret = p.shipment.secret_files.iter().find(|(n, _)| n == var).map(|(_, v)| v.clone());
                match &secret {
                    Some(v) => v.expose().as_bytes(),
                    None => bail!("secret {var} is in the plan but not in the env file"),
                }
            }
        };
        server.upload(&mut &bytes[..], path, mode).with_context(|| format!("upload {path}"))?;
        progress(&format!("uploaded {path} ({mode:o})"));
    }
    run_ok(server, &scripts::own_secrets(&plan.release_dir, APP_UID), "hand the secret files to the app's uid")?;
    let present = server.run(&scripts::has_image(&plan.image.id)).context("look for the image on the server")?;
    if present.stdout_text().trim() == plan.image.id {
        progress(&format!("image {} already on the server: not sent", plan.image.short_id()));
    } else if let Some(reference) = plan.steps.iter().find_map(|s| match s {
        Step::PushPull { reference, .. } => Some(reference),
        _ => None,
    }) {
        pull(server, plan, p, reference, progress)?;
        // Sent, through the registry: no bytes crossed ssh, so image_bytes stays 0.
        outcome.image_sent = true;
    } else {
        progress(&format!("shipping image {} (docker save | ssh docker load)", plan.image.short_id()));
        let mut tar = (p.image)().context("export the image from the local engine")?;
        let mut counted = Counting { inner: &mut tar, n: 0 };
        server
            .stream_stdin("docker load", &mut counted)
            .context("ship the image over ssh")?
            .check("docker load on the server")?;
        outcome.image_bytes = counted.n;
        outcome.image_sent = true;
        progress(&format!("image sent: {} bytes", outcome.image_bytes));
    }
    run_ok(server, &scripts::tag_image(&plan.image.id, &release_tag(plan)), "tag the image for the release")?;
    Ok(())
}

/// Push locally, pull on the server, and make sure the server got this very image: a tag in a
/// shared registry can be overwritten between our push and its pull.
fn pull(
    server: &dyn Remote,
    plan: &Plan,
    p: &Payload<'_>,
    reference: &str,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    progress(&format!("pushing image {} as {reference}", plan.image.short_id()));
    (p.push)(reference).with_context(|| format!("push {reference} from the local engine"))?;
    progress(&format!("docker pull {reference} on the server"));
    let out = server.run(&scripts::pull_image(reference)).context("pull the image on the server")?;
    if !out.success() {
        bail!(
            "docker pull {reference} on the server failed (exit {:?}): {}; check that the server can reach the \
             registry (for a private one: `docker login` on the server)",
            out.code,
            out.stderr_text().trim()
        );
    }
    let pulled = out.stdout_text().trim().to_string();
    if pulled != plan.image.id {
        bail!(
            "the server pulled {reference} as image {pulled}, not {}: someone else pushed that tag; \
             deploy again (the tag is the image's own short ID) or check who writes to the registry",
            plan.image.id
        );
    }
    progress(&format!("image {} pulled", plan.image.short_id()));
    Ok(())
}

fn gate(
    server: &dyn Remote,
    plan: &Plan,
    dir: &str,
    image_id: Option<&str>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<bool> {
    let Some(Step::HealthGate { url, timeout_secs }) = plan.steps.iter().find(|s| matches!(s, Step::HealthGate { .. }))
    else {
        bail!("the plan has no health gate");
    };
    let out = server
        .run(&scripts::health_gate(dir, &plan.project, image_id.unwrap_or(""), url, *timeout_secs))
        .context("health check")?;
    progress(&format!("health {url}: {}", if out.success() { "ok" } else { "FAILED" }));
    Ok(out.success())
}

fn rollback(
    server: &dyn Remote,
    plan: &Plan,
    previous: Option<&str>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Result_> {
    let Some(prev) = previous else {
        progress("no previous release to roll back to");
        return Ok(Result_::Failed);
    };
    let dir = format!("{}/releases/{prev}", plan.app_dir);
    progress(&format!("rolling back to {prev}"));
    let up = server.run(&scripts::compose_up(&dir, &plan.project)).context("compose up the previous release")?;
    let id = server.run(&format!(
        "docker image inspect --format '{{{{.Id}}}}' $(sed -n 's/^APP_IMAGE=//p' {}/.env)\n",
        scripts::q(&dir)
    ))?;
    let id = id.stdout_text().trim().to_string();
    let healthy = up.success() && gate(server, plan, &dir, (!id.is_empty()).then_some(id.as_str()), progress)?;
    Ok(if healthy { Result_::RolledBack } else { Result_::Failed })
}

/// Counts the bytes that go over the wire (the image transfer's figure in outputs and bench).
struct Counting<'a> {
    inner: &'a mut dyn Read,
    n: u64,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::ssh::{Call, Output, RecordingRemote};
    use crate::plan::deploy::envship::Shipment;
    use crate::plan::deploy::plan::{EnvSummary, ImageRef, Inputs, build};
    use crate::plan::deploy::targets::{Target, Targets};
    use envfile::Secret;
    use std::path::PathBuf;

    const CANARY: &str = "canary-7d41c2b9e8f05a36";
    const ID: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn sandbox() -> Target {
        Targets::committed().get(Some("sandbox")).unwrap().clone()
    }

    fn plan(t: &Target) -> Plan {
        build(Inputs {
            target: t,
            image: ImageRef { tag: "reference-app:latest".into(), id: ID.into() },
            env_file: PathBuf::from(".env.production"),
            env: EnvSummary {
                env_file_vars: vec!["JWT_SECRET".into()],
                secret_files: vec!["POSTGRES_PASSWORD".into()],
                left_behind: vec![],
            },
            timestamp: "20261125T140000Z".into(),
            wait_secs: None,
        })
    }

    fn shipment() -> Shipment {
        Shipment {
            env_file: Secret::new(format!("JWT_SECRET={CANARY}\n")),
            secret_files: vec![("POSTGRES_PASSWORD".into(), Secret::new(format!("{CANARY}-pg")))],
            summary: EnvSummary::default(),
            secret_values: vec![Secret::new(CANARY), Secret::new(format!("{CANARY}-pg"))],
        }
    }

    /// A server whose answers depend on the script: `rules` is (needle, exit code, stdout).
    fn server(rules: Vec<(&'static str, i32, String)>) -> RecordingRemote {
        RecordingRemote::new(move |call| {
            let Call::Run { script } = call else { return Ok(Output::ok("")) };
            Ok(match rules.iter().find(|(n, _, _)| script.contains(n)) {
                Some((_, code, out)) => Output { code: Some(*code), stdout: out.clone().into_bytes(), stderr: vec![] },
                None => Output::ok(""),
            })
        })
    }

    fn run(remote: &RecordingRemote, plan: &Plan) -> anyhow::Result<Outcome> {
        run_pushing(remote, plan, &std::cell::RefCell::new(Vec::new()))
    }

    /// Like [`run`], recording the references the local push was asked for.
    fn run_pushing(
        remote: &RecordingRemote,
        plan: &Plan,
        pushed: &std::cell::RefCell<Vec<String>>,
    ) -> anyhow::Result<Outcome> {
        let ship = shipment();
        let image = || -> anyhow::Result<Box<dyn Read + Send>> { Ok(Box::new(std::io::Cursor::new(vec![7u8; 4096]))) };
        let push = |r: &str| -> anyhow::Result<()> {
            pushed.borrow_mut().push(r.to_string());
            Ok(())
        };
        let payload = Payload {
            compose: "services: {}\n".into(),
            shipment: &ship,
            image: &image,
            push: &push,
            who: "me@here".into(),
            pid: 1,
            when: "t".into(),
        };
        execute(remote, plan, payload, &mut |_| {})
    }

    fn registry_target() -> Target {
        Target { registry: Some("10.213.7.1:5000/app".into()), ..sandbox() }
    }

    const REFERENCE: &str = "10.213.7.1:5000/app:0123456789ab";

    #[test]
    fn a_registry_target_pushes_and_pulls_and_never_streams_docker_load() {
        let t = registry_target();
        let remote = server(vec![("docker pull -q", 0, format!("{ID}\n"))]);
        let pushed = std::cell::RefCell::new(Vec::new());
        let o = run_pushing(&remote, &plan(&t), &pushed).unwrap();
        assert_eq!(o.result, Result_::Deployed);
        assert!(o.image_sent && o.image_bytes == 0, "sent through the registry, nothing over ssh");
        assert_eq!(*pushed.borrow(), [REFERENCE]);
        assert!(!remote.calls().iter().any(|c| matches!(c, Call::Stream { .. })), "no docker load over ssh");
        let scripts = scripts_run(&remote);
        let pull =
            scripts.iter().position(|s| s.contains(&format!("docker pull -q '{REFERENCE}'"))).expect("docker pull ran");
        let tag = scripts
            .iter()
            .position(|s| s.contains(&format!("docker tag '{ID}' 'reference-app:0123456789ab'")))
            .expect("release tag");
        let up = scripts.iter().position(|s| s.contains("up -d")).unwrap();
        assert!(pull < tag && tag < up);
    }

    #[test]
    fn a_registry_target_skips_push_and_pull_when_the_server_has_the_image() {
        let t = registry_target();
        let remote = server(vec![("docker image inspect --format '{{.Id}}' '", 0, format!("{ID}\n"))]);
        let pushed = std::cell::RefCell::new(Vec::new());
        run_pushing(&remote, &plan(&t), &pushed).unwrap();
        assert!(pushed.borrow().is_empty());
        assert!(!scripts_run(&remote).iter().any(|s| s.contains("docker pull")));
    }

    #[test]
    fn a_pulled_image_with_another_id_is_refused() {
        let t = registry_target();
        let other = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
        let remote = server(vec![("docker pull -q", 0, format!("{other}\n"))]);
        let err = format!("{:#}", run(&remote, &plan(&t)).unwrap_err());
        assert!(err.contains("someone else pushed"), "{err}");
        let scripts = scripts_run(&remote);
        assert!(!scripts.iter().any(|s| s.contains("up -d") || s.contains("docker tag")));
        assert!(scripts.iter().any(|s| s.starts_with("rm -rf '/srv/app/releases/20261125T140000Z")));
    }

    fn scripts_run(remote: &RecordingRemote) -> Vec<String> {
        remote
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Run { script } => Some(script),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn first_deploy_locks_uploads_private_files_ships_image_and_unlocks() {
        let t = sandbox();
        let plan = plan(&t);
        let remote = server(vec![]);
        let o = run(&remote, &plan).unwrap();
        assert_eq!(o.result, Result_::Deployed);
        assert!(o.image_sent);
        assert_eq!(o.image_bytes, 4096);
        let calls = remote.calls();
        assert!(matches!(&calls[0], Call::Run { script } if script.contains("mkdir \"$lock\"")));
        assert!(matches!(calls.last(), Some(Call::Run { script }) if script.contains("rm -rf")));
        let modes: Vec<(String, u32)> = calls
            .iter()
            .filter_map(|c| match c {
                Call::Upload { path, mode, .. } => Some((path.rsplit('/').next().unwrap().to_string(), *mode)),
                _ => None,
            })
            .collect();
        assert!(modes.contains(&(".env.production".into(), 0o600)));
        assert!(modes.contains(&("postgres_password.txt".into(), 0o600)));
        assert!(calls.iter().any(|c| matches!(c, Call::Stream { command, bytes: 4096 } if command == "docker load")));
        assert!(scripts_run(&remote).iter().any(|s| s.contains("ln -sfn releases/'20261125T140000Z-0123456789ab'")));
    }

    #[test]
    fn no_secret_reaches_a_command_line() {
        let t = sandbox();
        let remote = server(vec![]);
        run(&remote, &plan(&t)).unwrap();
        for s in scripts_run(&remote) {
            assert!(!s.contains(CANARY), "secret on a command line: {s}");
        }
    }

    #[test]
    fn image_already_on_the_server_is_not_sent() {
        let t = sandbox();
        let remote = server(vec![("docker image inspect --format", 0, format!("{ID}\n"))]);
        let o = run(&remote, &plan(&t)).unwrap();
        assert!(!o.image_sent);
        assert!(!remote.calls().iter().any(|c| matches!(c, Call::Stream { .. })));
    }

    #[test]
    fn failed_health_brings_the_previous_release_back_with_masked_logs() {
        let t = sandbox();
        let new_gate = "cd '/srv/app/releases/20261125T140000Z-0123456789ab'\ndeadline";
        let remote = server(vec![
            ("readlink '/srv/app'/current", 0, "20261124T100000Z-aaaaaaaaaaaa\n".into()),
            (new_gate, 1, "not healthy\n".into()),
            ("docker logs --tail", 0, format!("panic: bad key {CANARY}\n")),
        ]);
        let o = run(&remote, &plan(&t)).unwrap();
        assert_eq!(o.result, Result_::RolledBack);
        let logs = o.logs.unwrap();
        assert!(logs.contains("panic: bad key") && !logs.contains(CANARY), "{logs}");
        let scripts = scripts_run(&remote);
        assert!(
            scripts
                .iter()
                .any(|s| s.contains("cd '/srv/app/releases/20261124T100000Z-aaaaaaaaaaaa'\ncompose -p 'app' up -d"))
        );
        assert!(!scripts.iter().any(|s| s.contains("ln -sfn")), "current must not move to a failed release");
        assert!(scripts.iter().any(|s| s.contains("result=rolledback")));
    }

    #[test]
    fn a_held_lock_fails_clearly_without_touching_anything() {
        let t = sandbox();
        let remote = server(vec![("mkdir \"$lock\"", scripts::LOCK_HELD, "ci@builder pid 99\n12\n".into())]);
        let err = format!("{:#}", run(&remote, &plan(&t)).unwrap_err());
        assert!(err.contains("ci@builder") && err.contains("--wait"), "{err}");
        assert!(!remote.calls().iter().any(|c| matches!(c, Call::Upload { .. } | Call::Stream { .. })));
    }

    #[test]
    fn a_broken_transfer_removes_the_release_and_releases_the_lock() {
        let t = sandbox();
        let remote = RecordingRemote::new(|call| match call {
            Call::Stream { .. } => Ok(Output { code: Some(255), ..Output::default() }),
            _ => Ok(Output::ok("")),
        });
        assert!(run(&remote, &plan(&t)).is_err());
        let scripts = scripts_run(&remote);
        assert!(scripts.iter().any(|s| s.starts_with("rm -rf '/srv/app/releases/20261125T140000Z")));
        assert!(scripts.iter().any(|s| s.contains("result=error")));
        assert!(scripts.last().is_some_and(|s| s.contains("rm -rf '/srv/app/.deploy.lock'")));
        assert!(!scripts.iter().any(|s| s.contains("up -d")));
    }
}
