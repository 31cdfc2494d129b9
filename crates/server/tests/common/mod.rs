//! The real `aicr-server` binary on 127.0.0.1, and a plain HTTP/1.1 client for it.
//!
//! Each server listens on ports the system picks (`PORT=0`, `AICR_ADMIN_PORT=0`), read
//! back from its `listening` log lines, so tests running in parallel never race for a
//! port. Its environment is exactly what the test gives (plus those ports), its stderr is
//! kept line by line for the log assertions, and it is killed when the handle drops (or
//! when the test process dies).

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_aicr-server");

/// How long a server may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Server {
    child: Child,
    pub port: u16,
    pub admin_port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

fn spawn(env: &[(&str, &str)]) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut cmd = Command::new(BINARY);
    cmd.env_clear()
        .env("PORT", "0")
        .env("AICR_ADMIN_PORT", "0")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("start aicr-server");
    let stderr = child.stderr.take().expect("piped stderr");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    (child, lines)
}

impl Server {
    /// Starts a server with `env` and waits until it serves.
    pub fn start(env: &[(&str, &str)]) -> Server {
        let (child, lines) = spawn(env);
        let mut server = Server {
            child,
            port: 0,
            admin_port: 0,
            lines,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            for line in server.logs() {
                if line.contains("\"message\":\"listening\"") {
                    let log: Value = serde_json::from_str(&line).unwrap();
                    let port: u16 = log["address"]
                        .as_str()
                        .and_then(|a| a.rsplit(':').next())
                        .and_then(|p| p.parse().ok())
                        .expect("listening line has an address");
                    match log["listener"].as_str() {
                        Some("api") => server.port = port,
                        Some("admin") => server.admin_port = port,
                        other => panic!("unknown listener {other:?}"),
                    }
                }
            }
            if server.port != 0
                && server.admin_port != 0
                && server
                    .logs()
                    .iter()
                    .any(|l| l.contains("\"message\":\"serving\""))
            {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "aicr-server exited at start ({status}):\n{}",
                    server.logs().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "aicr-server did not start:\n{}",
                server.logs().join("\n")
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs a server expected to refuse its configuration: its exit status and log.
    pub fn refused(env: &[(&str, &str)]) -> (ExitStatus, Vec<String>) {
        let (mut child, lines) = spawn(env);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (status, lines.lock().unwrap().clone());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "aicr-server kept running:\n{}",
                    lines.lock().unwrap().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn admin_addr(&self) -> String {
        format!("127.0.0.1:{}", self.admin_port)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The parsed log lines with `target`.
    pub fn logs_of(&self, target: &str) -> Vec<Value> {
        self.logs()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["target"] == target)
            .collect()
    }

    /// Waits until a log line satisfies `found`; the line, or a panic with the log.
    pub fn wait_for_log(&self, what: &str, found: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = self
                .logs()
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|v| found(v))
            {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no log line {what}:\n{}",
                self.logs().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid touches no memory.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, waiting at most `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP answer (the HTTP test client's type, shared with the worker's tests).
pub use aicr_worker_e2e::client::Answer;

/// The request head for `method target` with `headers`, closing the connection after.
pub fn head(method: &str, target: &str, headers: &[(&str, &str)], body_len: usize) -> String {
    let mut text =
        format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    if body_len > 0 || matches!(method, "POST" | "PUT") {
        text.push_str(&format!("Content-Length: {body_len}\r\n"));
    }
    text.push_str("\r\n");
    text
}

/// Reads an answer to EOF (the server closes: `Connection: close`).
pub fn read_answer(stream: &mut impl Read) -> Answer {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A TLS peer that closes without close_notify, or a reset after the answer.
            Err(_) if !raw.is_empty() => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    parse(&raw)
}

pub fn parse(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// One request over a new plain connection.
pub fn call(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(head(method, target, headers, body.len()).as_bytes())
        .unwrap();
    stream.write_all(body).unwrap();
    read_answer(&mut stream)
}

pub fn get(addr: &str, target: &str) -> Answer {
    call(addr, "GET", target, &[], b"")
}

/// A tenants document with one key per name (`admin` tenants flagged), minted under
/// [`SECRET`]; the keys come back in the same order.
pub const SECRET: &str = "server-tests-secret-0123456789abcdef";

pub fn tenants(names: &[(&str, bool)]) -> (String, Vec<String>) {
    let mut entries = Vec::new();
    let mut keys = Vec::new();
    for (i, (name, admin)) in names.iter().enumerate() {
        let mut random = [0u8; 38];
        random[0] = i as u8;
        random[1] = (i >> 8) as u8;
        random[2] = 0xa5;
        let minted = aicr_stack::keys::mint(&random, SECRET.as_bytes());
        entries.push(format!(
            r#"{{"name":"{name}","admin":{admin},"keys":[{{"id":"{}","hash":"{}"}}]}}"#,
            minted.id, minted.hash
        ));
        keys.push(minted.key);
    }
    (format!(r#"{{"tenants":[{}]}}"#, entries.join(",")), keys)
}
