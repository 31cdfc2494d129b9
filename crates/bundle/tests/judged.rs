//! Every recorded upstream bundle case (`../shared/bundle-conformance`), built in-process on
//! upstream's catalog and on ours, judged by the shared `judge.py --case … --zip …` (YAML
//! equality, checksums, modes, the scripts run under stub helm/kubectl). The same judge
//! runs against every HTTP host in `cargo xtask test`; this test is the quick loop.

use aicr_bundle::{BundleOptions, RecipeDocument};
use percent_encoding::percent_decode_str;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared() -> Option<PathBuf> {
    let dir = root().join("../shared/bundle-conformance");
    if dir.exists() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "../shared/bundle-conformance is missing; CI must have it"
    );
    eprintln!("SKIPPED: ../shared/bundle-conformance is not beside the checkout");
    None
}

/// The case's query options, decoded.
fn options(target: &str) -> BundleOptions {
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let d = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            };
            (d(k), d(v))
        })
        .collect();
    BundleOptions::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .unwrap_or_else(|e| panic!("{target}: {e}"))
}

fn judge(case: &Path, zip: &[u8], label: &str) -> Result<(), String> {
    let file = std::env::temp_dir().join(format!(
        "aicr-bundle-{}-{label}-{}.zip",
        std::process::id(),
        case.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&file, zip).unwrap();
    let out = Command::new("python3")
        .arg(case.parent().unwrap().join("judge.py"))
        .arg("--case")
        .arg(case)
        .arg("--zip")
        .arg(&file)
        .output()
        .expect("python3 runs judge.py");
    let _ = std::fs::remove_file(&file);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn run_all(catalog: &aicr_recipe::Catalog, label: &str) {
    let Some(cases) = shared() else { return };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("files").is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 10,
        "expected the recorded zip cases, found {}",
        dirs.len()
    );
    let mut failures = Vec::new();
    for dir in &dirs {
        let case: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
        let request = &case["request"];
        let document = RecipeDocument::from_json(request["body"].as_str().unwrap().as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let options = options(request["target"].as_str().unwrap());
        let verdict = aicr_bundle::build(catalog, &document, &options)
            .map_err(|e| e.to_string())
            .and_then(|bundle| judge(dir, &bundle.zip(), label));
        if let Err(why) = verdict {
            failures.push(format!(
                "{}: {why}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{label} catalog: {} of {} cases differ from upstream:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}

#[test]
fn upstream_catalog_bundles_equal_upstreams() {
    let dir = root().join("../shared/aicr-upstream/recipes");
    if !dir.exists() {
        shared();
        return;
    }
    let catalog = aicr_catalog::load_dir(&dir, "upstream")
        .unwrap_or_else(|e| panic!("{}", aicr_catalog::describe(&e)))
        .catalog;
    run_all(&catalog, "upstream");
}

#[test]
fn our_catalog_bundles_equal_upstreams() {
    run_all(aicr_embedded_catalog::catalog(), "our");
}
