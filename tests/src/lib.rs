//! End-to-end test support: a real `warden serve` process on a free loopback port
//! (stopped when dropped) and a minimal HTTP/1.1 client over `TcpStream`, so the
//! tests speak to the server exactly as a gateway does.

#[cfg(unix)]
pub mod bench;
pub mod dpop;
pub mod gateway;
pub mod idp;
pub mod oidc;
pub mod otlp;
pub mod pki;
pub mod registry;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `warden` binary next to the test executable (built by `cargo test --workspace`),
/// building it when it is missing. `cargo test -p warden-e2e` alone does not rebuild it:
/// run `cargo build -p warden-cli` first after changing the service.
pub fn warden_bin() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().and_then(Path::parent).ok_or("no target directory")?;
    let bin = dir.join(format!("warden{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let ok = Command::new(cargo).args(["build", "-p", "warden-cli", "--bin", "warden"]).status();
        if !ok.is_ok_and(|s| s.success()) {
            return Err("cannot build the `warden` binary".to_owned());
        }
    }
    Ok(bin)
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> Result<u16, String> {
    free_ports::<1>().map(|[p]| p)
}

/// `N` distinct free loopback ports (all held until every one is found).
pub fn free_ports<const N: usize>() -> Result<[u16; N], String> {
    let mut held = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        *port = l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())?;
        held.push(l);
    }
    Ok(ports)
}

/// How to tell that a starting server is up.
#[derive(Clone, Copy, Debug)]
pub enum Probe {
    /// `GET /healthz` over plain HTTP answers 200.
    Http,
    /// Both ports accept TCP connections (for TLS listeners; the policy is
    /// loaded before the listeners open).
    Tcp,
}

/// `warden keys generate FILE` (ES256), as an operator makes a signing key:
/// whether it succeeded, and what it printed.
pub fn generate_key(file: &Path) -> Result<(bool, String), String> {
    let out = Command::new(warden_bin()?)
        .args(["keys", "generate"])
        .arg(file)
        .output()
        .map_err(|e| format!("cannot run warden: {e}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

/// The `[issuer]` section of a service configuration: `url` and its `keys`,
/// each a key file and its state (`active`, `next`, `retired`).
pub fn issuer_section(url: &str, keys: &[(&Path, &str)]) -> String {
    let mut text = format!("[issuer]\nurl = \"{url}\"\n");
    for (file, state) in keys {
        text.push_str(&format!("\n[[issuer.keys]]\nfile = \"{}\"\nstate = \"{state}\"\n", file.display()));
    }
    text
}

/// A running `warden serve`.
pub struct Warden {
    child: Child,
    /// Its HTTP address.
    pub http: SocketAddr,
    /// Its gRPC address.
    pub grpc: SocketAddr,
}

impl Warden {
    /// Starts `warden serve --policies DIR` with `extra` arguments and waits until
    /// `/healthz` answers (at most 30 s).
    pub fn start(policies: &Path, extra: &[&str]) -> Result<Warden, String> {
        Warden::start_with(policies, extra, Probe::Http)
    }

    /// Starts `warden serve` and waits (at most 30 s) until `probe` says it is up.
    pub fn start_with(policies: &Path, extra: &[&str], probe: Probe) -> Result<Warden, String> {
        let [http_port] = free_ports::<1>()?;
        Warden::start_on(policies, http_port, extra, probe)
    }

    /// Starts `warden serve` with its HTTP listener on `http_port` (a port the
    /// caller must know first, say for a URL in its configuration).
    pub fn start_on(policies: &Path, http_port: u16, extra: &[&str], probe: Probe) -> Result<Warden, String> {
        // Two at once, so that one of them differs from `http_port`.
        let grpc_port = free_ports::<2>()?.into_iter().find(|&p| p != http_port).unwrap_or_default();
        let http: SocketAddr = ([127, 0, 0, 1], http_port).into();
        let grpc: SocketAddr = ([127, 0, 0, 1], grpc_port).into();
        let child = Command::new(warden_bin()?)
            .arg("serve")
            .arg("--policies")
            .arg(policies)
            .arg("--http")
            .arg(http.to_string())
            .arg("--grpc")
            .arg(grpc.to_string())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start warden: {e}"))?;
        let mut w = Warden { child, http, grpc };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let up = match probe {
                Probe::Http => w.get("/healthz").is_ok_and(|r| r.status == 200),
                Probe::Tcp => {
                    [w.http, w.grpc].iter().all(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok())
                }
            };
            if up {
                return Ok(w);
            }
            if let Ok(Some(status)) = w.child.try_wait() {
                return Err(format!("warden exited at start: {status}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("warden did not become healthy in 30 s".to_owned())
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Response, String> {
        request(self.http, "GET", path, &[], None)
    }

    /// `POST path` with a JSON body.
    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<Response, String> {
        request(self.http, "POST", path, &[("content-type", "application/json")], Some(body.to_string().as_bytes()))
    }

    /// `(allow, reason)` of `GET https://HOST/PATH` with `token` as its bearer
    /// token, asked through `POST /v1/check`.
    pub fn bearer_check(&self, host: &str, path: &str, token: &str) -> Result<(bool, String), String> {
        let check = serde_json::json!({"request": {"method": "GET", "scheme": "https", "host": host, "path": path,
            "headers": {"authorization": format!("Bearer {token}")}}});
        let d = self.post_json("/v1/check", &check)?.json()?;
        match (d["allow"].as_bool(), d["reason"].as_str()) {
            (Some(allow), Some(reason)) => Ok((allow, reason.to_owned())),
            _ => Err(format!("not a decision: {d}")),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's resident memory in KiB (`VmRSS` from `/proc`), where there is a `/proc`.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Sends a signal to the process (Unix).
    pub fn signal(&self, name: &str) -> bool {
        send_signal(self.child.id(), name, false)
    }

    /// Asks the process to stop (SIGTERM) and waits up to 10 s; the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Warden {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends the signal `name` (`TERM`, `KILL`, `HUP`, `STOP`, `CONT`) to process
/// `pid`, or to its whole process group; whether it was delivered.
pub fn send_signal(pid: u32, name: &str, group: bool) -> bool {
    use rustix::process::{Pid, Signal, kill_process, kill_process_group};
    let signal = match name {
        "TERM" => Signal::TERM,
        "KILL" => Signal::KILL,
        "HUP" => Signal::HUP,
        "STOP" => Signal::STOP,
        "CONT" => Signal::CONT,
        _ => return false,
    };
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else { return false };
    if group { kill_process_group(pid, signal).is_ok() } else { kill_process(pid, signal).is_ok() }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body)
            .map_err(|e| format!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request with `Connection: close`; reads the whole answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.map_or(0, <[u8]>::len)));
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    if let Some(b) = body {
        s.write_all(b).map_err(|e| e.to_string())?;
    }
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    parse_response(&raw)
}

/// Parses a whole HTTP/1.1 response (chunked bodies joined).
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status =
        lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).ok_or("no status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body)?;
    }
    Ok(Response { status, headers, body })
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").ok_or("bad chunk")?;
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..line_end]).trim(), 16).map_err(|e| e.to_string())?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(b.get(..size).ok_or("short chunk")?);
        b = b.get(size + 2..).ok_or("short chunk")?;
    }
}

/// Copies a directory tree (policy sets into a temporary directory).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The repository's `policies/` directory.
pub fn policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

/// A real `redis-server` on a loopback port of its own, without persistence
/// (killed when dropped). `./test.sh` installs the Debian package.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port.
    pub fn start() -> Result<RedisServer, String> {
        RedisServer::start_on(free_port()?)
    }

    /// Starts `redis-server` on `port` and waits (at most 10 s) until it answers `PING`.
    pub fn start_on(port: u16) -> Result<RedisServer, String> {
        let bin = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("redis-server"));
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start `redis-server` ({e}): the shared rate-limit tests run a real Redis. \
                     `./test.sh` installs it (`apt-get install -y redis-server` on Debian)"
                )
            })?;
        let mut server = RedisServer { child: Some(child), port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if server.ping() {
                return Ok(server);
            }
            if let Some(Ok(Some(status))) = server.child.as_mut().map(Child::try_wait) {
                return Err(format!("redis-server exited at start: {status}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("redis-server did not answer PING in 10 s".to_owned())
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Answers `PING` with `PONG`.
    pub fn ping(&self) -> bool {
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    /// Sends a signal to the server (Unix): `STOP` freezes it with its port open
    /// (a Redis that accepts and never answers), `CONT` thaws it.
    pub fn signal(&self, name: &str) -> bool {
        self.child.as_ref().is_some_and(|c| send_signal(c.id(), name, false))
    }

    /// Kills the server and waits for it to exit (its port is free again).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // A frozen server would not die of SIGKILL any later, but thaw it anyway.
        self.signal("CONT");
        self.stop();
    }
}
