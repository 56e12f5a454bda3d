//! The deploy plan: plain data saying what a deploy will check, upload, run and keep, built
//! before any side effect. `--dry-run` prints it; the unit tests snapshot it.

use super::targets::Target;
use crate::plan::compose::{ENV_FILE_NAME, SECRETS_DIR};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// Seconds after which a lock left by a crashed deploy on another machine is broken.
pub const LOCK_STALE_SECS: u64 = 15 * 60;

/// The image that ships: its tag (what the compose file runs) and content ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    pub tag: String,
    /// `sha256:...`
    pub id: String,
}

impl ImageRef {
    /// The 12 hex digits `docker images` shows.
    pub fn short_id(&self) -> &str {
        let hex = self.id.strip_prefix("sha256:").unwrap_or(&self.id);
        &hex[..hex.len().min(12)]
    }
}

/// What the env file that ships holds, by name only (values stay in the env file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnvSummary {
    /// Runtime config and env_file secrets, written to the release's `.env.production`.
    pub env_file_vars: Vec<String>,
    /// File-delivered secrets, one `secrets/<name>.txt` each.
    pub secret_files: Vec<String>,
    /// Variables present locally that never ship (public build-time, build secrets).
    pub left_behind: Vec<String>,
}

/// What an upload carries; never the bytes themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Content {
    ComposeFile,
    /// `.env` for Compose interpolation: APP_IMAGE and APP_PORT, no secret.
    Interpolation,
    EnvFile {
        vars: Vec<String>,
    },
    SecretFile {
        var: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    VerifyEnv {
        env_file: PathBuf,
    },
    VerifyImage {
        image: String,
    },
    Lock {
        dir: String,
        stale_after_secs: u64,
        wait_secs: Option<u64>,
    },
    MakeRelease {
        dir: String,
    },
    Upload {
        path: String,
        mode: String,
        content: Content,
    },
    ShipImage {
        image_id: String,
        skip_if_present: bool,
    },
    /// Through the target's registry instead of ssh: push `reference` locally, `docker pull`
    /// it on the server, and check the pulled ID is `image_id`.
    PushPull {
        reference: String,
        image_id: String,
        skip_if_present: bool,
    },
    ComposeUp {
        dir: String,
        project: String,
    },
    HealthGate {
        url: String,
        timeout_secs: u64,
    },
    /// On success only; on failure the previous release is brought back up instead.
    PointCurrent {
        link: String,
        release: String,
    },
    Prune {
        keep: usize,
    },
    Audit {
        log: String,
    },
    Unlock {
        dir: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub target: String,
    pub connection: String,
    pub image: ImageRef,
    pub release: String,
    pub release_dir: String,
    pub app_dir: String,
    pub project: String,
    pub app_port: u16,
    pub steps: Vec<Step>,
}

/// Everything a plan is made of; the clock and the image inspection happen before this.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub target: &'a Target,
    pub image: ImageRef,
    pub env_file: PathBuf,
    pub env: EnvSummary,
    /// UTC time of the deploy as `YYYYmmddTHHMMSSZ`.
    pub timestamp: String,
    /// `Some(secs)`: wait that long for another deploy's lock instead of failing at once.
    pub wait_secs: Option<u64>,
}

/// Paths on the server, derived from the target's app dir.
pub fn lock_dir(app_dir: &str) -> String {
    format!("{app_dir}/.deploy.lock")
}

pub fn audit_log(app_dir: &str) -> String {
    format!("{app_dir}/deploy.log")
}

pub fn build(i: Inputs<'_>) -> Plan {
    let t = i.target;
    let release = format!("{}-{}", i.timestamp, i.image.short_id());
    let release_dir = format!("{}/releases/{release}", t.app_dir);
    let upload = |name: &str, mode: &str, content: Content| Step::Upload {
        path: format!("{release_dir}/{name}"),
        mode: mode.to_string(),
        content,
    };
    let mut steps = vec![
        Step::VerifyEnv { env_file: i.env_file.clone() },
        Step::VerifyImage { image: i.image.tag.clone() },
        Step::Lock { dir: lock_dir(&t.app_dir), stale_after_secs: LOCK_STALE_SECS, wait_secs: i.wait_secs },
        Step::MakeRelease { dir: release_dir.clone() },
        upload("docker-compose.yml", "0644", Content::ComposeFile),
        upload(".env", "0644", Content::Interpolation),
        upload(ENV_FILE_NAME, "0600", Content::EnvFile { vars: i.env.env_file_vars.clone() }),
    ];
    for var in &i.env.secret_files {
        let name = format!("{SECRETS_DIR}/{}.txt", var.to_ascii_lowercase());
        steps.push(upload(&name, "0600", Content::SecretFile { var: var.clone() }));
    }
    steps.push(match &t.registry {
        Some(registry) => Step::PushPull {
            reference: format!("{registry}:{}", i.image.short_id()),
            image_id: i.image.id.clone(),
            skip_if_present: true,
        },
        None => Step::ShipImage { image_id: i.image.id.clone(), skip_if_present: true },
    });
    steps.extend([
        Step::ComposeUp { dir: release_dir.clone(), project: t.project.clone() },
        Step::HealthGate { url: t.health_url.clone(), timeout_secs: t.health_timeout_secs },
        Step::PointCurrent { link: format!("{}/current", t.app_dir), release: release.clone() },
        Step::Prune { keep: t.keep_releases },
        Step::Audit { log: audit_log(&t.app_dir) },
        Step::Unlock { dir: lock_dir(&t.app_dir) },
    ]);
    Plan {
        target: t.name.clone(),
        connection: t.describe(),
        image: i.image,
        release,
        release_dir,
        app_dir: t.app_dir.clone(),
        project: t.project.clone(),
        app_port: t.app_port,
        steps,
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::VerifyEnv { env_file } => write!(f, "verify-env {}", env_file.display()),
            Step::VerifyImage { image } => write!(f, "verify-image {image}"),
            Step::Lock { dir, stale_after_secs, wait_secs } => {
                write!(f, "lock {dir} (stale after {stale_after_secs}s, ")?;
                match wait_secs {
                    Some(s) => write!(f, "wait up to {s}s)"),
                    None => write!(f, "fail if held)"),
                }
            }
            Step::MakeRelease { dir } => write!(f, "make release dir {dir}"),
            Step::Upload { path, mode, content } => {
                write!(f, "upload {path} ({mode}): ")?;
                match content {
                    Content::ComposeFile => write!(f, "docker-compose.prod.yml"),
                    Content::Interpolation => write!(f, "APP_IMAGE, APP_PORT"),
                    Content::EnvFile { vars } => write!(f, "{} variables: {}", vars.len(), vars.join(", ")),
                    Content::SecretFile { var } => write!(f, "{var}"),
                }
            }
            Step::ShipImage { image_id, .. } => {
                write!(f, "ship image {image_id} (docker save | ssh docker load), skipped if the server has it")
            }
            Step::PushPull { reference, image_id, .. } => write!(
                f,
                "push {reference} (image {image_id}), then docker pull it on the server, skipped if the server has it"
            ),
            Step::ComposeUp { dir, project } => write!(f, "compose -p {project} up -d in {dir}"),
            Step::HealthGate { url, timeout_secs } => write!(f, "wait for {url} (server side, {timeout_secs}s)"),
            Step::PointCurrent { link, release } => {
                write!(f, "point {link} at {release} (on failure: previous release back up, exit 1)")
            }
            Step::Prune { keep } => write!(f, "prune releases beyond the newest {keep}"),
            Step::Audit { log } => write!(f, "append to audit log {log}"),
            Step::Unlock { dir } => write!(f, "unlock {dir}"),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "deploy {} to {} ({})", self.image.tag, self.target, self.connection)?;
        writeln!(f, "release {}", self.release)?;
        for (n, step) in self.steps.iter().enumerate() {
            writeln!(f, "{:>3}. {step}", n + 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::deploy::targets::Targets;

    pub(crate) fn sample_inputs(target: &Target) -> Inputs<'_> {
        Inputs {
            target,
            image: ImageRef {
                tag: "reference-app:latest".into(),
                id: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
            },
            env_file: PathBuf::from(".env.production"),
            env: EnvSummary {
                env_file_vars: vec!["NODE_ENV".into(), "JWT_SECRET".into()],
                secret_files: vec!["POSTGRES_PASSWORD".into()],
                left_behind: vec!["NPM_TOKEN".into()],
            },
            timestamp: "20261125T140000Z".into(),
            wait_secs: None,
        }
    }

    fn sandbox() -> Target {
        Targets::committed().get(Some("sandbox")).unwrap().clone()
    }

    #[test]
    fn release_dir_names_time_and_short_image_id() {
        let t = sandbox();
        let plan = build(sample_inputs(&t));
        assert_eq!(plan.release, "20261125T140000Z-0123456789ab");
        assert_eq!(plan.release_dir, "/srv/app/releases/20261125T140000Z-0123456789ab");
    }

    #[test]
    fn dry_run_text_snapshot() {
        let t = sandbox();
        insta::assert_snapshot!(build(sample_inputs(&t)).to_string());
    }

    #[test]
    fn json_plan_snapshot() {
        let t = sandbox();
        insta::assert_json_snapshot!(build(sample_inputs(&t)));
    }

    fn registry_target() -> Target {
        Target { name: "regvps".into(), registry: Some("10.213.7.1:5000/app".into()), ..sandbox() }
    }

    #[test]
    fn a_registry_target_pulls_instead_of_shipping() {
        let t = registry_target();
        let plan = build(sample_inputs(&t));
        assert!(!plan.steps.iter().any(|s| matches!(s, Step::ShipImage { .. })));
        let pulls: Vec<_> = plan.steps.iter().filter(|s| matches!(s, Step::PushPull { .. })).collect();
        assert_eq!(
            pulls,
            [&Step::PushPull {
                reference: "10.213.7.1:5000/app:0123456789ab".into(),
                image_id: sample_inputs(&t).image.id,
                skip_if_present: true,
            }]
        );
    }

    #[test]
    fn registry_dry_run_text_snapshot() {
        let t = registry_target();
        insta::assert_snapshot!(build(sample_inputs(&t)).to_string());
    }

    #[test]
    fn registry_json_plan_snapshot() {
        let t = registry_target();
        insta::assert_json_snapshot!(build(sample_inputs(&t)));
    }

    #[test]
    fn secrets_upload_0600_and_lock_comes_before_any_upload() {
        let t = sandbox();
        let plan = build(sample_inputs(&t));
        let lock = plan.steps.iter().position(|s| matches!(s, Step::Lock { .. })).unwrap();
        let first_upload = plan.steps.iter().position(|s| matches!(s, Step::Upload { .. })).unwrap();
        assert!(lock < first_upload);
        for s in &plan.steps {
            if let Step::Upload { content: Content::EnvFile { .. } | Content::SecretFile { .. }, mode, .. } = s {
                assert_eq!(mode, "0600");
            }
        }
        assert!(matches!(plan.steps.last(), Some(Step::Unlock { .. })));
    }
}
