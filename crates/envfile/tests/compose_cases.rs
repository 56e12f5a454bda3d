//! The Compose conformance table: every case of
//! `../shared/reference/compose-dotenv/cases.json`, checked against compose-go's own parser,
//! must read the same here.

use envfile::compose;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn cases() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/compose-dotenv/cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the Compose conformance cases must be present at {} (the shared reference dir sits beside the repository): {e}",
            path.display()
        )
    });
    let cases: Vec<Value> = serde_json::from_str(&text).expect("cases.json is a JSON array");
    assert!(cases.len() >= 125, "expected at least 125 cases, found {}", cases.len());
    cases
}

#[test]
fn every_compose_case_reads_as_compose_reads_it() {
    let mut failures = Vec::new();
    let cases = cases();
    for case in &cases {
        let id = case["id"].as_str().expect("case id");
        let input = case["input"].as_str().expect("case input");
        let lookup: BTreeMap<String, String> = serde_json::from_value(case["lookup"].clone()).expect("lookup map");
        let got = compose::parse(input, &|k| lookup.get(k).cloned());
        let expect_error = case.get("error").and_then(Value::as_bool).unwrap_or(false);
        match (got, expect_error) {
            (Err(_), true) => {}
            (Ok(entries), true) => failures.push(format!("{id}: expected an error, got {} entries", entries.len())),
            (Err(e), false) => failures.push(format!("{id}: unexpected error {e}")),
            (Ok(entries), false) => {
                // Compose keeps the last value of a duplicated key.
                let got: BTreeMap<String, String> = entries.into_iter().map(|e| (e.key, e.value)).collect();
                let want: BTreeMap<String, String> =
                    serde_json::from_value(case["expect"].clone()).expect("expect map");
                if got != want {
                    failures.push(format!("{id}: got {got:?}, want {want:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
