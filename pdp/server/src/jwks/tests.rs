//! Tests of the JWKS fetcher: limits on size, redirects and schemes, the cache shared across reloads, counters.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use super::*;

const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;

/// A tiny HTTP server on loopback: each connection's request head is read, then
/// `answer` gets the path and the stream. Returns the base URL.
fn server(answer: impl Fn(&str, &mut TcpStream) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let path = text.split(' ').nth(1).unwrap_or("").to_owned();
                answer(&path, &mut stream);
            });
        }
    });
    format!("http://{addr}")
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

fn fetcher(rt: &tokio::runtime::Runtime, timeout_ms: u64) -> HttpFetcher {
    let config = JwksConfig { timeout_ms, ..JwksConfig::default() };
    HttpFetcher::new(&config, rt.handle().clone(), FetchCounters::default()).unwrap()
}

#[test]
fn a_good_document_is_returned_counted_and_cached() {
    let rt = runtime();
    let base = server(|path, s| {
        if path == "/jwks.json" {
            respond(s, "200 OK", JWKS);
        } else {
            respond(s, "404 Not Found", "{}");
        }
    });
    let f = fetcher(&rt, 2_000);
    let url = format!("{base}/jwks.json");
    assert_eq!(f.cached(&url), None);
    let before = now_ms();
    assert_eq!(f.fetch(&url).unwrap(), JWKS.as_bytes());
    let (body, at) = f.cached(&url).unwrap();
    assert_eq!(body, JWKS.as_bytes());
    assert!(at >= before);
    assert_eq!((f.counters.fetched.get(), f.counters.failed.get()), (1, 0));

    // A 404 is a failure; the last good document stays cached under its URL.
    let err = f.fetch(&format!("{base}/gone.json")).unwrap_err();
    assert_eq!(err, format!("`{base}/gone.json`: the server answered 404 Not Found"));
    assert_eq!((f.counters.fetched.get(), f.counters.failed.get()), (1, 1));
    assert!(f.cached(&format!("{base}/gone.json")).is_none());
    assert!(f.cached(&url).is_some());
}

#[test]
fn an_endless_body_is_cut_off_while_it_is_read() {
    let rt = runtime();
    // No content length, and more bytes than any cap: a client that read the
    // whole body first would never finish (and would report a timeout).
    let base = server(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n");
        let chunk = vec![b' '; 64 * 1024];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) && s.write_all(&chunk).is_ok() {}
    });
    let f = fetcher(&rt, 10_000);
    let start = Instant::now();
    let err = f.fetch(&format!("{base}/big")).unwrap_err();
    assert!(err.ends_with(&format!("the document is larger than {MAX_JWKS_BYTES} bytes")), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    // A declared length over the cap is refused before reading.
    let base = server(|_, s| {
        let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", MAX_JWKS_BYTES + 1);
    });
    let err = f.fetch(&format!("{base}/big")).unwrap_err();
    assert!(err.ends_with("larger than 1048576 bytes"), "{err}");
    assert_eq!(f.counters.failed.get(), 2);
}

#[test]
fn a_server_that_never_answers_times_out() {
    let rt = runtime();
    let base = server(|_, s| {
        // Holds the connection open without a byte of answer.
        let mut sink = [0u8; 16];
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = s.read(&mut sink);
    });
    let f = fetcher(&rt, 300);
    let start = Instant::now();
    let err = f.fetch(&format!("{base}/jwks.json")).unwrap_err();
    assert!(err.contains("timed out"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
}

#[test]
fn garbage_and_empty_sets_are_refused() {
    let rt = runtime();
    let base = server(|path, s| match path {
        "/garbage" => respond(s, "200 OK", "<html>hello</html>"),
        "/truncated" => respond(s, "200 OK", r#"{"keys": [1, 2"#),
        _ => respond(s, "200 OK", r#"{"keys": []}"#),
    });
    let f = fetcher(&rt, 2_000);
    let err = f.fetch(&format!("{base}/garbage")).unwrap_err();
    assert!(err.contains("not acceptable JSON"), "{err}");
    let err = f.fetch(&format!("{base}/truncated")).unwrap_err();
    assert!(err.contains("not acceptable JSON"), "{err}");
    let err = f.fetch(&format!("{base}/empty")).unwrap_err();
    assert!(err.ends_with("the JWKS holds no usable key"), "{err}");
    assert_eq!((f.counters.fetched.get(), f.counters.failed.get()), (0, 3));
    assert!(f.cached(&format!("{base}/garbage")).is_none());
}

#[test]
fn only_http_urls_and_no_secrets_in_errors() {
    let rt = runtime();
    let f = fetcher(&rt, 1_000);
    for url in ["file:///etc/passwd", "ftp://127.0.0.1/jwks.json", "gopher://x"] {
        let err = f.fetch(url).unwrap_err();
        assert!(err.ends_with("only `http` and `https` URLs are fetched"), "{err}");
    }
    assert!(f.fetch("not a url").unwrap_err().contains("not a URL"));
    // Credentials and query never reach the error (nor so the log).
    let base = server(|_, s| respond(s, "401 Unauthorized", "{}"));
    let url = base.replace("http://", "http://user:hunter2@") + "/jwks.json?token=s3cret#frag";
    let err = f.fetch(&url).unwrap_err();
    assert_eq!(err, format!("`{base}/jwks.json`: the server answered 401 Unauthorized"));
    // Nothing listens on a port just released: a connection error, still without secrets.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = f.fetch(&format!("http://u:hunter2@127.0.0.1:{port}/j?k=s3cret")).unwrap_err();
    assert!(err.contains("cannot connect"), "{err}");
    assert!(!err.contains("hunter2") && !err.contains("s3cret"), "{err}");
}

#[test]
fn redirects_are_few() {
    let rt = runtime();
    let base = server(|path, s| match path {
        "/moved" => {
            let _ = s.write_all(
                b"HTTP/1.1 302 Found\r\nlocation: /jwks.json\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            );
        }
        "/jwks.json" => respond(s, "200 OK", JWKS),
        _ => {
            let _ =
                s.write_all(b"HTTP/1.1 302 Found\r\nlocation: /loop\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let f = fetcher(&rt, 2_000);
    assert_eq!(f.fetch(&format!("{base}/moved")).unwrap(), JWKS.as_bytes());
    let err = f.fetch(&format!("{base}/loop")).unwrap_err();
    assert!(err.contains("redirect refused"), "{err}");
    let none = JwksConfig { max_redirects: 0, ..JwksConfig::default() };
    let f = HttpFetcher::new(&none, rt.handle().clone(), FetchCounters::default()).unwrap();
    assert!(f.fetch(&format!("{base}/moved")).unwrap_err().contains("redirect refused"));
}

#[test]
fn a_bad_ca_file_is_an_error_at_start() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let missing = JwksConfig { ca_file: Some(dir.path().join("nope.pem")), ..JwksConfig::default() };
    let err = HttpFetcher::new(&missing, rt.handle().clone(), FetchCounters::default()).err().unwrap();
    assert!(err.starts_with("cannot read `jwks.ca_file`"), "{err}");
    std::fs::write(dir.path().join("empty.pem"), "no certificates here\n").unwrap();
    let empty = JwksConfig { ca_file: Some(dir.path().join("empty.pem")), ..JwksConfig::default() };
    let err = HttpFetcher::new(&empty, rt.handle().clone(), FetchCounters::default()).err().unwrap();
    assert!(err.contains("holds no certificate"), "{err}");
}

/// An HTTPS JWKS server on loopback (`localhost`) whose certificate a fresh CA
/// signed; returns the port and the CA's PEM.
fn https_server(rt: &tokio::runtime::Runtime) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "warden test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &rcgen::Issuer::from_params(&ca_params, &ca_key))
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let (mut head, mut buf) = (Vec::new(), [0u8; 1024]);
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                let answer =
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{JWKS}", JWKS.len());
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, ca.pem())
}

#[test]
fn https_to_a_private_issuer_needs_its_ca_in_ca_file() {
    let rt = runtime();
    let (port, ca_pem) = https_server(&rt);
    let url = format!("https://localhost:{port}/jwks.json");
    // The system's roots do not know the test CA.
    let err = fetcher(&rt, 2_000).fetch(&url).unwrap_err();
    assert!(err.contains("cannot connect") && err.to_lowercase().contains("certificate"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
    let config = JwksConfig { ca_file: Some(dir.path().join("ca.pem")), timeout_ms: 2_000, ..JwksConfig::default() };
    let f = HttpFetcher::new(&config, rt.handle().clone(), FetchCounters::default()).unwrap();
    assert_eq!(f.fetch(&url).unwrap(), JWKS.as_bytes());
}

#[test]
fn a_repeated_failure_is_logged_once_a_minute() {
    let mut quiet = Quiet::default();
    let t0 = Instant::now();
    let down = || vec![("https://idp.example".to_owned(), "`http://x/`: cannot connect".to_owned())];
    quiet.report(down(), t0);
    assert_eq!(quiet.logged.len(), 1);
    quiet.report(down(), t0 + Duration::from_secs(30));
    assert_eq!(quiet.logged.values().next(), Some(&t0), "not logged again within the minute");
    quiet.report(down(), t0 + Duration::from_secs(61));
    assert_eq!(quiet.logged.values().next(), Some(&(t0 + Duration::from_secs(61))));
    // Another reason is news.
    quiet.report(vec![("https://idp.example".to_owned(), "404".to_owned())], t0 + Duration::from_secs(62));
    assert_eq!(quiet.logged.len(), 2);
}

#[test]
fn redact_drops_credentials_query_and_fragment() {
    assert_eq!(redact("https://a:b@idp.example:8443/k.json?x=1#f"), "https://idp.example:8443/k.json");
    assert_eq!(redact("::"), "(not a URL)");
}
