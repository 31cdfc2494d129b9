//! Native TLS with certificates made here (rcgen): served, HSTS sent, and reloaded when
//! the files change, a broken pair being refused while the working one stays.

mod common;

use common::{Answer, Server};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A CA and a `localhost` certificate it signed, as PEM.
struct Pair {
    ca: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
}

fn pair(name: &str) -> Pair {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("test CA {name}"));
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    Pair {
        ca: ca.der().clone(),
        cert_pem: leaf.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn write(dir: &Path, cert: &str, key: &str) {
    // As a secret update does: new files, then renamed into place.
    for (name, text) in [("tls.crt", cert), ("tls.key", key)] {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

/// GET `target` over TLS trusting only `ca`; the handshake's failure as an error.
fn get_tls(addr: &str, ca: &CertificateDer<'static>, target: &str) -> Result<Answer, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connection =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    stream
        .write_all(common::head("GET", target, &[], 0).as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    match std::io::Read::read_to_end(&mut stream, &mut raw) {
        Ok(_) => {}
        Err(e) if raw.is_empty() => return Err(e.to_string()),
        Err(_) => {}
    }
    Ok(common::parse(&raw))
}

#[test]
fn tls_serves_with_hsts_and_reloads_a_changed_pair() {
    let dir = std::env::temp_dir().join(format!("aicr-server-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let first = pair("one");
    write(&dir, &first.cert_pem, &first.key_pem);
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let server = Server::start(&[
        ("AICR_TLS_CERT", cert.to_str().unwrap()),
        ("AICR_TLS_KEY", key.to_str().unwrap()),
        ("AICR_TLS_RELOAD_SECONDS", "1"),
    ]);
    let addr = server.addr();
    let answer = get_tls(&addr, &first.ca, "/health").expect("TLS with the first pair");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("strict-transport-security"),
        Some(aicr_stack::HSTS)
    );
    assert!(server.logs().iter().any(|l| l.contains("\"tls\":true")));
    // Plain HTTP on the TLS port gets nothing it can read as an answer.
    let mut plain = TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(common::head("GET", "/health", &[], 0).as_bytes())
        .unwrap();
    let mut raw = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut raw);
    assert!(!raw.starts_with(b"HTTP/1.1 200"), "{raw:?}");

    // A half-updated pair (new certificate, old key) is refused; the old pair stays.
    let second = pair("two");
    write(&dir, &second.cert_pem, &first.key_pem);
    server.wait_for_log("refusing the mismatched pair", |l| {
        l["level"] == "ERROR"
            && l["error"]
                .as_str()
                .is_some_and(|e| e.contains("AICR_TLS_KEY"))
    });
    assert_eq!(get_tls(&addr, &first.ca, "/health").unwrap().status, 200);

    // The whole new pair: new handshakes present it, within a poll or two.
    write(&dir, &second.cert_pem, &second.key_pem);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(answer) = get_tls(&addr, &second.ca, "/health") {
            assert_eq!(answer.status, 200);
            break;
        }
        assert!(Instant::now() < deadline, "{}", server.logs().join("\n"));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        get_tls(&addr, &first.ca, "/health").is_err(),
        "the old certificate is gone"
    );
    server.wait_for_log("about the reload", |l| {
        l["message"] == "TLS certificate reloaded"
    });
    let _ = std::fs::remove_dir_all(&dir);
}
