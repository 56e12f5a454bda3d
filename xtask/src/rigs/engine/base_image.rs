//! The local stand-ins for images a real server pulls: no registry is reachable here, so
//! tests and the demo get `busybox:1.36` from Debian's busybox-static, and the edge proxy
//! (`caddy:2`) as that rootfs plus Debian's caddy binary and the libraries it links, each
//! packed as a `docker save` archive and loaded through bollard. The archives are
//! deterministic (fixed mtimes, no creation time), so an image's ID is the same on every
//! engine it is loaded into and a present, equal image is never loaded twice.

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

/// Where Debian's caddy package installs its binary.
const CADDY: &str = "/usr/bin/caddy";

/// Which stand-in an image reference gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// busybox-static alone: the build base and the slot gate.
    Busybox,
    /// busybox plus Caddy: the edge proxy.
    Caddy,
}

/// Make sure the engine behind `docker` has `reference` as our busybox image; returns its
/// ID. Idempotent: a present image with the expected ID is left alone.
pub async fn ensure(docker: &Docker, reference: &str) -> anyhow::Result<String> {
    ensure_kind(docker, reference, Kind::Busybox).await
}

/// [`ensure`] for any [`Kind`].
pub async fn ensure_kind(docker: &Docker, reference: &str, kind: Kind) -> anyhow::Result<String> {
    let archive = SaveArchive::build(reference, kind)?;
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

/// Install Debian's caddy when its binary is missing (root only).
pub fn ensure_caddy() -> anyhow::Result<()> {
    if Path::new(CADDY).exists() {
        return Ok(());
    }
    provision::apt_install(&["caddy"], "the local stand-in for the caddy:2 proxy image")
}

/// A file the image holds beyond busybox: its path in the image and its bytes.
struct Extra {
    path: String,
    data: Vec<u8>,
    mode: u32,
}

/// The caddy binary and every shared library `ldd` says it loads, each at the path the
/// dynamic loader looks for it (symlinks on the host are stored as the file they name).
fn caddy_files() -> anyhow::Result<Vec<Extra>> {
    ensure_caddy()?;
    let out = crate::effects::process::cmd("ldd").arg(CADDY).checked().context("run ldd on caddy")?;
    let mut files = vec![Extra {
        path: CADDY.trim_start_matches('/').to_string(),
        data: std::fs::read(CADDY).with_context(|| format!("read {CADDY}"))?,
        mode: 0o755,
    }];
    for lib in ldd_paths(&out.stdout_text()) {
        let data = std::fs::read(&lib).with_context(|| format!("read {lib}"))?;
        files.push(Extra { path: lib.trim_start_matches('/').to_string(), data, mode: 0o755 });
    }
    Ok(files)
}

/// The absolute library paths in `ldd` output (`libc.so.6 => /lib/.../libc.so.6 (0x..)` and
/// the loader's own `/lib64/ld-linux-x86-64.so.2 (0x..)`); the vDSO has no file.
fn ldd_paths(text: &str) -> Vec<String> {
    let mut paths: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = l.split_once("=>").map_or(l, |(_, p)| p.trim());
            path.split_whitespace().next().filter(|p| p.starts_with('/')).map(str::to_string)
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// An in-memory `docker save` archive holding one image of one layer.
struct SaveArchive {
    bytes: Vec<u8>,
    image_id: String,
}

impl SaveArchive {
    fn build(reference: &str, kind: Kind) -> anyhow::Result<SaveArchive> {
        ensure_busybox_static()?;
        let busybox = std::fs::read(BUSYBOX).with_context(|| format!("read {BUSYBOX}"))?;
        let applets = applet_paths()?;
        let extras = match kind {
            Kind::Busybox => Vec::new(),
            Kind::Caddy => caddy_files()?,
        };
        let layer = rootfs_layer(&busybox, &applets, &extras)?;
        let layer_hex = hex(&Sha256::digest(&layer));
        let config = image_config(&layer_hex, kind);
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
/// would make), /etc/passwd with the non-root user 10001, the usual empty dirs, and the
/// `extras` with the directories they need.
fn rootfs_layer(busybox: &[u8], applets: &[String], extras: &[Extra]) -> anyhow::Result<Vec<u8>> {
    let mut t = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = [
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
    ]
    .map(String::from)
    .to_vec();
    if !extras.is_empty() {
        // The proxy's state and configuration dirs (as in the official image).
        dirs.extend(["config/", "data/", "etc/caddy/"].map(String::from));
    }
    for e in extras {
        let mut parent = Path::new(&e.path).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            dirs.push(format!("{}/", p.display()));
            parent = p.parent();
        }
    }
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
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
    for e in extras {
        append_file(&mut t, &e.path, &e.data, e.mode)?;
    }
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

fn image_config(layer_hex: &str, kind: Kind) -> Vec<u8> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let (inner, created_by) = match kind {
        Kind::Busybox => (
            serde_json::json!({ "Env": [path], "Cmd": ["sh"] }),
            "cargo xtask: busybox-static rootfs (local test base image)",
        ),
        // The official image's environment and default command.
        Kind::Caddy => (
            serde_json::json!({
                "Env": [path, "XDG_CONFIG_HOME=/config", "XDG_DATA_HOME=/data"],
                "Cmd": ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
                "WorkingDir": "/srv",
            }),
            "cargo xtask: busybox-static rootfs + Debian's caddy (local stand-in for caddy:2)",
        ),
    };
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": inner,
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{layer_hex}")] },
        "history": [{ "created_by": created_by }],
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
        let extra = Extra { path: "usr/lib/x/libz.so.1".into(), data: b"lib".to_vec(), mode: 0o755 };
        let layer = rootfs_layer(b"ELF", &["bin/sh".into(), "usr/bin/wget".into()], &[extra])?;
        let mut names = Vec::new();
        for e in tar::Archive::new(layer.as_slice()).entries()? {
            let e = e?;
            let link = e.link_name()?.map(|l| l.display().to_string());
            names.push((e.path()?.display().to_string(), link));
        }
        assert!(names.contains(&("bin/sh".into(), Some("/bin/busybox".into()))));
        assert!(names.contains(&("usr/bin/wget".into(), Some("/bin/busybox".into()))));
        assert!(names.iter().any(|(n, _)| n == "etc/passwd"));
        assert!(names.iter().any(|(n, _)| n == "usr/lib/x/"), "parent dirs of extras: {names:?}");
        assert!(names.iter().any(|(n, _)| n == "usr/lib/x/libz.so.1"));
        assert!(names.iter().any(|(n, _)| n == "data/"));
        Ok(())
    }

    #[test]
    fn same_input_gives_same_layer() -> anyhow::Result<()> {
        let a = rootfs_layer(b"x", &["bin/sh".into()], &[])?;
        let b = rootfs_layer(b"x", &["bin/sh".into()], &[])?;
        assert_eq!(a, b);
        Ok(())
    }

    #[test]
    fn ldd_output_gives_the_library_files() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibzstd.so.1 => /lib/x86_64-linux-gnu/libzstd.so.1 (0x00007f)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            ldd_paths(text),
            ["/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libzstd.so.1", "/lib64/ld-linux-x86-64.so.2"]
        );
    }
}
