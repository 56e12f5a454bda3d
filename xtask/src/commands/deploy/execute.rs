//! The executor of a deploy or rollback plan: `for step in plan.steps`, each through
//! [`actions`], and what its failure policy says when one fails; then, whatever happened, the
//! audit line and the unlock (retried, so a cut link does not leave the lock behind).

use super::actions::{self, Ctx, Made};
use crate::effects::ssh::Remote;
use crate::plan::deploy::envship::{Shipment, mask_all};
use crate::plan::deploy::plan::{Kind, OnFailure, Plan, audit_log, lock_dir};
use crate::plan::deploy::scripts;
use serde::Serialize;

/// How a deploy ended (also the JSON output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Result_ {
    /// The release is live and healthy.
    Deployed,
    /// A rollback brought the kept release back; it is live and healthy.
    RolledBack,
    /// The release failed its health gate and never received traffic; the live release
    /// kept serving throughout.
    Rejected,
    /// The release failed its health gate and nothing was live before it.
    Failed,
}

/// What the image transfer reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Shipped {
    /// Whether anything went to the server (false: it had the image).
    pub sent: bool,
    /// Bytes that crossed the wire for the image.
    pub bytes: u64,
    pub layers_sent: usize,
    pub layers_skipped: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub result: Result_,
    pub release: String,
    pub slot: String,
    pub previous: Option<String>,
    /// Whether the image went over the wire (false: the server already had it).
    pub image_sent: bool,
    pub image_bytes: u64,
    pub layers_sent: usize,
    pub layers_skipped: usize,
    /// The failing release's last log lines, with every known secret value masked.
    pub logs: Option<String>,
    pub pruned: Vec<String>,
    /// The steps that ran, as the plan prints them: a dry run shows exactly these.
    pub steps_run: Vec<String>,
    /// Milliseconds each of `steps_run` took: where a deploy's time goes.
    pub step_ms: Vec<u64>,
}

/// The image transfer: sends what the server lacks over the given connection.
pub type ShipFn<'a> = dyn Fn(&dyn Remote, &mut dyn FnMut(&str)) -> anyhow::Result<Shipped> + 'a;

/// What the executor needs besides the plan: the bytes to upload and the image transfer.
pub struct Payload<'a> {
    pub compose: String,
    /// The slot's `.env` (image tag, slot, networks; no secret).
    pub interpolation: String,
    pub shipment: &'a Shipment,
    pub edge: Option<EdgeFiles>,
    /// Sends the image when the server lacks it (only the missing layers).
    pub ship: &'a ShipFn<'a>,
    /// Tags and pushes the local image as the given registry reference (registry targets).
    pub push: &'a dyn Fn(&str) -> anyhow::Result<()>,
    /// Who deploys (`user@host`), for the lock holder and the audit log.
    pub who: String,
    /// Local process ID, so a later deploy from this machine can tell a dead holder.
    pub pid: u32,
    /// UTC time for the audit line.
    pub when: String,
    /// Marks what this deploy made on the server (its lock, its release dir).
    pub token: String,
}

/// The proxy's files, rendered from the target.
#[derive(Debug, Clone, Default)]
pub struct EdgeFiles {
    pub compose: String,
    pub interpolation: String,
    pub config: String,
    pub ca_root: Option<Vec<u8>>,
}

/// Run the plan. `Err` is an error the user must act on (the server unreachable, a step
/// after the switch failed); a release that failed its gate is an `Ok` outcome.
pub fn execute(
    server: &dyn Remote,
    plan: &Plan,
    p: Payload<'_>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Outcome> {
    let mut ctx = Ctx::new(server, plan, &p, progress);
    let result = run_steps(&mut ctx);
    let audit_result = match &result {
        Ok(o) => format!("{:?}", o.result).to_lowercase(),
        Err(_) => "error".to_string(),
    };
    let what = match plan.kind {
        Kind::Deploy => format!("deploy image={}", plan.image.as_ref().map(|i| i.id.as_str()).unwrap_or("?")),
        Kind::Rollback => "rollback".to_string(),
    };
    let line = format!(
        "{} who={} target={} {what} release={} slot={} result={audit_result}",
        p.when, p.who, plan.target, plan.release, plan.slot
    );
    let locked = ctx.made.lock;
    // The audit line and the unlock are attempted whatever happened.
    let audit = ctx.call_ok(&scripts::audit(&audit_log(&plan.app_dir), &line), "append to the audit log");
    let unlock = if locked {
        let r = ctx.call_ok(&scripts::unlock(&lock_dir(&plan.app_dir), &p.token), "release the deploy lock");
        (ctx.progress)(&format!("unlock {}", lock_dir(&plan.app_dir)));
        r
    } else {
        Ok(())
    };
    let outcome = result?;
    audit?;
    unlock?;
    Ok(outcome)
}

fn run_steps(ctx: &mut Ctx<'_>) -> anyhow::Result<Outcome> {
    let plan = ctx.plan;
    for step in &plan.steps {
        ctx.steps_run.push(step.to_string());
        let started = std::time::Instant::now();
        let result = actions::run(ctx, &step.action);
        ctx.step_ms.push(started.elapsed().as_millis() as u64);
        let Err(err) = result else { continue };
        return match step.on_failure {
            OnFailure::Abort | OnFailure::Stop => Err(stop_message(ctx, step.on_failure, err)),
            OnFailure::Discard => {
                discard(ctx);
                Err(err.context(match &plan.live {
                    Some(l) => format!("nothing switched: {} keeps serving", l.release),
                    None => "nothing switched".to_string(),
                }))
            }
            OnFailure::Reject => {
                let logs = actions::logs(ctx);
                ctx.logs = Some(mask_all(&format!("{err:#}\n{logs}"), &ctx.payload.shipment.secret_values));
                discard(ctx);
                Ok(ctx.outcome(if plan.live.is_some() { Result_::Rejected } else { Result_::Failed }))
            }
        };
    }
    Ok(ctx.outcome(match plan.kind {
        Kind::Deploy => Result_::Deployed,
        Kind::Rollback => Result_::RolledBack,
    }))
}

/// The error of a step after which nothing is undone, saying what state the server is in.
fn stop_message(ctx: &Ctx<'_>, policy: OnFailure, err: anyhow::Error) -> anyhow::Error {
    if policy == OnFailure::Abort {
        return err;
    }
    err.context(format!(
        "release {} is live in slot {}, but a later step failed; check `cargo xtask deploy status {}`",
        ctx.plan.release, ctx.plan.slot, ctx.plan.target
    ))
}

/// Undo what this run made before the switch: the new slot (removed for a deploy, stopped
/// for a rollback) and a deploy's own release dir. The live slot was never touched.
fn discard(ctx: &mut Ctx<'_>) {
    let plan = ctx.plan;
    let Made { slot_started, release_made, .. } = ctx.made;
    if slot_started {
        let script = match plan.kind {
            Kind::Deploy => scripts::discard_slot(&plan.release_dir, &actions::slot_project(plan, &plan.slot)),
            Kind::Rollback => scripts::stop_slot(&plan.release_dir, &actions::slot_project(plan, &plan.slot)),
        };
        if ctx.call_ok(&script, "remove the new slot").is_ok() {
            (ctx.progress)(&format!("removed slot {}", plan.slot));
        }
    }
    if release_made && plan.kind == Kind::Deploy {
        let script = scripts::remove_own_release(&plan.app_dir, &plan.release_dir, &ctx.payload.token);
        if ctx.call_ok(&script, "remove the unfinished release").is_ok() {
            (ctx.progress)(&format!("removed {}", plan.release_dir));
        }
    }
}

#[cfg(test)]
#[path = "execute_tests.rs"]
mod tests;
