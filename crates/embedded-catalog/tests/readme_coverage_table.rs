//! The README's catalog coverage table (criteria → applied overlays) is generated from the
//! embedded catalog, so it cannot drift: this test fails with the fresh table when they
//! differ.

use aicr_recipe::Field;

fn table() -> String {
    let catalog = aicr_embedded_catalog::catalog();
    let mut rows: Vec<(String, String, usize)> = Vec::new();
    let mut queries = vec![aicr_recipe::Criteria::default()];
    queries.extend(catalog.overlays().iter().filter_map(|o| o.criteria));
    for criteria in queries {
        let recipe = catalog.resolve(&criteria).expect("validated catalog");
        let shown: Vec<String> = Field::ALL
            .iter()
            .filter(|f| !criteria.is_open(**f))
            .map(|f| format!("{}={}", f, criteria.field_text(*f)))
            .collect();
        let shown = if shown.is_empty() {
            "(all any)".to_owned()
        } else {
            shown.join(" ")
        };
        let row = (
            shown,
            recipe.applied_overlays.join(" → "),
            recipe.components.len(),
        );
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    rows.sort_by_key(|(criteria, overlays, _)| (overlays.matches('→').count(), criteria.clone()));
    let mut out = String::from("| criteria | applied overlays | components |\n|---|---|---|\n");
    for (criteria, overlays, n) in rows {
        out.push_str(&format!("| `{criteria}` | {overlays} | {n} |\n"));
    }
    out
}

#[test]
fn readme_lists_what_the_catalog_covers() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let expected = table();
    assert!(
        readme.contains(&expected),
        "README.md's catalog coverage table is out of date; replace it with:\n\n{expected}"
    );
}
