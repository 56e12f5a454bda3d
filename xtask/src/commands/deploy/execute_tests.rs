//! Unit tests of the executor on a recording fake server: what runs in which order, what a
//! failed gate, a held lock, a cut link and a changed server do, and that no secret is ever
//! on a command line.

use super::*;
use crate::effects::ssh::{Call, Output, RecordingRemote};
use crate::plan::deploy::facts::ServerFacts;
use crate::plan::deploy::plan::{self, EnvSummary, ImageRef, Inputs};
use crate::plan::deploy::targets::{Target, Targets};
use envfile::Secret;
use std::sync::atomic::{AtomicUsize, Ordering};

const CANARY: &str = "canary-7d41c2b9e8f05a36";
const ID: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const LIVE_BLUE: &str =
    "current=r1\ncurrent_slot=blue\nedge=running\nedge_config=cfg\nlegacy=no\nrelease=r1 complete blue\n";

fn sandbox() -> Target {
    Targets::committed().get(Some("sandbox")).unwrap().clone()
}

fn plan_for(t: &Target, facts: &ServerFacts) -> Plan {
    plan::deploy(Inputs {
        target: t,
        image: ImageRef { tag: "reference-app:latest".into(), id: ID.into() },
        env: EnvSummary {
            env_file_vars: vec!["JWT_SECRET".into()],
            secret_files: vec!["POSTGRES_PASSWORD".into()],
            left_behind: vec![],
        },
        release: "20261125T140000Z-0123456789ab-beef".into(),
        wait_secs: None,
        facts,
        edge_config: Some("cfg".into()),
        hosts: vec!["app.sandbox.test".into()],
        ca_root: false,
    })
}

fn shipment() -> Shipment {
    Shipment {
        env_file: Secret::new(format!("JWT_SECRET={CANARY}\n")),
        secret_files: vec![("POSTGRES_PASSWORD".into(), Secret::new(format!("{CANARY}-pg")))],
        summary: EnvSummary::default(),
        secret_values: vec![Secret::new(CANARY)],
    }
}

/// A fake server: the live release is `current` (for the Expect step), the gate answers
/// `gate_code`, a request through the proxy answers 200.
fn server(current: &'static str, gate_code: i32, logs: &'static str) -> RecordingRemote {
    RecordingRemote::new(move |call| {
        let Call::Run { script } = call else { return Ok(Output::ok("")) };
        Ok(if script.starts_with("readlink") {
            Output::ok(format!("{current}\n"))
        } else if script.contains("deadline=$(( $(date +%s) +") && script.contains("com.docker.compose.service=web") {
            Output { code: Some(gate_code), stdout: b"the answer\n".to_vec(), stderr: Vec::new() }
        } else if script.contains("%{http_code}") {
            Output::ok("200")
        } else if script.contains("docker logs --tail") {
            Output::ok(logs)
        } else {
            Output::ok("")
        })
    })
}

fn run(remote: &RecordingRemote, plan: &Plan) -> anyhow::Result<Outcome> {
    let shipment = shipment();
    let ship = |_: &dyn Remote, _: &mut dyn FnMut(&str)| Ok(Shipped { sent: true, bytes: 10, ..Shipped::default() });
    let push = |_: &str| Ok(());
    let payload = Payload {
        compose: "services: {}\n".into(),
        interpolation: "APP_IMAGE=x\n".into(),
        shipment: &shipment,
        edge: Some(EdgeFiles::default()),
        ship: &ship,
        push: &push,
        who: "me@here".into(),
        pid: 1,
        when: "2026-11-25T14:00:00Z".into(),
        token: "tok".into(),
    };
    execute(remote, plan, payload, &mut |_| {})
}

fn scripts_run(remote: &RecordingRemote) -> Vec<String> {
    remote.calls().into_iter().filter_map(|c| if let Call::Run { script } = c { Some(script) } else { None }).collect()
}

#[test]
fn a_deploy_runs_exactly_the_printed_steps() {
    let t = sandbox();
    let f = ServerFacts::parse(LIVE_BLUE);
    let plan = plan_for(&t, &f);
    let remote = server("r1", 0, "");
    let o = run(&remote, &plan).unwrap();
    assert_eq!(o.result, Result_::Deployed);
    let printed: Vec<String> = plan.steps.iter().map(ToString::to_string).collect();
    assert_eq!(o.steps_run, printed, "the dry-run plan and what ran differ");
    let scripts = scripts_run(&remote);
    assert!(scripts.iter().any(|s| s.contains("rm -f /gate/open")), "the old gate closes");
    assert!(scripts.last().is_some_and(|s| s.contains("rm -rf")), "the unlock comes last");
    for s in &scripts {
        assert!(!s.contains(CANARY), "secret on a command line: {s}");
    }
    for c in remote.calls() {
        if let Call::Upload { path, mode, data } = c
            && String::from_utf8_lossy(&data).contains(CANARY)
        {
            assert_eq!(mode, 0o600, "{path}");
        }
    }
}

#[test]
fn a_release_failing_its_gate_never_gets_traffic_and_is_removed() {
    let t = sandbox();
    let f = ServerFacts::parse(LIVE_BLUE);
    let remote = server("r1", crate::plan::deploy::scripts::SLOT_CRASHED, "panic: bad key canary-7d41c2b9e8f05a36\n");
    let o = run(&remote, &plan_for(&t, &f)).unwrap();
    assert_eq!(o.result, Result_::Rejected);
    let logs = o.logs.unwrap();
    assert!(logs.contains("panic: bad key") && !logs.contains(CANARY), "{logs}");
    let scripts = scripts_run(&remote);
    assert!(!scripts.iter().any(|s| s.contains("touch /gate/open") || s.contains("rm -f /gate/open")), "no gate moved");
    assert!(!scripts.iter().any(|s| s.contains("ln -sfn")), "current never moves to a failed release");
    assert!(scripts.iter().any(|s| s.contains("down --remove-orphans")), "the failed slot is removed");
    assert!(scripts.iter().any(|s| s.contains("result=rejected")));
}

#[test]
fn a_held_lock_fails_clearly_without_touching_anything() {
    let t = sandbox();
    let f = ServerFacts::parse(LIVE_BLUE);
    let remote = RecordingRemote::new(|call| match call {
        Call::Run { script } if script.contains("mkdir \"$lock\"") => Ok(Output {
            code: Some(crate::plan::deploy::scripts::LOCK_HELD),
            stdout: b"ci@builder pid 99\n12\n".to_vec(),
            stderr: Vec::new(),
        }),
        _ => Ok(Output::ok("")),
    });
    let err = format!("{:#}", run(&remote, &plan_for(&t, &f)).unwrap_err());
    assert!(err.contains("ci@builder") && err.contains("--wait"), "{err}");
    assert!(!remote.calls().iter().any(|c| matches!(c, Call::Upload { .. } | Call::Stream { .. })));
}

/// Regression: ssh's own failure (exit 255) during the health gate was read as an
/// unhealthy app, and the deploy reported a failed release that was in fact serving.
#[test]
fn a_cut_link_during_the_gate_is_ridden_out_not_read_as_unhealthy() {
    let t = sandbox();
    let f = ServerFacts::parse(LIVE_BLUE);
    let cuts = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = cuts.clone();
    let remote = RecordingRemote::new(move |call| {
        let Call::Run { script } = call else { return Ok(Output::ok("")) };
        if script.contains("com.docker.compose.service=web")
            && script.contains("deadline")
            && cuts.fetch_add(1, Ordering::SeqCst) < 2
        {
            return Ok(Output { code: Some(255), ..Output::default() });
        }
        Ok(if script.starts_with("readlink") {
            Output::ok("r1\n")
        } else if script.contains("%{http_code}") {
            Output::ok("200")
        } else {
            Output::ok("healthy")
        })
    });
    let o = run(&remote, &plan_for(&t, &f)).unwrap();
    assert_eq!(o.result, Result_::Deployed);
    assert_eq!(seen.load(Ordering::SeqCst), 3, "two cut gate runs, retried, then the healthy one");
}

#[test]
fn a_server_changed_since_the_checks_is_refused_before_any_change() {
    let t = sandbox();
    let f = ServerFacts::parse(LIVE_BLUE);
    let remote = server("r9", 0, "");
    let err = format!("{:#}", run(&remote, &plan_for(&t, &f)).unwrap_err());
    assert!(err.contains("changed since the checks"), "{err}");
    assert!(!remote.calls().iter().any(|c| matches!(c, Call::Upload { .. })));
    assert!(scripts_run(&remote).iter().any(|s| s.contains("result=error")));
}
