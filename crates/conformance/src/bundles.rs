//! The bundle cases (`../shared/bundle-conformance`): upstream's recorded `/v1/bundle`
//! zips, judged by the shared `judge.py` against a running host. The judge is the
//! reference's own (YAML equality, checksums, modes, the scripts run under stub
//! helm/kubectl), so every host is held to the same rules without a second copy of them.

use std::path::Path;
use std::process::Command;

/// `judge.py`'s verdict over every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub passed: usize,
    pub failed: usize,
}

/// Runs `python3 judge.py --url BASE --cases DIR`; its report goes to stderr, the counts
/// come back. An error when the judge cannot run or prints no summary.
pub fn judge(cases: &Path, base_url: &str) -> Result<Verdict, String> {
    let out = Command::new("python3")
        .arg(cases.join("judge.py"))
        .args(["--url", base_url, "--cases"])
        .arg(cases)
        .output()
        .map_err(|e| format!("python3 {}: {e}", cases.join("judge.py").display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprint!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let summary = stdout
        .lines()
        .rev()
        .find_map(|line| {
            let (passed, rest) = line.split_once(" passed, ")?;
            let failed = rest.strip_suffix(" failed")?;
            Some(Verdict {
                passed: passed.trim().parse().ok()?,
                failed: failed.trim().parse().ok()?,
            })
        })
        .ok_or_else(|| {
            format!(
                "judge.py printed no 'N passed, N failed' line ({})",
                out.status
            )
        })?;
    eprintln!(
        "bundle cases against {base_url}: {} passed, {} failed",
        summary.passed, summary.failed
    );
    Ok(summary)
}

/// [`judge`], as an error unless every case passed (and at least one ran).
pub fn judge_all_pass(cases: &Path, base_url: &str) -> Result<(), String> {
    let v = judge(cases, base_url)?;
    if v.failed == 0 && v.passed > 0 {
        Ok(())
    } else {
        Err(format!(
            "bundle cases: {} passed, {} failed",
            v.passed, v.failed
        ))
    }
}
