//! Native TLS (rustls, ring provider) from PEM files, reloaded while the server runs.
//!
//! Certificates are short-lived where they are managed well (cert-manager renews a
//! 90-day certificate every 60 days, a mesh every day), and a restart to pick one up would
//! drop connections. So the files' modification times and sizes are polled every
//! `AICR_TLS_RELOAD_SECONDS`; when either file changed, the pair is loaded again and, if
//! the key belongs to the certificate, new handshakes use it at once (connections already
//! open keep theirs). A pair that cannot be used (unreadable, not PEM, the key of another
//! certificate, a file half written) is logged and the previous one kept; it is tried again
//! when the files change again. A secret mounted by Kubernetes changes by a symlink swap,
//! which the polled metadata (of the link's target) sees.
//!
//! At start, a pair that cannot be used stops the server (exit 2), like any other setting.

use crate::config::{TlsFiles, invalid};
use aicr_api::ConfigError;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// The certificate new handshakes present; swapped on reload.
#[derive(Debug)]
pub struct Reloading {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// What was loaded: the pair and a fingerprint of its leaf certificate for the log.
pub struct Loaded {
    key: Arc<CertifiedKey>,
    pub fingerprint: String,
}

/// Loads and checks the pair in `files`; the error names the file's variable and why.
pub fn load(files: &TlsFiles) -> Result<Loaded, ConfigError> {
    let cert = || files.cert.display().to_string();
    let key = || files.key.display().to_string();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|blocks| blocks.collect::<Result<_, _>>())
        .map_err(|e| {
            invalid(
                "AICR_TLS_CERT",
                cert(),
                format!("a readable PEM certificate chain, leaf first ({e})"),
            )
        })?;
    let Some(leaf) = chain.first() else {
        return Err(invalid(
            "AICR_TLS_CERT",
            cert(),
            "a PEM certificate chain, leaf first (the file has no CERTIFICATE block)",
        ));
    };
    let fingerprint = hex::encode(Sha256::digest(leaf.as_ref()));
    let private = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        invalid(
            "AICR_TLS_KEY",
            key(),
            format!("a readable PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block; {e})"),
        )
    })?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&private).map_err(|e| {
        invalid(
            "AICR_TLS_KEY",
            key(),
            format!("an RSA, ECDSA or Ed25519 private key ({e})"),
        )
    })?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| {
        invalid(
            "AICR_TLS_KEY",
            key(),
            format!(
                "the private key of AICR_TLS_CERT's certificate ({}; {e})",
                cert()
            ),
        )
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        fingerprint,
    })
}

/// What identifies the files' current contents cheaply: modification times and sizes.
pub type Stamp = [(Option<SystemTime>, u64); 2];

pub fn stamp(files: &TlsFiles) -> Stamp {
    [&files.cert, &files.key].map(|path| match std::fs::metadata(path) {
        Ok(m) => (m.modified().ok(), m.len()),
        Err(_) => (None, 0),
    })
}

impl Reloading {
    pub fn new(loaded: Loaded) -> Arc<Reloading> {
        Arc::new(Reloading {
            current: RwLock::new(loaded.key),
        })
    }

    pub fn replace(&self, loaded: Loaded) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = loaded.key;
    }

    /// A server config presenting the current pair, HTTP/1.1 by ALPN.
    pub fn server_config(self: &Arc<Self>) -> Arc<ServerConfig> {
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map(|b| b.with_no_client_auth().with_cert_resolver(self.clone()))
                // ring supports every safe default protocol version.
                .expect("ring supports TLS 1.2 and 1.3");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}
