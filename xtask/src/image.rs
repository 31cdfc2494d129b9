//! `cargo xtask image`: aicr-server as an OCI image `FROM scratch` (deploy/image/Containerfile)
//! and, with `spin`, the wasi:http component as SpinKube's image
//! (deploy/spinkube/Containerfile).
//!
//! Why these tools: no Docker daemon is reachable here, and Debian's `buildah` builds an
//! image from a Containerfile without one; `podman` runs it the way a kubelet would, so the
//! test step runs the image itself rather than a look-alike.
//!
//! Why a static binary: a `scratch` image has no loader and no libc. rustup's musl target
//! is the first route (self-contained; `musl-tools` from Debian gives ring's C code its
//! compiler); its server is not promised here, so when `rustup target add` fails or times
//! out the build falls back to glibc with `+crt-static` on the host target. Both print which
//! route they took, and the binary is checked to have no ELF interpreter either way.
//! `AICR_IMAGE_ROUTE=musl|glibc` forces one.

use crate::install::{self, CONTAINER_PACKAGES};
use crate::steps::{self, Result, cargo, file_len, gzip_len, output, root};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The image the Kubernetes manifests name (deploy/kubernetes/kustomization.yaml).
pub const SERVER_IMAGE: &str = concat!("localhost/aicr-server:", env!("CARGO_PKG_VERSION"));
/// The SpinKube image deploy/spinkube/spinapp.yaml names.
pub const SPIN_IMAGE: &str = concat!("localhost/aicr-spin:", env!("CARGO_PKG_VERSION"));
/// The budget for the server image.
const SIZE_BUDGET: u64 = 10 * 1000 * 1000;

const MUSL: &str = "x86_64-unknown-linux-musl";
const GNU: &str = "x86_64-unknown-linux-gnu";

/// How the static binary was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// rustup's `x86_64-unknown-linux-musl` target.
    Musl,
    /// glibc, statically linked (`-C target-feature=+crt-static` on the host target).
    GlibcStatic,
}

impl Route {
    fn describe(self) -> &'static str {
        match self {
            Route::Musl => "musl (rustup target x86_64-unknown-linux-musl)",
            Route::GlibcStatic => "glibc static (x86_64-unknown-linux-gnu, +crt-static)",
        }
    }
}

/// The server binary as the image holds it.
pub struct StaticBinary {
    pub path: PathBuf,
    pub route: Route,
}

/// Builds aicr-server statically (release profile) by the first route that works.
pub fn static_server() -> Result<StaticBinary> {
    let forced = std::env::var("AICR_IMAGE_ROUTE").ok();
    let route = match forced.as_deref() {
        Some("musl") => Route::Musl,
        Some("glibc") => Route::GlibcStatic,
        Some(other) => {
            return Err(format!(
                "AICR_IMAGE_ROUTE={other:?}: expected `musl` or `glibc`"
            ));
        }
        None if install::rustup_target(MUSL) => Route::Musl,
        None => {
            eprintln!("image: rustup's {MUSL} target cannot be had; glibc static route");
            Route::GlibcStatic
        }
    };
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--release",
        "-p",
        "aicr-server",
        "--bin",
        "aicr-server",
    ]);
    let triple = match route {
        Route::Musl => {
            if !install::rustup_target(MUSL) {
                return Err(format!("AICR_IMAGE_ROUTE=musl, but rustup has no {MUSL}"));
            }
            install::apt_install(&["musl-tools"])?;
            MUSL
        }
        Route::GlibcStatic => {
            // Only this target's artefacts: build scripts stay dynamic host programs.
            cmd.env(
                "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
                "-C target-feature=+crt-static",
            );
            GNU
        }
    };
    cmd.args(["--target", triple]);
    steps::run(&mut cmd)?;
    let path = root()
        .join("target")
        .join(triple)
        .join("release/aicr-server");
    if has_interpreter(&path)? {
        return Err(format!(
            "{} asks for an ELF interpreter: not a static binary, it cannot run FROM scratch",
            path.display()
        ));
    }
    eprintln!(
        "image: {} is static, {} bytes, route: {}",
        path.display(),
        file_len(&path)?,
        route.describe()
    );
    Ok(StaticBinary { path, route })
}

/// Whether an x86-64 ELF file has a `PT_INTERP` program header (needs a dynamic loader).
fn has_interpreter(path: &Path) -> Result<bool> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let not_elf = || format!("{}: not a 64-bit little-endian ELF file", path.display());
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err(not_elf());
    }
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return Err(not_elf());
    };
    const PT_INTERP: u32 = 3;
    (0..usize::from(phnum))
        .map(|i| usize::try_from(phoff).map(|o| o + i * usize::from(phentsize)))
        .map(|at| {
            at.ok()
                .and_then(|at| bytes.get(at..at + 4))
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(not_elf)
        })
        .try_fold(false, |found, p_type| Ok(found || p_type? == PT_INTERP))
}

/// A built image: its reference and its size as the local store counts it.
pub struct Image {
    pub reference: &'static str,
    pub size: u64,
}

/// `buildah bud` of a Containerfile with a context folder holding `files` (source path,
/// name in the context), labelled with the version and the commit.
fn build(containerfile: &Path, files: &[(&Path, &str)], reference: &'static str) -> Result<Image> {
    install::apt_install(CONTAINER_PACKAGES)?;
    let name = reference.rsplit('/').next().unwrap_or(reference);
    let context = root().join("target/image").join(name.replace(':', "-"));
    let _ = std::fs::remove_dir_all(&context);
    std::fs::create_dir_all(&context).map_err(|e| format!("{}: {e}", context.display()))?;
    for (source, name) in files {
        std::fs::copy(source, context.join(name))
            .map_err(|e| format!("{} into {}: {e}", source.display(), context.display()))?;
    }
    let revision = output(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(root()),
    )
    .unwrap_or_default();
    steps::run(
        Command::new("timeout")
            .args(["600", "buildah", "bud", "--quiet", "--file"])
            .arg(containerfile)
            .args(["--tag", reference])
            .arg("--label")
            .arg(concat!(
                "org.opencontainers.image.version=",
                env!("CARGO_PKG_VERSION")
            ))
            .arg("--label")
            .arg(format!(
                "org.opencontainers.image.revision={}",
                revision.trim()
            ))
            .arg("--label")
            .arg("org.opencontainers.image.title=aicr-edge")
            .arg(&context),
    )?;
    let size = podman(&["image", "inspect", "--format", "{{.Size}}", reference])?
        .trim()
        .parse()
        .map_err(|e| format!("podman image inspect {reference}: size: {e}"))?;
    Ok(Image { reference, size })
}

/// Builds the server image and prints its route and sizes; checks the size budget.
pub fn server_image() -> Result<(Image, StaticBinary)> {
    let binary = static_server()?;
    let containerfile = root().join("deploy/image/Containerfile");
    let image = build(
        &containerfile,
        &[(&binary.path, "aicr-server")],
        SERVER_IMAGE,
    )?;
    let archive = root().join("target/image/aicr-server.oci.tar");
    let _ = std::fs::remove_file(&archive);
    steps::run(
        Command::new("timeout")
            .args([
                "120",
                "podman",
                "save",
                "--quiet",
                "--format",
                "oci-archive",
            ])
            .arg("--output")
            .arg(&archive)
            .arg(SERVER_IMAGE),
    )?;
    println!(
        "{SERVER_IMAGE}: {:.2} MB ({} bytes; budget {} MB), {:.2} MB as a gzip'd OCI archive \
         ({}); static binary by the {} route",
        image.size as f64 / 1e6,
        image.size,
        SIZE_BUDGET / 1_000_000,
        gzip_len(&archive)? as f64 / 1e6,
        archive.display(),
        binary.route.describe()
    );
    if image.size > SIZE_BUDGET {
        return Err(format!(
            "{SERVER_IMAGE} is {} bytes, over the {SIZE_BUDGET}-byte budget",
            image.size
        ));
    }
    Ok((image, binary))
}

/// Builds SpinKube's image from a built component and deploy/spinkube/spin.toml.
pub fn spin_image(wasm: &Path) -> Result<Image> {
    let spin = root().join("deploy/spinkube");
    let image = build(
        &spin.join("Containerfile"),
        &[(&spin.join("spin.toml"), "spin.toml"), (wasm, "aicr.wasm")],
        SPIN_IMAGE,
    )?;
    println!(
        "{SPIN_IMAGE}: {:.2} MB ({} bytes)",
        image.size as f64 / 1e6,
        image.size
    );
    Ok(image)
}

/// `podman ARGS` under a time limit; its stdout, or an error with its stderr.
pub fn podman(args: &[&str]) -> Result<String> {
    let out = Command::new("timeout")
        .arg("120")
        .arg("podman")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run podman: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`podman {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `cargo xtask image [spin]`.
pub fn run(args: &[String]) -> Result {
    match args {
        [] => server_image().map(drop),
        [what] if what == "spin" => spin_image(&crate::component::build_wasm(
            crate::catalog::Catalog::Ours,
        )?)
        .map(drop),
        _ => Err("usage: cargo xtask image [spin]".into()),
    }
}

/// A container of the server image, removed when dropped.
struct Container {
    name: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", "--time", "2", &self.name]);
    }
}

/// The podman flags that make the run what a restricted Kubernetes pod is: read-only root
/// filesystem, the image's non-root user stated again, no capabilities, no privilege
/// escalation. The last three lines are this machine's, not the image's: `runc` because
/// Debian's `crun` refuses hybrid cgroups, and explicit ulimits because this sandbox lacks
/// CAP_SYS_RESOURCE, so podman's defaults (above the current hard limits) are refused.
const RUN_FLAGS: &[&str] = &[
    "--read-only",
    "--user",
    "65532:65532",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

/// Test step: build the image, run it under podman as a restricted pod would run it, and
/// check /health, /ready, a recipe, the non-root user, and a clean drain on `podman stop`.
pub fn test() -> Result {
    let (image, _) = server_image()?;
    let port = aicr_worker_e2e::free_port()?;
    let container = Container {
        name: format!("aicr-image-test-{}", std::process::id()),
    };
    let publish = format!("127.0.0.1:{port}:8080");
    let mut args = vec![
        "--runtime",
        "runc",
        "run",
        "--detach",
        "--name",
        &container.name,
    ];
    args.extend(RUN_FLAGS);
    args.extend([
        "--env",
        "AICR_DRAIN_SECONDS=1",
        "--publish",
        &publish,
        image.reference,
    ]);
    podman(&args)?;
    let base = format!("http://127.0.0.1:{port}");
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .build();
    let start = Instant::now();
    while agent.get(&format!("{base}/health")).call().is_err() {
        if start.elapsed() > Duration::from_secs(30) {
            let logs = podman(&["logs", &container.name]).unwrap_or_default();
            return Err(format!(
                "the container answered no /health within 30 s:\n{logs}"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for path in ["/health", "/ready"] {
        let status = agent
            .get(&format!("{base}{path}"))
            .call()
            .map_err(|e| format!("{path} in the container: {e}"))?
            .status();
        if status != 200 {
            return Err(format!("{path} in the container answered {status}"));
        }
    }
    let recipe = agent
        .get(&format!("{base}{}", crate::load::RECIPE))
        .call()
        .map_err(|e| format!("a recipe from the container: {e}"))?
        .into_string()
        .map_err(|e| e.to_string())?;
    if !recipe.contains("\"kind\":\"RecipeResult\"") {
        return Err(format!(
            "the container's recipe is no RecipeResult: {recipe:.300}"
        ));
    }
    // The server's credentials as the kernel sees them (the image has no ps for `podman top`).
    let pid = podman(&["inspect", "--format", "{{.State.Pid}}", &container.name])?;
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim()))
        .map_err(|e| format!("/proc/{}/status: {e}", pid.trim()))?;
    for id in ["Uid:", "Gid:"] {
        let ids: Vec<&str> = status
            .lines()
            .find_map(|l| l.strip_prefix(id))
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default();
        if ids.is_empty() || ids.iter().any(|i| *i != "65532") {
            return Err(format!("the server's {id} {ids:?}, not 65532 throughout"));
        }
    }
    podman(&["stop", "--time", "20", &container.name])?;
    let exit = podman(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}}",
        &container.name,
    ])?;
    if exit.trim() != "0" {
        let logs = podman(&["logs", &container.name]).unwrap_or_default();
        return Err(format!(
            "SIGTERM: the server exited {}, not 0:\n{logs}",
            exit.trim()
        ));
    }
    eprintln!(
        "image: {} ran under podman ({}): /health, /ready and a recipe answered; uid/gid \
         65532; podman stop drained it to exit 0",
        image.reference,
        RUN_FLAGS.join(" ")
    );
    Ok(())
}
