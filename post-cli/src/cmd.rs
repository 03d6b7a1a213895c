//! One module per subcommand; each exposes `Args` (clap) and `run`.

pub mod bench;
pub mod bench_ceiling;
pub mod bench_label;
pub mod bench_plan;
pub mod bench_pow;
pub mod bench_prove;
pub mod bench_verify;
pub mod certifier;
pub mod commitment;
pub mod identity;
pub mod info;
pub mod init;
pub mod k2pow_service;
pub mod label;
pub mod merge;
pub mod prove;
pub mod providers;
pub mod repair;
pub mod serve;
pub mod shrink;
pub mod verify;
pub mod verify_data;
