//! The README's `agent.hcl` example is a valid config: docs that drift fail here.

use std::path::Path;

#[test]
fn the_readme_agent_example_parses() {
    let readme = include_str!("../../../../README.md");
    let start = readme
        .find("```hcl\nvault {")
        .expect("the README has an agent.hcl example starting with a vault stanza");
    let body = &readme[start + "```hcl\n".len()..];
    let end = body.find("```").expect("the example block is closed");
    let config = secrethub_config::parse_agent(&body[..end], Path::new("/etc/app"))
        .unwrap_or_else(|e| panic!("README agent example: {e}"));
    assert_eq!(config.providers.len(), 4);
    assert_eq!(config.templates.len(), 1);
    assert_eq!(config.listeners.len(), 2);
}
