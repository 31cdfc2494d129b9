//! Sending a recorded request: through `aicr-api` in-process (with the case's server
//! configuration), or over HTTP/1.1 to a live server with the target sent byte for byte
//! (no URL normalisation, so malformed targets reach the server as recorded).

use crate::case::{Case, header_value};
use aicr_api::{Api, Config, RequestContext};
use aicr_recipe::Catalog;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An answer, whichever way it came.
#[derive(Debug, Clone)]
pub struct Actual {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Actual {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

pub enum Transport {
    InProcess(Box<Catalog>),
    Http { host: String, addr: String },
}

fn context() -> RequestContext {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut random = [0u8; 16];
    random.copy_from_slice(&(nanos ^ 0x5bd1_e995_5bd1_e995_5bd1_e995_5bd1_e995).to_le_bytes());
    RequestContext {
        unix_nanos: nanos,
        random,
    }
}

impl Transport {
    pub fn in_process(dir: &Path) -> Result<Transport, String> {
        let loaded = aicr_catalog::load_dir(dir, "conformance").map_err(|errors| {
            format!(
                "catalog {} is broken:
{}",
                dir.display(),
                aicr_catalog::describe(&errors)
            )
        })?;
        Ok(Transport::InProcess(Box::new(loaded.catalog)))
    }

    pub fn http(url: &str) -> Result<Transport, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--url {url:?}: only http://host:port is supported"))?;
        let host = rest.split('/').next().unwrap_or(rest).to_owned();
        let addr = if host.contains(':') {
            host.clone()
        } else {
            format!("{host}:80")
        };
        Ok(Transport::Http { host, addr })
    }

    pub fn send(&self, case: &Case) -> Result<Actual, String> {
        let req = &case.request;
        let body = req.body_bytes()?;
        match self {
            Transport::InProcess(catalog) => {
                let config = Config::from_vars(|k| case.server_env.get(k).cloned())
                    .map_err(|e| e.to_string())?;
                let api = Api::new(catalog, config);
                let mut builder = http::Request::builder()
                    .method(req.method.as_str())
                    .uri(req.target.as_str());
                for (k, v) in &req.headers {
                    builder = builder.header(k, v);
                }
                let request = builder
                    .body(body)
                    .map_err(|e| format!("cannot build request: {e}"))?;
                let response = api.handle(&request, &context());
                Ok(Actual {
                    status: response.status().as_u16(),
                    headers: response
                        .headers()
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_owned(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            )
                        })
                        .collect(),
                    body: response.into_body(),
                })
            }
            Transport::Http { host, addr } => http_exchange(host, addr, case, &body),
        }
    }
}

fn http_exchange(host: &str, addr: &str, case: &Case, body: &[u8]) -> Result<Actual, String> {
    let req = &case.request;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n",
        req.method, req.target
    );
    for (k, v) in &req.headers {
        if !k.eq_ignore_ascii_case("host")
            && !k.eq_ignore_ascii_case("connection")
            && !k.eq_ignore_ascii_case("content-length")
        {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if !body.is_empty() || matches!(req.method.as_str(), "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body))
        .map_err(|e| format!("send: {e}"))?;
    let raw =
        read_response(&mut stream, req.method == "HEAD").map_err(|e| format!("receive: {e}"))?;
    parse_response(&raw)
}

/// Reads one response: to EOF, or as soon as it is complete by its framing (end of headers
/// for HEAD, 204 and 304; else the `Content-Length` bytes). workerd keeps a connection open
/// about 5 s after answering despite `Connection: close`, so waiting for EOF alone would cost
/// 5 s a case.
fn read_response(stream: &mut TcpStream, head_request: bool) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let status = head.split_whitespace().nth(1).unwrap_or_default();
        if head_request || status == "204" || status == "304" {
            return Ok(raw);
        }
        let length = head
            .split("\r\n")
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        if length.is_some_and(|len| raw.len() >= split + 4 + len) {
            return Ok(raw);
        }
    }
}

fn parse_response(raw: &[u8]) -> Result<Actual, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| "incomplete HTTP response (no end of headers)".to_owned())?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Actual {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk header")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_chunked_responses() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        let actual = super::parse_response(raw).unwrap();
        assert_eq!(actual.status, 200);
        assert_eq!(actual.body, b"{\"a\":1}");
        assert_eq!(actual.header("content-type"), Some("application/json"));
    }
}
