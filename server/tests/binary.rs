//! The real binary as a container runs it: config from a scrubbed environment, the DB
//! password from a secrets directory, a free port; its answers and its whole log must not
//! contain a secret, and SIGTERM stops it cleanly.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Running {
    child: Child,
    port: u16,
    log: mpsc::Receiver<String>,
    seen: Vec<String>,
}

fn start(vars: &[(&str, String)], secrets_dir: &std::path::Path, public_dir: &std::path::Path) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env_clear().env("PORT", "0").env("SECRETS_DIR", secrets_dir).env("BUILD_INFO", "/nonexistent/build-info.json");
    cmd.arg("--public-dir").arg(public_dir);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start the server binary");
    let (tx, log) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = vec![];
    let port = loop {
        // A bound, not a timing assertion: a server that never listens must not hang the suite.
        let line = log
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("server did not listen; log: {seen:?}"));
        seen.push(line.clone());
        if let Some(addr) = line.strip_prefix("level=info listening on ") {
            break addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    Running { child, port, log, seen }
}

impl Running {
    fn request(&self, method: &str, path: &str, headers: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n{headers}\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, resp)
    }

    /// SIGTERM (what `docker stop` sends), then the rest of the log and stdout.
    fn stop(mut self) -> String {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "server exits 0 on SIGTERM: {exit}");
        let mut out = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        self.seen.extend(self.log.try_iter());
        format!("{out}\n{}", self.seen.join("\n"))
    }
}

#[test]
fn the_binary_serves_health_whoami_and_the_page_without_printing_a_secret() {
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("postgres_password"), format!("{}\n", common::POSTGRES_PASSWORD)).unwrap();
    let public = tempfile::tempdir().unwrap();
    std::fs::write(public.path().join("index.html"), "<dd id=\"status\"></dd>").unwrap();
    let server = start(&common::production_vars(), secrets.path(), public.path());

    let (status, body) = server.request("GET", "/health", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("file:") && body.contains("postgres_password"), "{body}");
    let auth = format!("Authorization: Bearer {}\r\n", common::anon_key(common::JWT_SECRET));
    let (status, body) = server.request("POST", "/api/whoami", &auth);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""role":"anon""#) && body.contains(r#""verified":true"#), "{body}");
    let (status, body) = server.request("GET", "/", "");
    assert_eq!(status, 200);
    assert!(body.contains("id=\"status\""));
    let bad = format!("Authorization: Bearer {}\r\n", common::anon_key("not-the-server-secret-0123456789abc"));
    assert_eq!(server.request("GET", "/api/whoami", &bad).0, 401);
    // The image's HEALTHCHECK: the same binary asks the running server for /health.
    let probe = |port: u16| {
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--health-check", "--port", &port.to_string()])
            .status()
            .unwrap()
    };
    assert!(probe(server.port).success());

    let output = server.stop();
    assert!(output.contains("config loaded for production"), "{output}");
    common::assert_no_canary(&output);
}

#[test]
fn the_binary_reports_503_until_the_secret_file_is_there() {
    let secrets = tempfile::tempdir().unwrap();
    let public = tempfile::tempdir().unwrap();
    let server = start(&common::production_vars(), secrets.path(), public.path());
    let (status, body) = server.request("GET", "/health", "");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("POSTGRES_PASSWORD"), "{body}");
    let port = server.port.to_string();
    let probe = Command::new(env!("CARGO_BIN_EXE_server")).args(["--health-check", "--port", &port]).status();
    assert!(!probe.unwrap().success(), "a 503 is not healthy");
    let output = server.stop();
    assert!(output.contains("missing: POSTGRES_PASSWORD"), "{output}");
    common::assert_no_canary(&output);
}
