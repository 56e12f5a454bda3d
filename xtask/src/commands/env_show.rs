//! `cargo xtask env show`: what the container will see, key -> value as Compose reads the env
//! file, with secret values masked unless `--reveal`. `${VAR}` references resolve against this
//! process's environment, as Compose resolves them against the shell's.

use crate::project::{DEFAULT_ENV, EnvArgs, EnvSelection, EnvSource, Project};
use crate::report::{self, Format, Status};
use envfile::{Env, Schema, compose};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, clap::Subcommand)]
pub enum EnvCommand {
    /// Show each variable as the container will see it (secret values masked)
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub env: EnvArgs,
    /// Print secret values in clear (only on a terminal you trust)
    #[arg(long)]
    pub reveal: bool,
    /// Show the file (and line) that set each variable and what it overrides: the layers
    /// (config/common.env, config/<NAME>.env, secrets/*.txt) when config/ has them, else the
    /// env file
    #[arg(long)]
    pub explain: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

impl EnvCommand {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        match self {
            EnvCommand::Show(a) => a.run(p),
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
    pub fn run(self, project: &Project) -> anyhow::Result<Status> {
        let schema = project.schema()?;
        let selection = project.select_env(&self.env, DEFAULT_ENV)?;
        if self.explain {
            return explain(project, schema, &selection, self.reveal, self.format);
        }
        let env = match selection.file() {
            None => project.load_env(&selection)?,
            Some(path) => {
                let bytes = project.read_env_bytes(path)?;
                // `${VAR}` resolves against this process's environment, as Compose resolves
                // it against the shell's.
                let lookup = |k: &str| std::env::var(k).ok();
                match compose::parse_bytes(&bytes, &lookup) {
                    Ok(e) => Env::from_entries(e),
                    Err(e) => {
                        // Compose would refuse to start the service: say where and why (never a value).
                        eprintln!(
                            "error: {}:{}: Compose would reject this file: {}",
                            project.show(path),
                            e.line,
                            e.message
                        );
                        return Ok(Status::Failed);
                    }
                }
            }
        };
        let shown = show(schema, &env, self.reveal);
        match self.format {
            Format::Json => report::print_json(&Json {
                variables: shown.iter().map(|s| (s.name.as_str(), s.value.as_str())).collect(),
            })?,
            Format::Human => print_human(&shown),
        }
        Ok(Status::Ok)
    }
}

#[derive(serde::Serialize)]
struct Explained {
    name: String,
    value: String,
    secret: bool,
    source: String,
    overrides: Vec<String>,
}

/// `env show --explain`: every variable with the file (and line) that set it and what it
/// overrides; secret values masked unless `reveal`.
fn explain(
    project: &Project,
    schema: &Schema,
    selection: &EnvSelection,
    reveal: bool,
    format: Format,
) -> anyhow::Result<Status> {
    let env = &selection.env;
    let named = match &selection.source {
        EnvSource::File { path, defaulted: false } => Some(path.as_path()),
        _ => None,
    };
    let (from, vars) = project.effective(env, named)?;
    let rows: Vec<Explained> = vars
        .iter()
        .map(|l| {
            let secret = Env::is_secret(schema, &l.key);
            Explained {
                name: l.key.clone(),
                value: if secret && !reveal { l.value.masked() } else { l.value.expose().to_string() },
                secret,
                source: l.origin.to_string(),
                overrides: l.overrides.iter().map(ToString::to_string).collect(),
            }
        })
        .collect();
    if format == Format::Json {
        report::print_json(&serde_json::json!({ "env": env, "from": from, "variables": rows }))?;
    } else {
        println!("{env}: {from}");
        let mut table = report::table(["variable", "value", "set by", "overrides"]);
        for r in &rows {
            let value = if r.secret { format!("{} (secret)", r.value) } else { format!("{:?}", r.value) };
            table.add_row([r.name.clone(), value, r.source.clone(), r.overrides.join(", ")]);
        }
        println!("{table}");
    }
    Ok(Status::Ok)
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
