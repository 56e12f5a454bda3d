//! The rendered compose file is accepted by the real tool (docker-compose v1.29, the one this
//! machine can install; v2 accepts a superset for this file), with its env file and secret
//! files in place. Only `config -q` is run: full `config` output prints env values.

use std::process::Command;
use xtask::rigs::engine::provision;

#[test]
fn rendered_compose_file_passes_docker_compose_config() -> anyhow::Result<()> {
    if provision::find_program("docker-compose").is_none() {
        provision::apt_install(&["docker-compose"], "validating the rendered compose file")?;
    }
    let root = xtask::rigs::engine::workspace_root();
    let schema = envfile::Schema::load(&root.join("deploy/env.schema.toml"))?;
    let template = std::fs::read_to_string(root.join(xtask::plan::compose::TEMPLATE_PATH))?;
    let dir = tempfile::tempdir()?;
    let rendered = xtask::plan::compose::render(&schema, &template, xtask::plan::compose::Variant::Compose);
    std::fs::write(dir.path().join("docker-compose.yml"), rendered)?;
    std::fs::write(
        dir.path().join(".env"),
        "APP_IMAGE=reference-app:0123456789ab\nSLOT=blue\nSLOT_ALIAS=app-blue\nEDGE_NETWORK=app-edge\nGATE_IMAGE=busybox:1.36\n",
    )?;
    std::fs::write(dir.path().join(".env.production"), "NODE_ENV=production\n")?;
    std::fs::create_dir(dir.path().join("secrets"))?;
    std::fs::write(dir.path().join("secrets/postgres_password.txt"), "x")?;
    let out = Command::new("docker-compose").args(["-p", "check", "config", "-q"]).current_dir(dir.path()).output()?;
    assert!(out.status.success(), "docker-compose config -q: {}", String::from_utf8_lossy(&out.stderr));
    // Without APP_IMAGE the file refuses to run rather than pick some default image.
    std::fs::write(dir.path().join(".env"), "SLOT_ALIAS=app-blue\nEDGE_NETWORK=app-edge\nGATE_IMAGE=busybox:1.36\n")?;
    let out = Command::new("docker-compose").args(["-p", "check", "config", "-q"]).current_dir(dir.path()).output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("APP_IMAGE"));
    Ok(())
}
