//! CLI tests of the layered config through `env show --explain` and
//! `verify-env --layered`, and verify-env's rotation warning.

mod secrets_support;

use secrets_support::Fixture;

const CANARY: &str = "canaryLAYER9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1";

fn layered() -> Fixture {
    let f = Fixture::new();
    let ws = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for n in ["common", "dev", "production"] {
        f.write(&format!("config/{n}.env"), &std::fs::read_to_string(ws.join(format!("config/{n}.env"))).unwrap());
    }
    f
}

#[test]
fn explain_names_the_file_and_line_of_each_value_and_masks_secrets() {
    let f = layered();
    f.write("config/common.env", "LOG_LEVEL=info\nRATE_LIMIT_WINDOW_MS=60000\n");
    f.write("config/production.env", "NODE_ENV=production\nLOG_LEVEL=warn\n");
    f.write("secrets/jwt_secret.txt", &format!("{CANARY}\n"));
    let run = f.xtask(&["env", "show", "--env", "production", "--explain", "--format", "json"]);
    run.expect(0);
    assert!(!run.all().contains(CANARY) && !run.all().contains(&CANARY[2..10]));
    let vars = run.json()["variables"].as_array().unwrap().clone();
    let get = |n: &str| vars.iter().find(|v| v["name"] == n).unwrap_or_else(|| panic!("{n}")).clone();
    assert_eq!(get("LOG_LEVEL")["value"], "warn");
    assert_eq!(get("LOG_LEVEL")["source"], "config/production.env:2");
    assert_eq!(get("LOG_LEVEL")["overrides"][0], "config/common.env:1");
    assert_eq!(get("JWT_SECRET")["source"], "secrets/jwt_secret.txt");
    assert_eq!(get("JWT_SECRET")["secret"], true);
    let human = f.xtask(&["env", "show", "--env", "production", "--explain"]);
    human.expect(0);
    assert!(human.stdout().contains("config/production.env:2") && !human.all().contains(CANARY));
}

#[test]
fn verify_env_layered_passes_on_generated_layers_and_points_at_the_layer_file() {
    let f = layered();
    // The committed production layer names `.test` stand-ins, which verify-env calls
    // placeholders in production: a deployed app's own origins here.
    f.write(
        "config/production.env",
        "NODE_ENV=production\nALLOWED_ORIGINS=https://app.acme.io\nRATE_LIMIT_MAX=100\nVITE_SUPABASE_URL=https://sb.acme.io\n",
    );
    f.xtask(&["secrets", "gen", "--layered", "--throwaway"]).expect(0);
    // A throwaway provider key is an error in production: put a real-looking one in.
    f.write("secrets/openrouter_api_key.txt", &format!("{}\n", envfile::sample::OPENROUTER_API_KEY));
    f.xtask(&["verify-env", "--layered"]).expect(0);
    f.write(
        "config/production.env",
        "NODE_ENV=production\nALLOWED_ORIGINS=*\nRATE_LIMIT_MAX=100\nVITE_SUPABASE_URL=https://sb.acme.io\n",
    );
    let run = f.xtask(&["verify-env", "--layered", "--format", "json"]);
    run.expect(1);
    let msgs = run.json()["findings"].to_string();
    assert!(msgs.contains("config/production.env:2"), "{msgs}");
    std::fs::remove_file(f.path("secrets/jwt_secret.txt")).unwrap();
    let missing = f.xtask(&["verify-env", "--layered", "--format", "json"]).json();
    assert!(missing["findings"].to_string().contains("JWT_SECRET"), "{missing}");
}

#[test]
fn verify_env_warns_about_an_overdue_rotation() {
    let f = Fixture::new();
    f.xtask(&[
        "secrets",
        "gen",
        "--throwaway",
        "--set",
        "ALLOWED_ORIGINS=https://app.acme.io",
        "--set",
        "VITE_SUPABASE_URL=https://sb.acme.io",
    ])
    .expect(0);
    // A throwaway provider key is an error in production: put a real-looking one in.
    let env = std::fs::read_to_string(f.path(".env.production")).unwrap();
    let env: String = env
        .lines()
        .map(|l| {
            if l.starts_with("OPENROUTER_API_KEY=") {
                format!("OPENROUTER_API_KEY={}\n", envfile::sample::OPENROUTER_API_KEY)
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    f.write(".env.production", &env);
    f.xtask(&["verify-env"]).expect(0);
    f.write("deploy/secrets-meta.toml", "[production.JWT_SECRET]\ngenerated = \"2001-01-01\"\n");
    let run = f.xtask(&["verify-env", "--format", "json"]);
    run.expect(0);
    let findings = run.json()["findings"].as_array().unwrap().clone();
    let w = findings.iter().find(|x| x["code"] == "rotation-overdue").expect("a rotation warning");
    assert_eq!(w["severity"], "warning");
    assert_eq!(w["variable"], "JWT_SECRET");
    assert!(w["hint"].as_str().unwrap().contains("secrets rotate JWT_SECRET"));
}
