//! The reference app's server: serves the built frontend, `/health` and `/api/whoami`.

use server::app::{self, AppState};
use server::config::ProcessEnv;
use server::log::{self, Level};
use server::settings::{self, Parsed};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match settings::parse(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(Parsed::Run(s)) => s,
        Ok(Parsed::HealthCheck(port)) => return health_check(port),
        Ok(Parsed::Help) => {
            println!("{}", settings::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let state = AppState::load(
        &ProcessEnv { secrets_dir: settings.secrets_dir.clone() },
        read_build_info(&settings.build_info),
    );
    if let Some(level) = state.config().and_then(|c| c.log_level.as_deref()).and_then(Level::parse) {
        log::set_level(level);
    }
    match &state.config {
        Ok(_) => log::log(Level::Info, format_args!("config loaded for {}", state.environment)),
        // Still serve: /health answers 503 with the names so the operator sees what to fix.
        Err(e) => log::log(Level::Error, format_args!("{e}")),
    }
    if !settings.public_dir.is_dir() {
        log::log(
            Level::Warn,
            format_args!("public dir {} does not exist; only the API is served", settings.public_dir.display()),
        );
    }

    let listener = match tokio::net::TcpListener::bind(("0.0.0.0", settings.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: listen on 0.0.0.0:{}: {e}", settings.port);
            return ExitCode::from(2);
        }
    };
    if let Ok(addr) = listener.local_addr() {
        log::log(Level::Info, format_args!("listening on {addr}"));
    }
    let router = app::router(Arc::new(state), &settings.public_dir);
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Err(e) = axum::serve(listener, service).with_graceful_shutdown(shutdown()).await {
        eprintln!("error: serve: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The JSON the image build wrote; absent outside the image, which is fine.
fn read_build_info(path: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            log::log(Level::Warn, format_args!("build info {} is not JSON: {e}", path.display()));
            None
        }
    }
}

/// As PID 1 in a container the server gets SIGTERM from `docker stop`; without a handler
/// the kernel ignores it for PID 1 and the stop waits for the kill timeout.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    log::log(Level::Info, format_args!("shutting down"));
}

/// `server --health-check`: one HTTP/1.0 GET of /health on loopback; exit 0 on a 200.
fn health_check(port: u16) -> ExitCode {
    use std::io::{Read, Write};
    let probe = || -> std::io::Result<bool> {
        let timeout = Some(std::time::Duration::from_secs(3));
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(timeout)?;
        s.set_write_timeout(timeout)?;
        s.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.") && &head[8..12] == b" 200")
    };
    match probe() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("health check: {e}");
            ExitCode::FAILURE
        }
    }
}
