//! `post bench verify`: how long verifying one proof takes, as a network verifier does it.
//!
//! 1. Make a real proof for a made-up identity: compute `--k3 + 27` labels at `--scrypt-n`, and use a k1
//!    so large that almost every label is good, so the prover finds k2 = k3 good labels in one pass.
//! 2. Build the verifier once (RandomX light mode, 256 MiB), as a node does, and time it.
//! 3. Verify the proof repeatedly for `--seconds` (one RandomX hash and k3 labels each time) and print
//!    the mean, or `{"k3", "scrypt_n", "randomx_setup_ms", "ms_per_proof"}` with `--json`.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use post_core::{
    commitment, AtxId, Challenge, InitConfig, LabelIndex, NodeId, ProofConfig, ProofMetadata, ScryptParams,
};
use post_proof::{
    AesBackend, LabelRegion, Mode, Prover, ProvingParams, ProvingTarget, RandomXMode, RandomXPow, Verifier,
};

use crate::util::scrypt_n;

/// Measure the time to verify one proof (k3 labels recomputed plus one RandomX light hash).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labels the verifier recomputes (the proof carries as many).
    #[arg(long, default_value_t = 37, value_parser = clap::value_parser!(u32).range(1..=512))]
    k3: u32,
    /// scrypt N of the labels (r = p = 1); the network uses 8192.
    #[arg(long = "scrypt-n", value_name = "N", default_value = "8192", value_parser = scrypt_n)]
    scrypt: ScryptParams,
    /// How long to measure.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand.
///
/// # Errors
/// A bad `--seconds`, a RandomX failure, or a proof that does not verify.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.seconds.is_finite() && args.seconds > 0.0, "--seconds {} is not positive", args.seconds);
    // Step 1: with k1 = labels − 4, each label is good for a nonce with probability ~(labels − 4)/labels.
    let labels = u64::from(args.k3) + 27;
    let (node_id, atx) = (NodeId([0x42; 32]), AtxId([0x17; 32]));
    let commitment = commitment(&node_id, &atx);
    let mut data = Vec::with_capacity(labels as usize * 16);
    for i in 0..labels {
        data.extend_from_slice(&post_oracle::label16(&commitment, args.scrypt, LabelIndex(i))?);
    }
    let region = LabelRegion::from_bytes(LabelIndex(0), &data)?;
    let k1 = u32::try_from(labels - 4).context("too many labels")?;
    let proof_config = ProofConfig { k1, k2: args.k3, k3: args.k3, pow_difficulty: [0xff; 32] };
    let init_config = InitConfig {
        labels_per_unit: labels,
        min_num_units: 1,
        max_num_units: 1,
        max_file_size: labels * 16,
        scrypt: args.scrypt,
    };
    let challenge = Challenge([0x33; 32]);
    let params = ProvingParams {
        k1: proof_config.k1,
        k2: proof_config.k2,
        pow_difficulty: proof_config.pow_difficulty,
        nonces: 64,
        backend: AesBackend::detect(),
    };

    // Step 2.
    let clock = Instant::now();
    let pow = RandomXPow::new(RandomXMode::Light)?;
    let setup_ms = clock.elapsed().as_secs_f64() * 1e3;
    let regions = [region];
    let target = ProvingTarget { challenge: &challenge, node_id: &node_id, num_units: 1, regions: &regions };
    let proved = Prover::new(params, &pow)?.prove(&target).context("making the proof to verify")?;
    let verifier = Verifier::new(pow, proof_config, init_config)?;
    let metadata = ProofMetadata { node_id, commitment_atx_id: atx, challenge, num_units: 1, labels_per_unit: None };

    // Step 3.
    let clock = Instant::now();
    let mut runs = 0u64;
    while runs == 0 || clock.elapsed().as_secs_f64() < args.seconds {
        verifier.verify(&proved.proof, &metadata, &Mode::All).context("the benchmark's own proof did not verify")?;
        runs += 1;
    }
    let ms = clock.elapsed().as_secs_f64() * 1e3 / runs as f64;
    let n = args.scrypt.n();
    if args.json {
        println!(
            "{{\"k3\": {}, \"scrypt_n\": {n}, \"randomx_setup_ms\": {setup_ms:.1}, \"ms_per_proof\": {ms:.2}}}",
            args.k3
        );
    } else {
        println!(
            "verify: {ms:.2} ms per proof (k3 = {} labels at N = {n} and one RandomX light hash; {runs} runs; \
             RandomX setup once: {setup_ms:.0} ms)",
            args.k3
        );
    }
    Ok(ExitCode::SUCCESS)
}
