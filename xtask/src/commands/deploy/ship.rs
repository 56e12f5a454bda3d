//! Shipping an image over ssh without a registry, sending only the layers the server lacks:
//! the local engine's `docker save` with the layer files of the prefix the server already
//! holds left out, gzip-compressed when a sample shows it pays (random or already-compressed
//! layers do not), streamed into `docker load` on the server. Docker looks a
//! layer up by its chain before it opens the layer file, so the server completes the image
//! from its own store; the loaded ID must equal the local one. Nothing needs installing on
//! the server, and a cut connection leaves nothing half-loaded (Docker registers a layer only
//! once its content matches its diff ID, and the image only once every layer is there).

use super::execute::Shipped;
use crate::effects::docker::{ImageEngine, ImageInfo};
use crate::effects::ssh::Remote;
use crate::plan::deploy::layers::{self, LayerPlan};
use crate::plan::deploy::scripts;
use anyhow::{Context, bail};
use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};

/// Send `image` (local ID `image.id`) unless the server has it; report what crossed the wire.
pub fn ship_image(
    server: &dyn Remote,
    engine: &dyn ImageEngine,
    tag: &str,
    image: &ImageInfo,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Shipped> {
    let answer = server.run(&scripts::server_layers(&image.id))?.check("ask the server which layers it has")?;
    let text = answer.stdout_text();
    let (first, rest) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    if first.trim() == image.id {
        progress("image already on the server: not sent");
        return Ok(Shipped { layers_skipped: image.layers.len(), ..Shipped::default() });
    }
    let plan = layers::plan(&image.layers, &layers::parse_server_layers(rest));
    progress(&format!(
        "shipping image {tag}: {} of {} layers (the server has the other {})",
        plan.send,
        image.layers.len(),
        plan.skip
    ));
    let mut export = tempfile::tempfile().context("a temporary file for the image export")?;
    std::io::copy(&mut engine.export(tag).context("export the image from the local engine")?, &mut export)
        .context("export the image from the local engine")?;
    let sent = match send(server, &mut export, &plan) {
        Ok(bytes) => bytes,
        // The server may have dropped a layer since it answered, or keep images in a store
        // that needs every layer: start over with the whole image. A broken connection is
        // not that: it fails the step like any other cut.
        Err(e) if plan.skip > 0 && e.downcast_ref::<LoadRefused>().is_some() => {
            progress(&format!("the server could not complete the image from its own layers ({e:#}); sending all"));
            let all = LayerPlan { skip: 0, send: image.layers.len() };
            return finish(server, image, &all, send(server, &mut export, &all)?, progress);
        }
        Err(e) => return Err(e),
    };
    finish(server, image, &plan, sent, progress)
}

fn finish(
    server: &dyn Remote,
    image: &ImageInfo,
    plan: &LayerPlan,
    bytes: u64,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Shipped> {
    let loaded = server.run(&scripts::has_image(&image.id))?.check("inspect the loaded image")?;
    if loaded.stdout_text().trim() != image.id {
        bail!(
            "the server loaded the image but has no image {} afterwards (got {:?}): refusing to deploy an image that differs from the local one",
            image.id,
            loaded.stdout_text().trim()
        );
    }
    progress(&format!("image sent: {bytes} bytes ({} layers sent, {} skipped)", plan.send, plan.skip));
    Ok(Shipped { sent: true, bytes, layers_sent: plan.send, layers_skipped: plan.skip })
}

/// Write the partial archive (gzip) and stream it into `docker load`; returns the bytes sent.
fn send(server: &dyn Remote, export: &mut std::fs::File, plan: &LayerPlan) -> anyhow::Result<u64> {
    export.seek(SeekFrom::Start(0))?;
    let skip = skipped_files(export, plan.skip)?;
    export.seek(SeekFrom::Start(0))?;
    // Nothing left out: the export itself is the archive.
    let mut partial = export.try_clone().context("reopen the image export")?;
    if !skip.is_empty() {
        partial = tempfile::tempfile().context("a temporary file for the partial archive")?;
        write_partial(export, &skip, &mut partial)?;
    }
    let compress = gzip_pays(&mut partial)?;
    partial.seek(SeekFrom::Start(0))?;
    // docker load reads gzip as well as plain tar.
    let mut body: Box<dyn Read> = if compress {
        Box::new(flate2::read::GzEncoder::new(partial, flate2::Compression::fast()))
    } else {
        Box::new(partial)
    };
    let mut counted = Counting { inner: &mut body, n: 0 };
    let out = server.stream_stdin("docker load", &mut counted).context("ship the image over ssh")?;
    if out.success() {
        return Ok(counted.n);
    }
    if out.ssh_failed() {
        return out.check("docker load on the server").map(|_| counted.n);
    }
    Err(LoadRefused(out.stderr_text().trim().to_string()).into())
}

/// `docker load` ran on the server and refused the archive (not a broken connection).
#[derive(Debug)]
struct LoadRefused(String);

impl std::fmt::Display for LoadRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "docker load on the server refused the image: {}", self.0)
    }
}

impl std::error::Error for LoadRefused {}

/// The layer files of the bottom `skip` layers (by the export's manifest), minus any the
/// layers above also name.
fn skipped_files(export: &mut dyn Read, skip: usize) -> anyhow::Result<HashSet<String>> {
    if skip == 0 {
        return Ok(HashSet::new());
    }
    let mut archive = tar::Archive::new(export);
    for entry in archive.entries().context("read the image export")? {
        let mut entry = entry?;
        if entry.path()?.to_str() != Some("manifest.json") {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text)?;
        let manifest: Vec<Manifest> = serde_json::from_str(&text).context("the export's manifest.json")?;
        let layers = &manifest.first().context("the export's manifest.json names no image")?.layers;
        let keep: HashSet<&String> = layers.iter().skip(skip).collect();
        return Ok(layers.iter().take(skip).filter(|l| !keep.contains(l)).cloned().collect());
    }
    bail!("the image export has no manifest.json")
}

#[derive(serde::Deserialize)]
struct Manifest {
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// Whether gzip saves at least a tenth on samples spread over the file (up to 8 pieces of
/// 256 KiB): it costs CPU on both ends and gains nothing on random or compressed layers.
fn gzip_pays(file: &mut std::fs::File) -> anyhow::Result<bool> {
    const PIECE: u64 = 256 * 1024;
    let len = file.seek(SeekFrom::End(0))?;
    let pieces = (len / PIECE).clamp(1, 8);
    let (mut raw, mut packed) = (0u64, 0u64);
    for i in 0..pieces {
        file.seek(SeekFrom::Start(len * i / pieces))?;
        let mut buf = Vec::with_capacity(PIECE as usize);
        Read::by_ref(file).take(PIECE).read_to_end(&mut buf)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&buf)?;
        raw += buf.len() as u64;
        packed += gz.finish()?.len() as u64;
    }
    Ok(raw > 0 && packed * 10 < raw * 9)
}

/// Copy every entry of the export except the `skip` files into a tar.
fn write_partial(export: &mut dyn Read, skip: &HashSet<String>, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut builder = tar::Builder::new(out);
    let mut archive = tar::Archive::new(export);
    for entry in archive.entries().context("read the image export")? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        if skip.contains(&path) {
            continue;
        }
        let mut header = entry.header().clone();
        if let Some(link) = entry.link_name()? {
            builder.append_link(&mut header, &path, link)?;
        } else {
            builder.append_data(&mut header, &path, &mut entry)?;
        }
    }
    builder.into_inner()?.flush()?;
    Ok(())
}

/// Counts the bytes that go over the wire (the image transfer's figure in outputs and bench).
struct Counting<'a> {
    inner: &'a mut dyn Read,
    n: u64,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn the_partial_archive_leaves_out_only_the_skipped_layer_files() -> anyhow::Result<()> {
        let manifest =
            br#"[{"Config":"c.json","RepoTags":["x:1"],"Layers":["a/layer.tar","b/layer.tar","c/layer.tar"]}]"#;
        let tar = export(&[
            ("a/layer.tar", b"base"),
            ("a/json", b"{}"),
            ("b/layer.tar", b"deps"),
            ("c/layer.tar", b"app"),
            ("c.json", b"{}"),
            ("manifest.json", manifest),
        ]);
        let skip = skipped_files(&mut tar.as_slice(), 2)?;
        assert_eq!(skip, HashSet::from(["a/layer.tar".to_string(), "b/layer.tar".to_string()]));
        let mut out = Vec::new();
        write_partial(&mut tar.as_slice(), &skip, &mut out)?;
        let mut names = Vec::new();
        for e in tar::Archive::new(out.as_slice()).entries()? {
            names.push(e?.path()?.display().to_string());
        }
        assert_eq!(names, ["a/json", "c/layer.tar", "c.json", "manifest.json"]);
        Ok(())
    }

    #[test]
    fn a_layer_file_the_top_also_names_is_kept() -> anyhow::Result<()> {
        let manifest = br#"[{"Layers":["a/layer.tar","b/layer.tar","a/layer.tar"]}]"#;
        let tar = export(&[("manifest.json", manifest)]);
        assert_eq!(skipped_files(&mut tar.as_slice(), 2)?, HashSet::from(["b/layer.tar".to_string()]));
        assert!(skipped_files(&mut tar.as_slice(), 0)?.is_empty());
        Ok(())
    }

    #[test]
    fn gzip_is_used_only_where_it_pays() -> anyhow::Result<()> {
        use sha2::{Digest, Sha256};
        let mut text = tempfile::tempfile()?;
        text.write_all(&b"the same line again\n".repeat(100_000))?;
        assert!(gzip_pays(&mut text)?);
        // Hash output does not compress, like a random or an already-compressed layer.
        let mut random = tempfile::tempfile()?;
        let mut block = Sha256::digest(b"seed");
        for _ in 0..100_000 {
            block = Sha256::digest(block);
            random.write_all(&block)?;
        }
        assert!(!gzip_pays(&mut random)?);
        Ok(())
    }
}
