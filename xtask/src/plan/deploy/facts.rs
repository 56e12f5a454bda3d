//! What the server has, as the read-only inspect script reports it (`key=value` lines): the
//! live release and its slot, the proxy's state and config hash, an old-layout app, every
//! release and whether it is complete, the lock. Plans are made from these facts.

use serde::Serialize;

/// The proxy's state on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeState {
    Running,
    Stopped,
    Absent,
}

/// One release directory on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseFact {
    pub name: String,
    /// Everything it needs is on the server (a killed deploy leaves one incomplete).
    pub complete: bool,
    /// Its slot colour; `None` for a release of the old layout.
    pub slot: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerFacts {
    pub current: Option<String>,
    /// The live release's slot; `None` on a first deploy or an old-layout release.
    pub current_slot: Option<String>,
    pub edge: EdgeState,
    /// sha256 of the proxy config on the server.
    pub edge_config: Option<String>,
    /// Containers of the old layout (compose project `<project>`, a host port) are running.
    pub legacy: bool,
    /// Every release, oldest first.
    pub releases: Vec<ReleaseFact>,
    /// Who holds the deploy lock now (`None`: free).
    pub lock: Option<String>,
    pub curl: bool,
    pub compose: bool,
}

impl ServerFacts {
    /// Parse the inspect script's output; unknown lines are ignored (a newer script).
    pub fn parse(text: &str) -> ServerFacts {
        let mut f = ServerFacts {
            current: None,
            current_slot: None,
            edge: EdgeState::Absent,
            edge_config: None,
            legacy: false,
            releases: Vec::new(),
            lock: None,
            curl: false,
            compose: false,
        };
        let some = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else { continue };
            match k {
                "current" => f.current = some(v),
                "current_slot" => f.current_slot = some(v).filter(|s| super::edge::SLOTS.contains(&s.as_str())),
                "edge" => {
                    f.edge = match v {
                        "running" => EdgeState::Running,
                        "stopped" => EdgeState::Stopped,
                        _ => EdgeState::Absent,
                    }
                }
                "edge_config" => f.edge_config = some(v),
                "legacy" => f.legacy = v == "yes",
                "release" => {
                    let mut w = v.split_whitespace();
                    if let (Some(name), Some(state)) = (w.next(), w.next()) {
                        let slot = w.next().filter(|s| super::edge::SLOTS.contains(s)).map(str::to_string);
                        f.releases.push(ReleaseFact { name: name.into(), complete: state == "complete", slot });
                    }
                }
                "lock" => f.lock = some(v).filter(|v| v != "free"),
                "curl" => f.curl = v == "yes",
                "compose" => f.compose = v == "yes",
                _ => {}
            }
        }
        f
    }

    /// Complete releases, oldest first.
    pub fn complete(&self) -> Vec<&str> {
        self.releases.iter().filter(|r| r.complete).map(|r| r.name.as_str()).collect()
    }

    pub fn release(&self, name: &str) -> Option<&ReleaseFact> {
        self.releases.iter().find(|r| r.name == name)
    }

    /// Releases a killed deploy left half-made (never the live one).
    pub fn incomplete(&self) -> Vec<String> {
        self.releases
            .iter()
            .filter(|r| !r.complete && Some(&r.name) != self.current.as_ref())
            .map(|r| r.name.clone())
            .collect()
    }

    /// The complete release before the live one (the default rollback target).
    pub fn previous(&self) -> Option<&str> {
        let done = self.complete();
        let cur = self.current.as_deref()?;
        let pos = done.iter().position(|r| *r == cur)?;
        pos.checked_sub(1).map(|p| done[p])
    }

    /// Whether the server still runs the old layout: a live release without a slot.
    pub fn is_legacy(&self) -> bool {
        self.legacy && self.current_slot.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_output_parses() {
        let f = ServerFacts::parse(
            "current=r2\ncurrent_slot=green\nedge=running\nedge_config=ab12\nlegacy=no\nrelease=r1 complete blue\n\
             release=r2 complete green\nrelease=r3 incomplete\nlock=free\ncurl=yes\ncompose=yes\nnoise\n",
        );
        assert_eq!(f.current.as_deref(), Some("r2"));
        assert_eq!(f.current_slot.as_deref(), Some("green"));
        assert_eq!(f.edge, EdgeState::Running);
        assert_eq!(f.previous(), Some("r1"));
        assert_eq!(f.incomplete(), ["r3"]);
        assert_eq!(f.release("r1").and_then(|r| r.slot.as_deref()), Some("blue"));
        assert!(f.lock.is_none() && f.curl && f.compose && !f.is_legacy());
    }

    #[test]
    fn a_first_deploy_has_nothing() {
        let f = ServerFacts::parse("current=\ncurrent_slot=\nedge=absent\nedge_config=\nlegacy=no\nlock=ci@b pid 1\n");
        assert!(f.current.is_none() && f.previous().is_none() && f.edge == EdgeState::Absent);
        assert_eq!(f.lock.as_deref(), Some("ci@b pid 1"));
    }
}
