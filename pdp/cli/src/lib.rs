//! The `warden` command line (`main.rs`, `cli/`) and the policy test runner
//! (`testing`), over the crates of the decision point: the engine
//! (`warden-engine`), policy-set loading (`warden-project`) and the service
//! (`warden-server`), re-exported under the paths the CLI, the SDK and the
//! tests use.

pub mod testing;

/// The decision engine (`warden-engine`).
pub use warden_engine as engine;
/// Reading and compiling a policy set on disk (`warden-project`).
pub use warden_project as files;
/// `warden serve` (`warden-server`).
pub use warden_server as serve;
/// The JSON check formats (`warden-server`'s).
pub use warden_server::api;
