//! Which layers of an image a server still needs: Docker finds a layer by its chain (the
//! layer and every layer under it), so the server can skip the longest prefix of the image's
//! diff IDs that some image it holds starts with, and must receive everything above it.

use std::collections::HashSet;

/// The prefix the server has and the rest it must receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerPlan {
    /// How many bottom layers the server already holds (as a chain).
    pub skip: usize,
    /// How many layers go over the wire.
    pub send: usize,
}

/// `image`: the image's diff IDs, bottom first. `server`: each image's diff IDs on the server.
pub fn plan(image: &[String], server: &[Vec<String>]) -> LayerPlan {
    let mut chains: HashSet<&[String]> = HashSet::new();
    for layers in server {
        for n in 1..=layers.len() {
            chains.insert(&layers[..n]);
        }
    }
    let skip = (1..=image.len()).rev().find(|&n| chains.contains(&image[..n])).unwrap_or(0);
    LayerPlan { skip, send: image.len() - skip }
}

/// The server's answer to [`crate::plan::deploy::scripts::server_layers`]: one JSON array of
/// diff IDs per line; lines that are not one (a warning, an empty image) are ignored.
pub fn parse_server_layers(text: &str) -> Vec<Vec<String>> {
    text.lines().filter_map(|l| serde_json::from_str::<Vec<String>>(l.trim()).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_changed_top_layer_is_all_that_is_sent() {
        let server = vec![ids(&["base", "deps", "app1"])];
        assert_eq!(plan(&ids(&["base", "deps", "app2"]), &server), LayerPlan { skip: 2, send: 1 });
    }

    #[test]
    fn an_empty_server_gets_everything_and_a_present_image_nothing() {
        let image = ids(&["base", "app"]);
        assert_eq!(plan(&image, &[]), LayerPlan { skip: 0, send: 2 });
        assert_eq!(plan(&image, &[ids(&["base", "app", "more"])]), LayerPlan { skip: 2, send: 0 });
    }

    #[test]
    fn a_layer_known_only_on_another_parent_is_sent_again() {
        // "app" exists on the server, but on top of another base: its chain differs.
        let server = vec![ids(&["other", "app"])];
        assert_eq!(plan(&ids(&["base", "app"]), &server), LayerPlan { skip: 0, send: 2 });
    }

    #[test]
    fn server_lines_that_are_not_layer_lists_are_ignored() {
        let text = "[\"sha256:a\",\"sha256:b\"]\nWARNING: something\n\n[]\n";
        assert_eq!(parse_server_layers(text), vec![ids(&["sha256:a", "sha256:b"]), vec![]]);
    }
}
