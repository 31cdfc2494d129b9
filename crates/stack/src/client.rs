//! Who is calling, as far as the connection can tell: what the host knows about the
//! connection ([`Connection`]) and the client address limits are keyed on.
//!
//! `X-Forwarded-For` is a request header: any client can write any address into it. It
//! names the client only when the connection comes from a proxy the operator trusts
//! (`AICR_TRUSTED_PROXIES`), and then only the addresses those proxies appended: the list
//! is read from the right, skipping trusted proxies, and the first other address is the
//! client. Everything left of it may be forged and is ignored.

use crate::policy::Policy;
use http::Request;
use std::net::IpAddr;

/// What the host knows about the connection a request arrived on. Hosts put it in the
/// request's extensions; without it the client is unknown (and shares one limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Connection {
    /// The peer's address: the socket's on a server, `CF-Connecting-IP` on the edge
    /// (the platform sets it; clients cannot), none where the host does not say
    /// (wasi:http 0.2 has no peer address).
    pub peer: Option<IpAddr>,
}

/// The client's address for rate limiting: the peer's, or, when the peer is a trusted
/// proxy, the last untrusted address it forwarded.
pub fn client_ip<B>(request: &Request<B>, policy: &Policy) -> Option<IpAddr> {
    let peer = request.extensions().get::<Connection>()?.peer?;
    let trusted = |ip: &IpAddr| policy.trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in request.headers().get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return Some(peer);
        };
        for hop in value.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            match hop.parse() {
                Ok(ip) => hops.push(ip),
                // An unreadable hop: nothing left of it can be trusted either.
                Err(_) => return Some(peer),
            }
        }
    }
    Some(
        hops.iter()
            .rev()
            .find(|ip| !trusted(ip))
            .or(hops.first())
            .copied()
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(request_peer: &str, xff: &[&str], trusted: &str) -> Option<IpAddr> {
        let policy =
            Policy::from_vars(|k| (k == "AICR_TRUSTED_PROXIES").then(|| trusted.into())).unwrap();
        let mut builder = Request::builder();
        for h in xff {
            builder = builder.header("x-forwarded-for", *h);
        }
        let mut request = builder.body(()).unwrap();
        request.extensions_mut().insert(Connection {
            peer: Some(request_peer.parse().unwrap()),
        });
        client_ip(&request, &policy)
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let addr = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // An untrusted peer's header is ignored, whatever it says.
        assert_eq!(
            ip("203.0.113.9", &["1.2.3.4"], "10.0.0.0/8"),
            addr("203.0.113.9")
        );
        // Through one trusted proxy: the address it appended.
        assert_eq!(
            ip("10.0.0.2", &["198.51.100.7"], "10.0.0.0/8"),
            addr("198.51.100.7")
        );
        // A client prepending a forged hop does not change the key.
        assert_eq!(
            ip("10.0.0.2", &["1.2.3.4, 198.51.100.7"], "10.0.0.0/8"),
            addr("198.51.100.7")
        );
        // Chained trusted proxies are skipped from the right.
        assert_eq!(
            ip("10.0.0.2", &["198.51.100.7", "10.0.0.3"], "10.0.0.0/8"),
            addr("198.51.100.7")
        );
        // Garbage in the header: the peer.
        assert_eq!(
            ip("10.0.0.2", &["nonsense"], "10.0.0.0/8"),
            addr("10.0.0.2")
        );
    }
}
