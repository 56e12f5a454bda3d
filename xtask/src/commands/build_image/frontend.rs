//! The frontend build of build-image: Vite runs with a scrubbed environment holding only the
//! schema's public `VITE_*` values and what npm/node need, and with no `.env*` file it could
//! load on its own (Vite reads `.env`, `.env.local`, `.env.[mode]`, `.env.[mode].local` from
//! its `envDir` and would inline any `VITE_*` value found there).

use anyhow::Context;
use envfile::{Plane, Schema};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Variables of the builder's environment that npm and node need; nothing else gets through.
const PASSTHROUGH: &[&str] = &["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TERM", "CI", "npm_config_cache"];

/// The Vite mode build-image uses, which decides which `.env.[mode]` files Vite would load.
pub const MODE: &str = "production";

/// What the frontend build will do: plain data, checked before anything runs.
#[derive(Debug, Clone, Serialize)]
pub struct FrontendPlan {
    pub web_dir: PathBuf,
    /// The whole environment of npm and Vite (public values only, so it can be printed).
    pub env: BTreeMap<String, String>,
    /// `npm ci` first, because node_modules is missing.
    pub npm_ci: bool,
    pub dist_dir: PathBuf,
}

/// Why the frontend build is refused; each says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub rule: &'static str,
    pub message: String,
    pub fix: String,
}

impl Refusal {
    pub fn diagnostic(&self) -> crate::report::Diagnostic {
        crate::report::Diagnostic {
            severity: crate::report::Severity::Error,
            rule: self.rule.to_string(),
            message: self.message.clone(),
            place: Some(crate::report::Place::file("web", None)),
            hint: Some(self.fix.clone()),
        }
    }
}

/// Build the plan, or the list of reasons to refuse.
///
/// `public` are the env file's values of public-plane variables; `other_vite` are `VITE_*`
/// names seen anywhere else (the env file's undeclared names, the builder's environment).
pub fn plan(
    web_dir: &Path,
    schema: &Schema,
    public: &BTreeMap<String, String>,
    other_vite: &[String],
    builder_env: &BTreeMap<String, String>,
) -> Result<FrontendPlan, Vec<Refusal>> {
    let mut refusals = Vec::new();
    let declared_public = |n: &str| schema.get(n).is_some_and(|v| v.plane == Plane::Public);
    for name in public.keys().chain(other_vite).chain(builder_env.keys()) {
        if name.starts_with("VITE_") && !declared_public(name) {
            refusals.push(Refusal {
                rule: "undeclared-vite-variable",
                message: format!("{name} is not declared public in the env schema; Vite would inline it into the bundle"),
                fix: format!("declare {name} with plane = \"public\" in deploy/env.schema.toml if it is meant for browsers, else rename it without the VITE_ prefix and unset it in this shell"),
            });
        }
    }
    match env_files_vite_would_load(web_dir) {
        Ok(files) => refusals.extend(files.into_iter().map(|f| Refusal {
            rule: "vite-env-file",
            message: format!("{} exists: Vite would load it by itself and inline its VITE_* values", f.display()),
            fix: "delete or move the file; build-image passes the public values from the env file itself".into(),
        })),
        Err(r) => refusals.push(r),
    }
    if !refusals.is_empty() {
        refusals.dedup();
        return Err(refusals);
    }
    let mut env: BTreeMap<String, String> =
        PASSTHROUGH.iter().filter_map(|k| builder_env.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
    env.insert("NODE_ENV".into(), "production".into());
    env.extend(public.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(FrontendPlan {
        web_dir: web_dir.to_path_buf(),
        env,
        npm_ci: !web_dir.join("node_modules").is_dir(),
        dist_dir: web_dir.join("dist"),
    })
}

/// The `.env*` files Vite would load in [`MODE`]: in the project dir and in an `envDir` set in
/// vite.config (a string literal; anything else is refused because we cannot check it).
fn env_files_vite_would_load(web_dir: &Path) -> Result<Vec<PathBuf>, Refusal> {
    let mut dirs = vec![web_dir.to_path_buf()];
    for name in ["vite.config.ts", "vite.config.js", "vite.config.mjs", "vite.config.mts"] {
        let Ok(text) = std::fs::read_to_string(web_dir.join(name)) else { continue };
        // Mentions of envDir in comments are skipped: only `envDir:` sets it.
        for (at, _) in text.match_indices("envDir") {
            let rest = &text[at + "envDir".len()..];
            if !rest.trim_start().starts_with(':') {
                continue;
            }
            match string_literal_after_colon(rest) {
                Some(dir) => dirs.push(web_dir.join(dir)),
                None => {
                    return Err(Refusal {
                        rule: "vite-env-dir",
                        message: format!("{name} sets envDir to an expression build-image cannot check"),
                        fix: "set envDir to a string literal (or remove it) so the env files Vite reads can be checked"
                            .into(),
                    });
                }
            }
        }
    }
    let names = [".env".to_string(), ".env.local".into(), format!(".env.{MODE}"), format!(".env.{MODE}.local")];
    Ok(dirs.iter().flat_map(|d| names.iter().map(move |n| d.join(n))).filter(|p| p.exists()).collect())
}

fn string_literal_after_colon(rest: &str) -> Option<&str> {
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let quote = rest.chars().next().filter(|c| matches!(c, '\'' | '"' | '`'))?;
    let body = &rest[1..];
    let end = body.find(quote)?;
    let lit = &body[..end];
    (!lit.contains("${")).then_some(lit)
}

/// Run the plan: `npm ci` when needed, then `vite build`. npm's and Vite's output goes to
/// stderr so stdout stays clean for `--format json`.
pub fn build(plan: &FrontendPlan, progress: &mut dyn FnMut(&str)) -> anyhow::Result<()> {
    // duct rather than xshell: we need a fully replaced environment and stdout redirected to
    // stderr, which xshell 0.2 cannot express.
    if plan.npm_ci {
        progress("frontend: npm ci (node_modules missing)");
        duct::cmd("npm", ["ci", "--no-audit", "--no-fund"])
            .dir(&plan.web_dir)
            .full_env(&plan.env)
            .stdout_to_stderr()
            .run()
            .context("npm ci in the frontend dir (check network access to the npm registry)")?;
    }
    progress("frontend: vite build --mode production");
    let vite = plan.web_dir.join("node_modules/.bin/vite");
    duct::cmd(vite, ["build", "--mode", MODE, "--emptyOutDir"])
        .dir(&plan.web_dir)
        .full_env(&plan.env)
        .stdout_to_stderr()
        .run()
        .context("vite build of the frontend")?;
    if !plan.dist_dir.join("index.html").is_file() {
        anyhow::bail!("vite build produced no {}", plan.dist_dir.join("index.html").display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/env.schema.toml")).unwrap()
    }

    fn public() -> BTreeMap<String, String> {
        [("VITE_SUPABASE_URL".to_string(), "https://x.supabase.co".to_string())].into()
    }

    #[test]
    fn environment_is_scrubbed_to_public_values_and_node_needs() {
        let web = tempfile::tempdir().unwrap();
        let builder: BTreeMap<String, String> = [
            ("PATH", "/usr/bin"),
            ("HOME", "/root"),
            ("JWT_SECRET", "canary-jwt-secret-value-0123456789"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let p = plan(web.path(), &schema(), &public(), &[], &builder).unwrap();
        let keys: Vec<&str> = p.env.keys().map(String::as_str).collect();
        assert_eq!(keys, ["HOME", "NODE_ENV", "PATH", "VITE_SUPABASE_URL"]);
        assert!(p.npm_ci);
    }

    #[test]
    fn undeclared_vite_variable_is_refused() {
        let web = tempfile::tempdir().unwrap();
        let builder: BTreeMap<String, String> = [("VITE_SERVICE_ROLE_KEY".to_string(), "x".to_string())].into();
        let err = plan(web.path(), &schema(), &public(), &["VITE_OTHER".into()], &builder).unwrap_err();
        let rules: Vec<_> = err.iter().map(|r| (r.rule, r.message.split(' ').next().unwrap().to_string())).collect();
        assert_eq!(
            rules,
            [
                ("undeclared-vite-variable", "VITE_OTHER".to_string()),
                ("undeclared-vite-variable", "VITE_SERVICE_ROLE_KEY".to_string())
            ]
        );
    }

    #[test]
    fn env_files_in_the_project_or_env_dir_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let web = root.path().join("web");
        std::fs::create_dir_all(&web).unwrap();
        std::fs::write(web.join(".env.example"), "VITE_X=1").unwrap();
        assert!(plan(&web, &schema(), &public(), &[], &BTreeMap::new()).is_ok());
        std::fs::write(web.join("vite.config.ts"), "export default { envDir: '..', }").unwrap();
        std::fs::write(root.path().join(".env.production"), "JWT_SECRET=x").unwrap();
        std::fs::write(web.join(".env.local"), "VITE_X=1").unwrap();
        let err = plan(&web, &schema(), &public(), &[], &BTreeMap::new()).unwrap_err();
        assert_eq!(err.len(), 2, "{err:?}");
        assert!(err.iter().all(|r| r.rule == "vite-env-file"));
        std::fs::write(web.join("vite.config.ts"), "export default { envDir: process.env.X }").unwrap();
        let err = plan(&web, &schema(), &public(), &[], &BTreeMap::new()).unwrap_err();
        assert_eq!(err[0].rule, "vite-env-dir");
    }
}
