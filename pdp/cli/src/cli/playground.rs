//! `warden playground [--addr ADDR] [--dir DIR]`: serves the built playground
//! (a static page and its WebAssembly, made by `pdp/playground/build.sh`) on
//! localhost. Read-only: files of DIR only, no listing, nothing else.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::out::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen; loopback unless you mean otherwise.
    #[arg(long, default_value = "127.0.0.1:8282")]
    addr: SocketAddr,
    /// The built playground: `index.html`, its script and style, and `pkg/`.
    #[arg(long, default_value = "target/playground")]
    dir: PathBuf,
}

/// The largest file served (the WebAssembly is a few MiB).
const MAX_FILE: u64 = 64 << 20;

pub fn run(args: &Args) -> bool {
    let index = args.dir.join("index.html");
    if !index.is_file() || !args.dir.join("pkg").is_dir() {
        errln!(
            "error: `{}` holds no built playground (index.html and pkg/): build it with `pdp/playground/build.sh {}`",
            args.dir.display(),
            args.dir.display()
        );
        return false;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            errln!("error: cannot start the runtime: {e}");
            return false;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(args.addr).await {
            Ok(l) => l,
            Err(e) => {
                errln!("error: cannot listen on {}: {e}", args.addr);
                return false;
            }
        };
        outln!("the playground is at http://{}/ (Ctrl-C stops it)", args.addr);
        let app = axum::Router::new().fallback(file).with_state(args.dir.clone());
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match axum::serve(listener, app).with_graceful_shutdown(stop).await {
            Ok(()) => true,
            Err(e) => {
                errln!("error: {e}");
                false
            }
        }
    })
}

/// The media type of a file the playground has.
fn media_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// The file of DIR a request path names: plain segments only (no `..`, no
/// hidden files), `/` being `index.html`.
fn resolve(dir: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path.trim_start_matches('/'));
    let mut out = dir.to_path_buf();
    for c in relative.components() {
        match c {
            Component::Normal(s) if !s.to_string_lossy().starts_with('.') => out.push(s),
            _ => return None,
        }
    }
    if out == dir {
        out.push("index.html");
    }
    Some(out)
}

async fn file(State(dir): State<PathBuf>, req: Request<Body>) -> Response {
    if req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")]).into_response();
    }
    let Some(path) = resolve(&dir, req.uri().path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_file() && m.len() <= MAX_FILE => {}
        _ => return StatusCode::NOT_FOUND.into_response(),
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type(&path)));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
            // The page runs our WebAssembly and nothing from elsewhere.
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'",
                ),
            );
            response
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_inside_the_directory_resolve() {
        let dir = Path::new("/srv/playground");
        assert_eq!(resolve(dir, "/"), Some(dir.join("index.html")));
        assert_eq!(resolve(dir, "/pkg/warden_playground.js"), Some(dir.join("pkg/warden_playground.js")));
        assert_eq!(resolve(dir, "/../etc/passwd"), None);
        assert_eq!(resolve(dir, "/pkg/../../x"), None);
        assert_eq!(resolve(dir, "/.git/config"), None);
        assert_eq!(media_type(Path::new("a/b.wasm")), "application/wasm");
        assert_eq!(media_type(Path::new("index.html")), "text/html; charset=utf-8");
    }
}
