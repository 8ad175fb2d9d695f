//! The decision engine: evaluates a compiled decision graph for one request.
//!
//! Pure: no tokio, no protobuf, no axum types. The service's doors (HTTP, gRPC,
//! AuthZEN, forward auth) convert their requests to the engine's own request
//! types ([`run::HttpRequest`], [`run::ResourceRequest`]) at their edge. Bearer
//! tokens are verified through [`run::TokenVerifier`].

pub mod credentials;
pub mod decision;
pub mod dpop;
pub mod eval;
pub mod inline;
pub mod introspect;
pub mod json;
pub mod jwt;
pub mod limits;
pub mod path;
pub mod run;
pub mod schema;
pub mod secrets;
pub mod testing;
pub mod token_cache;
pub mod transport;

/// Compiling small policies in the engine's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use warden_compiler::{Loader, PolicySet, SourceFile, compile};

    use super::eval::Prepared;

    struct NoFiles;

    impl Loader for NoFiles {
        fn read(&self, _: &str) -> Result<Vec<u8>, String> {
            Err("no files in unit tests".to_owned())
        }
    }

    /// Compiles one file that references no other files.
    pub fn prepare(text: &str) -> Prepared {
        let set = PolicySet { files: vec![SourceFile::new("t.warden", text)] };
        let (graph, _) = compile(&set, &NoFiles).unwrap_or_else(|d| panic!("{d:#?}"));
        Prepared::new(graph).unwrap_or_else(|e| panic!("{e}"))
    }
}
