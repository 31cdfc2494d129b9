//! `cargo xtask bench [--aicrd PATH]`: runs the criterion benches (bounded: short warm-up
//! and measurement), the explorer in Chromium, the HTTP servers under one wrk load (see
//! `serving`) and the component in wasmtime and Node, and prints one table, each figure with
//! the ratio to its baseline in the same run (a noisy 2-core machine compares within a
//! run, not across runs).

use crate::steps::{self, Result, Row, cargo, root};
use std::path::Path;

fn collect(dir: &Path, out: &mut Vec<(String, f64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.ends_with("new") {
            let read = |f: &str| {
                std::fs::read(path.join(f))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            };
            if let (Some(meta), Some(est)) = (read("benchmark.json"), read("estimates.json"))
                && let (Some(id), Some(median)) = (
                    meta["full_id"].as_str(),
                    est["median"]["point_estimate"].as_f64(),
                )
            {
                out.push((id.to_owned(), median));
            }
        } else if path.is_dir() {
            collect(&path, out);
        }
    }
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

pub fn engine_rows() -> Result<Vec<Row>> {
    let criterion_dir = root().join("target/criterion");
    let _ = std::fs::remove_dir_all(&criterion_dir);
    steps::run(cargo().args([
        "bench",
        "-p",
        "aicr-recipe",
        "--bench",
        "resolve",
        "-p",
        "aicr-api",
        "--bench",
        "api",
        "-p",
        "aicr-bundle",
        "--bench",
        "bundle",
        "--",
        "--warm-up-time",
        "1",
        "--measurement-time",
        "3",
    ]))?;
    let mut medians = Vec::new();
    collect(&criterion_dir, &mut medians);
    medians.sort_by(|a, b| a.0.cmp(&b.0));
    let baseline = medians
        .iter()
        .find(|(id, _)| id == "resolve ours/eks-h100-ubuntu-training")
        .map(|(_, ns)| *ns);
    Ok(medians
        .into_iter()
        .map(|(name, ns)| Row {
            note: baseline
                .map(|b| format!("{:.2}× resolve(eks-h100-ubuntu-training, ours)", ns / b))
                .unwrap_or_default(),
            name,
            value: ns,
            unit: "ns",
        })
        .collect())
}

pub fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(10);
    println!("\n{:width$}  {:>12}  note", "benchmark (median)", "value");
    println!("{}", "-".repeat(width + 40));
    for r in rows {
        let value = if r.unit == "ns" {
            human(r.value)
        } else {
            format!("{:.2} {}", r.value, r.unit)
        };
        println!("{:width$}  {:>12}  {}", r.name, value, r.note);
    }
}

const USAGE: &str =
    "usage: cargo xtask bench [--only engine|explorer|http|component|server] [--aicrd PATH]";

/// The parts of the bench, in the order they run.
const PARTS: [&str; 5] = ["engine", "explorer", "http", "component", "server"];

pub fn run(args: &[String]) -> Result {
    let mut aicrd = None;
    let mut only = None;
    let mut rest = args;
    while let [flag, value, tail @ ..] = rest {
        match flag.as_str() {
            "--aicrd" => aicrd = Some(std::path::PathBuf::from(value)),
            "--only" if PARTS.contains(&value.as_str()) => only = Some(value.as_str()),
            _ => return Err(format!("{USAGE}, got {args:?}")),
        }
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(format!("{USAGE}, got {args:?}"));
    }
    let wanted = |part: &str| only.is_none_or(|o| o == part);
    let mut rows = Vec::new();
    if wanted("engine") {
        rows.extend(engine_rows()?);
    }
    if wanted("explorer") {
        rows.extend(crate::web::bench_rows()?);
    }
    if wanted("http") {
        rows.extend(crate::serving::bench_rows(aicrd.as_deref())?);
    }
    if wanted("component") {
        rows.extend(crate::component::bench_rows()?);
    }
    if wanted("server") {
        rows.extend(crate::server::bench_rows(aicrd.as_deref())?);
    }
    print_table(&rows);
    Ok(())
}
