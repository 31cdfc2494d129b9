//! `cargo xtask key`: mint, list and revoke API keys in a tenants document.
//!
//! The document (`AICR_TENANTS` for every host) holds key ids and HMAC hashes only; the
//! key itself is printed once, when minted, and stored nowhere. The hashes are made under
//! the server secret (`AICR_KEY_SECRET`): taken from the environment when set, else from
//! the secret file, which is created (random, mode 0600) on first use. Both files live in
//! `.aicr/` by default, which git ignores.

use crate::steps::{Result, root};
use std::path::{Path, PathBuf};

const USAGE: &str = "\
usage: cargo xtask key new --tenant NAME [--admin] [--routes /v1/recipe,...] [--rate-limit 600/m]
                       [--origins https://a.example,...] [--file PATH] [--secret-file PATH]
       cargo xtask key list [--file PATH]
       cargo xtask key revoke ID [--file PATH]

  new      mint a key for NAME (the tenant is created with the given settings if new) and
           print it once; only its id and HMAC hash are stored
  list     print each tenant and its key ids
  revoke   remove the key with this id
  --file         tenants document (default .aicr/tenants.json)
  --secret-file  server secret used when AICR_KEY_SECRET is unset (default .aicr/key-secret)
";

struct Options {
    file: PathBuf,
    secret_file: PathBuf,
    tenant: Option<String>,
    admin: bool,
    routes: Option<String>,
    rate_limit: Option<String>,
    origins: Option<String>,
    positional: Vec<String>,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        file: root().join(".aicr/tenants.json"),
        secret_file: root().join(".aicr/key-secret"),
        tenant: None,
        admin: false,
        routes: None,
        rate_limit: None,
        origins: None,
        positional: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--file" => o.file = value("--file")?.into(),
            "--secret-file" => o.secret_file = value("--secret-file")?.into(),
            "--tenant" => o.tenant = Some(value("--tenant")?),
            "--routes" => o.routes = Some(value("--routes")?),
            "--rate-limit" => o.rate_limit = Some(value("--rate-limit")?),
            "--origins" => o.origins = Some(value("--origins")?),
            "--admin" => o.admin = true,
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}\n\n{USAGE}"));
            }
            _ => o.positional.push(arg.clone()),
        }
    }
    Ok(o)
}

pub fn run(args: &[String]) -> Result {
    let Some((command, rest)) = args.split_first() else {
        return Err(USAGE.to_owned());
    };
    let o = options(rest)?;
    match command.as_str() {
        "new" => new(&o),
        "list" => list(&o),
        "revoke" => revoke(&o),
        other => Err(format!("unknown key command {other:?}\n\n{USAGE}")),
    }
}

fn read_document(path: &Path) -> Result<serde_json::Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(serde_json::json!({ "tenants": [] }))
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes the document, then checks it the way every host will read it.
fn write_document(path: &Path, doc: &serde_json::Value, secret: Option<&str>) -> Result {
    let text = serde_json::to_string_pretty(doc).map_err(|e| e.to_string())? + "\n";
    aicr_stack::Policy::from_vars(|name| match name {
        "AICR_TENANTS" => Some(text.clone()),
        "AICR_KEY_SECRET" => secret.map(str::to_owned),
        _ => None,
    })
    .map_err(|e| format!("the document would not load: {e}"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no randomness from the OS: {e}"))?;
    Ok(bytes)
}

/// `AICR_KEY_SECRET`, else the secret file's content, else a new random secret written
/// there (mode 0600).
fn server_secret(file: &Path) -> Result<String> {
    if let Ok(secret) = std::env::var("AICR_KEY_SECRET")
        && !secret.trim().is_empty()
    {
        return Ok(secret);
    }
    if let Ok(secret) = std::fs::read_to_string(file) {
        return Ok(secret.trim().to_owned());
    }
    let secret: String = random::<32>()?.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(file, &secret).map_err(|e| format!("{}: {e}", file.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", file.display()))?;
    }
    eprintln!("created the server secret {}", file.display());
    Ok(secret)
}

fn comma_list(text: &str) -> Vec<serde_json::Value> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.into())
        .collect()
}

fn new(o: &Options) -> Result {
    let tenant = o
        .tenant
        .as_deref()
        .ok_or_else(|| format!("key new needs --tenant NAME\n\n{USAGE}"))?;
    let secret = server_secret(&o.secret_file)?;
    let minted = aicr_stack::keys::mint(&random::<38>()?, secret.as_bytes());
    let mut doc = read_document(&o.file)?;
    let tenants = doc["tenants"]
        .as_array_mut()
        .ok_or_else(|| format!("{}: \"tenants\" is not a list", o.file.display()))?;
    let index = match tenants.iter().position(|t| t["name"] == tenant) {
        Some(i) => i,
        None => {
            let mut entry = serde_json::json!({ "name": tenant, "keys": [] });
            if o.admin {
                entry["admin"] = true.into();
            }
            if let Some(routes) = &o.routes {
                entry["routes"] = comma_list(routes).into();
            }
            if let Some(limit) = &o.rate_limit {
                entry["rateLimit"] = limit.as_str().into();
            }
            if let Some(origins) = &o.origins {
                entry["corsOrigins"] = comma_list(origins).into();
            }
            tenants.push(entry);
            tenants.len() - 1
        }
    };
    let keys = tenants[index]["keys"].as_array_mut().ok_or_else(|| {
        format!(
            "{}: tenant {tenant}: \"keys\" is not a list",
            o.file.display()
        )
    })?;
    keys.push(serde_json::json!({ "id": minted.id, "hash": minted.hash }));
    write_document(&o.file, &doc, Some(&secret))?;
    eprintln!(
        "minted key {} for tenant {tenant}; stored its hash in {}.\n\
         This is the only time the key is shown:",
        minted.id,
        o.file.display()
    );
    println!("{}", minted.key);
    Ok(())
}

fn list(o: &Options) -> Result {
    let doc = read_document(&o.file)?;
    for tenant in doc["tenants"].as_array().into_iter().flatten() {
        let ids: Vec<&str> = tenant["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["id"].as_str())
            .collect();
        println!(
            "{}\t{}",
            tenant["name"].as_str().unwrap_or("?"),
            ids.join(",")
        );
    }
    Ok(())
}

fn revoke(o: &Options) -> Result {
    let [id] = o.positional.as_slice() else {
        return Err(format!("key revoke needs one key id\n\n{USAGE}"));
    };
    let mut doc = read_document(&o.file)?;
    let mut found = false;
    for tenant in doc["tenants"].as_array_mut().into_iter().flatten() {
        if let Some(keys) = tenant["keys"].as_array_mut() {
            let before = keys.len();
            keys.retain(|k| k["id"] != id.as_str());
            found |= keys.len() != before;
        }
    }
    if !found {
        return Err(format!("no key {id} in {}", o.file.display()));
    }
    let secret = std::env::var("AICR_KEY_SECRET")
        .ok()
        .or_else(|| std::fs::read_to_string(&o.secret_file).ok())
        .map(|s| s.trim().to_owned());
    write_document(&o.file, &doc, secret.as_deref())?;
    eprintln!("revoked key {id}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xtask(args: &[&str]) -> Result {
        run(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn minted_keys_are_stored_as_hashes_and_revocable() {
        let dir = std::env::temp_dir().join(format!("aicr-key-test-{}", std::process::id()));
        let file = dir.join("tenants.json");
        let secret = dir.join("secret");
        let (file_s, secret_s) = (file.to_str().unwrap(), secret.to_str().unwrap());
        xtask(&[
            "new",
            "--tenant",
            "acme",
            "--rate-limit",
            "10/s",
            "--file",
            file_s,
            "--secret-file",
            secret_s,
        ])
        .unwrap();
        xtask(&[
            "new",
            "--tenant",
            "acme",
            "--file",
            file_s,
            "--secret-file",
            secret_s,
        ])
        .unwrap();
        let doc = read_document(&file).unwrap();
        let keys = doc["tenants"][0]["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(doc["tenants"][0]["rateLimit"], "10/s");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("aicr_"), "no key is stored: {text}");
        let id = keys[0]["id"].as_str().unwrap().to_owned();
        xtask(&["revoke", &id, "--file", file_s, "--secret-file", secret_s]).unwrap();
        assert!(xtask(&["revoke", &id, "--file", file_s]).is_err());
        assert!(
            xtask(&["new", "--file", file_s])
                .unwrap_err()
                .contains("--tenant")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
