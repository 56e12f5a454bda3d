//! Fixture builders shared by the integration tests: layer tarballs, `docker save` legacy
//! exports and OCI layouts, all generated in memory with the `tar` crate.
#![allow(dead_code)]

use base64::Engine as _;
use leakscan::{Allowlist, KnownValue, Needles, Scanner};
use sha2::Digest;
use std::io::Write;

pub fn sha256_hex(data: &[u8]) -> String {
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// A file entry: (path, contents). Whiteouts are empty files named `.wh.NAME`.
pub type Files<'a> = &'a [(&'a str, &'a [u8])];

pub fn tar_of(files: Files<'_>) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

pub struct ImageSpec<'a> {
    pub layers: Vec<Vec<(&'a str, Vec<u8>)>>,
    pub config: serde_json::Value,
}

fn layer_tar(layer: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let files: Vec<(&str, &[u8])> = layer.iter().map(|(p, d)| (*p, d.as_slice())).collect();
    tar_of(&files)
}

/// `docker save` legacy layout with manifest.json written LAST and layers out of order,
/// as Docker 20.10 may do.
pub fn docker_save(spec: &ImageSpec<'_>) -> Vec<u8> {
    let layers: Vec<Vec<u8>> = spec.layers.iter().map(|l| layer_tar(l)).collect();
    let ids: Vec<String> =
        layers.iter().enumerate().map(|(i, l)| sha256_hex(&[l.as_slice(), &[i as u8]].concat())).collect();
    let mut config = spec.config.clone();
    config["rootfs"] = serde_json::json!({ "type": "layers", "diff_ids": layers.iter().map(|l| format!("sha256:{}", sha256_hex(l))).collect::<Vec<_>>() });
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", sha256_hex(&config_bytes));
    let manifest = serde_json::json!([{ "Config": config_name, "RepoTags": ["fixture:1"], "Layers": ids.iter().map(|id| format!("{id}/layer.tar")).collect::<Vec<_>>() }]);
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, layer) in layers.iter().enumerate().rev() {
        entries.push((format!("{}/VERSION", ids[i]), b"1.0".to_vec()));
        entries.push((format!("{}/json", ids[i]), format!("{{\"id\":\"{}\"}}", ids[i]).into_bytes()));
        entries.push((format!("{}/layer.tar", ids[i]), layer.clone()));
    }
    entries.push((config_name, config_bytes));
    entries.push(("repositories".into(), b"{\"fixture\":{\"1\":\"x\"}}".to_vec()));
    entries.push(("manifest.json".into(), serde_json::to_vec(&manifest).unwrap()));
    let refs: Vec<(&str, &[u8])> = entries.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
    tar_of(&refs)
}

/// OCI image layout: index.json, blobs/sha256/..., layers alternately gzip and zstd.
/// Returned as (path, bytes) files so tests can pack them as a tar or write a directory.
pub fn oci_layout(spec: &ImageSpec<'_>) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, l) in spec.layers.iter().enumerate() {
        let raw = layer_tar(l);
        diff_ids.push(format!("sha256:{}", sha256_hex(&raw)));
        let (blob, media) = if i % 2 == 0 {
            (gzip(&raw), "application/vnd.oci.image.layer.v1.tar+gzip")
        } else {
            (zstd(&raw), "application/vnd.oci.image.layer.v1.tar+zstd")
        };
        let d = sha256_hex(&blob);
        layer_descs
            .push(serde_json::json!({ "mediaType": media, "digest": format!("sha256:{d}"), "size": blob.len() }));
        files.push((format!("blobs/sha256/{d}"), blob));
    }
    let mut config = spec.config.clone();
    config["rootfs"] = serde_json::json!({ "type": "layers", "diff_ids": diff_ids });
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let cd = sha256_hex(&config_bytes);
    files.push((format!("blobs/sha256/{cd}"), config_bytes.clone()));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{cd}"), "size": config_bytes.len() },
        "layers": layer_descs,
    });
    let mb = serde_json::to_vec(&manifest).unwrap();
    let md = sha256_hex(&mb);
    files.push((format!("blobs/sha256/{md}"), mb.clone()));
    let index = serde_json::json!({ "schemaVersion": 2, "manifests": [{ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{md}"), "size": mb.len() }] });
    // index.json first here; docker_save puts its manifest last: both orders are covered.
    files.insert(0, ("index.json".into(), serde_json::to_vec(&index).unwrap()));
    files.insert(0, ("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
    files
}

pub fn pack(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
    tar_of(&refs)
}

pub fn scanner(known: &[(&str, &str)]) -> Scanner {
    let kv = known.iter().map(|(k, v)| KnownValue { variable: k.to_string(), value: v.as_bytes().to_vec() }).collect();
    Scanner::new(Needles::build(kv, &Allowlist::default()), Allowlist::default())
}

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

pub fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}
