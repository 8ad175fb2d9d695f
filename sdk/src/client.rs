//! The remote mode: [`Client`] asks a `warden serve` over gRPC (`warden.v1.Decision`)
//! through a lazily connected tonic channel, with TLS or mutual TLS, a deadline per
//! call and retries only where no decision can have been made.

use std::future::Future;
use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::check::{Check, Decision, HttpCheck, ResourceCheck};
use crate::error::{Error, connection_refused};
use crate::pb;
use crate::pb::decision_client::DecisionClient;

/// Anything that decides: the remote [`Client`], or the in-process `Embedded`
/// mode (feature `embedded`). Both give the same decisions for the same checks.
pub trait Decide: Clone + Send + Sync + 'static {
    /// Judges one HTTP request.
    fn check(&self, check: &HttpCheck) -> impl Future<Output = Result<Decision, Error>> + Send;
    /// May a subject do an action on a resource.
    fn check_resource(&self, check: &ResourceCheck) -> impl Future<Output = Result<Decision, Error>> + Send;
    /// Several checks, answered in order, all on one policy revision. A batch with
    /// one malformed check is refused whole.
    fn check_batch(&self, checks: &[Check]) -> impl Future<Output = Result<Vec<Decision>, Error>> + Send;
}

/// How to reach Warden.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    endpoint: String,
    deadline: Duration,
    connect_timeout: Duration,
    retries: u32,
    backoff: Duration,
    tls: Option<ClientTlsConfig>,
    custom_ca: bool,
}

impl ClientConfig {
    /// `endpoint` is `http://host:port` (h2c) or `https://host:port` (TLS). For
    /// TLS give Warden's CA with [`ClientConfig::ca_pem`]: the SDK builds tonic
    /// without a bundled or native root store, so no public CA is trusted by default. Defaults: a
    /// deadline of 250 ms per call, a connect timeout of 100 ms, two retries of a
    /// refused connection 20 ms apart.
    pub fn new(endpoint: &str) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.to_owned(),
            deadline: Duration::from_millis(250),
            connect_timeout: Duration::from_millis(100),
            retries: 2,
            backoff: Duration::from_millis(20),
            tls: None,
            custom_ca: false,
        }
    }

    /// The deadline of each call, retries included: it is sent to Warden
    /// (`grpc-timeout`) and enforced here.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> ClientConfig {
        self.deadline = deadline;
        self
    }

    /// How long one connection attempt may take.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.connect_timeout = timeout;
        self
    }

    /// How many times a call whose connection was *refused* is tried again, `backoff`
    /// apart, within the deadline. Nothing else is retried: a call that may have
    /// reached Warden may have counted against a rate limit.
    #[must_use]
    pub fn retries(mut self, retries: u32, backoff: Duration) -> ClientConfig {
        self.retries = retries;
        self.backoff = backoff;
        self
    }

    fn tls_mut(&mut self) -> ClientTlsConfig {
        self.tls.take().unwrap_or_default()
    }

    /// Trusts this CA (PEM) for Warden's certificate instead of the system roots.
    #[must_use]
    pub fn ca_pem(mut self, pem: &[u8]) -> ClientConfig {
        self.tls = Some(self.tls_mut().ca_certificate(Certificate::from_pem(pem)));
        self.custom_ca = true;
        self
    }

    /// Presents this client certificate and key (PEM) for mutual TLS.
    #[must_use]
    pub fn identity_pem(mut self, cert: &[u8], key: &[u8]) -> ClientConfig {
        self.tls = Some(self.tls_mut().identity(Identity::from_pem(cert, key)));
        self
    }

    /// The name Warden's certificate must carry, when it is not the endpoint's host.
    #[must_use]
    pub fn domain_name(mut self, name: &str) -> ClientConfig {
        self.tls = Some(self.tls_mut().domain_name(name));
        self
    }

    /// A client over this configuration. Nothing is connected yet: the first call
    /// connects (so a client can be built before Warden is up).
    pub fn build(self) -> Result<Client, Error> {
        let mut endpoint = Endpoint::from_shared(self.endpoint.clone())
            .map_err(|e| Error::Config(format!("`{}` is not an endpoint: {e}", self.endpoint)))?
            .connect_timeout(self.connect_timeout)
            .timeout(self.deadline)
            .tcp_nodelay(true);
        if self.endpoint.starts_with("https://") || self.tls.is_some() {
            let mut tls = self.tls.clone().unwrap_or_default();
            if !self.custom_ca {
                tls = tls.with_enabled_roots();
            }
            endpoint = endpoint.tls_config(tls).map_err(|e| Error::Config(format!("tls: {e}")))?;
        }
        Ok(Client { inner: DecisionClient::new(endpoint.connect_lazy()), config: self })
    }
}

/// The remote client (cheap to clone: clones share one HTTP/2 connection).
#[derive(Clone, Debug)]
pub struct Client {
    inner: DecisionClient<Channel>,
    config: ClientConfig,
}

impl Client {
    /// A client for `endpoint` with the default settings of [`ClientConfig::new`].
    pub fn connect_lazy(endpoint: &str) -> Result<Client, Error> {
        ClientConfig::new(endpoint).build()
    }

    /// The call's deadline.
    pub fn deadline(&self) -> Duration {
        self.config.deadline
    }

    /// Runs `call` with the deadline, retrying a refused connection.
    async fn call<M, R, F, Fut>(&self, message: M, call: F) -> Result<R, Error>
    where
        M: Clone,
        F: Fn(DecisionClient<Channel>, tonic::Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        let deadline = self.config.deadline;
        let ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX);
        let start = tokio::time::Instant::now();
        let attempts = async {
            let mut tries = 0;
            loop {
                let mut request = tonic::Request::new(message.clone());
                request.set_timeout(deadline.saturating_sub(start.elapsed()));
                match call(self.inner.clone(), request).await {
                    Ok(r) => return Ok(r.into_inner()),
                    Err(s) if tries < self.config.retries && connection_refused(&s) => {
                        tries += 1;
                        tokio::time::sleep(self.config.backoff).await;
                    }
                    Err(s) => return Err(Error::from_status(&s, ms)),
                }
            }
        };
        match tokio::time::timeout(deadline, attempts).await {
            Ok(r) => r,
            Err(_) => Err(Error::DeadlineExceeded(ms)),
        }
    }
}

impl Decide for Client {
    async fn check(&self, check: &HttpCheck) -> Result<Decision, Error> {
        let m = pb::CheckRequest::from(check);
        self.call(m, |mut c, r| async move { c.check(r).await }).await.map(Decision::from)
    }

    async fn check_resource(&self, check: &ResourceCheck) -> Result<Decision, Error> {
        let m = pb::ResourceCheckRequest::from(check);
        self.call(m, |mut c, r| async move { c.check_resource(r).await }).await.map(Decision::from)
    }

    async fn check_batch(&self, checks: &[Check]) -> Result<Vec<Decision>, Error> {
        let m = pb::BatchRequest { checks: checks.iter().map(pb::BatchItem::from).collect() };
        let r = self.call(m, |mut c, r| async move { c.check_batch(r).await }).await?;
        if r.decisions.len() != checks.len() {
            return Err(Error::Status {
                code: "Internal".to_owned(),
                message: format!("{} decisions for {} checks", r.decisions.len(), checks.len()),
            });
        }
        Ok(r.decisions.into_iter().map(Decision::from).collect())
    }
}
