//! Nothing a client sends escapes into a shell command, a path or YAML structure.
//!
//! Hostile recipe strings that would become names, paths or script arguments are refused
//! with the field that carries them; hostile option values that are legitimately data
//! (values, selectors, taints) are accepted, land in `values.yaml` as the exact strings
//! sent, and the scripts — run for real under stub `helm`/`kubectl`/`jq` that log their
//! arguments — never execute them. Oversized counts are refused.

use aicr_bundle::{BundleOptions, RecipeDocument};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const PAYLOADS: [&str; 6] = [
    "$(touch {canary})",
    "`touch {canary}`",
    "'; touch {canary}; '",
    "\"; touch {canary}; \"",
    "x && touch {canary}",
    "key: value\n- list",
];

fn recipe() -> Value {
    let criteria = aicr_recipe::Criteria::from_params(&[
        ("service", "eks"),
        ("accelerator", "h100"),
        ("os", "ubuntu"),
        ("intent", "training"),
    ])
    .unwrap();
    let recipe = aicr_embedded_catalog::catalog().resolve(&criteria).unwrap();
    serde_json::to_value(&recipe).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aicr-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn hostile_recipe_strings_are_refused_with_their_field() {
    let canary = scratch("refused").join("canary");
    let fields = [
        "name",
        "namespace",
        "chart",
        "version",
        "source",
        "tag",
        "path",
    ];
    for field in fields {
        for payload in PAYLOADS.iter().chain(&["../../etc", "/etc/passwd", "a\nb"]) {
            let text = payload.replace("{canary}", &canary.display().to_string());
            let mut doc = recipe();
            doc["componentRefs"][1][field] = Value::String(text.clone());
            let err = RecipeDocument::from_json(doc.to_string().as_bytes())
                .err()
                .unwrap_or_else(|| panic!("{field}={text:?} was accepted"));
            assert_eq!(err.field, format!("componentRefs[1].{field}"), "{text:?}");
        }
    }
}

#[test]
fn oversized_counts_are_refused() {
    let too_many: Vec<(&str, &str)> = (0..=aicr_bundle::options::MAX_REPEATED)
        .map(|_| ("set", "gpu-operator:a=b"))
        .collect();
    assert_eq!(
        BundleOptions::from_pairs(too_many).unwrap_err().parameter,
        "set"
    );
    for nodes in ["1000000000000", "18446744073709551616", "-5"] {
        assert_eq!(
            BundleOptions::from_pairs([("nodes", nodes)])
                .unwrap_err()
                .parameter,
            "nodes"
        );
    }
    let deep = format!("gpu-operator:{}=1", vec!["a"; 40].join("."));
    assert!(BundleOptions::from_pairs([("set", deep.as_str())]).is_err());
    let mut doc = recipe();
    let first = doc["componentRefs"][0].clone();
    doc["componentRefs"] = Value::Array(
        (0..=aicr_bundle::document::MAX_COMPONENTS)
            .map(|i| {
                let mut c = first.clone();
                c["name"] = format!("c{i}").into();
                c
            })
            .collect(),
    );
    assert_eq!(
        RecipeDocument::from_json(doc.to_string().as_bytes())
            .unwrap_err()
            .field,
        "componentRefs"
    );
}

fn stubs(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["helm", "kubectl", "jq"] {
        let path = bin.join(tool);
        std::fs::write(
            &path,
            "#!/bin/sh\nprintf '%s\\n' \"$(basename \"$0\") $*\" >> \"$STUB_LOG\"\nexit 0\n",
        )
        .unwrap();
        Command::new("chmod")
            .arg("755")
            .arg(&path)
            .status()
            .unwrap();
    }
    bin
}

fn unpack(bundle: &aicr_bundle::Bundle, into: &Path) {
    for file in &bundle.files {
        assert!(
            !file.path.starts_with('/') && !file.path.split('/').any(|s| s == ".." || s.is_empty()),
            "unsafe path {:?}",
            file.path
        );
        let path = into.join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &file.bytes).unwrap();
    }
}

#[test]
fn hostile_option_values_stay_inert_data() {
    let dir = scratch("inert");
    let canary = dir.join("canary");
    let bin = stubs(&dir);
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let text = payload.replace("{canary}", &canary.display().to_string());
        if text.contains('\n') {
            // Control characters are refused outright, with the parameter named.
            let e =
                BundleOptions::from_pairs([("workload-selector", format!("k={text}").as_str())])
                    .unwrap_err();
            assert_eq!(e.parameter, "workload-selector");
            continue;
        }
        let set = format!("gpu-operator:driver.version={text}");
        let selector = format!("nodeGroup={text}");
        let gate = format!("skyhook.nvidia.com={}:NoSchedule", text.replace(':', ""));
        let path_key = format!("gpu-operator:../../{i}={text}");
        let options = BundleOptions::from_pairs([
            ("set", set.as_str()),
            ("set", path_key.as_str()),
            ("system-node-selector", selector.as_str()),
            ("workload-gate", gate.as_str()),
            ("workload-selector", selector.as_str()),
        ])
        .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let mut doc = recipe();
        doc["criteria"]["service"] = Value::String(text.clone());
        doc["componentRefs"][0]["overrides"] = json!({ "note": text });
        let document = RecipeDocument::from_json(doc.to_string().as_bytes()).unwrap();
        let bundle = aicr_bundle::build(aicr_embedded_catalog::catalog(), &document, &options)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));

        let out = dir.join(format!("bundle-{i}"));
        unpack(&bundle, &out);
        let values: Value = serde_norway::from_str(
            &std::fs::read_to_string(out.join("gpu-operator/values.yaml")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            values["driver"]["version"],
            Value::String(text.clone()),
            "{text:?}"
        );
        // "../../N" is a dotted path: it only nests keys, it never names a file.
        assert_eq!(
            values[""][""]["/"][""][format!("/{i}")],
            Value::String(text.clone())
        );
        let log = dir.join(format!("log-{i}"));
        for (script, args) in [
            ("deploy.sh", vec!["--no-wait"]),
            ("undeploy.sh", vec!["--delete-namespaces"]),
        ] {
            let status = Command::new("bash")
                .arg(out.join(script))
                .args(&args)
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .env("STUB_LOG", &log)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "{script} failed for {text:?}");
        }
        assert!(!canary.exists(), "{text:?} ran a command");
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(
            logged.contains("helm upgrade --install gpu-operator"),
            "{logged}"
        );
        assert!(
            !logged.contains("touch"),
            "a payload reached a command line: {logged}"
        );
        for script in ["deploy.sh", "undeploy.sh"] {
            let text_of_script = std::fs::read_to_string(out.join(script)).unwrap();
            assert!(
                !text_of_script.contains("touch"),
                "{script} carries a payload"
            );
        }
    }
}
