//! `Env`: the effective variables of an env file as a container sees them (last assignment
//! wins, as in Compose), every value wrapped in [`Secret`], with line numbers kept.

use crate::compose::Entry;
use crate::schema::Schema;
use crate::secret::Secret;

/// One effective variable.
#[derive(Debug, Clone)]
pub struct Var {
    pub name: String,
    /// Every value is held as a secret; whether it may be shown is [`Env::is_secret`]'s call.
    pub value: Secret,
    /// Line of the assignment that won.
    pub line: usize,
    /// Lines of earlier assignments Compose ignores (duplicates).
    pub shadowed: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Env {
    /// In order of the winning assignment's line.
    vars: Vec<Var>,
}

impl Env {
    /// Collapse entries (file order, duplicates kept) to the effective variables.
    pub fn from_entries(entries: Vec<Entry>) -> Env {
        let mut vars: Vec<Var> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for e in entries {
            if let Some(v) = index.get(&e.key).map(|&i| &mut vars[i]) {
                v.shadowed.push(v.line);
                v.value = Secret::new(e.value);
                v.line = e.line;
            } else {
                index.insert(e.key.clone(), vars.len());
                vars.push(Var { name: e.key, value: Secret::new(e.value), line: e.line, shadowed: Vec::new() });
            }
        }
        vars.sort_by_key(|v| v.line);
        Env { vars }
    }

    pub fn get(&self, name: &str) -> Option<&Var> {
        self.vars.iter().find(|v| v.name == name)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(|v| v.value.expose())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Var> {
        self.vars.iter()
    }

    pub fn len(&self) -> usize {
        self.vars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// Secret per the schema's plane; a variable the schema does not declare counts as a
    /// secret (fail safe: an unknown value is never shown).
    pub fn is_secret(schema: &Schema, name: &str) -> bool {
        schema.get(name).is_none_or(|v| v.plane.is_secret())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_assignment_wins_and_earlier_lines_are_kept() {
        let entries = crate::compose::parse("A=1\nB=2\nA=3\n", &|_| None).unwrap();
        let env = Env::from_entries(entries);
        let a = env.get("A").unwrap();
        assert_eq!((a.value.expose(), a.line, a.shadowed.clone()), ("3", 3, vec![1]));
        assert_eq!(env.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["B", "A"]);
    }

    #[test]
    fn unknown_variables_are_secret() {
        let schema = Schema::parse(
            "[meta]\napp='x'\nenvironments=['production']\n[[var]]\nname='NODE_ENV'\nplane='config'\ndescription='d'\nformat='string'\n",
        )
        .unwrap();
        assert!(!Env::is_secret(&schema, "NODE_ENV"));
        assert!(Env::is_secret(&schema, "SOMETHING_ELSE"));
    }
}
