//! `cargo xtask env show`: what the container will see, key -> value as Compose reads the env
//! file, with secret values masked unless `--reveal`. `${VAR}` references resolve against this
//! process's environment, as Compose resolves them against the shell's.

use crate::cli::Global;
use crate::report::{self, Format, Status};
use anyhow::{Context, bail};
use envfile::{Env, Schema, compose};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum EnvCommand {
    /// Show each variable as the container will see it (secret values masked)
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Env file to read [default: <project>/.env.production]
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// Print secret values in clear (only on a terminal you trust)
    #[arg(long)]
    pub reveal: bool,
    /// Environment: with --explain, its layers (config/common.env, config/<NAME>.env,
    /// secrets/*.txt) when config/ has them; else the file .env.<NAME>
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// Show the file (and line) that set each variable and what it overrides
    #[arg(long)]
    pub explain: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

impl EnvCommand {
    pub fn run(self, g: &Global) -> anyhow::Result<Status> {
        match self {
            EnvCommand::Show(a) => a.run(g),
        }
    }
}

/// One variable as shown: the value, or its masked preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub name: String,
    pub value: String,
    pub secret: bool,
    pub line: usize,
}

#[derive(Serialize)]
struct Json<'a> {
    variables: BTreeMap<&'a str, &'a str>,
}

impl ShowArgs {
    pub fn run(self, g: &Global) -> anyhow::Result<Status> {
        if self.format == Format::Sarif {
            bail!("env show prints human or json; --format sarif is not supported");
        }
        let root = g.root();
        let schema =
            Schema::load(&g.schema_path()).map_err(|e| anyhow::anyhow!("{e}")).context("load the env schema")?;
        if self.explain {
            let env = self.env.as_deref().unwrap_or("production");
            return crate::commands::secrets::layered::explain(
                &root,
                &schema,
                env,
                self.env_file.as_deref(),
                self.reveal,
                self.format,
            );
        }
        let default = format!(".env.{}", self.env.as_deref().unwrap_or("production"));
        let path = self.env_file.clone().unwrap_or_else(|| root.join(default));
        let bytes = std::fs::read(&path).with_context(|| format!("read env file {}", path.display()))?;
        let lookup = |k: &str| std::env::var(k).ok();
        let entries = match compose::parse_bytes(&bytes, &lookup) {
            Ok(e) => e,
            Err(e) => {
                // Compose would refuse to start the service: say where and why (never a value).
                eprintln!(
                    "error: {}:{}: Compose would reject this file: {}",
                    crate::commands::verify_env::display_path(&root, &path),
                    e.line,
                    e.message
                );
                return Ok(Status::Failed);
            }
        };
        let shown = show(&schema, &Env::from_entries(entries), self.reveal);
        match self.format {
            Format::Json => report::print_json(&Json {
                variables: shown.iter().map(|s| (s.name.as_str(), s.value.as_str())).collect(),
            })?,
            _ => print_human(&shown),
        }
        Ok(Status::Ok)
    }
}

/// Every effective variable, secret values (per the schema; unknown names count as secret)
/// masked unless `reveal`.
pub fn show(schema: &Schema, env: &Env, reveal: bool) -> Vec<Shown> {
    env.iter()
        .map(|v| {
            let secret = Env::is_secret(schema, &v.name);
            let value = if secret && !reveal { v.value.masked() } else { v.value.expose().to_string() };
            Shown { name: v.name.clone(), value, secret, line: v.line }
        })
        .collect()
}

fn print_human(shown: &[Shown]) {
    let width = shown.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in shown {
        let tag = if s.secret { "  (secret)" } else { "" };
        // Debug-quote so line breaks and trailing blanks in a value are visible.
        println!("{:width$} = {:?}{tag}", s.name, s.value);
    }
}
