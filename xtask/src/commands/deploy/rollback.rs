//! `deploy rollback` (bring a kept release back, health-gated) and `deploy status`.

use crate::effects::ssh::Remote;
use crate::plan::deploy::plan::{LOCK_STALE_SECS, audit_log, lock_dir};
use crate::plan::deploy::scripts;
use crate::plan::deploy::targets::Target;
use crate::project::Project;
use crate::report::{Format, Status, print_json};
use anyhow::{Context, bail};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target name from deploy/targets.toml (default: its `default`)
    pub target: Option<String>,
    /// Release to go back to (a directory name under <app_dir>/releases); default: the one
    /// before `current`
    #[arg(long, value_name = "RELEASE")]
    pub to: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Target name from deploy/targets.toml (default: its `default`)
    pub target: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
pub struct RollbackOutcome {
    pub from: Option<String>,
    pub to: String,
    pub healthy: bool,
}

impl Args {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let root = p.root().to_path_buf();
        let target = p.targets()?.get(self.target.as_deref())?.clone();
        let server = super::connect::ssh(&root, &target)?;
        let outcome = rollback(&server, &target, self.to.as_deref(), &super::who(), &super::utc_iso(p.clock()))?;
        match self.format {
            Format::Human => println!(
                "rolled back {} from {} to {}: {}",
                target.name,
                outcome.from.as_deref().unwrap_or("(none)"),
                outcome.to,
                if outcome.healthy { "healthy" } else { "NOT healthy" }
            ),
            _ => print_json(&outcome)?,
        }
        Ok(Status::failed_if(!outcome.healthy))
    }
}

/// Point the target back at a kept release, under the deploy lock.
pub fn rollback(
    server: &dyn Remote,
    t: &Target,
    to: Option<&str>,
    who: &str,
    when: &str,
) -> anyhow::Result<RollbackOutcome> {
    let lock = lock_dir(&t.app_dir);
    let token = format!("{}-rollback-{when}", std::process::id());
    let out =
        server.run(&scripts::lock(&lock, &format!("{who} pid {}", std::process::id()), &token, LOCK_STALE_SECS, 0))?;
    if !out.success() {
        bail!(
            "another deploy holds the lock {lock} ({}); wait for it, then roll back",
            out.stdout_text().lines().next().unwrap_or("unknown")
        );
    }
    let result = locked(server, t, to);
    let line = match &result {
        Ok(o) => format!("{when} who={who} target={} rollback to={} healthy={}", t.name, o.to, o.healthy),
        Err(_) => format!("{when} who={who} target={} rollback result=error", t.name),
    };
    let _ = server.run(&scripts::audit(&audit_log(&t.app_dir), &line));
    server.run(&scripts::unlock(&lock, &token)).context("release the deploy lock")?;
    result
}

fn locked(server: &dyn Remote, t: &Target, to: Option<&str>) -> anyhow::Result<RollbackOutcome> {
    let current = server.run(&scripts::current_release(&t.app_dir))?.stdout_text().trim().to_string();
    let releases: Vec<String> =
        server.run(&scripts::list_releases(&t.app_dir))?.stdout_text().lines().map(str::to_string).collect();
    let to = match to {
        Some(r) if releases.iter().any(|x| x == r) => r.to_string(),
        Some(r) => bail!("no release {r} on the server; kept releases: {}", releases.join(", ")),
        None => {
            let pos = releases.iter().position(|r| *r == current);
            match pos.and_then(|p| p.checked_sub(1)) {
                Some(p) => releases[p].clone(),
                None => bail!("no release before {current:?} to roll back to; kept releases: {}", releases.join(", ")),
            }
        }
    };
    let dir = format!("{}/releases/{to}", t.app_dir);
    let up = server.run(&scripts::compose_up(&dir, &t.project)).context("compose up the release")?;
    let healthy = up.success()
        && server.run(&scripts::health_gate(&dir, &t.project, "", &t.health_url, t.health_timeout_secs))?.success();
    if healthy {
        server.run(&scripts::point_current(&t.app_dir, &to))?;
    }
    Ok(RollbackOutcome { from: (!current.is_empty()).then_some(current), to, healthy })
}

impl StatusArgs {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let root = p.root().to_path_buf();
        let target = p.targets()?.get(self.target.as_deref())?.clone();
        let server = super::connect::ssh(&root, &target)?;
        let out = server.run(&scripts::status(&target.app_dir, &target.project))?;
        match self.format {
            Format::Human => {
                println!("target {} ({}), app dir {}", target.name, target.describe(), target.app_dir);
                print!("{}", out.stdout_text());
            }
            _ => print_json(&serde_json::json!({
                "target": target.name,
                "app_dir": target.app_dir,
                "status": out.stdout_text().lines().collect::<Vec<_>>(),
            }))?,
        }
        Ok(Status::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::ssh::{Call, Output, RecordingRemote};
    use crate::plan::deploy::targets::Targets;
    use std::path::Path;

    fn sandbox() -> Target {
        let _root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        Targets::committed().get(Some("sandbox")).unwrap().clone()
    }

    /// A fake server answering scripts that contain a needle with that needle's stdout.
    fn fake(rules: &'static [(&'static str, &'static str)]) -> RecordingRemote {
        RecordingRemote::new(move |call| {
            let Call::Run { script } = call else { return Ok(Output::ok("")) };
            Ok(Output::ok(rules.iter().find(|(n, _)| script.contains(n)).map_or("", |(_, o)| *o)))
        })
    }

    #[test]
    fn rollback_goes_to_the_release_before_current() {
        let fake = fake(&[("readlink '/srv/app'/current", "r3\n"), ("ls -1 '/srv/app'/releases", "r1\nr2\nr3\n")]);
        let o = rollback(&fake, &sandbox(), None, "me@here", "t").unwrap();
        assert_eq!((o.from.as_deref(), o.to.as_str(), o.healthy), (Some("r3"), "r2", true));
        let calls = fake.calls();
        let ran = |needle: &str| calls.iter().any(|c| matches!(c, Call::Run { script } if script.contains(needle)));
        assert!(ran("cd '/srv/app/releases/r2'"));
        assert!(ran("ln -sfn releases/'r2'"));
        assert!(ran("rm -rf \"$lock\"") || ran("rm -rf '/srv/app/.deploy.lock'"));
    }

    #[test]
    fn rollback_to_an_unknown_release_names_the_kept_ones() {
        let fake = fake(&[("ls -1 '/srv/app'/releases", "r1\nr2\n")]);
        let err = rollback(&fake, &sandbox(), Some("nope"), "me@here", "t").unwrap_err();
        assert!(format!("{err:#}").contains("r1, r2"));
    }
}
