//! The layered config as one env text: every reader (Compose v1 and v2, Vite) must read the
//! rendered values the same, or the value is refused.

use envfile::layers::Layered;

/// The layers as one env text for the verify rules, plus where each rendered line came
/// from. Values are written unquoted when every reader agrees on them, single-quoted
/// otherwise; a value no quoting can carry (a `'` together with a newline) is refused.
pub fn render(vars: &[Layered]) -> anyhow::Result<(String, Vec<String>)> {
    let mut text = String::new();
    let mut origins = Vec::new();
    for l in vars {
        let v = l.value.expose();
        let line = if super::generate::is_portable_value(v) {
            format!("{}={v}\n", l.key)
        } else if !v.contains('\'') && !v.contains('\n') {
            format!("{}='{v}'\n", l.key)
        } else {
            anyhow::bail!(
                "{} ({}) holds a quote or line break the layered check cannot carry; check it with --env-file",
                l.key,
                l.origin
            );
        };
        text.push_str(&line);
        origins.push(l.origin.to_string());
    }
    Ok((text, origins))
}
