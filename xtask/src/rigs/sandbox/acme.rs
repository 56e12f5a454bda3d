//! A real ACME CA beside the sandbox VPS: Pebble (Debian's `pebble`) and its DNS test server
//! `pebble-challtestsrv`, both on the host end of the veth (10.213.7.1), fully offline.
//! The DNS server answers every name with the VPS's address, so Pebble validates HTTP-01 and
//! TLS-ALPN-01 challenges against the proxy on the VPS exactly as a public CA would. Routes
//! back to the VPS engine's container networks let the proxy inside a container reach
//! Pebble (the VPS engine runs without NAT).

use super::setup::{HOST_IP, VPS_IP, sh};
use super::{Layout, State};
use crate::effects::process;
use crate::rigs::engine::provision::{self, tail_file};
use anyhow::{Context, bail};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Pebble's ACME (WFE) port and its management port (roots, intermediates).
pub const ACME_PORT: u16 = 14000;
pub const MANAGEMENT_PORT: u16 = 15000;
/// The DNS server Pebble resolves challenge hosts with, and its management API.
const DNS_PORT: u16 = 8053;
const CHALL_MANAGEMENT_PORT: u16 = 8055;
/// A host name the sandbox's DNS resolves to the VPS (a reserved `.test` name, so it can
/// never mean a real host).
pub const TEST_HOST: &str = "app.sandbox.test";
/// The VPS engine's bridge and compose-network ranges (see `Layout::at`).
pub const CONTAINER_NETS: [&str; 2] = ["10.214.0.0/24", "10.215.0.0/16"];

/// Pebble's files under the sandbox dir.
pub fn dir(l: &Layout) -> PathBuf {
    l.dir.join("pebble")
}

/// The bundle a client of Pebble's ACME API trusts (its own TLS certificate, self-signed).
pub fn ca_bundle(l: &Layout) -> PathBuf {
    dir(l).join("wfe-ca.pem")
}

/// The directory URL.
pub fn directory() -> String {
    format!("https://{HOST_IP}:{ACME_PORT}/dir")
}

/// Start the DNS test server and Pebble, recording each for teardown, and add the routes.
pub fn start(l: &Layout, state: &mut State) -> anyhow::Result<()> {
    let d = dir(l);
    std::fs::create_dir_all(&d)?;
    let (cert, key) = (d.join("wfe-cert.pem"), d.join("wfe-key.pem"));
    // Pebble's API certificate names the address clients dial.
    let out = process::cmd("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30"])
        .args(["-subj", "/CN=xtask sandbox ACME"])
        .arg("-addext")
        .arg(format!("subjectAltName=IP:{HOST_IP},DNS:localhost"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .context("run openssl")?;
    if !out.success() {
        bail!("openssl could not make Pebble's certificate: {}", out.stderr_text());
    }
    std::fs::copy(&cert, ca_bundle(l))?;
    let config = d.join("pebble-config.json");
    let json = serde_json::json!({ "pebble": {
        "listenAddress": format!("{HOST_IP}:{ACME_PORT}"),
        "managementListenAddress": format!("{HOST_IP}:{MANAGEMENT_PORT}"),
        "certificate": cert,
        "privateKey": key,
        // The challenge ports a public CA uses.
        "httpPort": 80,
        "tlsPort": 443,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false
    } });
    std::fs::write(&config, serde_json::to_vec_pretty(&json)?)?;

    let chall_mgmt = format!("{HOST_IP}:{CHALL_MANAGEMENT_PORT}");
    let chall: Vec<OsString> = [
        "pebble-challtestsrv",
        "-defaultIPv4",
        VPS_IP,
        "-defaultIPv6",
        "",
        "-dns01",
        &format!("{HOST_IP}:{DNS_PORT}"),
        "-http01",
        "",
        "-https01",
        "",
        "-tlsalpn01",
        "",
        "-management",
        &chall_mgmt,
    ]
    .map(OsString::from)
    .to_vec();
    let pid = process::spawn_daemon(&chall, &d.join("challtestsrv.log")).context("start pebble-challtestsrv")?;
    state.record("acme", &format!("{pid} {chall_mgmt}"))?;
    wait_for(&chall_mgmt, pid, &d.join("challtestsrv.log"))?;

    let pebble: Vec<OsString> = vec![
        "env".into(),
        // No random sleeps before validation and no deliberately rejected nonces: the
        // sandbox's CA is as strict as a real one but not as slow or flaky on purpose.
        "PEBBLE_VA_NOSLEEP=1".into(),
        "PEBBLE_WFE_NONCEREJECT=0".into(),
        "pebble".into(),
        "-config".into(),
        config.clone().into(),
        "-dnsserver".into(),
        format!("{HOST_IP}:{DNS_PORT}").into(),
    ];
    let pid = process::spawn_daemon(&pebble, &d.join("pebble.log")).context("start pebble")?;
    state.record("acme", &format!("{pid} {}", config.display()))?;
    wait_for(&format!("{HOST_IP}:{ACME_PORT}"), pid, &d.join("pebble.log"))?;
    add_routes(state)
}

/// Routes from the host to the VPS engine's container networks, through the VPS.
pub fn add_routes(state: &mut State) -> anyhow::Result<()> {
    restore_routes()?;
    for net in CONTAINER_NETS {
        state.record("route", net)?;
    }
    Ok(())
}

/// The same routes again (taking the veth down drops them); no new state lines.
pub fn restore_routes() -> anyhow::Result<()> {
    for net in CONTAINER_NETS {
        sh("ip", &["route", "replace", net, "via", VPS_IP])?;
    }
    Ok(())
}

/// Stop the recorded ACME processes and remove the routes.
pub fn stop(state: &[(String, String)]) {
    for (_, entry) in state.iter().filter(|(k, _)| k == "acme").rev() {
        if let Some((pid, needle)) = entry.split_once(' ')
            && let Ok(pid) = pid.parse()
        {
            provision::stop_pid(pid, needle, Duration::from_secs(5));
        }
    }
    for (_, net) in state.iter().filter(|(k, _)| k == "route") {
        let _ = sh("ip", &["route", "del", net]);
    }
}

/// Pebble's current root certificate (it makes a new one at every start), PEM.
pub fn fetch_root(l: &Layout) -> anyhow::Result<String> {
    let out = process::cmd("curl")
        .args(["--silent", "--show-error", "--fail", "--max-time", "10", "--cacert"])
        .arg(ca_bundle(l))
        .arg(format!("https://{HOST_IP}:{MANAGEMENT_PORT}/roots/0"))
        .output()
        .context("run curl")?;
    if !out.success() {
        bail!("cannot fetch Pebble's root certificate: {}", out.stderr_text().trim());
    }
    let pem = out.stdout_text();
    anyhow::ensure!(pem.contains("BEGIN CERTIFICATE"), "Pebble's root endpoint answered no certificate");
    Ok(pem)
}

fn wait_for(addr: &str, pid: u32, log: &Path) -> anyhow::Result<()> {
    let addr: std::net::SocketAddr = addr.parse()?;
    let start = Instant::now();
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err() {
        if !Path::new(&format!("/proc/{pid}")).exists() || start.elapsed() > Duration::from_secs(15) {
            bail!("nothing listens on {addr} (pid {pid}): {}", tail_file(log, 10));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
