//! `deploy status`: the live release and slot, the kept releases, the proxy and when its
//! certificates expire, the lock and the last deploys. Exit 0 when the live app runs healthy
//! behind a running proxy, 1 when not, 2 when the server cannot be reached.

use super::server;
use crate::effects::ssh::Remote;
use crate::plan::deploy::edge;
use crate::plan::deploy::facts::{EdgeState, ServerFacts};
use crate::plan::deploy::scripts::{self, q};
use crate::plan::deploy::targets::Target;
use crate::project::Project;
use crate::report::{Format, Status, print_json};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target name from deploy/targets.toml (default: its `default`)
    pub target: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
struct Report {
    target: String,
    app_dir: String,
    live: Option<String>,
    slot: Option<String>,
    /// The live app container: `running healthy`, `exited`, `absent`...
    app: String,
    healthy: bool,
    kept: Vec<String>,
    proxy: EdgeState,
    certificates: Vec<Certificate>,
    lock: Option<String>,
    last_deploys: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Certificate {
    host: String,
    /// RFC 3339 expiry, or why it is unknown.
    expires: String,
    days_left: Option<i64>,
}

/// The app state of the live slot, the certificates' PEM per host, the audit tail.
fn detail_script(t: &Target, f: &ServerFacts, hosts: &[String]) -> String {
    let mut s = scripts::compose_fn();
    if let (Some(cur), Some(slot)) = (&f.current, &f.current_slot) {
        let dir = format!("{}/releases/{cur}", t.app_dir);
        s.push_str(&format!(
            "w=$(compose -f {d}/docker-compose.yml -p {p} ps -q web 2>/dev/null | head -n1)\n\
             echo \"app=$( [ -n \"$w\" ] && docker inspect -f '{{{{.State.Status}}}} {{{{if .State.Health}}}}{{{{.State.Health.Status}}}}{{{{end}}}}' \"$w\" || echo absent)\"\n",
            d = q(&dir),
            p = q(&edge::slot_project(&t.project, slot))
        ));
    } else if f.current.is_some() {
        s.push_str(&format!(
            "w=$(docker ps -q --filter label=com.docker.compose.project={} --filter label=com.docker.compose.service=web | head -n1)\n\
             echo \"app=$( [ -n \"$w\" ] && docker inspect -f '{{{{.State.Status}}}} {{{{if .State.Health}}}}{{{{.State.Health.Status}}}}{{{{end}}}}' \"$w\" || echo absent)\"\n",
            q(&t.project)
        ));
    }
    s.push_str(&format!(
        "px=$(docker ps -q --filter label=com.docker.compose.project={} --filter label=com.docker.compose.service=proxy | head -n1)\n",
        q(&edge::edge_project(&t.project))
    ));
    for h in hosts {
        s.push_str(&format!(
            "echo \"cert {h}\"; [ -n \"$px\" ] && docker exec \"$px\" sh -c 'cat /data/caddy/certificates/*/\"$1\"/\"$1\".crt 2>/dev/null' sh {hq} | sed -n '1,/END CERTIFICATE/p'\necho \"end {h}\"\n",
            hq = q(h)
        ));
    }
    s.push_str(&format!("echo last-deploys; tail -n 5 {}/deploy.log 2>/dev/null\n", q(&t.app_dir)));
    s
}

/// Expiry of the first certificate in a PEM text.
fn expiry(pem: &str) -> anyhow::Result<i64> {
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| anyhow::anyhow!("not a PEM certificate: {e}"))?;
    let cert = pem.parse_x509().map_err(|e| anyhow::anyhow!("not an X.509 certificate: {e}"))?;
    Ok(cert.validity().not_after.timestamp())
}

fn parse_certs(text: &str, now: i64) -> Vec<Certificate> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        let Some(host) = l.strip_prefix("cert ") else { continue };
        let pem: Vec<&str> = lines.by_ref().take_while(|l| *l != format!("end {host}")).collect();
        let pem = pem.join("\n");
        let (expires, days_left) = match expiry(&pem) {
            Ok(t) => (crate::effects::clock::rfc3339(t), Some((t - now).div_euclid(86_400))),
            Err(_) if pem.trim().is_empty() => ("no certificate yet".to_string(), None),
            Err(e) => (format!("unreadable: {e}"), None),
        };
        out.push(Certificate { host: host.to_string(), expires, days_left });
    }
    out
}

impl Args {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let target = p.targets()?.get(self.target.as_deref())?.clone();
        // Unreachable: an error (exit 2), never a header and exit 0.
        let reached = server::reach(p, &target)?;
        let f = &reached.facts;
        let hosts = server::render_edge(p, &target).ok().flatten().map(|e| e.hosts).unwrap_or_default();
        let out = reached.ssh.run(&detail_script(&target, f, &hosts))?.check("read the release details")?;
        let text = out.stdout_text();
        let app = text.lines().find_map(|l| l.strip_prefix("app=")).unwrap_or("absent").trim().to_string();
        let app_ok = app == "running healthy" || app == "running";
        let proxy_ok = !target.proxy || f.edge == EdgeState::Running;
        let last: Vec<String> = text.lines().skip_while(|l| *l != "last-deploys").skip(1).map(str::to_string).collect();
        let report = Report {
            target: target.name.clone(),
            app_dir: target.app_dir.clone(),
            live: f.current.clone(),
            slot: f.current_slot.clone(),
            app: app.clone(),
            healthy: app_ok && proxy_ok && f.current.is_some(),
            kept: f.complete().into_iter().map(str::to_string).collect(),
            proxy: f.edge,
            certificates: parse_certs(&text, p.clock().now()),
            lock: f.lock.clone(),
            last_deploys: last,
        };
        match self.format {
            Format::Json => print_json(&report)?,
            Format::Human => print_human(&report, &target),
        }
        Ok(Status::failed_if(!report.healthy))
    }
}

fn print_human(r: &Report, t: &Target) {
    println!("target {} ({}), app dir {}", r.target, t.describe(), r.app_dir);
    match (&r.live, &r.slot) {
        (Some(l), Some(s)) => println!("live: {l} in slot {s}, app {}", r.app),
        (Some(l), None) => println!("live: {l} (old layout, no slot), app {}", r.app),
        _ => println!("live: nothing deployed yet"),
    }
    println!("kept releases: {}", if r.kept.is_empty() { "none".into() } else { r.kept.join(", ") });
    if t.proxy {
        println!("proxy: {:?}", r.proxy);
        for c in &r.certificates {
            let left = c.days_left.map(|d| format!(" ({d} days left)")).unwrap_or_default();
            println!("  certificate {}: expires {}{left}", c.host, c.expires);
        }
    }
    println!("lock: {}", r.lock.as_deref().unwrap_or("free"));
    println!("last deploys:");
    for l in &r.last_deploys {
        println!("  {l}");
    }
    if !r.healthy {
        println!("NOT healthy: the live app is {} and the proxy {:?}", r.app, r.proxy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_without_pem_are_reported_as_missing() {
        let c = parse_certs("app=running healthy\ncert a.example.com\nend a.example.com\nlast-deploys\n", 0);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].expires, "no certificate yet");
    }
}
