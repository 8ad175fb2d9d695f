//! The Warden policy decision point: the service (`serve`), the JSON check
//! formats (`api`), loading policy sets from disk (`files`) and the policy test
//! runner (`testing`) around the engine, which is its own crate
//! (`warden-engine`, re-exported as [`engine`]). The `warden` binary lives in `main.rs`.

pub mod api;
pub mod files;
pub mod serve;
pub mod testing;

/// The decision engine (`warden-engine`), under the path the service, the CLI
/// and the SDK have always used.
pub use warden_engine as engine;
