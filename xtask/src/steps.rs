//! Running external commands: echoed, timed, and failing with the command line in the
//! message.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root exists")
}

/// Runs a command to completion, inheriting stdio; an error names the command.
pub fn run(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}").replace('"', "");
    eprintln!("$ {shown}");
    let start = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    eprintln!("  ({:.1} s)", start.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Runs a command and returns its stdout, or `None` if it fails or cannot start.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A tool from the workspace's npm packages (`node_modules/.bin`, installed by setup).
pub fn node_bin(name: &str) -> PathBuf {
    root().join("node_modules/.bin").join(name)
}

/// Seconds one node test or bench run may take.
const NODE_TIMEOUT_SECS: &str = "300";

/// `node` under a time limit (a hung browser or server must not stall CI), in the
/// workspace root.
pub fn node() -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args([NODE_TIMEOUT_SECS, "node"]).current_dir(root());
    cmd
}

/// A file's size in bytes.
pub fn file_len(path: &Path) -> Result<u64> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Whether [`cargo`] lets cargo keep incremental state for debug builds (its default).
static INCREMENTAL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns incremental debug builds off for the rest of this run. `xtask test` does: a test
/// run builds each crate once per configuration, so the state (1.5 GB of a 7.7 GB target
/// directory) would only cost disk, and CI's disk is not large.
pub fn without_incremental_builds() {
    INCREMENTAL.store(false, std::sync::atomic::Ordering::Relaxed);
}

/// `cargo` from the toolchain that runs xtask.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    if !INCREMENTAL.load(std::sync::atomic::Ordering::Relaxed) {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
    cmd
}

/// Whether this run is CI's (`CI=true`), where a missing prerequisite is a failure.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Skips for the current `xtask test` step, with their reasons, so the summary reports the
/// step as skipped rather than passed.
static SKIPS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// A step (or part of one) cannot run because a prerequisite is missing: recorded as a
/// skip, or, under CI, a failure (CI has everything; a skip there would hide a hole).
pub fn skip(reason: String) -> Result {
    skip_on(reason, on_ci())
}

fn skip_on(reason: String, ci: bool) -> Result {
    if ci {
        return Err(format!(
            "{reason} (CI=true: a missing prerequisite fails the step)"
        ));
    }
    eprintln!("SKIPPED: {reason}");
    SKIPS.lock().map_err(|_| "skip list poisoned")?.push(reason);
    Ok(())
}

/// The skips recorded since the last call.
pub fn take_skips() -> Vec<String> {
    SKIPS
        .lock()
        .map(|mut s| std::mem::take(&mut *s))
        .unwrap_or_default()
}

/// A named group of checks for `xtask test`, so the summary says what ran.
pub struct Step {
    pub name: &'static str,
    pub run: fn() -> Result,
}

/// A row of the bench table: what, median in nanoseconds (or another unit), note.
pub struct Row {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    pub note: String,
}

/// gzip -9 size of a file (the budget's measure).
pub fn gzip_len(path: &Path) -> Result<u64> {
    let mut child = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    let mut n = 0u64;
    let mut buf = [0u8; 64 * 1024];
    let mut out = child.stdout.take().ok_or("gzip has no stdout")?;
    loop {
        let read = out.read(&mut buf).map_err(|e| e.to_string())?;
        if read == 0 {
            break;
        }
        n += read as u64;
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(n)
    } else {
        Err(format!("gzip {} failed", path.display()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_skip_is_reported_as_a_skip_and_fails_under_ci() {
        assert!(super::skip_on("no ../shared".into(), true).is_err());
        assert!(
            super::take_skips().is_empty(),
            "a CI failure is not also a skip"
        );
        assert!(super::skip_on("no ../shared".into(), false).is_ok());
        assert_eq!(super::take_skips(), ["no ../shared"]);
        assert!(super::take_skips().is_empty());
    }
}
