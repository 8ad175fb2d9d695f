//! Generates the `warden.v1` gRPC code (messages, server and client) from
//! `warden/v1/decision.proto` with the vendored `protoc` (protoc-bin-vendored),
//! so no system protobuf compiler is needed. This is the one place the `.proto`
//! is compiled: the server and the SDK share the generated types.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure().file_descriptor_set_path(out.join("warden_v1_descriptor.bin")).compile_with_config(
        config,
        &["warden/v1/decision.proto"],
        &["."],
    )?;
    println!("cargo:rerun-if-changed=warden/v1/decision.proto");
    Ok(())
}
