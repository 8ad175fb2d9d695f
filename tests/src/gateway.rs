//! Real gateways for the end-to-end tests: finding the installed binary, running it in
//! a process group of its own (ended when dropped), an echoing upstream that records
//! what reached it, a per-run TLS certificate, and raw HTTP/1.1 requests over TCP or TLS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{Response, parse_response};

/// The public host of the bank's edge APIs, as the gateways serve it.
pub const HOST: &str = "api.bank.example";

/// The gateway binary, or a failure that says how to get it: these tests exist to
/// run the real thing, so a missing gateway must not pass quietly.
pub fn installed(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from));
    for dir in dirs {
        let bin = dir.join(name);
        if bin.is_file() {
            return bin;
        }
    }
    panic!(
        "`{name}` is not installed: the gateway tests run the real {name} in front of `warden serve`. \
         `./test.sh` installs it (`apt-get install -y nginx caddy` on Debian)."
    );
}

/// The nginx main file the tests wrap their `server`s in (docs/guides/nginx.md
/// shows it): `@WRITTEN_BY@`, `@ROOT@` and `@SERVERS@` are filled in.
const NGINX_MAIN: &str = include_str!("../../docs/guides/configs/nginx-main.conf");

/// The `location = /_warden` block of docs/guides/nginx.md: `@WARDEN@` is filled in.
const NGINX_FORWARD_AUTH: &str = include_str!("../../docs/guides/configs/nginx-forward-auth.conf");

/// `template` (a configuration of docs/guides/configs/) with each `@NAME@`
/// placeholder of `values` replaced by its value, in order. A placeholder the
/// template lacks, or one left unfilled, fails the test: the guides show these
/// files, and the tests run exactly them.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        let placeholder = format!("@{name}@");
        assert!(out.contains(&placeholder), "the template has no {placeholder}:\n{template}");
        out = out.replace(&placeholder, value);
    }
    let bytes = out.as_bytes();
    for (at, _) in out.match_indices('@') {
        let rest = &bytes[at + 1..];
        let n = rest.iter().take_while(|c| c.is_ascii_uppercase() || **c == b'_').count();
        let unfilled = n > 0 && rest.get(n) == Some(&b'@');
        assert!(!unfilled, "a placeholder is left unfilled:\n{out}");
    }
    out
}

/// A whole `nginx.conf` for one test run in `root` (pid, logs and temporary
/// files all there, one worker): `servers` goes inside `http { … }`.
pub fn nginx_conf(written_by: &str, root: &Path, servers: &str) -> String {
    let root = root.display().to_string();
    fill(NGINX_MAIN, &[("WRITTEN_BY", written_by), ("ROOT", root.as_str()), ("SERVERS", servers)])
}

/// The `location = /_warden` block that asks Warden's forward auth at
/// `warden` for every request (`auth_request /_warden;`), the way
/// docs/guides/nginx.md configures nginx.
pub fn nginx_forward_auth(warden: SocketAddr) -> String {
    nginx_forward_auth_with(warden, "")
}

/// [`nginx_forward_auth`] with more directives (`extra`, whole lines) at the end
/// of the block.
pub fn nginx_forward_auth_with(warden: SocketAddr, extra: &str) -> String {
    let warden = warden.to_string();
    let block = fill(NGINX_FORWARD_AUTH, &[("WARDEN", warden.as_str())]);
    let body = block
        .strip_suffix("    }\n")
        .expect("docs/guides/configs/nginx-forward-auth.conf ends with the block's closing `    }`");
    format!("{body}{extra}    }}\n")
}

/// nginx with `conf` (a file in `root`), in the foreground, its errors in
/// `root/error.log`.
pub fn nginx_command(root: &Path, conf: &Path) -> Command {
    let mut cmd = Command::new(installed("nginx"));
    cmd.arg("-e").arg(root.join("error.log")).arg("-p").arg(root).arg("-c").arg(conf).args(["-g", "daemon off;"]);
    cmd
}

/// A gateway process in a process group of its own (nginx forks workers), ended
/// with the whole group when dropped, also when a test fails.
pub struct Gateway {
    /// `nginx`, `caddy`: for messages.
    pub name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Gateway {
    /// Starts `cmd` (output to `log`) and waits until every one of `ports` accepts a
    /// connection (at most 15 s).
    pub fn start(name: &'static str, mut cmd: Command, log: PathBuf, ports: &[u16]) -> Gateway {
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut g = Gateway { name, child, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        for &port in ports {
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if let Ok(Some(status)) = g.child.try_wait() {
                    panic!("{name} exited at start ({status}):\n{}", g.log_text());
                }
                assert!(Instant::now() < deadline, "{name} does not listen on {addr} after 15 s:\n{}", g.log_text());
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        g
    }

    /// What the gateway wrote (its error log or its output).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (`TERM`, `KILL`) to the gateway's whole process group.
    pub fn signal_group(&self, signal: &str) {
        crate::send_signal(self.child.id(), signal, true);
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.signal_group("TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Whatever is left of the group (a worker that outlived its master, or a
        // gateway that ignored TERM) goes now.
        self.signal_group("KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The application behind the gateway: answers every request with 200 and the
/// request head it received as the body, and counts the requests.
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Upstream {
    /// Listens on a free loopback port until dropped.
    pub fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = echo(stream, &h);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Upstream { addr, hits, stop, thread: Some(thread) }
    }

    /// Requests that reached the upstream so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves one request on `s`: reads the head (and a `content-length` body), counts
/// it, answers 200 with the head as the body and closes.
fn echo(mut s: TcpStream, hits: &AtomicUsize) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf)?;
        if n == 0 || raw.len() > 64 * 1024 {
            return Ok(());
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = raw.len() - end - 4;
    while have < length {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        have += n;
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
        head.len()
    );
    s.write_all(answer.as_bytes())
}

/// What the upstream saw: its request line and headers (names lower-cased), from
/// the body of its answer.
pub struct Seen {
    /// `GET /path HTTP/1.1`.
    pub request_line: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    /// What the upstream echoed back in `r`'s body.
    pub fn of(r: &Response) -> Seen {
        let text = String::from_utf8_lossy(&r.body).into_owned();
        let mut lines = text.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Seen { request_line, headers }
    }

    /// Every value of the (lower-case) header `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// A per-run self-signed certificate for `api.bank.example` and a TLS client that
/// trusts only it.
pub struct Tls {
    /// The certificate (PEM), for the gateway.
    pub cert: PathBuf,
    /// Its private key (PEM), for the gateway.
    pub key: PathBuf,
    /// A client that trusts the certificate alone.
    pub client: Arc<rustls::ClientConfig>,
}

impl Tls {
    /// Writes the certificate and key into `dir`.
    pub fn new(dir: &Path) -> Tls {
        let ck = rcgen::generate_simple_self_signed(vec![HOST.to_owned()]).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ck.cert.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Tls { cert, key, client: Arc::new(client) }
    }
}

/// One `GET` with `Connection: close` and `Host: api.bank.example:PORT` over an open
/// stream (plain or TLS); the whole answer. A TLS peer closing without
/// `close_notify` after answering is not an error.
pub fn get_on(mut s: impl std::io::Read + std::io::Write, port: u16, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut head = format!("GET {path} HTTP/1.1\r\nhost: {HOST}:{port}\r\nconnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.flush().unwrap();
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => panic!("GET {path} on port {port}: {e}"),
    }
    parse_response(&raw).unwrap()
}

/// A connection to `127.0.0.1:port` with 10 s read and write timeouts.
pub fn tcp(port: u16) -> TcpStream {
    let s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// `GET path` over https to the gateway on `port` (SNI and `Host` `api.bank.example`).
pub fn https(tls: &Tls, port: u16, path: &str, headers: &[(&str, &str)]) -> Response {
    let name = rustls::pki_types::ServerName::try_from(HOST).unwrap();
    let conn = rustls::ClientConnection::new(tls.client.clone(), name).unwrap();
    get_on(rustls::StreamOwned::new(conn, tcp(port)), port, path, headers)
}

/// `GET path` over plain http to the gateway on `port`.
pub fn http(port: u16, path: &str, headers: &[(&str, &str)]) -> Response {
    get_on(tcp(port), port, path, headers)
}
