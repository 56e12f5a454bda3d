//! The steps of build-image in order; each either passes a plain value on or records why the
//! build is refused. Every effect goes through the engine trait, duct (npm, cargo) or reads.

use super::frontend;
use super::{BuildOptions, BuildOutcome, Stage, Timer, stage_context};
use crate::commands::verify_image;
use crate::effects::docker::{BuildRequest, ImageEngine};
use crate::plan::dockerfile_lint;
use crate::project::{EnvSelection, Project};
use anyhow::Context;
use envfile::Severity;
use envfile::env::Env;
use envfile::{Plane, Schema, Secret};
use leakscan::KnownValue;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The target the server is linked for: static glibc, so it runs in a busybox or scratch image.
pub const SERVER_TARGET: &str = "x86_64-unknown-linux-gnu";

pub(super) fn run(
    opts: &BuildOptions,
    engine: &dyn ImageEngine,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<BuildOutcome> {
    let mut out = BuildOutcome { tag: opts.tag.clone(), ..Default::default() };
    let mut steps = Vec::new();
    let result = run_steps(opts, engine, progress, &mut out, &mut Timer { steps: &mut steps });
    out.steps = steps;
    result.map(|()| out)
}

fn run_steps(
    opts: &BuildOptions,
    engine: &dyn ImageEngine,
    progress: &mut dyn FnMut(&str),
    out: &mut BuildOutcome,
    t: &mut Timer,
) -> anyhow::Result<()> {
    let project = &opts.project;
    let schema = project.schema()?;
    let root = project.root();

    out.env_source = describe(project, &opts.selection);
    progress(&format!("verify-env {}", out.env_source));
    let (env, findings) = t.time("verify-env", true, || verify_env(opts))?;
    let refuse = findings.iter().any(|f| f.severity == Severity::Error);
    out.env_findings = findings;
    if refuse {
        out.refused_at = Some(Stage::VerifyEnv);
        return Ok(());
    }
    let build_secrets = build_secrets(schema, project, &opts.builder_env);
    let known = known_values(schema, &env, project, &build_secrets);
    let scanner = verify_image::scanner(project, known)?;

    // Frontend: plan (refusals) then build, then scan what Vite wrote.
    let public: BTreeMap<String, String> = env
        .iter()
        .filter(|v| schema.get(&v.name).is_some_and(|s| s.plane == Plane::Public))
        .map(|v| (v.name.clone(), v.value.expose().to_string()))
        .collect();
    let other_vite: Vec<String> =
        env.iter().map(|v| v.name.clone()).filter(|n| n.starts_with("VITE_") && !public.contains_key(n)).collect();
    let plan = match t.time("frontend-check", true, || {
        frontend::plan(&root.join("web"), schema, &public, &other_vite, &opts.builder_env)
    }) {
        Ok(plan) => plan,
        Err(refusals) => {
            out.frontend_refusals = refusals;
            out.refused_at = Some(Stage::Frontend);
            return Ok(());
        }
    };
    t.time("frontend-build", false, || frontend::build(&plan, progress))?;
    progress("scan the frontend bundle");
    let report = t
        .time("dist-scan", true, || leakscan::scan_dir(&scanner, &plan.dist_dir))
        .context("scan the frontend bundle")?;
    let leak = report.has_errors();
    out.dist_findings = report.findings;
    if leak {
        out.refused_at = Some(Stage::DistScan);
        return Ok(());
    }

    progress("lint deploy/Dockerfile");
    let dockerfile = root.join("deploy/Dockerfile");
    let lint = t.time("lint", true, || crate::commands::lint::lint_dockerfile(project, &dockerfile, root))?;
    let bad = lint.iter().any(|f| f.severity == dockerfile_lint::Severity::Error);
    out.lint_findings = lint;
    if bad {
        out.refused_at = Some(Stage::Lint);
        return Ok(());
    }

    progress("cargo build --release -p server (static)");
    let server = t.time("server-build", false, || build_server(opts))?;
    let staged = t.time("stage-context", false, || stage_context(&dockerfile, &server, &plan.dist_dir))?;

    out.secret_mounts = build_secrets.keys().cloned().collect();
    out.labels = labels(project);
    let request = BuildRequest {
        tag: opts.tag.clone(),
        context_tar_gz: staged.tar_gz,
        secrets: build_secrets,
        build_args: BTreeMap::new(),
        labels: out.labels.clone(),
    };
    build_and_scan(engine, &request, &scanner, progress, out, t)
}

/// Build through BuildKit, then export and scan the image; a leaking image is removed so
/// nobody can push or deploy it by accident.
pub(crate) fn build_and_scan(
    engine: &dyn ImageEngine,
    request: &BuildRequest,
    scanner: &leakscan::Scanner,
    progress: &mut dyn FnMut(&str),
    out: &mut BuildOutcome,
    t: &mut Timer,
) -> anyhow::Result<()> {
    t.time("image-build", false, || engine.build(request, progress))?;
    progress("export and scan every layer, the config and the history");
    let verdict = t.time("image-scan", true, || verify_image::verify_image(engine, &request.tag, scanner))?;
    if verdict.has_errors() {
        out.refused_at = Some(Stage::ImageScan);
        engine.remove(&request.tag).context("remove the refused image")?;
    }
    out.image = Some(verdict);
    Ok(())
}

/// verify-env as a library call (the same facts, git state included, and rules as
/// `cargo xtask verify-env`), plus the parsed env file.
fn verify_env(opts: &BuildOptions) -> anyhow::Result<(Env, Vec<envfile::Finding>)> {
    let report = crate::commands::verify_env::check(&opts.project, &opts.selection).context("verify-env")?;
    let env = opts.project.load_env(&opts.selection)?;
    Ok((env, report.findings))
}

/// The env file, or the layers, as a progress line says it.
fn describe(project: &Project, selection: &EnvSelection) -> String {
    match selection.file() {
        Some(path) => project.show(path),
        None => format!("config/common.env + config/{}.env + secrets/*.txt", selection.env),
    }
}

/// `secrets/<name>.txt` or `secrets/<name>` when it exists.
fn secret_file(project: &Project, name: &str) -> Option<PathBuf> {
    let dir = project.secrets_dir();
    [dir.join(format!("{name}.txt")), dir.join(name)].into_iter().find(|p| p.is_file())
}

/// Build secrets by mount id (`npm_token`): from the builder's environment, else
/// `secrets/<id>.txt`. A missing one is simply not mounted (the Dockerfile decides whether
/// it is required).
pub fn build_secrets(
    schema: &Schema,
    project: &Project,
    builder_env: &BTreeMap<String, String>,
) -> BTreeMap<String, Secret> {
    schema
        .in_plane(Plane::BuildSecret)
        .filter_map(|v| {
            let id = v.secret_file_name();
            let value = builder_env.get(&v.name).cloned().or_else(|| {
                secret_file(project, &id)
                    .and_then(|p| std::fs::read_to_string(p).ok())
                    .map(|s| s.trim_end().to_string())
            })?;
            (!value.is_empty()).then(|| (id, Secret::new(value)))
        })
        .collect()
}

/// Every secret the image and bundle must not hold: the env file's secrets, file-delivered
/// secrets from `secrets/`, and the build secrets.
pub fn known_values(
    schema: &Schema,
    env: &Env,
    project: &Project,
    build: &BTreeMap<String, Secret>,
) -> Vec<KnownValue> {
    let mut known = verify_image::known_values(schema, env);
    for v in schema.vars.iter().filter(|v| v.plane == Plane::Secret && v.delivery == envfile::Delivery::File) {
        if let Some(text) = secret_file(project, &v.secret_file_name()).and_then(|p| std::fs::read_to_string(p).ok()) {
            known.push(KnownValue { variable: v.name.clone(), value: text.trim_end().as_bytes().to_vec() });
        }
    }
    for (id, value) in build {
        known.push(KnownValue { variable: id.to_ascii_uppercase(), value: value.expose().as_bytes().to_vec() });
    }
    known
}

/// `RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p server --target ...`
/// in its own target dir, so it never waits on the lock of a cargo running this xtask.
fn build_server(opts: &BuildOptions) -> anyhow::Result<PathBuf> {
    let target_dir = opts
        .builder_env
        .get("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| opts.project.path("target"))
        .join("server-static");
    let mut env: BTreeMap<String, String> = opts.builder_env.clone();
    env.insert("RUSTFLAGS".into(), "-C target-feature=+crt-static".into());
    env.insert("CARGO_PROFILE_RELEASE_STRIP".into(), "symbols".into());
    env.insert("CARGO_TARGET_DIR".into(), target_dir.display().to_string());
    duct::cmd("cargo", ["build", "--release", "-p", "server", "--target", SERVER_TARGET])
        .dir(opts.project.root())
        .full_env(&env)
        .stdout_to_stderr()
        .run()
        .context("build the static server binary (cargo build --release -p server)")?;
    Ok(target_dir.join(SERVER_TARGET).join("release/server"))
}

/// OCI labels: revision from git, created now (RFC 3339), source from the origin remote.
fn labels(project: &Project) -> BTreeMap<String, String> {
    let root = project.root();
    let git = |args: &[&str]| -> Option<String> {
        let out = duct::cmd("git", args).dir(root).stderr_null().stdout_capture().unchecked().run().ok()?;
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !s.is_empty()).then_some(s)
    };
    let mut l = BTreeMap::new();
    l.insert(
        "org.opencontainers.image.revision".into(),
        git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into()),
    );
    l.insert("org.opencontainers.image.created".into(), crate::effects::clock::rfc3339(project.clock().now()));
    let source = git(&["config", "--get", "remote.origin.url"]).unwrap_or_else(|| root.display().to_string());
    // A remote URL can carry credentials (https://user:token@host/...): keep only the host part.
    l.insert("org.opencontainers.image.source".into(), strip_userinfo(&source));
    l
}

fn strip_userinfo(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}{}", &url[..s + 3], &url[at + 1..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::docker::{Call, FakeEngine, ImageInfo};

    const CANARY: &str = "canaryNPMtoken7e1d9b3f5a0c2468bd13";

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// A `docker save` export of one layer holding `file` with `content`.
    fn docker_save(file: &str, content: &str) -> Vec<u8> {
        let layer = tar_of(&[(file, content.as_bytes())]);
        let config = br#"{"config":{"Env":["PATH=/bin"]},"history":[{"created_by":"COPY x /x"}],"rootfs":{"type":"layers","diff_ids":[]}}"#;
        let manifest = br#"[{"Config":"cfg.json","RepoTags":["app:1"],"Layers":["l1/layer.tar"]}]"#;
        tar_of(&[("cfg.json", config), ("l1/layer.tar", &layer), ("manifest.json", manifest)])
    }

    fn fake(export: Vec<u8>) -> FakeEngine {
        FakeEngine {
            export_tar: std::sync::Arc::new(export),
            info: Some(ImageInfo {
                id: "sha256:abc".into(),
                size: 1,
                tags: vec!["app:1".into()],
                labels: BTreeMap::new(),
                user: "10001".into(),
                layers: vec!["sha256:l1".into()],
            }),
            ..Default::default()
        }
    }

    fn run_image_stage(engine: &FakeEngine) -> (anyhow::Result<()>, BuildOutcome) {
        let scanner = leakscan::Scanner::new(
            leakscan::Needles::build(
                vec![KnownValue { variable: "NPM_TOKEN".into(), value: CANARY.into() }],
                &Default::default(),
            ),
            Default::default(),
        );
        let request = BuildRequest {
            tag: "app:1".into(),
            secrets: [("npm_token".to_string(), Secret::new(CANARY))].into(),
            ..Default::default()
        };
        let mut out = BuildOutcome::default();
        let mut steps = Vec::new();
        let r = build_and_scan(engine, &request, &scanner, &mut |_| {}, &mut out, &mut Timer { steps: &mut steps });
        (r, out)
    }

    #[test]
    fn leaking_image_is_refused_and_removed() {
        let engine = fake(docker_save("root/.npmrc", &format!("//registry/:_authToken={CANARY}\n")));
        let (r, out) = run_image_stage(&engine);
        r.unwrap();
        assert_eq!(out.refused_at, Some(Stage::ImageScan));
        let calls = engine.calls();
        assert!(
            matches!(&calls[0], Call::Build { secret_ids, build_args, .. } if secret_ids == &["npm_token"] && build_args.is_empty())
        );
        assert_eq!(
            &calls[1..],
            [Call::Inspect("app:1".into()), Call::Export("app:1".into()), Call::Remove("app:1".into())]
        );
        let f = &out.image.as_ref().unwrap().findings;
        assert!(
            f.iter().any(|f| f.variable.as_deref() == Some("NPM_TOKEN") && f.location.path() == "root/.npmrc"),
            "{f:?}"
        );
    }

    #[test]
    fn clean_image_is_kept() {
        let engine = fake(docker_save("app/index.html", "<html>hello</html>"));
        let (r, out) = run_image_stage(&engine);
        r.unwrap();
        assert_eq!(out.refused_at, None);
        assert!(!engine.calls().contains(&Call::Remove("app:1".into())));
    }

    #[test]
    fn failed_build_is_an_error_and_nothing_is_scanned() {
        let engine = FakeEngine { fail_build: true, ..fake(Vec::new()) };
        let (r, _) = run_image_stage(&engine);
        assert!(r.is_err());
        assert_eq!(engine.calls().len(), 1);
    }

    #[test]
    fn userinfo_is_stripped_from_the_source_label() {
        assert_eq!(strip_userinfo("https://bot:ghp_x@github.com/o/r.git"), "https://github.com/o/r.git");
        assert_eq!(strip_userinfo("git@github.com:o/r.git"), "git@github.com:o/r.git");
    }

    #[test]
    fn created_label_comes_from_the_project_clock() {
        let root = Project::workspace_root();
        let p = Project::with_clock(root, std::sync::Arc::new(crate::effects::clock::FixedClock(1_795_615_205)));
        assert_eq!(labels(&p)["org.opencontainers.image.created"], "2026-11-25T14:00:05Z");
    }
}
