//! Unit tests of the deploy and rollback plans: the order of the steps for a first deploy, a
//! redeploy, a takeover of the old layout, a worker and a rollback, and the printed plan.

use super::*;
use crate::plan::deploy::targets::Targets;

pub(crate) const ID: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub(crate) fn sandbox() -> Target {
    Targets::committed().get(Some("sandbox")).unwrap().clone()
}

pub(crate) fn facts(text: &str) -> ServerFacts {
    ServerFacts::parse(text)
}

pub(crate) fn inputs<'a>(t: &'a Target, f: &'a ServerFacts) -> Inputs<'a> {
    Inputs {
        target: t,
        image: ImageRef { tag: "reference-app:latest".into(), id: ID.into() },
        env: EnvSummary {
            env_file_vars: vec!["NODE_ENV".into(), "JWT_SECRET".into()],
            secret_files: vec!["POSTGRES_PASSWORD".into()],
            left_behind: vec!["NPM_TOKEN".into()],
        },
        release: "20261125T140000Z-0123456789ab-beef".into(),
        wait_secs: None,
        facts: f,
        edge_config: Some("cfg1".into()),
        hosts: vec!["app.sandbox.test".into()],
        ca_root: true,
    }
}

fn kinds(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .map(|s| serde_json::to_value(&s.action).unwrap()["step"].as_str().unwrap().to_string())
        .filter(|k| k != "upload")
        .collect()
}

const LIVE_BLUE: &str = "current=r1\ncurrent_slot=blue\nedge=running\nedge_config=cfg1\nlegacy=no\nrelease=r1 complete blue\ncurl=yes\ncompose=yes\n";

#[test]
fn a_redeploy_starts_the_other_slot_and_switches_only_after_the_gate() {
    let t = sandbox();
    let f = facts(LIVE_BLUE);
    let p = deploy(inputs(&t, &f));
    assert_eq!(p.slot, "green");
    assert_eq!(
        kinds(&p),
        [
            "lock",
            "expect",
            "ensure-network",
            "make-release",
            "own-secrets",
            "ship-image",
            "tag-image",
            "complete-release",
            "start-slot",
            "gate-slot",
            "open-gate",
            "settle",
            "close-gate",
            "point-current",
            "drain",
            "stop-slot",
            "prune"
        ]
    );
    // The old slot's gate closes only after the new one opened; the old slot stops last.
    let close = p.steps.iter().find(|s| matches!(s.action, Action::CloseGate { .. })).unwrap();
    let want = Action::CloseGate {
        dir: "/srv/app/releases/r1".into(),
        slot: "blue".into(),
        confirm: Some("app.sandbox.test".into()),
        path: "/health".into(),
    };
    assert_eq!(close.action, want);
    let gate = p.steps.iter().find(|s| matches!(s.action, Action::GateSlot { .. })).unwrap();
    assert_eq!(gate.on_failure, OnFailure::Reject);
}

#[test]
fn a_first_deploy_starts_the_proxy_and_waits_for_its_certificate() {
    let t = sandbox();
    let f = facts("current=\nedge=absent\nlegacy=no\n");
    let p = deploy(inputs(&t, &f));
    assert_eq!(p.slot, "blue");
    let k = kinds(&p);
    let pos = |n: &str| k.iter().position(|x| x == n).unwrap_or_else(|| panic!("{n} in {k:?}"));
    assert!(pos("ensure-edge") < pos("await-certificate") && pos("await-certificate") < pos("settle"));
    assert!(!k.contains(&"close-gate".to_string()) && !k.contains(&"drain".to_string()));
    assert!(p.steps.iter().any(|s| matches!(&s.action, Action::Upload { content: Content::EdgeCaRoot, .. })));
}

#[test]
fn a_changed_proxy_config_reloads_it_and_an_unchanged_one_is_left_alone() {
    let t = sandbox();
    let f = facts(&LIVE_BLUE.replace("edge_config=cfg1", "edge_config=old"));
    let p = deploy(inputs(&t, &f));
    assert!(p.steps.iter().any(|s| s.action == Action::EnsureEdge { reload: true }));
    let f = facts(LIVE_BLUE);
    assert!(!deploy(inputs(&t, &f)).steps.iter().any(|s| matches!(s.action, Action::EnsureEdge { .. })));
}

#[test]
fn a_takeover_stops_the_old_layout_before_the_proxy_takes_its_ports() {
    let t = sandbox();
    let f = facts(
        "current=20261101T000000Z-aaaaaaaaaaaa\ncurrent_slot=\nedge=absent\nlegacy=yes\nrelease=20261101T000000Z-aaaaaaaaaaaa complete\n",
    );
    let p = deploy(inputs(&t, &f));
    let k = kinds(&p);
    let pos = |n: &str| k.iter().position(|x| x == n).unwrap();
    assert!(pos("gate-slot") < pos("open-gate") && pos("open-gate") < pos("stop-legacy"));
    assert!(pos("stop-legacy") < pos("ensure-edge"));
    assert!(!k.contains(&"close-gate".to_string()), "the old layout has no gate");
}

#[test]
fn a_worker_is_gated_on_its_healthcheck_and_never_touches_the_proxy() {
    let t = Target { proxy: false, ..sandbox() };
    let f = facts(LIVE_BLUE);
    let mut i = inputs(&t, &f);
    i.edge_config = None;
    i.hosts = Vec::new();
    let k = kinds(&deploy(i));
    for none in ["open-gate", "close-gate", "settle", "drain", "ensure-edge"] {
        assert!(!k.contains(&none.to_string()), "{none} in {k:?}");
    }
    assert!(k.contains(&"gate-slot".to_string()) && k.contains(&"stop-slot".to_string()));
}

#[test]
fn half_made_releases_are_removed_under_the_lock() {
    let t = sandbox();
    let f = facts(&format!("{LIVE_BLUE}release=r2 incomplete\n"));
    let p = deploy(inputs(&t, &f));
    assert_eq!(p.steps[2].action, Action::RemoveIncomplete { releases: vec!["r2".into()] });
}

#[test]
fn a_registry_target_pulls_instead_of_shipping() {
    let t = Target { registry: Some("10.213.7.1:5000/app".into()), ..sandbox() };
    let f = facts(LIVE_BLUE);
    let p = deploy(inputs(&t, &f));
    assert!(!p.steps.iter().any(|s| matches!(s.action, Action::ShipImage { .. })));
    assert!(
        p.steps.iter().any(|s| s.action
            == Action::PushPull { reference: "10.213.7.1:5000/app:0123456789ab".into(), image_id: ID.into() })
    );
}

#[test]
fn a_rollback_onto_the_live_colour_moves_the_release_to_the_other_slot() {
    let t = sandbox();
    let f = facts("current=r3\ncurrent_slot=blue\nedge=running\nrelease=r1 complete blue\nrelease=r3 complete blue\n");
    let p = rollback(&t, &f, "r1", Some("blue"), &["app.sandbox.test".into()]);
    assert_eq!(p.slot, "green");
    let k = kinds(&p);
    assert_eq!(k[..3], ["lock", "expect", "reslot"]);
    assert!(k.ends_with(&["point-current".into(), "drain".into(), "stop-slot".into()]));
    let f = facts("current=r3\ncurrent_slot=blue\nedge=running\nrelease=r2 complete green\nrelease=r3 complete blue\n");
    assert!(!kinds(&rollback(&t, &f, "r2", Some("green"), &[])).contains(&"reslot".to_string()));
}

#[test]
fn secrets_upload_0600_and_the_lock_comes_first() {
    let t = sandbox();
    let f = facts(LIVE_BLUE);
    let p = deploy(inputs(&t, &f));
    assert!(matches!(p.steps[0].action, Action::Lock { .. }));
    for s in &p.steps {
        if let Action::Upload { content: Content::EnvFile { .. } | Content::SecretFile { .. }, mode, .. } = &s.action {
            assert_eq!(mode, "0600");
        }
    }
}

#[test]
fn dry_run_text_snapshot() {
    let t = sandbox();
    let f = facts(LIVE_BLUE);
    insta::assert_snapshot!(deploy(inputs(&t, &f)).to_string());
}

#[test]
fn json_plan_snapshot() {
    let t = sandbox();
    let f = facts(LIVE_BLUE);
    insta::assert_json_snapshot!(deploy(inputs(&t, &f)));
}

#[test]
fn release_tags_name_the_repository_and_the_short_id() {
    let i = ImageRef { tag: "registry.example.com:5000/team/app:latest".into(), id: ID.into() };
    assert_eq!(i.release_tag(), "registry.example.com:5000/team/app:0123456789ab");
    let i = ImageRef { tag: "app".into(), id: ID.into() };
    assert_eq!(i.release_tag(), "app:0123456789ab");
}
