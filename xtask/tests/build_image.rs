//! Real-engine tests of build-image: the reference app builds through BuildKit with
//! NPM_TOKEN as a secret mount only, passes verify-image and answers /health; frontend leaks
//! (an undeclared VITE_ variable, a secret in a VITE_ value, a Vite `define`) are refused.
//! No canary ever appears in the command's output.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use xtask::rigs::engine::Engine;

const NPM_CANARY: &str = "canaryNPMtoken7e1d9b3f5a0c2468bd13";

fn engine() -> Engine {
    let e = Engine::ensure().expect("the test engine (cargo xtask test provides it)");
    e.ensure_base_image("busybox:1.36").expect("local busybox base image");
    e
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn write_env(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join(".env.production");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Run the xtask binary; assert no secret of the sample env file or the canary is printed.
fn xtask(e: &Engine, project: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--project-dir")
        .arg(project)
        .args(args)
        .env("DOCKER_HOST", e.docker_host())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    for secret in [
        NPM_CANARY,
        envfile::sample::JWT_SECRET,
        envfile::sample::POSTGRES_PASSWORD,
        envfile::sample::OPENROUTER_API_KEY,
    ] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "a secret was printed:\n{stdout}\n{stderr}");
    }
    (out.status.code(), stdout, stderr)
}

/// The reference frontend's dependencies, installed once (build-image would do it too).
fn reference_node_modules() -> PathBuf {
    // Tests run in parallel: one npm ci at a time in the shared web/ dir.
    static NPM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = NPM.lock().unwrap_or_else(|e| e.into_inner());
    let web = workspace().join("web");
    if !web.join("node_modules/.bin/vite").exists() {
        let ok = Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&web).status().unwrap();
        assert!(ok.success(), "npm ci of the reference frontend");
    }
    web.join("node_modules")
}

/// A fixture project: the reference schema, Dockerfile and web/ (node_modules linked), with
/// `edit` applied to the web dir.
fn fixture_project(edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let modules = reference_node_modules();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ws = workspace();
    std::fs::create_dir_all(root.join("deploy")).unwrap();
    for f in ["env.schema.toml", "Dockerfile"] {
        std::fs::copy(ws.join("deploy").join(f), root.join("deploy").join(f)).unwrap();
    }
    copy_dir(&ws.join("web"), &root.join("web"));
    std::os::unix::fs::symlink(modules, root.join("web/node_modules")).unwrap();
    edit(&root.join("web"));
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "node_modules" || name == "dist" {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(&name));
        } else {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("json output: {e}\n{stdout}"))
}

#[test]
fn reference_app_builds_passes_verify_image_and_answers_health() {
    let e = engine();
    // Installed up front so the fixture tests running alongside never race an npm ci here.
    reference_node_modules();
    let dir = tempfile::tempdir().unwrap();
    let env_file = write_env(dir.path(), &envfile::sample::production_env());
    let tag = "xtask-test/reference:1";
    let env_path = env_file.to_str().unwrap();
    let (code, stdout, stderr) = xtask(
        &e,
        &workspace(),
        &["build-image", "--env-file", env_path, "--tag", tag, "--format", "json"],
        &[("NPM_TOKEN", NPM_CANARY)],
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let out = json(&stdout);
    assert!(out["refused_at"].is_null(), "{out:#}");
    assert_eq!(out["secret_mounts"], serde_json::json!(["npm_token"]));
    assert!(out["labels"]["org.opencontainers.image.revision"].as_str().is_some_and(|r| r.len() == 40), "{out:#}");
    assert!(out["labels"]["org.opencontainers.image.created"].is_string());
    assert!(out["image"]["bytes_scanned"].as_u64().unwrap() > 0);
    assert!(out["steps"].as_array().unwrap().iter().any(|s| s["step"] == "image-scan"));

    // verify-image on its own agrees.
    let (code, stdout, _) =
        xtask(&e, &workspace(), &["verify-image", "--env-file", env_path, tag], &[("NPM_TOKEN", NPM_CANARY)]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("clean"), "{stdout}");

    let body = run_and_get_health(&e, tag);
    assert!(body.contains("200 OK"), "{body}");
    // The marker the secret-mount step wrote: the token was there during the build.
    assert!(body.contains("npm_token_used"), "{body}");
    use xtask::effects::docker::ImageEngine;
    xtask::effects::docker::BollardEngine::new(e.client().unwrap()).unwrap().remove(tag).unwrap();
}

/// Start the image with the runtime env and the postgres_password file, GET /health.
fn run_and_get_health(e: &Engine, tag: &str) -> String {
    use bollard::models::{ContainerCreateBody, HostConfig};
    let docker = e.client().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    // The container runs as uid 10001: it must be able to read the mounted secret.
    std::fs::set_permissions(secrets.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let pw = secrets.path().join("postgres_password");
    std::fs::write(&pw, envfile::sample::POSTGRES_PASSWORD).unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut env: Vec<String> = envfile::sample::production_env()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("VITE_") && !l.starts_with("POSTGRES_PASSWORD="))
        .map(str::to_string)
        .collect();
    env.push(format!("PORT={port}"));
    let body = ContainerCreateBody {
        image: Some(tag.into()),
        env: Some(env),
        host_config: Some(HostConfig {
            network_mode: Some("host".into()),
            binds: Some(vec![format!("{}:/run/secrets:ro", secrets.path().display())]),
            auto_remove: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let id = rt
        .block_on(docker.create_container(None::<bollard::query_parameters::CreateContainerOptions>, body))
        .unwrap()
        .id;
    rt.block_on(docker.start_container(&id, None::<bollard::query_parameters::StartContainerOptions>)).unwrap();
    let mut response = String::new();
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(200));
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
            response.clear();
            let _ = s.read_to_string(&mut response);
            if !response.is_empty() {
                break;
            }
        }
    }
    let rm = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).build();
    rt.block_on(docker.remove_container(&id, Some(rm))).unwrap();
    response
}

#[test]
fn undeclared_vite_variable_in_the_builder_environment_is_refused() {
    let e = engine();
    let project = fixture_project(|_| {});
    let env_file = write_env(project.path(), &envfile::sample::production_env());
    let (code, stdout, stderr) = xtask(
        &e,
        project.path(),
        &["build-image", "--env-file", env_file.to_str().unwrap(), "--format", "json"],
        &[("VITE_SERVICE_ROLE_KEY", envfile::sample::JWT_SECRET)],
    );
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let out = json(&stdout);
    assert_eq!(out["refused_at"], "frontend");
    assert_eq!(out["frontend_refusals"][0]["rule"], "undeclared-vite-variable");
}

#[test]
fn secret_in_a_public_vite_variable_is_refused() {
    let e = engine();
    let project = fixture_project(|_| {});
    // The service-role key where the anon key belongs: it would ship to every browser.
    let service =
        envfile::sample::supabase_key("service_role", envfile::sample::JWT_SECRET, envfile::sample::FAR_FUTURE);
    let text = envfile::sample::production_env()
        .lines()
        .map(|l| {
            if l.starts_with("VITE_SUPABASE_ANON_KEY=") {
                format!("VITE_SUPABASE_ANON_KEY={service}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let env_file = write_env(project.path(), &text);
    let (code, stdout, stderr) =
        xtask(&e, project.path(), &["build-image", "--env-file", env_file.to_str().unwrap(), "--format", "json"], &[]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(!stdout.contains(&service), "the service-role key was printed");
    let out = json(&stdout);
    assert!(!out["refused_at"].is_null(), "{out:#}");
}

#[test]
fn secret_smuggled_in_a_public_vite_value_is_caught_in_the_bundle() {
    let e = engine();
    let project = fixture_project(|_| {});
    // A valid URL, so verify-env has nothing to say; the bundle scan must catch the key.
    let url = format!("VITE_SUPABASE_URL=https://abcd1234.supabase.co/?k={}", envfile::sample::OPENROUTER_API_KEY);
    let text = envfile::sample::production_env()
        .lines()
        .map(|l| if l.starts_with("VITE_SUPABASE_URL=") { url.clone() } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    let env_file = write_env(project.path(), &text);
    let (code, stdout, stderr) =
        xtask(&e, project.path(), &["build-image", "--env-file", env_file.to_str().unwrap()], &[]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("value of OPENROUTER_API_KEY") && stdout.contains("assets/index-"), "{stdout}");
    assert!(stdout.contains("refused at DistScan"), "{stdout}");
}

#[test]
fn secret_through_a_vite_define_is_caught_in_the_bundle() {
    let e = engine();
    // The config reads every variable of ../.env.production (prefix '') and inlines one:
    // the envDir check cannot see this, the bundle scan must.
    let project = fixture_project(|web| {
        std::fs::write(
            web.join("vite.config.ts"),
            "import { defineConfig, loadEnv } from 'vite'\n\
             const all = loadEnv('production', '..', '')\n\
             export default defineConfig({ envDir: 'env', define: { __API_KEY__: JSON.stringify(all.OPENROUTER_API_KEY) } })\n",
        )
        .unwrap();
        let main = web.join("src/main.ts");
        let mut text = std::fs::read_to_string(&main).unwrap();
        text.push_str("\ndeclare const __API_KEY__: string\n;(window as any).apiKey = __API_KEY__\n");
        std::fs::write(main, text).unwrap();
    });
    let env_file = write_env(project.path(), &envfile::sample::production_env());
    let (code, stdout, stderr) =
        xtask(&e, project.path(), &["build-image", "--env-file", env_file.to_str().unwrap(), "--format", "json"], &[]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let out = json(&stdout);
    assert_eq!(out["refused_at"], "dist-scan", "{out:#}");
    let findings = out["dist_findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["variable"] == "OPENROUTER_API_KEY"
            && f["location"].as_str().is_some_and(|l| l.contains("assets/") && l.ends_with(".js"))),
        "{findings:#?}"
    );
}

#[test]
fn env_file_in_vites_env_dir_is_refused() {
    let e = engine();
    let project = fixture_project(|web| {
        std::fs::write(
            web.join("env/.env.production"),
            format!("VITE_X=1\nJWT_SECRET={}\n", envfile::sample::JWT_SECRET),
        )
        .unwrap();
    });
    let env_file = write_env(project.path(), &envfile::sample::production_env());
    let (code, stdout, stderr) =
        xtask(&e, project.path(), &["build-image", "--env-file", env_file.to_str().unwrap(), "--format", "json"], &[]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let out = json(&stdout);
    assert_eq!(out["refused_at"], "frontend");
    assert_eq!(out["frontend_refusals"][0]["rule"], "vite-env-file");
}

#[test]
fn dockerfile_with_a_secret_arg_is_refused_before_building() {
    let e = engine();
    let project = fixture_project(|_| {});
    let dockerfile = project.path().join("deploy/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap().replace("WORKDIR /app", "ARG NPM_TOKEN\nWORKDIR /app");
    std::fs::write(&dockerfile, text).unwrap();
    let env_file = write_env(project.path(), &envfile::sample::production_env());
    let (code, stdout, stderr) = xtask(
        &e,
        project.path(),
        &["build-image", "--env-file", env_file.to_str().unwrap(), "--tag", "xtask-test/lint:1"],
        &[("NPM_TOKEN", NPM_CANARY)],
    );
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("secret-arg-env") && stdout.contains("NPM_TOKEN"), "{stdout}");
    assert!(stdout.contains("refused at Lint: no image was built"), "{stdout}");
}

/// Regression: `build-image --env dev` verified and built from `.env.production`.
#[test]
fn the_env_flag_selects_that_environments_env_file() {
    let e = engine();
    let dir = fixture_project(|_| {});
    write_env(dir.path(), &envfile::sample::production_env());
    // No .env.dev: the build must stop there, not fall back to the production file.
    let (code, stdout, stderr) = xtask(&e, dir.path(), &["build-image", "--env", "dev", "--format", "json"], &[]);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains(".env.dev"), "{stderr}");
    // With one, its findings are dev's: a production-only requirement is not asked of it.
    std::fs::write(dir.path().join(".env.dev"), "NODE_ENV=development\n").unwrap();
    let (code, stdout, stderr) = xtask(&e, dir.path(), &["build-image", "--env", "dev", "--format", "json"], &[]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let out = json(&stdout);
    assert_eq!(out["env_source"], ".env.dev");
    assert_eq!(out["refused_at"], "verify-env");
}

/// Commands offer only the formats they print: build-image has no SARIF (clap refuses it
/// with a usage error), verify-env and scan do.
#[test]
fn sarif_is_offered_only_where_it_is_printed() {
    let e = engine();
    let dir = fixture_project(|_| {});
    write_env(dir.path(), &envfile::sample::production_env());
    let (code, _, stderr) = xtask(&e, dir.path(), &["build-image", "--format", "sarif"], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("invalid value 'sarif'"), "{stderr}");
    let (code, stdout, stderr) = xtask(&e, dir.path(), &["verify-env", "--format", "sarif"], &[]);
    assert!(code == Some(0) || code == Some(1), "{stderr}");
    assert_eq!(json(&stdout)["version"], "2.1.0");
}
