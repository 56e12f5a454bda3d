//! Image exports: `docker save` legacy layout and OCI image layout, as one tar stream or as
//! files of a directory. Entries come in any order (Docker 20.10 writes manifest.json last),
//! so layer findings are recorded by layer key and mapped to layer indexes at the end.

use crate::engine::{Report, Scanner, Sink};
use crate::finding::{Finding, Location};
use crate::tarstream::{EntryKind, TarStream};
use crate::walk::{Format, Walker, decoder, peek};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::{self, Read};

/// JSON documents (manifests, configs, per-layer json) kept in memory to read at the end.
const MAX_JSON_DOC: u64 = 16 << 20;
const MAX_JSON_TOTAL: u64 = 64 << 20;

/// What a layer holds, paths only, to tell which files a later layer deleted or replaced.
#[derive(Default)]
struct LayerFiles {
    files: HashSet<String>,
    whiteouts: HashSet<String>,
    opaque: Vec<String>,
}

pub(crate) struct ImageScan<'s, 'a> {
    walker: Walker<'s, 'a>,
    docs: HashMap<String, Vec<u8>>,
    docs_bytes: u64,
    layers: HashMap<String, LayerFiles>,
}

fn norm(p: &str) -> String {
    p.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/').to_string()
}

impl<'s, 'a> ImageScan<'s, 'a> {
    pub(crate) fn new(scanner: &'a Scanner, sink: &'s mut Sink<'a>) -> Self {
        ImageScan { walker: Walker { scanner, sink }, docs: HashMap::new(), docs_bytes: 0, layers: HashMap::new() }
    }

    /// One entry of the export (a tar entry or a file of an OCI layout directory).
    pub(crate) fn entry(&mut self, name: &str, r: &mut dyn Read, size: u64) -> io::Result<()> {
        let name = norm(name);
        let (format, mut r) = peek(r)?;
        let head_is_json =
            r.get_ref().0.get_ref().first() == Some(&b'{') || r.get_ref().0.get_ref().first() == Some(&b'[');
        let file_loc = |p: &str| Location::File { path: p.to_string() };
        if format == Format::Plain && head_is_json && size <= MAX_JSON_DOC && self.docs_bytes + size <= MAX_JSON_TOTAL {
            let mut doc = Vec::with_capacity(size as usize);
            r.read_to_end(&mut doc)?;
            self.docs_bytes += doc.len() as u64;
            self.walker.sink.scanned(doc.len() as u64);
            self.docs.insert(name, doc);
            return Ok(());
        }
        match format {
            Format::Tar => self.layer(&name, &mut r),
            Format::Gzip | Format::Zstd => {
                let limits = self.walker.scanner.limits;
                let result = (|| {
                    let mut d = decoder(&mut r, format, limits)?;
                    let (inner, mut d) = peek(&mut d)?;
                    if inner == Format::Tar {
                        self.layer(&name, &mut d)
                    } else {
                        self.walker.content(&mut d, &name, 1, &file_loc)
                    }
                })();
                if let Err(e) = result {
                    self.walker.sink.add(Finding::unscanned(
                        file_loc(&name),
                        format!("compressed entry could not be read completely: {e}"),
                    ));
                }
                Ok(())
            }
            _ => self.walker.content(&mut r, &name, 0, &file_loc),
        }
    }

    fn layer(&mut self, key: &str, r: &mut dyn Read) -> io::Result<()> {
        let mut files = LayerFiles::default();
        let make = |p: &str| Location::Layer {
            index: None,
            digest: key.to_string(),
            path: p.to_string(),
            deleted_later: false,
        };
        let result = self.walker.tar(r, "", 1, &make, &mut |path, kind| {
            let path = norm(path);
            let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            if base == ".wh..wh..opq" {
                files.opaque.push(dir.to_string());
            } else if let Some(target) = base.strip_prefix(".wh.") {
                files.whiteouts.insert(if dir.is_empty() { target.to_string() } else { format!("{dir}/{target}") });
            } else if kind != EntryKind::Dir {
                files.files.insert(path);
            }
        });
        self.layers.insert(key.to_string(), files);
        if let Err(e) = result {
            self.walker.sink.add(Finding::unscanned(make(""), format!("layer could not be read completely: {e}")));
        }
        Ok(())
    }

    /// Read the manifests, scan configs, and give layer findings their index and whether a
    /// later layer deleted the file.
    pub(crate) fn finish(mut self) {
        let images = self.manifests();
        let mut order: HashMap<String, (usize, String, Vec<String>)> = HashMap::new();
        let mut used_docs: HashSet<String> = HashSet::new();
        for img in &images {
            used_docs.insert(img.config.clone());
            let config: Option<Value> = self.docs.get(&img.config).and_then(|d| serde_json::from_slice(d).ok());
            let diff_ids: Vec<String> = config
                .as_ref()
                .and_then(|c| c.pointer("/rootfs/diff_ids"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                .unwrap_or_default();
            for (i, key) in img.layers.iter().enumerate() {
                let digest = img
                    .digests
                    .get(i)
                    .cloned()
                    .flatten()
                    .or_else(|| diff_ids.get(i).cloned())
                    .unwrap_or_else(|| key.clone());
                order.entry(key.clone()).or_insert((i, digest, img.layers.clone()));
            }
            if let Some(c) = &config {
                self.scan_config(c, &img.config);
            }
        }
        for f in self.walker.sink.findings_mut() {
            let Location::Layer { index, digest, path, deleted_later } = &mut f.location else { continue };
            match order.get(digest.as_str()) {
                Some((i, shown, stack)) => {
                    *deleted_later =
                        stack[i + 1..].iter().any(|later| self.layers.get(later).is_some_and(|l| l.deletes(path)));
                    *index = Some(*i);
                    *digest = shown.clone();
                }
                None => {
                    // Not an image after all (a plain tarball holding tarballs): name the file.
                    let outer = digest.clone();
                    f.location =
                        Location::File { path: if path.is_empty() { outer } else { format!("{outer}!/{path}") } };
                }
            }
        }
        let scanner = self.walker.scanner;
        let mut rest: Vec<_> = self.docs.iter().filter(|(k, _)| !used_docs.contains(*k)).collect();
        rest.sort_by(|a, b| a.0.cmp(b.0));
        for (name, doc) in rest {
            let loc = Location::File { path: name.clone() };
            let sink = &mut *self.walker.sink;
            let _ = scanner.scan_stream(&mut &doc[..], &mut |h| sink.push(h, &loc));
        }
    }

    fn scan_config(&mut self, c: &Value, name: &str) {
        let scanner = self.walker.scanner;
        let mut fields: Vec<(String, String)> = Vec::new();
        for section in ["config", "container_config"] {
            let Some(s) = c.get(section) else { continue };
            for key in ["Env", "Cmd", "Entrypoint"] {
                if let Some(a) = s.get(key).and_then(Value::as_array) {
                    let text: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                    fields.push((format!("{section} {key}"), text.join("\n")));
                }
            }
            if let Some(m) = s.get("Labels").and_then(Value::as_object) {
                let text: Vec<String> =
                    m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
                fields.push((format!("{section} Labels"), text.join("\n")));
            }
        }
        if let Some(h) = c.get("history").and_then(Value::as_array) {
            for (i, entry) in h.iter().enumerate() {
                let text = [entry.get("created_by"), entry.get("comment")]
                    .iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                fields.push((format!("history[{i}]"), text));
            }
        }
        let mut seen = HashSet::new();
        for (field, text) in fields {
            for f in scanner.scan_bytes(text.as_bytes(), Location::Config { field }) {
                seen.insert((f.variable.clone(), f.rule.clone()));
                self.walker.sink.add(f);
            }
        }
        // The rest of the config (User, Healthcheck, OnBuild, ...) as raw JSON, without
        // repeating what the fields above already reported.
        if let Some(doc) = self.docs.get(name) {
            for f in scanner.scan_bytes(doc, Location::Config { field: "config (other fields)".into() }) {
                if !seen.contains(&(f.variable.clone(), f.rule.clone())) {
                    self.walker.sink.add(f);
                }
            }
        }
    }

    fn manifests(&self) -> Vec<ImageManifest> {
        let mut out = Vec::new();
        if let Some(Value::Array(items)) = self.docs.get("manifest.json").and_then(|d| serde_json::from_slice(d).ok()) {
            for m in items {
                let config = m.get("Config").and_then(Value::as_str).map(norm).unwrap_or_default();
                let layers: Vec<String> = m
                    .get("Layers")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(norm).collect())
                    .unwrap_or_default();
                let digests = vec![None; layers.len()];
                out.push(ImageManifest { config, layers, digests });
            }
        }
        if out.is_empty()
            && let Some(index) = self.docs.get("index.json").and_then(|d| serde_json::from_slice::<Value>(d).ok())
        {
            self.oci_index(&index, 0, &mut out);
        }
        out
    }

    fn oci_index(&self, index: &Value, depth: u32, out: &mut Vec<ImageManifest>) {
        let Some(ms) = index.get("manifests").and_then(Value::as_array) else { return };
        for m in ms {
            let Some(doc) = m.get("digest").and_then(Value::as_str).and_then(|d| self.docs.get(&blob_key(d))) else {
                continue;
            };
            let Ok(v) = serde_json::from_slice::<Value>(doc) else { continue };
            if v.get("manifests").is_some() && depth < 3 {
                self.oci_index(&v, depth + 1, out);
                continue;
            }
            let config = v.pointer("/config/digest").and_then(Value::as_str).map(blob_key).unwrap_or_default();
            let digests: Vec<String> = v
                .get("layers")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|l| l.get("digest").and_then(Value::as_str).map(String::from)).collect())
                .unwrap_or_default();
            let layers = digests.iter().map(|d| blob_key(d)).collect();
            out.push(ImageManifest { config, layers, digests: digests.into_iter().map(Some).collect() });
        }
    }
}

struct ImageManifest {
    config: String,
    layers: Vec<String>,
    digests: Vec<Option<String>>,
}

fn blob_key(digest: &str) -> String {
    let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    format!("blobs/{alg}/{hex}")
}

impl LayerFiles {
    /// Whether this (later) layer deletes or replaces `path` of a lower layer.
    fn deletes(&self, path: &str) -> bool {
        let path = norm(path);
        let path = path.split("!/").next().unwrap_or(&path);
        if self.files.contains(path) {
            return true;
        }
        let mut prefix = path;
        loop {
            if self.whiteouts.contains(prefix) {
                return true;
            }
            match prefix.rsplit_once('/') {
                Some((dir, _)) => {
                    prefix = dir;
                    if self.opaque.iter().any(|o| o == dir) {
                        return true;
                    }
                }
                None => return self.opaque.iter().any(|o| o.is_empty()),
            }
        }
    }
}

/// Scan an image export given as one tar stream (`docker save`, bollard's export, an OCI
/// layout tarball), optionally gzip/zstd compressed. A plain tarball works too: entries
/// that no manifest names are reported as files.
pub fn scan_image_stream(scanner: &Scanner, r: &mut dyn Read) -> io::Result<Report> {
    let mut sink = Sink::new(scanner);
    {
        let (format, mut r) = peek(r)?;
        let mut boxed: Box<dyn Read + '_> = match format {
            Format::Gzip | Format::Zstd => decoder(&mut r, format, scanner.limits)?,
            _ => Box::new(r),
        };
        let mut img = ImageScan::new(scanner, &mut sink);
        let mut t = TarStream::new(&mut boxed);
        while let Some(e) = t.next_entry()? {
            if e.kind == EntryKind::File {
                img.entry(&e.path, &mut t.data(), e.size)?;
            }
        }
        img.finish();
    }
    Ok(sink.into_report())
}
