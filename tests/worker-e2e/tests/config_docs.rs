//! The deploy configuration points readers at documents that exist: every `docs/…` or
//! `*.md` path `wrangler.toml` names, and every "see README.md, \"Section\"" it cites names
//! a heading of the README.

use aicr_worker_e2e::root;

#[test]
fn wrangler_toml_names_documents_and_sections_that_exist() {
    let config = std::fs::read_to_string(root().join("wrangler.toml")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut cited = 0;
    for word in config.split(|c: char| c.is_whitespace() || "(),;`".contains(c)) {
        if word.ends_with(".md") {
            assert!(
                root().join(word).exists(),
                "wrangler.toml names {word}, which does not exist"
            );
            cited += 1;
        }
    }
    for section in config.split("README.md, \"").skip(1) {
        let title = section.split('"').next().unwrap_or_default();
        assert!(
            readme
                .lines()
                .any(|l| l.starts_with('#') && l.trim_start_matches('#').trim() == title),
            "wrangler.toml cites README section {title:?}, which README.md does not have"
        );
    }
    assert!(cited > 0, "wrangler.toml cites no document");
}
