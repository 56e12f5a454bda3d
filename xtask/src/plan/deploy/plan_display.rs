//! How a plan reads for a human (`deploy vps --dry-run`): one numbered line per step, with
//! what a failure of it means. The executor records the same lines for the steps it ran, so
//! the printed plan and what ran can be compared line by line.

use super::{Action, Content, OnFailure, Plan, Step};
use std::fmt;

impl fmt::Display for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Content::ComposeFile => f.write_str("docker-compose.prod.yml"),
            Content::Interpolation => f.write_str("APP_IMAGE, SLOT, SLOT_ALIAS, EDGE_NETWORK, GATE_IMAGE"),
            Content::EnvFile { vars } => write!(f, "{} variables: {}", vars.len(), vars.join(", ")),
            Content::SecretFile { var } => write!(f, "the value of {var}"),
            Content::EdgeCompose => f.write_str("the proxy's compose file"),
            Content::EdgeInterpolation => f.write_str("PROXY_IMAGE, EDGE_NETWORK"),
            Content::EdgeConfig => f.write_str("the proxy's config (hosts, certificates, both slots)"),
            Content::EdgeCaRoot => f.write_str("the CA bundle of the ACME directory"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Lock { dir, stale_after_secs, wait_secs } => {
                write!(f, "lock {dir} (stale after {stale_after_secs}s, ")?;
                match wait_secs {
                    Some(s) => write!(f, "wait up to {s}s)"),
                    None => f.write_str("fail if held)"),
                }
            }
            Action::Expect { current } => {
                write!(f, "check the live release is still {}", current.as_deref().unwrap_or("(none)"))
            }
            Action::RemoveIncomplete { releases } => {
                write!(f, "remove releases a killed deploy left half-made: {}", releases.join(", "))
            }
            Action::MakeRelease { dir } => write!(f, "make release dir {dir}"),
            Action::Upload { path, mode, content } => write!(f, "upload {path} ({mode}): {content}"),
            Action::OwnSecrets { dir } => write!(f, "hand {dir}/secrets to the app's uid"),
            Action::ShipImage { image_id } => {
                write!(f, "ship image {image_id} over ssh (only the layers the server lacks)")
            }
            Action::PushPull { reference, image_id } => {
                write!(f, "push {reference} (image {image_id}) and docker pull it on the server")
            }
            Action::TagImage { image_id, tag } => write!(f, "tag {image_id} as {tag}"),
            Action::CompleteRelease { dir } => write!(f, "mark {dir} complete"),
            Action::EnsureNetwork { name } => write!(f, "make sure network {name} exists"),
            Action::EnsureEdge { reload: true } => f.write_str("reload the proxy with its new config"),
            Action::EnsureEdge { reload: false } => f.write_str("start the proxy (ports 80 and 443)"),
            Action::AwaitCertificate { host, timeout_secs } => {
                write!(f, "wait for the certificate of {host} ({timeout_secs}s)")
            }
            Action::Reslot { dir, slot } => write!(f, "move {dir} to slot {slot}"),
            Action::StartSlot { dir, slot } => write!(f, "start slot {slot} from {dir} (no traffic yet)"),
            Action::GateSlot { slot, path, timeout_secs, .. } => {
                write!(
                    f,
                    "gate slot {slot}: container healthy and {path} answering 200 through the slot ({timeout_secs}s)"
                )
            }
            Action::OpenGate { slot, .. } => write!(f, "open slot {slot}'s gate: the proxy routes to it"),
            Action::Settle { host, path, wait_ms: 0 } => {
                write!(f, "check https://{host}{path} through the proxy until it answers 200")
            }
            Action::Settle { host, path, wait_ms } => {
                write!(f, "wait {wait_ms} ms for the proxy, then check https://{host}{path} through it")
            }
            Action::CloseGate { slot, confirm, path, .. } => {
                write!(f, "close slot {slot}'s gate: no new requests to it")?;
                match confirm {
                    Some(h) => write!(f, "; then https://{h}{path} must answer 200 through the proxy, else it reopens"),
                    None => Ok(()),
                }
            }
            Action::StopLegacy { project } => write!(f, "stop the old-layout app (compose project {project})"),
            Action::PointCurrent { release } => write!(f, "point current at {release}"),
            Action::Drain { secs } => write!(f, "drain the old slot's requests ({secs}s)"),
            Action::StopSlot { slot, .. } => write!(f, "stop slot {slot} (kept for rollback)"),
            Action::Prune { keep, .. } => write!(f, "prune releases beyond the newest {keep}"),
        }
    }
}

impl fmt::Display for OnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnFailure::Abort => "stop",
            OnFailure::Discard => "discard the new slot",
            OnFailure::Reject => "reject the release, keep the live one",
            OnFailure::Stop => "stop, report what is left",
        })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [on failure: {}]", self.action, self.on_failure)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.image {
            Some(i) => writeln!(f, "deploy {} to {} ({})", i.tag, self.target, self.connection)?,
            None => writeln!(f, "roll {} ({}) back to {}", self.target, self.connection, self.release)?,
        }
        let live = self
            .live
            .as_ref()
            .map(|l| format!("{} in slot {}", l.release, l.slot.as_deref().unwrap_or("(old layout, no slot)")));
        writeln!(f, "release {} in slot {}; live: {}", self.release, self.slot, live.as_deref().unwrap_or("nothing"))?;
        for (n, step) in self.steps.iter().enumerate() {
            writeln!(f, "{:>3}. {step}", n + 1)?;
        }
        writeln!(f, "  then, whatever happened: append to the audit log, unlock")
    }
}
