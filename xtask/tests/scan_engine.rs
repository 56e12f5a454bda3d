//! `cargo xtask scan image:NAME` against a real image built in the test engine: the export is
//! streamed from the engine (a real `docker save`), and a planted secret is found in a layer
//! (also after deletion), in the history (build arg) and base64-encoded in a file.

use std::collections::BTreeMap;
use std::process::Command;
use xtask::effects::docker::{BollardEngine, BuildRequest, ImageEngine, context_tar_gz};
use xtask::rigs::engine::Engine;

const CANARY: &str = "canary-Engine-Scan-7Qz81kLm";

#[test]
fn scan_image_finds_planted_secret_in_layers_and_history() {
    let e = Engine::ensure().expect("the test engine (cargo xtask test provides it)");
    e.ensure_base_image("busybox:1.36").expect("local busybox base image");
    let docker = BollardEngine::new(e.client().expect("engine client")).expect("bollard engine");
    let b64 = base64_std(format!("k:{CANARY}").as_bytes());
    let dockerfile = "FROM busybox:1.36\nARG DB_PASSWORD\nRUN echo \"pw=$DB_PASSWORD\" > /app.env\nRUN rm /app.env\nCOPY config.js /srv/config.js\n";
    let entries = vec![
        ("Dockerfile".to_string(), 0o644, dockerfile.as_bytes().to_vec()),
        ("config.js".to_string(), 0o644, format!("const c=\"{b64}\";").into_bytes()),
    ];
    let tag = "xtask-scan-engine-test:1";
    let request = BuildRequest {
        tag: tag.into(),
        context_tar_gz: context_tar_gz(&entries).unwrap(),
        secrets: BTreeMap::new(),
        build_args: [("DB_PASSWORD".to_string(), CANARY.to_string())].into(),
        labels: BTreeMap::new(),
    };
    docker.build(&request, &mut |_| {}).unwrap_or_else(|err| panic!("build {tag}: {err:#}"));

    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join(".env.production"), format!("POSTGRES_PASSWORD={CANARY}\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--project-dir")
        .arg(project.path())
        .args(["scan", "--format", "json", &format!("image:{tag}")])
        .env("DOCKER_HOST", e.docker_host())
        .output()
        .unwrap();
    docker.remove(tag).unwrap();
    for text in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(text).contains(CANARY), "the secret was printed");
    }
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let locations: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["variable"] == "POSTGRES_PASSWORD")
        .map(|f| format!("{} {}", f["encoding"].as_str().unwrap_or(""), f["location"].as_str().unwrap()))
        .collect();
    let has = |needle: &str| locations.iter().any(|l| l.contains(needle));
    assert!(has("app.env (deleted in a later layer)"), "{locations:#?}");
    assert!(has("base64 ") && has("srv/config.js"), "{locations:#?}");
    assert!(locations.iter().any(|l| l.contains("history[")), "{locations:#?}");
}

fn base64_std(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..=c.len() {
            s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    s
}
