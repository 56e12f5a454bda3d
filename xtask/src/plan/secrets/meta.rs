//! The committed, values-free rotation metadata (`deploy/secrets-meta.toml`): for each
//! environment and secret, when it was generated and last rotated. No value, no hash, no
//! fingerprint: the file says nothing an attacker could check a guess against.

use crate::effects::clock::{format_date, parse_date};
use anyhow::Context;
use envfile::Schema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const HEADER: &str = "# Secret generation and rotation dates, per environment. No values, no fingerprints.\n\
# Written by `cargo xtask secrets gen` and `cargo xtask secrets rotate`; read by\n\
# `secrets status`, `verify-env` (overdue warnings) and `audit`. Commit it.\n\n";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Meta {
    /// environment → secret name → record
    pub envs: BTreeMap<String, BTreeMap<String, Record>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub generated: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated: Option<String>,
    /// For a signing key set: since when the retired key has stayed beside the new one
    /// (`secrets rotate`), until `secrets rotate --finish` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_since: Option<String>,
}

impl Record {
    /// Day number of the value now in use: the last rotation, else the generation.
    pub fn since(&self) -> Option<i64> {
        parse_date(self.rotated.as_deref().unwrap_or(&self.generated))
    }
}

impl Meta {
    /// The records from the file's text; `None` (no file yet) is an empty record.
    pub fn parse(text: Option<&str>) -> anyhow::Result<Meta> {
        match text {
            Some(text) => toml::from_str(text).context("parse the rotation records"),
            None => Ok(Meta::default()),
        }
    }

    pub fn render(&self) -> anyhow::Result<String> {
        Ok(format!("{HEADER}{}", toml::to_string(self).context("render secrets metadata")?))
    }

    pub fn get(&self, env: &str, name: &str) -> Option<&Record> {
        self.envs.get(env)?.get(name)
    }

    pub fn generated(&mut self, env: &str, name: &str, today: i64) {
        let rec = Record { generated: format_date(today), rotated: None, overlap_since: None };
        self.envs.entry(env.to_string()).or_default().insert(name.to_string(), rec);
    }

    pub fn rotated(&mut self, env: &str, name: &str, today: i64) {
        let date = format_date(today);
        let recs = self.envs.entry(env.to_string()).or_default();
        recs.entry(name.to_string()).and_modify(|r| r.rotated = Some(date.clone())).or_insert(Record {
            generated: date.clone(),
            rotated: Some(date),
            overlap_since: None,
        });
    }

    /// A signing key set's retired key now overlaps with the new one.
    pub fn overlap_started(&mut self, env: &str, name: &str, today: i64) {
        let date = format_date(today);
        let recs = self.envs.entry(env.to_string()).or_default();
        recs.entry(name.to_string()).and_modify(|r| r.overlap_since = Some(date.clone())).or_insert(Record {
            generated: date.clone(),
            rotated: Some(date.clone()),
            overlap_since: Some(date),
        });
    }

    /// The overlap ended: the retired key left the set.
    pub fn overlap_finished(&mut self, env: &str, name: &str) {
        if let Some(r) = self.envs.get_mut(env).and_then(|recs| recs.get_mut(name)) {
            r.overlap_since = None;
        }
    }
}

/// One secret's age against its rotation period.
#[derive(Debug, Clone, Serialize)]
pub struct Age {
    pub name: String,
    /// Date of the value in use (last rotation, else generation); None when unrecorded.
    pub since: Option<String>,
    pub age_days: Option<i64>,
    pub rotation_days: u32,
    pub overdue: bool,
    pub invalidates: Option<String>,
    /// The stage of a two-step rotation: `overlap` while a retired signing key still
    /// verifies (finish it with `secrets rotate --finish NAME`), else none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Since when the overlap has lasted (`YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlap_since: Option<String>,
}

/// Every secret of the schema with its age in `env` on day `today`.
pub fn ages(schema: &Schema, meta: &Meta, env: &str, today: i64) -> Vec<Age> {
    schema
        .vars
        .iter()
        .filter_map(|v| {
            let period = v.rotation_period(&schema.meta)?;
            let record = meta.get(env, &v.name);
            let since = record.and_then(Record::since);
            let overlap_since = record.and_then(|r| r.overlap_since.clone());
            let age = since.map(|d| today - d);
            Some(Age {
                name: v.name.clone(),
                since: since.map(format_date),
                age_days: age,
                rotation_days: period,
                overdue: age.is_some_and(|a| a > i64::from(period)),
                invalidates: v.invalidates.clone(),
                stage: overlap_since.as_ref().map(|_| "overlap".to_string()),
                overlap_since,
            })
        })
        .collect()
}

/// The secrets of `env` past their rotation period: what verify-env warns about.
pub fn overdue(schema: &Schema, meta: &Meta, env: &str, today: i64) -> Vec<Age> {
    ages(schema, meta, env, today).into_iter().filter(|a| a.overdue).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::parse(
            r#"
            [meta]
            app = "t"
            environments = ["production"]
            [[var]]
            name = "A"
            plane = "secret"
            description = "d"
            format = "string"
            rotation_days = 30
            invalidates = "sessions"
            [[var]]
            name = "B"
            plane = "secret"
            description = "d"
            format = "string"
            [[var]]
            name = "C"
            plane = "config"
            description = "d"
            format = "string"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn overdue_uses_the_last_rotation_and_the_default_period() {
        let today = parse_date("2026-06-30").unwrap();
        let mut m = Meta::default();
        m.generated("production", "A", parse_date("2026-01-01").unwrap());
        m.generated("production", "B", parse_date("2026-01-01").unwrap());
        let names = |v: Vec<Age>| v.into_iter().map(|a| a.name).collect::<Vec<_>>();
        assert_eq!(names(overdue(&schema(), &m, "production", today)), ["A", "B"]);
        m.rotated("production", "A", parse_date("2026-06-15").unwrap());
        assert_eq!(names(overdue(&schema(), &m, "production", today)), ["B"]);
        assert!(overdue(&schema(), &m, "dev", today).is_empty());
        let all = ages(&schema(), &m, "production", today);
        assert_eq!(all.len(), 2, "config vars have no rotation");
        assert_eq!(all[0].age_days, Some(15));
        assert_eq!(all[1].rotation_days, 90);
    }

    #[test]
    fn an_overlap_is_recorded_until_it_is_finished() {
        let mut m = Meta::default();
        m.generated("production", "A", 20_000);
        m.overlap_started("production", "A", 20_010);
        let text = m.render().unwrap();
        assert!(text.contains("overlap_since = "), "{text}");
        assert_eq!(toml::from_str::<Meta>(&text).unwrap(), m);
        let age = &ages(&schema(), &m, "production", 20_011)[0];
        assert_eq!(
            (age.stage.as_deref(), age.overlap_since.as_deref()),
            (Some("overlap"), Some(format_date(20_010).as_str()))
        );
        m.overlap_finished("production", "A");
        assert_eq!(ages(&schema(), &m, "production", 20_011)[0].stage, None);
    }

    #[test]
    fn metadata_round_trips_and_holds_only_dates() {
        let mut m = Meta::default();
        m.generated("production", "JWT_SECRET", 20_000);
        m.rotated("production", "JWT_SECRET", 20_010);
        let text = m.render().unwrap();
        assert!(text.contains("[production.JWT_SECRET]"), "{text}");
        assert_eq!(toml::from_str::<Meta>(&text).unwrap(), m);
    }
}
