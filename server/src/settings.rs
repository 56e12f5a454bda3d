//! Process settings that are not part of the env schema: where to listen, where the built
//! frontend and the secret files are. Flags win over env vars, which win over defaults.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: server [--port N] [--public-dir DIR] [--secrets-dir DIR] [--build-info FILE]
       server --health-check [--port N]

  --health-check     ask the server on 127.0.0.1:N for /health and exit 0 when it answers
                     200 (the image's HEALTHCHECK: busybox wget is not reliable there)

  --port N           listen on 0.0.0.0:N (env PORT, default 8080; 0 picks a free port)
  --public-dir DIR   the built frontend to serve (env PUBLIC_DIR, default /app/public)
  --secrets-dir DIR  where file-delivered secrets live (env SECRETS_DIR, default /run/secrets)
  --build-info FILE  non-secret build facts shown on /health (env BUILD_INFO,
                     default /app/build-info.json)

Runtime config and secrets come from the variables of deploy/env.schema.toml.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub port: u16,
    pub public_dir: PathBuf,
    pub secrets_dir: PathBuf,
    pub build_info: PathBuf,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Settings),
    /// `--health-check`: probe the running server's /health on this port.
    HealthCheck(u16),
    Help,
}

pub fn parse(args: impl IntoIterator<Item = String>, env: impl Fn(&str) -> Option<String>) -> Result<Parsed, String> {
    let mut port = env("PORT");
    let mut public_dir = env("PUBLIC_DIR");
    let mut secrets_dir = env("SECRETS_DIR");
    let mut build_info = env("BUILD_INFO");
    let mut args = args.into_iter();
    let mut health_check = false;
    while let Some(arg) = args.next() {
        if arg == "--health-check" {
            health_check = true;
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let slot = match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--port" => &mut port,
            "--public-dir" => &mut public_dir,
            "--secrets-dir" => &mut secrets_dir,
            "--build-info" => &mut build_info,
            _ => return Err(format!("unknown argument {arg:?} (see --help)")),
        };
        *slot = Some(inline.or_else(|| args.next()).ok_or_else(|| format!("{flag} needs a value"))?);
    }
    let port = match port {
        Some(p) => p.parse().map_err(|_| format!("port {p:?} is not a number from 0 to 65535"))?,
        None => 8080,
    };
    if health_check {
        return Ok(Parsed::HealthCheck(port));
    }
    Ok(Parsed::Run(Settings {
        port,
        public_dir: public_dir.unwrap_or_else(|| "/app/public".into()).into(),
        secrets_dir: secrets_dir.unwrap_or_else(|| "/run/secrets".into()).into(),
        build_info: build_info.unwrap_or_else(|| "/app/build-info.json".into()).into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_win_over_env_which_wins_over_defaults() {
        let env = |k: &str| {
            (k == "PORT" || k == "SECRETS_DIR").then(|| if k == "PORT" { "9000".into() } else { "/s".into() })
        };
        let Parsed::Run(s) = parse(args(&["--port=7000", "--public-dir", "dist"]), env).unwrap() else { panic!() };
        assert_eq!((s.port, s.public_dir, s.secrets_dir), (7000, "dist".into(), "/s".into()));
        let Parsed::Run(s) = parse(vec![], |_| None).unwrap() else { panic!() };
        assert_eq!(
            (s.port, s.public_dir.to_str(), s.build_info.to_str()),
            (8080, Some("/app/public"), Some("/app/build-info.json"))
        );
        assert!(parse(args(&["--nope"]), |_| None).is_err());
        assert!(parse(args(&["--port"]), |_| None).is_err());
        assert_eq!(parse(args(&["--help"]), |_| None).unwrap(), Parsed::Help);
    }
}
