//! `cargo xtask catalog pack DIR`: a tenant's catalog directory in, one validated,
//! content-addressed artifact out, ready for the admin API's upload route.
//!
//! The checks are the hosts' own ([`aicr_tenant_catalogs::pack_dir`]): upstream's rules
//! for an external `--data` directory, then the directory layered over the catalog this
//! build embeds and put through the build's loader. So a pack that succeeds here is one
//! an upload to a host built from the same catalog accepts, and a refused one lists every
//! defect by file, field and reason, as the upload would.

use crate::steps::Result;
use aicr_tenant_catalogs::{Base, pack_dir};
use std::path::{Path, PathBuf};

const USAGE: &str = "\
usage: cargo xtask catalog pack DIR [--out PATH]

  pack   validate the catalog in DIR (upstream's layout; registry.yaml required) layered
         over the catalog this build embeds, and write it as one artifact named by its
         SHA-256: <digest>.aicr-catalog
  --out  where to write it: a file, or a directory (existing, or named with a trailing
         /) to put <digest>.aicr-catalog in (default: the current directory)
";

pub fn run(args: &[String]) -> Result {
    let Some((command, rest)) = args.split_first() else {
        return Err(format!("a subcommand is needed\n\n{USAGE}"));
    };
    match command.as_str() {
        "pack" => pack(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown subcommand {other:?}\n\n{USAGE}")),
    }
}

fn pack(args: &[String]) -> Result {
    let mut dir: Option<PathBuf> = None;
    let mut out: Option<PathBuf> = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => {
                out = Some(
                    args.next()
                        .ok_or_else(|| format!("--out needs a value\n\n{USAGE}"))?
                        .into(),
                )
            }
            flag if flag.starts_with('-') => {
                return Err(format!("unknown option {flag:?}\n\n{USAGE}"));
            }
            path if dir.is_none() => dir = Some(path.into()),
            extra => return Err(format!("unexpected argument {extra:?}\n\n{USAGE}")),
        }
    }
    let dir = dir.ok_or_else(|| format!("name the catalog directory\n\n{USAGE}"))?;
    let base = Base::embedded();
    let label = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "tenant".to_owned());
    let packed = pack_dir(&base, &label, &dir).map_err(|rejected| {
        let lines: Vec<String> = rejected.0.iter().map(|d| format!("  - {d}")).collect();
        format!(
            "the catalog in {} is refused ({} defect(s)); nothing was written:\n{}",
            dir.display(),
            rejected.0.len(),
            lines.join("\n")
        )
    })?;
    let target = match out {
        // An existing directory, or one named with a trailing slash (created).
        Some(path) if path.is_dir() || path.to_string_lossy().ends_with(['/', '\\']) => {
            path.join(packed.digest.file_name())
        }
        Some(path) => path,
        None => PathBuf::from(packed.digest.file_name()),
    };
    write(&target, &packed.bytes)?;
    for w in &packed.warnings {
        eprintln!("warning: {w}");
    }
    let info = base.catalog().info();
    println!(
        "packed {} file(s) from {} over {} {} ({} bytes)\ndigest {}\nwrote {}",
        packed.files.len(),
        dir.display(),
        info.name,
        info.version,
        packed.bytes.len(),
        packed.digest,
        target.display()
    );
    Ok(())
}

fn write(target: &Path, bytes: &[u8]) -> Result {
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(target, bytes).map_err(|e| format!("cannot write {}: {e}", target.display()))
}

#[cfg(test)]
mod tests {
    use super::run;
    use aicr_tenant_catalogs::Digest;

    fn temp(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-pack-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("catalog/components/cert-manager")).unwrap();
        std::fs::create_dir_all(dir.join("out")).unwrap();
        dir
    }

    fn args(list: &[&std::path::Path]) -> Vec<String> {
        let mut v = vec!["pack".to_owned()];
        v.push(list[0].display().to_string());
        v.push("--out".to_owned());
        v.push(list[1].display().to_string());
        v
    }

    #[test]
    fn packs_into_a_file_named_by_its_digest() {
        let dir = temp("good");
        let catalog = dir.join("catalog");
        std::fs::write(catalog.join("registry.yaml"), "components: []\n").unwrap();
        std::fs::write(
            catalog.join("components/cert-manager/values.yaml"),
            "crds: {enabled: false}\n",
        )
        .unwrap();
        let out = format!("{}/", dir.join("out/new").display());
        run(&args(&[&catalog, std::path::Path::new(&out)])).unwrap();
        let written: Vec<_> = std::fs::read_dir(dir.join("out/new"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(written.len(), 1);
        let name = written[0].file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(written[0].path()).unwrap();
        assert_eq!(name, Digest::of(&bytes).file_name());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_refused_catalog_writes_nothing_and_names_its_defects() {
        let dir = temp("bad");
        let catalog = dir.join("catalog");
        std::fs::write(catalog.join("registry.yaml"), "components: []\n").unwrap();
        std::fs::write(
            catalog.join("components/cert-manager/values.yaml"),
            "- a list\n",
        )
        .unwrap();
        let err = run(&args(&[&catalog, &dir.join("out")])).unwrap_err();
        assert!(
            err.contains("components/cert-manager/values.yaml: a values file must be a mapping"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
