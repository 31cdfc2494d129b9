//! Faults injected into the store (failures, hangs, slow reads) while tenants are served:
//! the breaker opens after N failures and recovers through half-open, answers go stale and
//! say so, retries ride out a blip, the bulkhead turns the excess away at once, and N
//! concurrent identical misses become one read and one load.
//!
//! Most tests run on tokio's paused clock: sleeps advance it exactly and instantly, so the
//! timings asserted are the machine's logic, not its load. Two run on the real clock, on
//! a multi-threaded runtime, and print what they measured.

mod common;

use aicr_tenant_catalogs::fault::{Fault, FaultHandle, FaultyStore};
use aicr_tenant_catalogs::{
    BoxFuture, BreakerConfig, BreakerState, Config, Digest, Event, Host, Lookup, MemoryStore,
    RetryConfig, Selected, Source, StaleReason, Store, TenantCatalogs, TenantId, Transition,
    pack_files,
};
use common::{EMPTY_REGISTRY, Recorder, TokioHost, small_base, upload};
use futures_util::future::join_all;
use std::sync::Arc;
use std::time::Duration;

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

/// A tenant catalog uploaded and activated in `store` (through another instance, so the
/// instance under test has nothing cached).
async fn publish(store: Arc<MemoryStore>, tenant: &TenantId, version: &str) -> Digest {
    let admin = TenantCatalogs::new(
        store,
        small_base(),
        TokioHost::new(),
        Config::default(),
        None,
    );
    let bytes = pack_files(
        admin.base(),
        "t",
        upload(&[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "components/gpu-operator/values.yaml",
                &format!("driver: {{version: {version}}}\n"),
            ),
        ]),
    )
    .unwrap()
    .bytes;
    let digest = admin.upload(tenant, &bytes).await.unwrap().digest;
    admin.activate(tenant, &digest).await.unwrap();
    digest
}

struct Rig {
    catalogs: TenantCatalogs,
    faults: FaultHandle,
    recorder: Recorder,
    host: Arc<TokioHost>,
}

fn rig(store: Arc<MemoryStore>, config: Config) -> Rig {
    let host = TokioHost::new();
    let recorder = Recorder::new(host.clone());
    let (faulty, faults) = FaultyStore::new(store, host.clone());
    let catalogs = TenantCatalogs::new(
        faulty,
        small_base(),
        host.clone(),
        config,
        recorder.observer(),
    );
    Rig {
        catalogs,
        faults,
        recorder,
        host,
    }
}

/// Breaker events with their times.
fn transitions(recorder: &Recorder) -> Vec<Transition> {
    recorder
        .all()
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::Breaker(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn assert_stale(selected: &Selected, source: &Source, reason: StaleReason) {
    assert_eq!(&selected.source, source);
    assert_eq!(selected.stale, Some(reason));
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_after_n_failures_and_recovers_through_half_open() {
    let store = Arc::new(MemoryStore::new());
    let digest = publish(store.clone(), &acme(), "v1").await;
    let config = Config {
        pointer_ttl: Duration::ZERO, // every request reads the pointer: one read each
        retry: RetryConfig {
            attempts: 1,
            ..RetryConfig::default()
        },
        breaker: BreakerConfig {
            failure_threshold: 3,
            cool_down: Duration::from_secs(2),
        },
        ..Config::default()
    };
    let rig = rig(store, config);
    let tenant = Source::Tenant(digest.clone());
    assert_eq!(rig.catalogs.select(Some(&acme())).await.stale, None);

    rig.faults.set(Fault::FailAlways);
    for _ in 0..3 {
        assert_eq!(rig.catalogs.breaker_state(), BreakerState::Closed);
        assert_stale(
            &rig.catalogs.select(Some(&acme())).await,
            &tenant,
            StaleReason::StoreError,
        );
    }
    assert_eq!(rig.catalogs.breaker_state(), BreakerState::Open);
    let reads = rig.faults.count("get ");
    // Open: answers at once, stale, without touching the store.
    for _ in 0..10 {
        assert_stale(
            &rig.catalogs.select(Some(&acme())).await,
            &tenant,
            StaleReason::BreakerOpen,
        );
    }
    assert_eq!(rig.faults.count("get "), reads);

    // After the cool-down one probe goes through; the store still fails: open again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rig.catalogs.breaker_state(), BreakerState::HalfOpen);
    assert_stale(
        &rig.catalogs.select(Some(&acme())).await,
        &tenant,
        StaleReason::StoreError,
    );
    assert_eq!(rig.faults.count("get "), reads + 1);
    assert_eq!(rig.catalogs.breaker_state(), BreakerState::Open);

    // Next cool-down, the store is back: the probe succeeds and the breaker closes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    rig.faults.set(Fault::None);
    let selected = rig.catalogs.select(Some(&acme())).await;
    assert_eq!((selected.source, selected.stale), (tenant, None));
    assert_eq!(rig.catalogs.breaker_state(), BreakerState::Closed);

    let t = transitions(&rig.recorder);
    let states: Vec<BreakerState> = t.iter().map(|t| t.to).collect();
    assert_eq!(
        states,
        [
            BreakerState::Open,
            BreakerState::HalfOpen,
            BreakerState::Open,
            BreakerState::HalfOpen,
            BreakerState::Closed
        ]
    );
    // Paused clock: the cool-downs are exact.
    assert_eq!(t[1].at_ms - t[0].at_ms, 2000);
    assert_eq!(t[3].at_ms - t[2].at_ms, 2000);
    assert_eq!(t[4].at_ms, t[3].at_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_timings_on_the_real_clock() {
    // Hung reads, 40 ms timeout, no retries, threshold 3, cool-down 200 ms. Prints what it
    // measured (cargo test -- --nocapture).
    let store = Arc::new(MemoryStore::new());
    let digest = publish(store.clone(), &acme(), "v1").await;
    let config = Config {
        pointer_ttl: Duration::ZERO,
        read_timeout: Duration::from_millis(40),
        retry: RetryConfig {
            attempts: 1,
            ..RetryConfig::default()
        },
        breaker: BreakerConfig {
            failure_threshold: 3,
            cool_down: Duration::from_millis(200),
        },
        ..Config::default()
    };
    let rig = rig(store, config);
    rig.catalogs.select(Some(&acme())).await;
    rig.faults.set(Fault::Hang);
    let failing_from = rig.host.now_ms();
    let mut answered = Vec::new();
    while rig.catalogs.breaker_state() != BreakerState::Open {
        let started = rig.host.now_ms();
        let s = rig.catalogs.select(Some(&acme())).await;
        assert_stale(&s, &Source::Tenant(digest.clone()), StaleReason::Timeout);
        answered.push(rig.host.now_ms() - started);
    }
    let started = rig.host.now_ms();
    let s = rig.catalogs.select(Some(&acme())).await;
    assert_stale(
        &s,
        &Source::Tenant(digest.clone()),
        StaleReason::BreakerOpen,
    );
    let open_answer = rig.host.now_ms() - started;
    rig.faults.set(Fault::None);
    while rig.catalogs.breaker_state() == BreakerState::Open {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let s = rig.catalogs.select(Some(&acme())).await;
    assert_eq!(s.stale, None);
    let t = transitions(&rig.recorder);
    assert_eq!(
        t.iter().map(|t| t.to).collect::<Vec<_>>(),
        [
            BreakerState::Open,
            BreakerState::HalfOpen,
            BreakerState::Closed
        ]
    );
    let (open, half, closed) = (t[0].at_ms, t[1].at_ms, t[2].at_ms);
    println!(
        "breaker timings (real clock): failing reads answered stale in {answered:?} ms; opened {} ms after the first failure ({} timeouts of 40 ms); \
         while open answered in {open_answer} ms; half-open {} ms after opening (cool-down 200 ms); closed {} ms after the probe started",
        open - failing_from,
        answered.len(),
        half - open,
        closed - half
    );
    assert_eq!(answered.len(), 3);
    assert!(
        answered.iter().all(|ms| (40..200).contains(ms)),
        "{answered:?}"
    );
    assert!(open_answer < 20, "{open_answer}");
    assert!((200..400).contains(&(half - open)), "{}", half - open);
    assert!(closed - half < 100, "{}", closed - half);
}

#[tokio::test(start_paused = true)]
async fn stale_answers_are_marked_and_served_from_the_last_good_catalog() {
    let store = Arc::new(MemoryStore::new());
    let digest = publish(store.clone(), &acme(), "v1").await;
    let rig = rig(store, Config::default());
    let fresh = rig.catalogs.select(Some(&acme())).await;
    assert_eq!(fresh.header_value(), format!("tenant;digest=\"{digest}\""));
    assert_eq!(fresh.lookup, Some(Lookup::Miss));

    rig.faults.set(Fault::FailAlways);
    // Within the pointer TTL nothing is read: a hit, fresh.
    let hit = rig.catalogs.select(Some(&acme())).await;
    assert_eq!((hit.lookup, hit.stale), (Some(Lookup::Hit), None));
    tokio::time::sleep(Config::default().pointer_ttl).await;
    let stale = rig.catalogs.select(Some(&acme())).await;
    assert_stale(
        &stale,
        &Source::Tenant(digest.clone()),
        StaleReason::StoreError,
    );
    assert_eq!(
        stale.header_value(),
        format!("stale;source=tenant;digest=\"{digest}\";reason=store-error")
    );
    // The stale catalog is the tenant's, not the base's.
    assert_eq!(
        stale
            .catalog
            .values_file("components/gpu-operator/values.yaml")
            .unwrap()["driver"]["version"],
        "v1"
    );
    rig.faults.set(Fault::None);
    let back = rig.catalogs.select(Some(&acme())).await;
    assert_eq!((back.source, back.stale), (Source::Tenant(digest), None));
}

#[tokio::test(start_paused = true)]
async fn with_no_last_good_catalog_the_embedded_one_answers_stale() {
    let store = Arc::new(MemoryStore::new());
    publish(store.clone(), &acme(), "v1").await;
    let rig = rig(store, Config::default());
    rig.faults.set(Fault::FailAlways);
    let s = rig.catalogs.select(Some(&acme())).await;
    assert_stale(&s, &Source::Embedded, StaleReason::StoreError);
    let base_digest = &rig.catalogs.base().catalog().info().digest;
    assert_eq!(
        s.header_value(),
        format!("stale;source=embedded;digest=\"{base_digest}\";reason=store-error")
    );
    // Requests without a tenant never touch the store.
    let reads = rig.faults.count("get ");
    let anonymous = rig.catalogs.select(None).await;
    assert_eq!(
        anonymous.header_value(),
        format!("embedded;digest=\"{base_digest}\"")
    );
    assert_eq!(rig.faults.count("get "), reads);
}

#[tokio::test(start_paused = true)]
async fn a_hung_store_times_out_after_every_attempt_and_answers_stale() {
    let store = Arc::new(MemoryStore::new());
    publish(store.clone(), &acme(), "v1").await;
    let config = Config {
        read_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let rig = rig(store, config);
    rig.faults.set(Fault::Hang);
    let started = rig.host.now_ms();
    let s = rig.catalogs.select(Some(&acme())).await;
    let took = rig.host.now_ms() - started;
    assert_stale(&s, &Source::Embedded, StaleReason::Timeout);
    assert_eq!(rig.faults.calls("get tenants/acme/active"), 3);
    let delays: Vec<Duration> = rig
        .recorder
        .all()
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::Retry { delay, .. } => Some(delay),
            _ => None,
        })
        .collect();
    assert_eq!(delays.len(), 2);
    // Three timeouts and two backoffs, nothing else (tokio's timer rounds each jittered
    // backoff up to the next millisecond).
    let backoff: u64 = delays.iter().map(|d| d.as_millis() as u64).sum();
    assert!(
        (900 + backoff..=900 + backoff + 2).contains(&took),
        "{took} ms"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_with_exponential_backoff_and_jitter_ride_out_a_blip() {
    let store = Arc::new(MemoryStore::new());
    let digest = publish(store.clone(), &acme(), "v1").await;
    let rig = rig(store, Config::default());
    rig.faults.set(Fault::FailNext(2));
    let s = rig.catalogs.select(Some(&acme())).await;
    assert_eq!((s.source, s.stale), (Source::Tenant(digest), None));
    let delays: Vec<u64> = rig
        .recorder
        .all()
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::Retry { delay, .. } => Some(delay.as_millis() as u64),
            _ => None,
        })
        .collect();
    // 50 ms, then 100 ms, each plus jitter of up to as much again.
    assert_eq!(delays.len(), 2, "{delays:?}");
    assert!((50..100).contains(&delays[0]), "{delays:?}");
    assert!((100..200).contains(&delays[1]), "{delays:?}");
    assert_eq!(rig.catalogs.breaker_state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn concurrent_identical_misses_make_one_read_and_one_load() {
    let store = Arc::new(MemoryStore::new());
    let digest = publish(store.clone(), &acme(), "v1").await;
    let rig = rig(store, Config::default());
    rig.faults.set(Fault::Slow(Duration::from_millis(100)));
    let tenant = acme();
    let answers = join_all((0..50).map(|_| rig.catalogs.select(Some(&tenant)))).await;
    assert_eq!(rig.faults.calls("get tenants/acme/active"), 1);
    assert_eq!(
        rig.faults
            .calls(&format!("get tenants/acme/catalogs/{digest}")),
        1
    );
    let loads = rig
        .recorder
        .all()
        .iter()
        .filter(|(_, e)| matches!(e, Event::Loaded { .. }))
        .count();
    assert_eq!(loads, 1);
    let misses = answers
        .iter()
        .filter(|s| s.lookup == Some(Lookup::Miss))
        .count();
    let joined = answers
        .iter()
        .filter(|s| s.lookup == Some(Lookup::Coalesced))
        .count();
    assert_eq!((misses, joined), (1, 49));
    assert!(
        answers
            .iter()
            .all(|s| s.source == Source::Tenant(digest.clone()))
    );
    // All share one catalog in memory.
    let first = &*answers[0].catalog as *const _;
    assert!(answers.iter().all(|s| std::ptr::eq(&*s.catalog, first)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_coalesce_across_threads_on_the_real_clock() {
    let store = Arc::new(MemoryStore::new());
    let digest = publish(store.clone(), &acme(), "v1").await;
    let rig = rig(store, Config::default());
    rig.faults.set(Fault::Slow(Duration::from_millis(50)));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let catalogs = rig.catalogs.clone();
            tokio::spawn(async move { catalogs.select(Some(&acme())).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    assert_eq!(rig.faults.calls("get tenants/acme/active"), 1);
    assert_eq!(
        rig.faults
            .calls(&format!("get tenants/acme/catalogs/{digest}")),
        1
    );
    assert!(answers.iter().all(|s| s.stale.is_none()));
    assert_eq!(
        answers
            .iter()
            .filter(|s| s.lookup == Some(Lookup::Miss))
            .count(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn the_bulkhead_turns_the_excess_away_at_once() {
    let store = Arc::new(MemoryStore::new());
    let tenants: Vec<TenantId> = (0..5)
        .map(|i| TenantId::parse(&format!("t{i}")).unwrap())
        .collect();
    for t in &tenants {
        publish(store.clone(), t, "v1").await;
    }
    let config = Config {
        max_reads_in_flight: 2,
        ..Config::default()
    };
    let rig = rig(store, config);
    rig.faults.set(Fault::Slow(Duration::from_millis(500)));
    let started = rig.host.now_ms();
    let host = rig.host.clone();
    let answers = join_all(tenants.iter().map(|t| {
        let catalogs = rig.catalogs.clone();
        let host = host.clone();
        async move {
            let s = catalogs.select(Some(t)).await;
            (s, host.now_ms() - started)
        }
    }))
    .await;
    let (turned_away, served): (Vec<_>, Vec<_>) = answers
        .iter()
        .partition(|(s, _)| s.stale == Some(StaleReason::BulkheadFull));
    assert_eq!((turned_away.len(), served.len()), (3, 2));
    assert!(
        turned_away
            .iter()
            .all(|(s, ms)| *ms == 0 && s.source == Source::Embedded)
    );
    // The two admitted read the pointer, then the artifact: two slow reads each.
    assert!(
        served
            .iter()
            .all(|(s, ms)| *ms == 1000 && s.stale.is_none()),
        "{served:?}"
    );
    let full = rig
        .recorder
        .all()
        .iter()
        .filter(|(_, e)| matches!(e, Event::BulkheadFull { .. }))
        .count();
    assert_eq!(full, 3);
}

#[tokio::test(start_paused = true)]
async fn a_pointer_to_an_artifact_not_in_the_store_answers_stale_until_it_appears() {
    // Workers KV can show a new pointer at a location before the artifact it names.
    let store = Arc::new(MemoryStore::new());
    let digest = Digest::of(b"not yet here");
    let pointer = format!("{{\"active\":\"{digest}\",\"history\":[]}}");
    store
        .put("tenants/acme/active", pointer.as_bytes())
        .await
        .unwrap();
    let rig = rig(store.clone(), Config::default());
    let s = rig.catalogs.select(Some(&acme())).await;
    assert_stale(&s, &Source::Embedded, StaleReason::ArtifactMissing);
    // Believed for one pointer TTL, without reading the store again.
    let reads = rig.faults.count("get ");
    rig.catalogs.select(Some(&acme())).await;
    assert_eq!(rig.faults.count("get "), reads);
    assert!(
        rig.recorder
            .all()
            .iter()
            .any(|(_, e)| matches!(e, Event::Refused { .. }))
    );
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_pointer_answers_stale() {
    let store = Arc::new(MemoryStore::new());
    store
        .put("tenants/acme/active", b"{\"active\": 7}")
        .await
        .unwrap();
    let rig = rig(store, Config::default());
    let s = rig.catalogs.select(Some(&acme())).await;
    assert_stale(&s, &Source::Embedded, StaleReason::PointerInvalid);
    assert_eq!(rig.catalogs.breaker_state(), BreakerState::Closed);
}

#[test]
fn the_serving_and_admin_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let catalogs = TenantCatalogs::new(
        MemoryStore::new(),
        small_base(),
        Arc::new(NoHost),
        Config::default(),
        None,
    );
    let tenant = acme();
    send(&catalogs.select(Some(&tenant)));
    send(&catalogs.upload(&tenant, b""));
    send(&catalogs.activate(&tenant, &Digest::of(b"")));
    send(&catalogs.rollback(&tenant));
}

/// A host that is never asked anything (the futures above are only built, not run).
struct NoHost;

impl Host for NoHost {
    fn now_ms(&self) -> u64 {
        0
    }
    fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
        Box::pin(std::future::ready(()))
    }
    fn random_u64(&self) -> u64 {
        0
    }
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_load_gives_its_bulkhead_place_back() {
    // A client that disconnects mid-load drops the only future waiting on the flight:
    // the load goes with it, and its place in the bulkhead is free for the next request.
    let store = Arc::new(MemoryStore::new());
    let other = TenantId::parse("other").unwrap();
    publish(store.clone(), &acme(), "v1").await;
    let digest = publish(store.clone(), &other, "v2").await;
    let config = Config {
        max_reads_in_flight: 1,
        ..Config::default()
    };
    let rig = rig(store, config);
    rig.faults.set(Fault::Slow(Duration::from_millis(500)));
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        rig.catalogs.select(Some(&acme())),
    )
    .await;
    assert!(gave_up.is_err());
    let s = rig.catalogs.select(Some(&other)).await;
    assert_eq!((s.source, s.stale), (Source::Tenant(digest), None));
    // And the abandoned tenant's next request starts a new load rather than waiting on
    // the dropped one.
    let s = rig.catalogs.select(Some(&acme())).await;
    assert_eq!((s.stale, s.lookup), (None, Some(Lookup::Miss)));
}
