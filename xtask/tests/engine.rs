//! Real-engine tests of the test harness itself: the engine answers, the local busybox base
//! image exists with its non-root user, and a container from it runs. Never skipped: when
//! the engine cannot start, `Engine::ensure` fails and so do these tests.

use anyhow::Context;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptions,
};
use futures_util::StreamExt;
use xtask::rigs::engine::{Engine, block_on};

const BASE: &str = "busybox:1.36";

#[test]
fn engine_answers_and_reports_its_version() -> anyhow::Result<()> {
    let engine = Engine::ensure()?;
    assert!(engine.docker_host().starts_with("unix://"));
    let version = block_on(async { Ok(engine.client()?.version().await?) })?;
    let api = version.api_version.context("engine reports no API version")?;
    assert!(!api.is_empty());
    Ok(())
}

#[test]
fn base_image_is_idempotent_and_has_the_non_root_user() -> anyhow::Result<()> {
    let engine = Engine::ensure()?;
    let first = engine.ensure_base_image(BASE)?;
    let second = engine.ensure_base_image(BASE)?;
    assert_eq!(first, second, "a second import must not change the image");
    let out = run(&engine, &["sh", "-c", "id -u app; echo $PATH"])?;
    assert_eq!(out.lines().next(), Some("10001"), "output: {out}");
    assert!(out.contains("/usr/bin"), "output: {out}");
    Ok(())
}

#[test]
fn container_from_base_image_runs_echo() -> anyhow::Result<()> {
    let engine = Engine::ensure()?;
    engine.ensure_base_image(BASE)?;
    let out = run(&engine, &["echo", "hello-from-busybox"])?;
    assert_eq!(out.trim(), "hello-from-busybox");
    Ok(())
}

/// Run `cmd` in a throw-away container of the base image; its stdout+stderr.
fn run(engine: &Engine, cmd: &[&str]) -> anyhow::Result<String> {
    let docker = engine.client()?;
    let cmd: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    block_on(async move {
        let body = ContainerCreateBody { image: Some(BASE.into()), cmd: Some(cmd), ..Default::default() };
        let created = docker.create_container(Some(CreateContainerOptionsBuilder::new().build()), body).await?;
        let id = created.id;
        let result = async {
            docker.start_container(&id, None::<bollard::query_parameters::StartContainerOptions>).await?;
            let mut wait = docker.wait_container(&id, None::<WaitContainerOptions>);
            while let Some(w) = wait.next().await {
                let w = w.context("wait for the container")?;
                anyhow::ensure!(w.status_code == 0, "container exited {}", w.status_code);
            }
            let mut logs = docker.logs(&id, Some(LogsOptionsBuilder::new().stdout(true).stderr(true).build()));
            let mut out = String::new();
            while let Some(chunk) = logs.next().await {
                out.push_str(&chunk?.to_string());
            }
            Ok(out)
        }
        .await;
        docker.remove_container(&id, Some(RemoveContainerOptionsBuilder::new().force(true).build())).await?;
        result
    })
}
