//! The local test base image: no registry is reachable here, so tests and the demo get
//! `busybox:1.36` from Debian's busybox-static, packed as a `docker save` archive and loaded
//! through bollard. The archive is deterministic (fixed mtimes, no creation time), so the
//! image ID is the same on every engine it is loaded into.

use super::provision;
use anyhow::{Context, bail};
use bollard::Docker;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Where busybox-static installs its binary.
const BUSYBOX: &str = "/bin/busybox";
/// The non-root user the product's Dockerfile runs as.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\napp:x:10001:\nnogroup:x:65534:\n";

/// Make sure the engine behind `docker` has `reference` as our busybox image; returns its
/// ID. Idempotent: a present image with the expected ID is left alone.
pub async fn ensure(docker: &Docker, reference: &str) -> anyhow::Result<String> {
    let archive = SaveArchive::build(reference)?;
    let found = docker.inspect_image(reference).await;
    if found.is_ok_and(|f| f.id.as_deref() == Some(archive.image_id.as_str())) {
        return Ok(archive.image_id);
    }
    let mut progress = docker.import_image(
        bollard::query_parameters::ImportImageOptionsBuilder::new().quiet(true).build(),
        bollard::body_full(archive.bytes.into()),
        None,
    );
    while let Some(item) = progress.next().await {
        item.with_context(|| format!("load {reference} into the engine"))?;
    }
    let loaded =
        docker.inspect_image(reference).await.with_context(|| format!("inspect {reference} after loading it"))?;
    if loaded.id.as_deref() != Some(archive.image_id.as_str()) {
        bail!("{reference} has ID {:?} after loading, expected {}", loaded.id, archive.image_id);
    }
    Ok(archive.image_id)
}

/// Install busybox-static when the static binary is missing (root only).
pub fn ensure_busybox_static() -> anyhow::Result<()> {
    if provision::deb_installed("busybox-static") && Path::new(BUSYBOX).exists() {
        return Ok(());
    }
    provision::apt_install(&["busybox-static"], "the local busybox base image")
}

/// An in-memory `docker save` archive holding one image of one layer.
struct SaveArchive {
    bytes: Vec<u8>,
    image_id: String,
}

impl SaveArchive {
    fn build(reference: &str) -> anyhow::Result<SaveArchive> {
        ensure_busybox_static()?;
        let busybox = std::fs::read(BUSYBOX).with_context(|| format!("read {BUSYBOX}"))?;
        let applets = applet_paths()?;
        let layer = rootfs_layer(&busybox, &applets)?;
        let layer_hex = hex(&Sha256::digest(&layer));
        let config = image_config(&layer_hex);
        let config_hex = hex(&Sha256::digest(&config));
        let manifest = serde_json::to_vec(&serde_json::json!([{
            "Config": format!("{config_hex}.json"),
            "RepoTags": [reference],
            "Layers": [format!("{layer_hex}/layer.tar")],
        }]))?;
        let mut out = tar::Builder::new(Vec::new());
        append_dir(&mut out, &format!("{layer_hex}/"))?;
        append_file(&mut out, &format!("{layer_hex}/layer.tar"), &layer, 0o644)?;
        append_file(&mut out, &format!("{config_hex}.json"), &config, 0o644)?;
        append_file(&mut out, "manifest.json", &manifest, 0o644)?;
        Ok(SaveArchive { bytes: out.into_inner()?, image_id: format!("sha256:{config_hex}") })
    }
}

/// `busybox --list-full` gives each applet's conventional path (bin/sh, sbin/ip, usr/bin/wget).
fn applet_paths() -> anyhow::Result<Vec<String>> {
    let out = crate::effects::process::cmd(BUSYBOX).arg("--list-full").checked().context("run busybox --list-full")?;
    let mut paths: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().trim_start_matches('/').to_string())
        .filter(|l| !l.is_empty() && l != "bin/busybox")
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// The rootfs as a layer tar: /bin/busybox, a symlink per applet (what `busybox --install -s`
/// would make), /etc/passwd with the non-root user 10001, and the usual empty dirs.
fn rootfs_layer(busybox: &[u8], applets: &[String]) -> anyhow::Result<Vec<u8>> {
    let mut t = tar::Builder::new(Vec::new());
    for dir in [
        "bin/",
        "dev/",
        "etc/",
        "home/",
        "proc/",
        "root/",
        "sbin/",
        "sys/",
        "usr/",
        "usr/bin/",
        "usr/sbin/",
        "var/",
        "var/www/",
    ] {
        append_dir(&mut t, dir)?;
    }
    let mut tmp = dir_header(0o1777);
    t.append_data(&mut tmp, "tmp/", std::io::empty())?;
    let mut home = dir_header(0o755);
    home.set_uid(10001);
    home.set_gid(10001);
    t.append_data(&mut home, "home/app/", std::io::empty())?;
    append_file(&mut t, "bin/busybox", busybox, 0o755)?;
    append_file(&mut t, "etc/passwd", PASSWD.as_bytes(), 0o644)?;
    append_file(&mut t, "etc/group", GROUP.as_bytes(), 0o644)?;
    for path in applets {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_mtime(0);
        h.set_size(0);
        t.append_link(&mut h, path, "/bin/busybox")?;
    }
    Ok(t.into_inner()?)
}

fn image_config(layer_hex: &str) -> Vec<u8> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
        },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{layer_hex}")] },
        "history": [{ "created_by": "cargo xtask: busybox-static rootfs (local test base image)" }],
    });
    serde_json::to_vec(&config).expect("a json! value serializes")
}

fn dir_header(mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_size(0);
    h
}

fn append_dir(t: &mut tar::Builder<Vec<u8>>, path: &str) -> anyhow::Result<()> {
    t.append_data(&mut dir_header(0o755), path, std::io::empty())?;
    Ok(())
}

fn append_file(t: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_size(data.len() as u64);
    t.append_data(&mut h, path, data)?;
    Ok(())
}

use secretkit::hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_holds_busybox_passwd_and_symlinks() -> anyhow::Result<()> {
        let layer = rootfs_layer(b"ELF", &["bin/sh".into(), "usr/bin/wget".into()])?;
        let mut names = Vec::new();
        for e in tar::Archive::new(layer.as_slice()).entries()? {
            let e = e?;
            let link = e.link_name()?.map(|l| l.display().to_string());
            names.push((e.path()?.display().to_string(), link));
        }
        assert!(names.contains(&("bin/sh".into(), Some("/bin/busybox".into()))));
        assert!(names.contains(&("usr/bin/wget".into(), Some("/bin/busybox".into()))));
        assert!(names.iter().any(|(n, _)| n == "etc/passwd"));
        Ok(())
    }

    #[test]
    fn same_input_gives_same_layer() -> anyhow::Result<()> {
        let a = rootfs_layer(b"x", &["bin/sh".into()])?;
        let b = rootfs_layer(b"x", &["bin/sh".into()])?;
        assert_eq!(a, b);
        Ok(())
    }
}
