//! The stores and the admin operations: a bad upload is refused with its defects and
//! changes nothing, activation is one pointer write, rollback restores the previous
//! digest, and a second instance over the same directory sees what the first activated.

mod common;

use aicr_tenant_catalogs::fault::{Fault, FaultyStore};
use aicr_tenant_catalogs::{
    AdminError, Base, Config, Digest, DirStore, MAX_HISTORY, MemoryStore, Origin, Pointer, Source,
    Store, TenantCatalogs, TenantId, pack_files,
};
use common::{EMPTY_REGISTRY, TokioHost, small_base, upload};
use std::sync::Arc;
use std::time::Duration;

fn artifact(base: &Base, values: &str) -> (Digest, Vec<u8>) {
    let packed = pack_files(
        base,
        "t",
        upload(&[
            ("registry.yaml", EMPTY_REGISTRY),
            ("components/gpu-operator/values.yaml", values),
        ]),
    )
    .unwrap();
    (packed.digest, packed.bytes)
}

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

#[tokio::test]
async fn a_bad_upload_is_refused_with_its_defects_and_changes_nothing() {
    let host = TokioHost::new();
    let (store, faults) = FaultyStore::new(MemoryStore::new(), host.clone());
    let catalogs = TenantCatalogs::new(store, small_base(), host, Config::default(), None);
    let (good, bytes) = artifact(catalogs.base(), "driver: {enabled: false}\n");
    catalogs.upload(&acme(), &bytes).await.unwrap();
    catalogs.activate(&acme(), &good).await.unwrap();
    let before = catalogs.list(&acme()).await.unwrap();
    let puts_before = faults.count("put ");

    let bad = serde_json::json!({
        "format": "aicr-catalog/v1",
        "files": {
            "registry.yaml": EMPTY_REGISTRY,
            "overlays/x.yaml": "kind: RecipeMetadata\nmetadata: {name: x}\nspec:\n  criteria: {service: EKS}\n",
            "components/y/values.yaml": "[1, 2]\n"
        }
    });
    let err = catalogs
        .upload(&acme(), &serde_json::to_vec(&bad).unwrap())
        .await
        .unwrap_err();
    let AdminError::Rejected(defects) = &err else {
        panic!("{err}");
    };
    assert_eq!(err.status(), 422);
    assert_eq!(defects.len(), 2, "{defects:#?}");
    assert!(defects.iter().all(|d| d.origin == Origin::Upload));
    assert_eq!(defects[0].file, "components/y/values.yaml");
    assert_eq!(defects[1].file, "overlays/x.yaml");
    assert_eq!(defects[1].field, "spec.criteria.service");
    // What an admin API would answer: the defects as JSON.
    let body = serde_json::to_value(defects).unwrap();
    assert_eq!(body[1]["origin"], "upload");

    assert_eq!(catalogs.list(&acme()).await.unwrap(), before);
    assert_eq!(faults.count("put "), puts_before, "a refused upload wrote");
    let selected = catalogs.select(Some(&acme())).await;
    assert_eq!(selected.source, Source::Tenant(good));
}

#[tokio::test]
async fn uploading_is_idempotent_and_does_not_activate() {
    let host = TokioHost::new();
    let catalogs = TenantCatalogs::new(
        MemoryStore::new(),
        small_base(),
        host,
        Config::default(),
        None,
    );
    let (digest, bytes) = artifact(catalogs.base(), "driver: {enabled: false}\n");
    let first = catalogs.upload(&acme(), &bytes).await.unwrap();
    assert!(first.created);
    assert_eq!(first.digest, digest);
    assert_eq!(
        first.files,
        ["components/gpu-operator/values.yaml", "registry.yaml"]
    );
    let second = catalogs.upload(&acme(), &bytes).await.unwrap();
    assert!(!second.created);
    let listing = catalogs.list(&acme()).await.unwrap();
    assert_eq!(listing.active, None);
    assert_eq!(listing.catalogs, [digest]);
    assert_eq!(
        catalogs.select(Some(&acme())).await.source,
        Source::Embedded
    );
}

#[tokio::test]
async fn rollback_restores_the_previous_digest() {
    let host = TokioHost::new();
    let catalogs = TenantCatalogs::new(
        MemoryStore::new(),
        small_base(),
        host,
        Config::default(),
        None,
    );
    let (a, bytes_a) = artifact(catalogs.base(), "driver: {enabled: false}\n");
    let (b, bytes_b) = artifact(catalogs.base(), "driver: {enabled: true, version: x}\n");
    catalogs.upload(&acme(), &bytes_a).await.unwrap();
    catalogs.upload(&acme(), &bytes_b).await.unwrap();

    let p = catalogs.activate(&acme(), &a).await.unwrap();
    assert_eq!(
        p,
        Pointer {
            active: Some(a.clone()),
            history: vec![]
        }
    );
    let p = catalogs.activate(&acme(), &b).await.unwrap();
    assert_eq!(
        p,
        Pointer {
            active: Some(b.clone()),
            history: vec![a.clone()]
        }
    );
    assert_eq!(
        catalogs.select(Some(&acme())).await.source,
        Source::Tenant(b.clone())
    );

    let p = catalogs.rollback(&acme()).await.unwrap();
    assert_eq!(
        p,
        Pointer {
            active: Some(a.clone()),
            history: vec![]
        }
    );
    let selected = catalogs.select(Some(&acme())).await;
    assert_eq!(selected.source, Source::Tenant(a.clone()));
    assert_eq!(
        selected
            .catalog
            .values_file("components/gpu-operator/values.yaml")
            .unwrap()["driver"]["enabled"],
        false
    );
    // Nothing before `a`.
    let err = catalogs.rollback(&acme()).await.unwrap_err();
    assert_eq!(err, AdminError::NothingToRollBack);
    assert_eq!(err.status(), 409);
    // Activating the active one changes nothing.
    assert_eq!(
        catalogs.activate(&acme(), &a).await.unwrap(),
        Pointer {
            active: Some(a),
            history: vec![]
        }
    );
}

#[tokio::test]
async fn deactivate_returns_to_the_base_and_rollback_undoes_it() {
    let host = TokioHost::new();
    let catalogs = TenantCatalogs::new(
        MemoryStore::new(),
        small_base(),
        host,
        Config::default(),
        None,
    );
    let (a, bytes) = artifact(catalogs.base(), "driver: {enabled: false}\n");
    catalogs.upload(&acme(), &bytes).await.unwrap();
    catalogs.activate(&acme(), &a).await.unwrap();
    let p = catalogs.deactivate(&acme()).await.unwrap();
    assert_eq!(
        p,
        Pointer {
            active: None,
            history: vec![a.clone()]
        }
    );
    let selected = catalogs.select(Some(&acme())).await;
    assert_eq!((selected.source, selected.stale), (Source::Embedded, None));
    catalogs.rollback(&acme()).await.unwrap();
    assert_eq!(
        catalogs.select(Some(&acme())).await.source,
        Source::Tenant(a)
    );
}

#[tokio::test]
async fn activating_an_unknown_digest_is_not_found_and_changes_nothing() {
    let host = TokioHost::new();
    let catalogs = TenantCatalogs::new(
        MemoryStore::new(),
        small_base(),
        host,
        Config::default(),
        None,
    );
    let unknown = Digest::of(b"never uploaded");
    let err = catalogs.activate(&acme(), &unknown).await.unwrap_err();
    assert_eq!(err, AdminError::UnknownCatalog(unknown));
    assert_eq!(err.status(), 404);
    assert_eq!(catalogs.list(&acme()).await.unwrap().active, None);
}

#[tokio::test]
async fn an_artifact_that_no_longer_layers_cannot_be_activated() {
    // Uploaded against one base, activated on a host whose base lacks what it names (an
    // upgrade removed it): refused with the defects, pointer unchanged.
    let host = TokioHost::new();
    let store = Arc::new(MemoryStore::new());
    let old = TenantCatalogs::new(
        store.clone(),
        small_base(),
        host.clone(),
        Config::default(),
        None,
    );
    let bytes = pack_files(
        old.base(),
        "t",
        upload(&[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "overlays/acme.yaml",
                "kind: RecipeMetadata\nmetadata: {name: acme}\nspec:\n  base: eks-training\n  criteria: {service: eks, intent: training, os: ubuntu}\n",
            ),
        ]),
    )
    .unwrap()
    .bytes;
    let digest = old.upload(&acme(), &bytes).await.unwrap().digest;
    let mut files = common::small_catalog();
    files.remove("overlays/eks-training.yaml");
    let new_base = Base::from_files("smaller", files).unwrap();
    let new = TenantCatalogs::new(store, new_base, host, Config::default(), None);
    let err = new.activate(&acme(), &digest).await.unwrap_err();
    let AdminError::Rejected(defects) = err else {
        panic!("{err}")
    };
    assert_eq!(defects[0].file, "overlays/acme.yaml");
    assert_eq!(defects[0].field, "spec.base");
    assert_eq!(new.list(&acme()).await.unwrap().active, None);
}

#[tokio::test]
async fn history_is_bounded() {
    let host = TokioHost::new();
    let catalogs = TenantCatalogs::new(
        MemoryStore::new(),
        small_base(),
        host,
        Config::default(),
        None,
    );
    let mut digests = Vec::new();
    for i in 0..MAX_HISTORY + 3 {
        let (d, bytes) = artifact(catalogs.base(), &format!("driver: {{version: v{i}}}\n"));
        catalogs.upload(&acme(), &bytes).await.unwrap();
        catalogs.activate(&acme(), &d).await.unwrap();
        digests.push(d);
    }
    let listing = catalogs.list(&acme()).await.unwrap();
    assert_eq!(listing.history.len(), MAX_HISTORY);
    assert_eq!(listing.history.last(), digests.get(digests.len() - 2));
    assert_eq!(listing.catalogs.len(), MAX_HISTORY + 3);
}

#[tokio::test]
async fn a_store_failure_is_reported_to_the_admin_not_hidden() {
    let host = TokioHost::new();
    let (store, faults) = FaultyStore::new(MemoryStore::new(), host.clone());
    let catalogs = TenantCatalogs::new(store, small_base(), host, Config::default(), None);
    let (_, bytes) = artifact(catalogs.base(), "driver: {enabled: false}\n");
    faults.set(Fault::FailAlways);
    let err = catalogs.upload(&acme(), &bytes).await.unwrap_err();
    assert_eq!(err.status(), 503, "{err}");
    faults.set(Fault::None);
    assert!(catalogs.list(&acme()).await.unwrap().catalogs.is_empty());
}

#[test]
fn tenant_names_are_checked() {
    for good in ["acme", "team_a-1", &"x".repeat(64)] {
        assert!(TenantId::parse(good).is_ok(), "{good}");
    }
    for bad in ["", "../etc", "a/b", "a.b", "é", &"x".repeat(65)] {
        assert!(TenantId::parse(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn the_directory_store_writes_whole_values_and_lists_keys() {
    let dir = temp_dir("dir-store");
    let store = DirStore::new(&dir);
    assert_eq!(store.get("tenants/acme/active").await.unwrap(), None);
    assert!(
        store
            .list("tenants/acme/catalogs/")
            .await
            .unwrap()
            .is_empty()
    );
    store
        .put("tenants/acme/catalogs/abc", b"one")
        .await
        .unwrap();
    store
        .put("tenants/acme/catalogs/abc", b"two")
        .await
        .unwrap();
    store
        .put("tenants/acme/catalogs/def", b"three")
        .await
        .unwrap();
    assert_eq!(
        store
            .get("tenants/acme/catalogs/abc")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"two"[..])
    );
    let mut keys = store.list("tenants/acme/catalogs/").await.unwrap();
    keys.sort();
    assert_eq!(
        keys,
        ["tenants/acme/catalogs/abc", "tenants/acme/catalogs/def"]
    );
    // Nothing is left in staging; no key may leave the root.
    assert_eq!(std::fs::read_dir(dir.join(".staging")).unwrap().count(), 0);
    for key in [
        "../x",
        "tenants/../../x",
        "/etc/passwd",
        "a//b",
        ".staging/x",
    ] {
        assert!(store.get(key).await.is_err(), "{key}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_second_instance_on_the_same_directory_sees_an_activation_within_the_ttl() {
    let dir = temp_dir("two-instances");
    let host = TokioHost::new();
    let config = Config {
        pointer_ttl: Duration::from_secs(5),
        ..Config::default()
    };
    let admin = TenantCatalogs::new(
        DirStore::new(&dir),
        small_base(),
        host.clone(),
        config,
        None,
    );
    let server = TenantCatalogs::new(DirStore::new(&dir), small_base(), host, config, None);
    assert_eq!(server.select(Some(&acme())).await.source, Source::Embedded);

    let (digest, bytes) = artifact(admin.base(), "driver: {enabled: false}\n");
    admin.upload(&acme(), &bytes).await.unwrap();
    admin.activate(&acme(), &digest).await.unwrap();
    // The server trusts the pointer it read until the TTL is over...
    assert_eq!(server.select(Some(&acme())).await.source, Source::Embedded);
    tokio::time::sleep(Duration::from_millis(5001)).await;
    // ...then reads it again and serves the tenant's catalog.
    let selected = server.select(Some(&acme())).await;
    assert_eq!(selected.source, Source::Tenant(digest.clone()));
    assert_eq!(
        selected.header_value(),
        format!("tenant;digest=\"{digest}\"")
    );
    let stored = std::fs::read(dir.join(format!("tenants/acme/catalogs/{digest}"))).unwrap();
    assert_eq!(Digest::of(&stored), digest);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("aicr-tenant-catalogs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
