//! Generates the gRPC code of the node <-> service stream from `proto/` with a pure-Rust protobuf compiler
//! (`protox`), so that building needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/spacemesh/v1/post.proto", "proto/spacemesh/v1/post_types.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(descriptors)?;
    Ok(())
}
