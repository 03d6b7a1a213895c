//! `post serve` and the `post-service` binary against a fake node written from the protocol spec: one
//! test binary for all of them, so the fake node and the gRPC code are compiled once (fast RandomX has its own
//! binary, `serve_fast_randomx.rs`, so that its 2 GiB build never runs beside these).

mod balancer;
mod common;
mod fake_node;
mod h2_police;

mod keepalive;
mod proof;
mod remote_k2pow;
mod resilience;
mod startup;
mod tls;
