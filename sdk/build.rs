//! Generates the `warden.v1` gRPC client from the service's own
//! `pdp/proto/warden/v1/decision.proto` with the vendored `protoc`: the SDK shares
//! the `.proto` with `warden serve`, never its code.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure().build_server(false).compile_with_config(
        config,
        &["../pdp/proto/warden/v1/decision.proto"],
        &["../pdp/proto"],
    )?;
    println!("cargo:rerun-if-changed=../pdp/proto/warden/v1/decision.proto");
    Ok(())
}
