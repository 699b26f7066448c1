//! Generates Rust code for every `.proto` under this crate with a vendored `protoc`,
//! so building needs no system protobuf compiler. The public API and the peer protocol
//! get separate descriptor sets: reflection on the client port shows only the former.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let groups: [(&str, &[&str]); 2] = [
        (
            "corral_v1_descriptor.bin",
            &[
                "corral/v1/common.proto",
                "corral/v1/kv.proto",
                "corral/v1/cluster.proto",
                "corral/v1/watch.proto",
                "corral/v1/lease.proto",
                "corral/v1/maintenance.proto",
                "corral/v1/lock.proto",
                "corral/v1/election.proto",
                "corral/v1/auth.proto",
            ],
        ),
        (
            "corral_raft_v1_descriptor.bin",
            &["corral/raft/v1/raft.proto"],
        ),
    ];
    for (descriptor, files) in groups {
        let mut config = tonic_prost_build::Config::new();
        config.protoc_executable(&protoc);
        tonic_prost_build::configure()
            .file_descriptor_set_path(out.join(descriptor))
            .compile_with_config(config, files, &["."])?;
        for f in files {
            println!("cargo:rerun-if-changed={f}");
        }
    }
    Ok(())
}
