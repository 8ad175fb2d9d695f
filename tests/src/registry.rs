//! A real OCI registry for the bundle tests: Debian's `docker-registry` (the
//! CNCF distribution registry) on a loopback port of its own, storing under a
//! directory the test owns, so it can be stopped and started again with its
//! content. `./test.sh` installs the package.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running registry (killed when dropped).
pub struct RegistryServer {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    storage: PathBuf,
}

impl RegistryServer {
    /// Starts a registry on a free loopback port, storing under `storage`.
    pub fn start(storage: &Path) -> Result<RegistryServer, String> {
        RegistryServer::start_on(crate::free_port()?, storage)
    }

    /// Starts a registry on `port`, storing under `storage`, and waits (at most
    /// 10 s) until `GET /v2/` answers 200.
    pub fn start_on(port: u16, storage: &Path) -> Result<RegistryServer, String> {
        std::fs::create_dir_all(storage).map_err(|e| e.to_string())?;
        let config = storage.join(format!("registry-{port}.yml"));
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.join("data").display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start `docker-registry` ({e}): the bundle tests push to a real registry. \
                     `./test.sh` installs it (`apt-get install -y docker-registry` on Debian)"
                )
            })?;
        let mut server = RegistryServer { child: Some(child), port, storage: storage.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if server.up() {
                return Ok(server);
            }
            if let Some(Ok(Some(status))) = server.child.as_mut().map(Child::try_wait) {
                return Err(format!("docker-registry exited at start: {status}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("docker-registry did not answer in 10 s".to_owned())
    }

    /// `oci://127.0.0.1:PORT/REPO`.
    pub fn url(&self, repo: &str) -> String {
        format!("oci://127.0.0.1:{}/{repo}", self.port)
    }

    /// Answers `GET /v2/` with 200.
    pub fn up(&self) -> bool {
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            return false;
        }
        crate::request(addr, "GET", "/v2/", &[], None).is_ok_and(|r| r.status == 200)
    }

    /// Kills it (its content stays in its storage).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port, with the same content.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let again = RegistryServer::start_on(self.port, &self.storage)?;
        *self = again;
        Ok(())
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        self.stop();
    }
}
