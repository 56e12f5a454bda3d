//! The edge proxy a target's server runs in front of its release slots: Caddy, configured
//! once per TLS setting, never reloaded by a deploy. Both slots (blue and green) are always
//! its upstreams; each slot's gate (a busybox httpd beside the app, sharing its network
//! namespace) answers `/open` only while that slot should get traffic, and Caddy's active
//! health checks follow the gates. A switch is two `touch`/`rm` of gate files, no reload:
//! Caddy 2.6 drops in-flight connections on every config reload (measured on this project's
//! sandbox), so a reload-based switch can never promise zero failed requests.

use super::targets::{Target, Tls};
use serde_json::{Value, json};

/// The two release slots; a deploy starts the one that is not live.
pub const SLOTS: [&str; 2] = ["blue", "green"];
/// Port the gate listens on inside a slot.
pub const GATE_PORT: u16 = 9180;
/// The gate's "this slot takes traffic" file, served as `/open`.
pub const GATE_PATH: &str = "/open";
/// How often the proxy checks the gates; a switch waits a few of these.
pub const HEALTH_INTERVAL_MS: u64 = 250;
/// Where the proxy's admin API listens: a unix socket in a root-only directory of the
/// server, never a TCP port.
pub const ADMIN_SOCKET: &str = "/run/caddy-admin/admin.sock";
/// Where a CA bundle for the ACME directory is mounted in the proxy container.
pub const CA_ROOT_IN_CONTAINER: &str = "/etc/caddy/ca/acme-ca.pem";

/// The slot that is not `live` (blue when nothing is live).
pub fn other_slot(live: Option<&str>) -> &'static str {
    if live == Some(SLOTS[0]) { SLOTS[1] } else { SLOTS[0] }
}

/// The Docker network the proxy and every slot's gate share.
pub fn network(project: &str) -> String {
    format!("{project}-edge")
}

/// The compose project of a slot (`app-blue`), also the gate's name on the edge network.
pub fn slot_project(project: &str, slot: &str) -> String {
    format!("{project}-{slot}")
}

/// The compose project of the proxy.
pub fn edge_project(project: &str) -> String {
    format!("{project}-edge")
}

/// Where the ACME CA and directory come from, resolved for the target (the sandbox's are
/// only known once it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acme {
    pub email: String,
    pub directory: Option<String>,
    /// Whether a CA bundle for the directory is mounted at [`CA_ROOT_IN_CONTAINER`].
    pub ca_root: bool,
}

/// The proxy's whole configuration (Caddy JSON). `address` is the server's address for the
/// internal CA when the target names no host.
pub fn caddy_config(t: &Target, acme: Option<&Acme>, address: &str) -> Value {
    let hosts: Vec<String> = match &t.tls {
        Tls::Acme { hosts, .. } => hosts.clone(),
        Tls::Internal => vec![address.to_string()],
    };
    let mut hsts = "max-age=31536000".to_string();
    if t.hsts_include_subdomains {
        hsts.push_str("; includeSubDomains");
    }
    let upstreams: Vec<Value> =
        SLOTS.iter().map(|s| json!({ "dial": format!("{}:{}", slot_project(&t.project, s), t.app_port) })).collect();
    let proxy = json!({
        "handler": "reverse_proxy",
        "upstreams": upstreams,
        "load_balancing": {
            "selection_policy": { "policy": "first" },
            // A request that finds no open slot waits for one instead of failing at once.
            "try_duration": "5s",
            "try_interval": "100ms"
        },
        "health_checks": { "active": {
            "uri": GATE_PATH,
            "port": GATE_PORT,
            "interval": format!("{HEALTH_INTERVAL_MS}ms"),
            "timeout": "1s"
        } }
    });
    let route = json!({
        "match": [{ "host": hosts }],
        "handle": [
            { "handler": "headers", "response": { "set": { "Strict-Transport-Security": [hsts] } } },
            proxy
        ],
        "terminal": true
    });
    let issuer = match acme {
        Some(a) => {
            let mut i = json!({ "module": "acme", "email": a.email });
            if let Some(d) = &a.directory {
                i["ca"] = json!(d);
            }
            if a.ca_root {
                i["trusted_roots_pem_files"] = json!([CA_ROOT_IN_CONTAINER]);
            }
            i
        }
        None => json!({ "module": "internal" }),
    };
    json!({
        "admin": { "listen": format!("unix/{ADMIN_SOCKET}") },
        "apps": {
            "http": { "http_port": t.http_port, "https_port": t.https_port, "servers": { "edge": {
                "listen": [format!(":{}", t.https_port)],
                "protocols": ["h1", "h2"],
                // A client that sends no SNI (any client dialling an IP address) gets the
                // first host's certificate: the connection reaches the proxy through Docker's
                // port forwarding, so the address it dialled is not the one Caddy sees.
                "tls_connection_policies": [{ "default_sni": hosts[0] }],
                "routes": [route]
            } } },
            "tls": {
                "automation": { "policies": [{ "subjects": hosts, "issuers": [issuer] }] }
            },
            // The internal CA's root stays inside the proxy's data volume; nothing is
            // installed into the server's trust store.
            "pki": { "certificate_authorities": { "local": { "install_trust": false } } }
        }
    })
}

/// The proxy's compose file. The image reference and the network come from `.env`.
pub fn compose_file() -> String {
    format!(
        r#"# Written by cargo xtask deploy vps: the edge proxy (TLS, certificates, the switch
# between release slots). It outlives every release; a deploy never restarts it.
services:
  proxy:
    image: ${{PROXY_IMAGE:?set PROXY_IMAGE}}
    restart: unless-stopped
    command: ["caddy", "run", "--config", "/etc/caddy/caddy.json"]
    ports:
      - "${{HTTP_PORT:?}}:${{HTTP_PORT:?}}"
      - "${{HTTPS_PORT:?}}:${{HTTPS_PORT:?}}"
    volumes:
      - ./caddy.json:/etc/caddy/caddy.json:ro
      - ./ca:/etc/caddy/ca:ro
      - ./admin:{admin_dir}
      - data:/data
      - config:/config
    networks:
      - edge
networks:
  edge:
    external: true
    name: ${{EDGE_NETWORK:?set EDGE_NETWORK}}
volumes:
  data: {{}}
  config: {{}}
"#,
        admin_dir = ADMIN_SOCKET.rsplit_once('/').map(|(d, _)| d).unwrap_or("/run/caddy-admin"),
    )
}

/// The proxy project's interpolation file (image, network; no secret).
pub fn compose_env(t: &Target) -> String {
    format!(
        "PROXY_IMAGE={}\nEDGE_NETWORK={}\nHTTP_PORT={}\nHTTPS_PORT={}\n",
        t.proxy_image,
        network(&t.project),
        t.http_port,
        t.https_port
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::deploy::targets::Targets;

    fn target(tls: Tls) -> Target {
        Target { tls, ..Targets::committed().get(Some("sandbox")).unwrap().clone() }
    }

    #[test]
    fn both_slots_are_upstreams_and_the_gates_decide() {
        let t = target(Tls::Internal);
        let c = caddy_config(&t, None, "10.213.7.2");
        let proxy = &c["apps"]["http"]["servers"]["edge"]["routes"][0]["handle"][1];
        let dials: Vec<&str> =
            proxy["upstreams"].as_array().unwrap().iter().map(|u| u["dial"].as_str().unwrap()).collect();
        assert_eq!(dials, [format!("{}-blue:8080", t.project), format!("{}-green:8080", t.project)]);
        assert_eq!(proxy["health_checks"]["active"]["port"], GATE_PORT);
        assert_eq!(proxy["health_checks"]["active"]["uri"], GATE_PATH);
        assert_eq!(c["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]["module"], "internal");
        assert_eq!(c["apps"]["tls"]["automation"]["policies"][0]["subjects"][0], "10.213.7.2");
        assert!(c["admin"]["listen"].as_str().unwrap().starts_with("unix//run/"));
    }

    #[test]
    fn acme_hosts_get_an_acme_issuer_with_the_trusted_ca_and_hsts() {
        let t = target(Tls::Acme {
            hosts: vec!["app.sandbox.test".into()],
            email: "ops@sandbox.test".into(),
            directory: None,
            ca_root: None,
            sandbox: true,
        });
        let acme = Acme {
            email: "ops@sandbox.test".into(),
            directory: Some("https://10.213.7.1:14000/dir".into()),
            ca_root: true,
        };
        let c = caddy_config(&t, Some(&acme), "unused");
        let issuer = &c["apps"]["tls"]["automation"]["policies"][0]["issuers"][0];
        assert_eq!(issuer["module"], "acme");
        assert_eq!(issuer["ca"], "https://10.213.7.1:14000/dir");
        assert_eq!(issuer["trusted_roots_pem_files"][0], CA_ROOT_IN_CONTAINER);
        let route = &c["apps"]["http"]["servers"]["edge"]["routes"][0];
        assert_eq!(route["match"][0]["host"][0], "app.sandbox.test");
        assert_eq!(route["handle"][0]["response"]["set"]["Strict-Transport-Security"][0], "max-age=31536000");
    }

    #[test]
    fn slots_alternate() {
        assert_eq!(other_slot(None), "blue");
        assert_eq!(other_slot(Some("blue")), "green");
        assert_eq!(other_slot(Some("green")), "blue");
    }
}
