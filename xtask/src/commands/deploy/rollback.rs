//! `deploy rollback`: bring a kept release back the way a deploy brings a new one (start its
//! slot, gate it, switch, drain, stop the other), through the same plan executor, so it
//! keeps the lock rules, the retries and the audit line of a deploy.

use super::execute::{self, Payload, Result_, Shipped};
use super::server;
use crate::effects::ssh::Remote;
use crate::plan::deploy::envship::Shipment;
use crate::plan::deploy::facts::ServerFacts;
use crate::plan::deploy::plan;
use crate::project::Project;
use crate::report::{Format, Status, print_json};
use anyhow::bail;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target name from deploy/targets.toml (default: its `default`)
    pub target: Option<String>,
    /// Release to go back to (a directory name under <app_dir>/releases); default: the one
    /// before `current`
    #[arg(long, value_name = "RELEASE")]
    pub to: Option<String>,
    /// Check the server, print the plan and stop
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    server: &'a ServerFacts,
    plan: &'a plan::Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a execute::Outcome>,
}

/// The release to go back to: `--to`, or the complete release before the live one.
fn choose(facts: &ServerFacts, to: Option<&str>) -> anyhow::Result<(String, Option<String>)> {
    let kept = facts.complete().join(", ");
    let name = match to {
        Some(r) if Some(r) == facts.current.as_deref() => bail!("{r} is the live release already"),
        Some(r) => r.to_string(),
        None => match facts.previous() {
            Some(r) => r.to_string(),
            None => bail!(
                "no kept release before {:?} to roll back to; kept releases: {}",
                facts.current.as_deref().unwrap_or("(none)"),
                if kept.is_empty() { "none" } else { &kept }
            ),
        },
    };
    match facts.release(&name) {
        Some(r) if r.complete && r.slot.is_some() => Ok((name, r.slot.clone())),
        Some(r) if r.complete => bail!("release {name} predates the release slots: deploy its image instead"),
        Some(_) => bail!("release {name} is half-made (a deploy was killed while making it); kept releases: {kept}"),
        None => bail!("no release {name} on the server; kept releases: {kept}"),
    }
}

impl Args {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let target = p.targets()?.get(self.target.as_deref())?.clone();
        let human = self.format == Format::Human;
        let mut progress = |line: &str| {
            if human {
                eprintln!("rollback: {line}");
            }
        };
        let edge = server::render_edge(p, &target)?;
        let reached = server::reach(p, &target)?;
        let (to, to_slot) = choose(&reached.facts, self.to.as_deref())?;
        let hosts = edge.as_ref().map(|e| e.hosts.clone()).unwrap_or_default();
        let plan = plan::rollback(&target, &reached.facts, &to, to_slot.as_deref(), &hosts);
        if self.dry_run {
            match self.format {
                Format::Human => print!("{plan}"),
                Format::Json => print_json(&Report { server: &reached.facts, plan: &plan, outcome: None })?,
            }
            return Ok(Status::Ok);
        }
        let shipment = Shipment::default();
        let no_image =
            |_: &dyn Remote, _: &mut dyn FnMut(&str)| -> anyhow::Result<Shipped> { bail!("a rollback ships no image") };
        let no_push = |_: &str| -> anyhow::Result<()> { bail!("a rollback pushes no image") };
        let payload = Payload {
            compose: String::new(),
            interpolation: String::new(),
            shipment: &shipment,
            edge: None,
            ship: &no_image,
            push: &no_push,
            who: super::who(),
            pid: std::process::id(),
            when: super::utc_iso(p.clock()),
            token: format!("{}-rollback-{}-{:08x}", std::process::id(), p.clock().now(), rand::random::<u32>()),
        };
        let outcome = execute::execute(&reached.ssh, &plan, payload, &mut progress)?;
        match self.format {
            Format::Human => {
                if let Some(logs) = &outcome.logs {
                    println!("last log lines of {to} (secrets masked):");
                    for l in logs.lines() {
                        println!("  | {l}");
                    }
                }
                let from = outcome.previous.as_deref().unwrap_or("(none)");
                match outcome.result {
                    Result_::RolledBack => {
                        println!("rolled {} back from {from} to {to} (slot {}): healthy", target.name, outcome.slot)
                    }
                    _ => println!("{to} failed its health gate; {from} kept serving, nothing switched"),
                }
            }
            Format::Json => print_json(&Report { server: &reached.facts, plan: &plan, outcome: Some(&outcome) })?,
        }
        Ok(Status::failed_if(outcome.result != Result_::RolledBack))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(text: &str) -> ServerFacts {
        ServerFacts::parse(text)
    }

    #[test]
    fn the_default_target_is_the_complete_release_before_current() {
        let f = facts(
            "current=r3\ncurrent_slot=blue\nrelease=r1 complete blue\nrelease=r2 complete green\nrelease=r3 complete blue\n",
        );
        assert_eq!(choose(&f, None).unwrap(), ("r2".into(), Some("green".into())));
        assert_eq!(choose(&f, Some("r1")).unwrap(), ("r1".into(), Some("blue".into())));
        assert!(format!("{:#}", choose(&f, Some("r3")).unwrap_err()).contains("live release already"));
        assert!(format!("{:#}", choose(&f, Some("nope")).unwrap_err()).contains("r1, r2, r3"));
    }

    /// Regression: a killed deploy's half-made release became the default rollback target.
    #[test]
    fn a_half_made_release_is_never_a_rollback_target() {
        let f = facts(
            "current=r3\ncurrent_slot=blue\nrelease=r1 complete green\nrelease=r2 incomplete\nrelease=r3 complete blue\n",
        );
        assert_eq!(choose(&f, None).unwrap().0, "r1");
        assert!(format!("{:#}", choose(&f, Some("r2")).unwrap_err()).contains("half-made"));
    }
}
