//! Real-engine tests of verify-image: every way a secret lands in an image is caught
//! with the layer and path (or config field) in the finding, a clean image passes, and the
//! canary never reaches the command's output.

use leakscan::{Finding, KnownValue, Location};
use sha2::Digest;
use std::collections::BTreeMap;
use std::process::Command;
use xtask::commands::verify_image::{ImageVerdict, verify_image};
use xtask::effects::docker::{BollardEngine, BuildRequest, ImageEngine, context_tar_gz};
use xtask::rigs::engine::Engine;

const JWT_CANARY: &str = "canaryJWTsecret0f3a9c1e7b5d2468ace0";
const NPM_CANARY: &str = "canaryNPMtoken7e1d9b3f5a0c2468bd13";

fn engine() -> (Engine, BollardEngine) {
    let e = Engine::ensure().expect("the test engine (cargo xtask test provides it)");
    e.ensure_base_image("busybox:1.36").expect("local busybox base image");
    let client = BollardEngine::new(e.client().expect("engine client")).expect("bollard engine");
    (e, client)
}

fn known() -> Vec<KnownValue> {
    vec![
        KnownValue { variable: "JWT_SECRET".into(), value: JWT_CANARY.as_bytes().to_vec() },
        KnownValue { variable: "NPM_TOKEN".into(), value: NPM_CANARY.as_bytes().to_vec() },
    ]
}

/// Build `dockerfile` (plus extra context files) as `tag`, then verify it.
fn build_and_verify(
    docker: &BollardEngine,
    tag: &str,
    dockerfile: &str,
    files: &[(&str, &str)],
    build_args: &[(&str, &str)],
) -> ImageVerdict {
    let mut entries = vec![("Dockerfile".to_string(), 0o644, dockerfile.as_bytes().to_vec())];
    entries.extend(files.iter().map(|(p, c)| (p.to_string(), 0o644, c.as_bytes().to_vec())));
    let request = BuildRequest {
        tag: tag.into(),
        context_tar_gz: context_tar_gz(&entries).unwrap(),
        secrets: [("npm_token".to_string(), envfile::Secret::new(NPM_CANARY))].into(),
        build_args: build_args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        labels: BTreeMap::new(),
    };
    docker.build(&request, &mut |_| {}).unwrap_or_else(|e| panic!("build {tag}: {e:#}"));
    let scanner = leakscan::Scanner::new(leakscan::Needles::build(known(), &Default::default()), Default::default())
        .with_patterns(true);
    let verdict = verify_image(docker, tag, &scanner).unwrap();
    docker.remove(tag).unwrap();
    verdict
}

fn known_findings<'a>(v: &'a ImageVerdict, variable: &str) -> Vec<&'a Finding> {
    v.findings.iter().filter(|f| f.variable.as_deref() == Some(variable)).collect()
}

fn layer_paths(fs: &[&Finding]) -> Vec<(Option<usize>, String, bool)> {
    fs.iter()
        .filter_map(|f| match &f.location {
            Location::Layer { index, path, deleted_later, .. } => Some((*index, path.clone(), *deleted_later)),
            _ => None,
        })
        .collect()
}

fn config_fields(fs: &[&Finding]) -> Vec<String> {
    fs.iter()
        .filter_map(|f| match &f.location {
            Location::Config { field } => Some(field.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn clean_image_with_a_secret_mount_passes_and_saw_the_secret() {
    let (_e, docker) = engine();
    // The RUN fails unless the mounted secret hashes to the canary's sha256: proof it was
    // available, without writing the value into the Dockerfile (and so the history).
    let digest: String = sha2::Sha256::digest(NPM_CANARY.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let df = format!(
        "FROM busybox:1.36\nRUN --mount=type=secret,id=npm_token,required=true test \"$(sha256sum < /run/secrets/npm_token)\" = \"{digest}  -\" && echo ok > /built-with-token\n"
    );
    let v = build_and_verify(&docker, "xtask-test/clean:1", &df, &[], &[]);
    assert!(!v.has_errors(), "{:#?}", v.findings);
    assert!(v.bytes_scanned > 0);
}

#[test]
fn env_instruction_secret_is_caught_in_the_config() {
    let (_e, docker) = engine();
    let v = build_and_verify(
        &docker,
        "xtask-test/env-leak:1",
        &format!("FROM busybox:1.36\nENV JWT_SECRET={JWT_CANARY}\n"),
        &[],
        &[],
    );
    let f = known_findings(&v, "JWT_SECRET");
    assert!(v.has_errors());
    assert!(config_fields(&f).iter().any(|c| c.contains("Env")), "{f:#?}");
}

#[test]
fn build_arg_is_caught_in_the_history() {
    let (_e, docker) = engine();
    let df = "FROM busybox:1.36\nARG NPM_TOKEN\nRUN echo installing > /log.txt\n";
    let v = build_and_verify(&docker, "xtask-test/arg-leak:1", df, &[], &[("NPM_TOKEN", NPM_CANARY)]);
    let f = known_findings(&v, "NPM_TOKEN");
    assert!(v.has_errors());
    assert!(config_fields(&f).iter().any(|c| c.contains("history")), "{f:#?}");
}

#[test]
fn env_file_copied_then_removed_is_caught_in_the_earlier_layer() {
    let (_e, docker) = engine();
    let df = "FROM busybox:1.36\nCOPY .env.production /app/.env.production\nRUN rm /app/.env.production\n";
    let files = [(".env.production", &*format!("JWT_SECRET={JWT_CANARY}\n"))];
    let v = build_and_verify(&docker, "xtask-test/copy-rm:1", df, &files, &[]);
    let layers = layer_paths(&known_findings(&v, "JWT_SECRET"));
    assert!(
        layers.iter().any(|(i, p, deleted)| i.is_some_and(|i| i >= 1) && p == "app/.env.production" && *deleted),
        "{layers:?}"
    );
}

#[test]
fn secret_mount_written_to_a_file_is_caught() {
    let (_e, docker) = engine();
    let df = "FROM busybox:1.36\nRUN --mount=type=secret,id=npm_token cp /run/secrets/npm_token /root/.npmrc-token\n";
    let v = build_and_verify(&docker, "xtask-test/mount-leak:1", df, &[], &[]);
    let layers = layer_paths(&known_findings(&v, "NPM_TOKEN"));
    assert!(layers.iter().any(|(i, p, _)| i.is_some_and(|i| i >= 1) && p == "root/.npmrc-token"), "{layers:?}");
}

#[test]
fn base64_of_a_secret_is_caught() {
    let (_e, docker) = engine();
    let df = "FROM busybox:1.36\nRUN --mount=type=secret,id=npm_token base64 /run/secrets/npm_token > /token.b64\n";
    let v = build_and_verify(&docker, "xtask-test/b64-leak:1", df, &[], &[]);
    let f = known_findings(&v, "NPM_TOKEN");
    assert!(
        f.iter()
            .any(|f| f.encoding.as_deref().is_some_and(|e| e.contains("base64")) && f.location.path() == "token.b64"),
        "{f:#?}"
    );
}

#[test]
fn secret_in_a_label_is_caught() {
    let (_e, docker) = engine();
    let df = format!("FROM busybox:1.36\nLABEL com.example.jwt=\"{JWT_CANARY}\"\n");
    let v = build_and_verify(&docker, "xtask-test/label-leak:1", &df, &[], &[]);
    let f = known_findings(&v, "JWT_SECRET");
    assert!(config_fields(&f).iter().any(|c| c.contains("Labels")), "{f:#?}");
}

/// The CLI on a leaking image: exit 1, masked finding, canary absent; on a missing image: exit 2.
#[test]
fn cli_exit_codes_and_no_canary_in_output() {
    let (e, docker) = engine();
    let tag = "xtask-test/cli-leak:1";
    let df = format!("FROM busybox:1.36\nRUN echo 'JWT_SECRET={JWT_CANARY}' > /app.env\n");
    let request = BuildRequest {
        tag: tag.into(),
        context_tar_gz: context_tar_gz(&[("Dockerfile".into(), 0o644, df.into_bytes())]).unwrap(),
        ..Default::default()
    };
    docker.build(&request, &mut |_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("prod.env");
    std::fs::write(&env_file, format!("JWT_SECRET={JWT_CANARY}\nNODE_ENV=production\n")).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["verify-image", "--env-file"])
            .arg(&env_file)
            .args(args)
            .env("DOCKER_HOST", e.docker_host())
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!text.contains(JWT_CANARY), "canary in output: {text}");
        (out.status.code(), text)
    };
    let (code, text) = run(&[tag]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("JWT_SECRET") && text.contains("app.env") && text.contains("ca…e0"), "{text}");
    let (code, text) = run(&["--format", "json", tag]);
    assert_eq!(code, Some(1), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(text.lines().take_while(|l| !l.starts_with("error")).collect::<String>().as_str())
            .unwrap_or_else(|e| panic!("json: {e}: {text}"));
    assert!(json["findings"].as_array().is_some_and(|a| !a.is_empty()));
    let (code, text) = run(&["--format", "sarif", tag]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("\"2.1.0\""));
    docker.remove(tag).unwrap();
    let (code, text) = run(&["xtask-test/does-not-exist:1"]);
    assert_eq!(code, Some(2), "{text}");
}
