//! Image exports in both layouts (docker save legacy, OCI) built in the test with secrets
//! planted in every place and encoding the scanner must cover, plus clean controls.

mod common;

use common::*;
use leakscan::{Finding, Kind, Location, Severity};

const RAW: &str = "raw-Secret-Qz81kLm2Xv";
const B64: &str = "b64-Secret-Wp73Hn5Tq";
const B64URL: &str = "urlsafe-???>>>-Key9";
const HEX: &str = "hex-Secret-Jd04Ps8Ub";
const HEXUP: &str = "hexup-Secret-Ye7Gc2";
const URLENC: &str = "url enc/Secret&9Kq";
const JSON: &str = "json\"Secret/9Lm\\x";
const DELETED: &str = "deleted-Secret-Hn52Lq";
const OPAQUE: &str = "opaque-Secret-Rt61Vb";
const ENV: &str = "env-Secret-Kp41Zq";
const LABEL: &str = "label-Secret-Bf93Xe";
const HISTORY: &str = "history-Secret-Mx72Wd";
const NESTED: &str = "nested-Secret-Cv38Nt";
const GH_TOKEN: &str = "ghp_4fK9qL2mZx8Rt7Vb1Nc6Hw3Jd5Sa0Ye2Pu9o";

fn known() -> Vec<(&'static str, &'static str)> {
    vec![
        ("RAW", RAW),
        ("B64", B64),
        ("B64URL", B64URL),
        ("HEX", HEX),
        ("HEXUP", HEXUP),
        ("URLENC", URLENC),
        ("JSON", JSON),
        ("DELETED", DELETED),
        ("OPAQUE", OPAQUE),
        ("ENV", ENV),
        ("LABEL", LABEL),
        ("HISTORY", HISTORY),
        ("NESTED", NESTED),
    ]
}

fn private_key() -> Vec<u8> {
    let body = b64(&(0..600u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>());
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n", lines.join("\n"))
        .into_bytes()
}

fn leaky_spec() -> ImageSpec<'static> {
    let url_encoded: String = URLENC
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let json_escaped = JSON.replace('\\', "\\\\").replace('"', "\\\"");
    let nested = gzip(&tar_of(&[("inner/secret.txt", format!("k={NESTED}\n").as_bytes())]));
    let layer0 = vec![
        ("app/config.js", format!("const k=\"{RAW}\";").into_bytes()),
        ("app/.env", format!("DELETED={DELETED}\n").into_bytes()),
        ("cache/tmp/s.txt", OPAQUE.as_bytes().to_vec()),
        ("usr/share/hex.txt", format!("digest {}", hex(HEX.as_bytes())).into_bytes()),
    ];
    let layer1 = vec![
        ("app/.wh..env", Vec::new()),
        ("app/blob.txt", b64(format!("xy{B64}trailing-bytes").as_bytes()).into_bytes()),
        ("app/url-safe.txt", b64url(format!("z{B64URL}--").as_bytes()).into_bytes()),
        ("app/upper.txt", hex(HEXUP.as_bytes()).to_uppercase().into_bytes()),
    ];
    let layer2 = vec![
        ("cache/.wh..wh..opq", Vec::new()),
        ("app/query.txt", format!("https://api.example/x?key={url_encoded}&v=1").into_bytes()),
        ("app/data.json", format!("{{\"k\":\"{json_escaped}\"}}").into_bytes()),
        ("srv/bundle.tar.gz", nested),
        ("root/.ssh/id_ed25519", private_key()),
    ];
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/bin", format!("API_TOKEN={ENV}")],
            "Labels": { "org.example.key": LABEL },
            "Cmd": ["/app/server", format!("--token={GH_TOKEN}")],
        },
        "history": [
            { "created_by": "/bin/sh -c #(nop) ADD file:abc in /" },
            { "created_by": "/bin/sh -c #(nop) COPY dir:def in /app" },
            { "created_by": format!("|1 NPM_TOKEN={HISTORY} /bin/sh -c npm ci") },
        ],
    });
    ImageSpec { layers: vec![layer0, layer1, layer2], config }
}

fn find<'a>(fs: &'a [Finding], variable: &str) -> &'a Finding {
    fs.iter()
        .find(|f| f.variable.as_deref() == Some(variable))
        .unwrap_or_else(|| panic!("no finding for {variable}: {fs:#?}"))
}

fn assert_layer(f: &Finding, index: usize, path: &str, deleted: bool) {
    match &f.location {
        Location::Layer { index: i, path: p, deleted_later, .. } => {
            assert_eq!((*i, p.as_str(), *deleted_later), (Some(index), path, deleted), "{f:?}");
        }
        other => panic!("expected a layer location, got {other:?}"),
    }
}

fn check_leaky(fs: &[Finding]) {
    assert_layer(find(fs, "RAW"), 0, "app/config.js", false);
    assert_layer(find(fs, "DELETED"), 0, "app/.env", true);
    assert_layer(find(fs, "OPAQUE"), 0, "cache/tmp/s.txt", true);
    assert_layer(find(fs, "HEX"), 0, "usr/share/hex.txt", false);
    assert_layer(find(fs, "B64"), 1, "app/blob.txt", false);
    assert_layer(find(fs, "B64URL"), 1, "app/url-safe.txt", false);
    assert_layer(find(fs, "HEXUP"), 1, "app/upper.txt", false);
    assert_layer(find(fs, "URLENC"), 2, "app/query.txt", false);
    assert_layer(find(fs, "JSON"), 2, "app/data.json", false);
    assert_layer(find(fs, "NESTED"), 2, "srv/bundle.tar.gz!/inner/secret.txt", false);
    let enc = |v: &str| find(fs, v).encoding.clone().unwrap();
    assert_eq!(enc("B64"), "base64");
    assert_eq!(enc("B64URL"), "base64url");
    assert_eq!(enc("HEX"), "hex");
    assert_eq!(enc("HEXUP"), "hex-upper");
    assert_eq!(enc("URLENC"), "url-encoded");
    assert_eq!(enc("JSON"), "json-escaped");
    assert_eq!(find(fs, "ENV").location, Location::Config { field: "config Env".into() });
    assert_eq!(find(fs, "LABEL").location, Location::Config { field: "config Labels".into() });
    assert_eq!(find(fs, "HISTORY").location, Location::Config { field: "history[2]".into() });
    let rule =
        |id: &str| fs.iter().find(|f| f.rule.as_deref() == Some(id)).unwrap_or_else(|| panic!("no {id}: {fs:#?}"));
    assert_eq!(rule("github-token").location, Location::Config { field: "config Cmd".into() });
    assert_layer(rule("private-key"), 2, "root/.ssh/id_ed25519", false);
    assert!(fs.iter().all(|f| f.kind != Kind::Unscanned), "{fs:#?}");
    // A value is never in a finding: at most the masked preview.
    let text = serde_json::to_string(fs).unwrap();
    for (_, v) in known() {
        assert!(!text.contains(v), "value leaked into findings");
    }
}

#[test]
fn docker_save_legacy_layout_manifest_last() {
    let report = leakscan::scan_image_stream(&scanner(&known()), &mut &docker_save(&leaky_spec())[..]).unwrap();
    check_leaky(&report.findings);
    // Legacy layers are named by their diff id from the config.
    let Location::Layer { digest, .. } = &find(&report.findings, "RAW").location else { unreachable!() };
    assert!(digest.starts_with("sha256:"), "{digest}");
}

#[test]
fn oci_layout_as_a_tar_stream_with_gzip_and_zstd_layers() {
    let files = oci_layout(&leaky_spec());
    let report = leakscan::scan_image_stream(&scanner(&known()), &mut &pack(&files)[..]).unwrap();
    check_leaky(&report.findings);
}

#[test]
fn oci_layout_as_a_directory_and_as_a_gzipped_tarball_on_disk() {
    let files = oci_layout(&leaky_spec());
    let dir = tempfile::tempdir().unwrap();
    for (p, d) in &files {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, d).unwrap();
    }
    let s = scanner(&known());
    check_leaky(&leakscan::scan_path(&s, dir.path()).unwrap().findings);
    let tgz = dir.path().join("image.tar.gz");
    std::fs::write(&tgz, gzip(&pack(&files))).unwrap();
    std::fs::remove_dir_all(dir.path().join("blobs")).unwrap();
    check_leaky(&leakscan::scan_path(&s, &tgz).unwrap().findings);
}

/// Real content that naive scanners flag: lockfile integrity hashes, git SHAs, UUIDs,
/// minified JS full of `token`/`password` identifiers, binary noise, a public anon JWT.
fn clean_spec() -> ImageSpec<'static> {
    let lock = serde_json::json!({ "packages": { "node_modules/react": {
        "version": "18.3.1",
        "resolved": "https://registry.npmjs.org/react/-/react-18.3.1.tgz",
        "integrity": "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        "gitHead": "3f786850e387550fdab836ed7e6dc881de23001b",
        "token": "0b2d9a5e-4c1f-4e2a-9d3b-7a8c6e5f4d3c",
    } } });
    let header = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64url(br#"{"role":"anon","iss":"supabase","iat":1700000000,"exp":2000000000}"#);
    let anon = format!("{header}.{payload}.Zk9qL2mXx8Rt7Vb1Nc6Hw3Jd5Sa0Ye2Pu9oAbCdEf");
    let mut js = String::new();
    for i in 0..400u64 {
        js.push_str(&format!(
            "function a{i}(e,t){{var n=e.token||t.accessToken;return{{password:n.password,secret:null,apiKey:import.meta.env.VITE_KEY_{i}}}}}\
             const s{i}={{headers:{{Authorization:\"Bearer \"+e.token}},id:\"{:08x}-1f2e-4d3c-8b4a-{:012x}\",sha:\"{:040x}\"}};\
             var tokenizer{i}=new Tokenizer({{secret_key_base:process.env.SECRET_KEY_BASE,password_min:12}});",
            (i as u32).wrapping_mul(2654435761), i.wrapping_mul(11400714819323198485) & 0xffff_ffff_ffff, (i as u128).wrapping_mul(0x9e3779b97f4a7c15)
        ));
    }
    js.push_str(&format!("const supabaseAnonKey=\"{anon}\";"));
    let mut x: u64 = 0x1234_5678;
    let binary: Vec<u8> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let layer0 = vec![
        ("app/package-lock.json", serde_json::to_vec_pretty(&lock).unwrap()),
        ("app/dist/assets/index-3f7a9c.js", js.into_bytes()),
        ("usr/bin/tool", binary),
        (".git/ORIG_HEAD", b"3f786850e387550fdab836ed7e6dc881de23001b\n".to_vec()),
    ];
    let config = serde_json::json!({
        "config": { "Env": ["PATH=/usr/local/bin:/usr/bin", "NODE_ENV=production"], "Cmd": ["node", "server.js"] },
        "history": [{ "created_by": "/bin/sh -c npm ci --omit=dev" }],
    });
    ImageSpec { layers: vec![layer0], config }
}

#[test]
fn clean_images_give_no_findings_in_either_layout() {
    let s = scanner(&known());
    for (name, bytes) in [("docker save", docker_save(&clean_spec())), ("oci", pack(&oci_layout(&clean_spec())))] {
        let report = leakscan::scan_image_stream(&s, &mut &bytes[..]).unwrap();
        assert!(report.findings.is_empty(), "{name}: {:#?}", report.findings);
        assert!(!report.has_errors());
        assert!(report.bytes_scanned > 300_000);
    }
}

#[test]
fn allowlist_by_path_glob_drops_the_finding() {
    let allow =
        leakscan::Allowlist::parse("[[allow]]\nrule = \"private-key\"\npath = \"root/.ssh/*\"\nreason = \"fixture\"\n")
            .unwrap();
    let kv = known()
        .iter()
        .map(|(k, v)| leakscan::KnownValue { variable: k.to_string(), value: v.as_bytes().to_vec() })
        .collect();
    let s = leakscan::Scanner::new(leakscan::Needles::build(kv, &allow), allow);
    let report = leakscan::scan_image_stream(&s, &mut &docker_save(&leaky_spec())[..]).unwrap();
    assert!(report.findings.iter().all(|f| f.rule.as_deref() != Some("private-key")));
    assert!(report.findings.iter().any(|f| f.severity == Severity::Error));
}
