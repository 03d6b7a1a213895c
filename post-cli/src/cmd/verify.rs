//! `post verify`: check a proof against a challenge and the data's identity, as a network node would
//! but stricter (see `post_proof::Verifier`).
//!
//! 1. Read the proof: the file `post prove` writes (`{"proof", "metadata"}`: challenge, identity and size
//!    included, nothing else needed), or a bare `{"nonce", "indices", "pow"}` with `--challenge` and the
//!    identity and size from `--dir`'s `postdata_metadata.json` or `--metadata`. No label file is read.
//! 2. The verifier's parameters: the preset's, overridden by `--k1 --k2 --k3 --pow-difficulty --scrypt-n
//!    --labels-per-unit`. The labels per unit are the verifier's, as on the network.
//! 3. Recompute k3 of the proof's labels, picked by a seed (random unless `--seed`, printed so that a
//!    check can be repeated), or all k2 with `--all`; check the proof of work with light RandomX.
//! 4. Exit 0 when valid, 1 when invalid (the reason on stderr), 2 on a usage or I/O error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use post_core::{
    Challenge, InitConfig, PostMetadata, Preset, Proof, ProofConfig, ProofMetadata, ProofRecord, ScryptParams,
};
use post_proof::{Mode, PowJob, PowVerifier, RandomXMode, RandomXPow, Verifier};

use crate::thresholds::Thresholds;
use crate::util::{hex32, scrypt_n};

/// Verify a proof: exit code 0 when valid, 1 when invalid (the reason on stderr), 2 on a usage or I/O
/// error. Checks a random subset of k3 indices (the seed is printed) unless `--all`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The proof: the file `post prove` writes (`{"proof", "metadata"}`), or a bare
    /// `{"nonce", "indices", "pow"}` with --challenge and --dir or --metadata.
    #[arg(long)]
    proof: PathBuf,
    /// The challenge the proof answers, 64 hex digits (read from the proof file when it has one).
    #[arg(long, value_parser = hex32, value_name = "HEX32")]
    challenge: Option<[u8; 32]>,
    /// The data directory whose metadata names the node, the commitment ATX and the units (no label file
    /// is read; not needed with a proof file that has its metadata).
    #[arg(long, conflicts_with = "metadata")]
    dir: Option<PathBuf>,
    /// A `postdata_metadata.json` file instead of `--dir`.
    #[arg(long)]
    metadata: Option<PathBuf>,
    #[command(flatten)]
    thresholds: Thresholds,
    /// Indices to recompute without `--all` (overrides the preset).
    #[arg(long)]
    k3: Option<u32>,
    /// scrypt N of the labels (overrides the preset).
    #[arg(long, value_parser = scrypt_n, value_name = "N")]
    scrypt_n: Option<ScryptParams>,
    /// Labels per unit (overrides the preset; the data's own metadata is not trusted for it).
    #[arg(long)]
    labels_per_unit: Option<u64>,
    /// Recompute all k2 indices instead of a subset of k3.
    #[arg(long)]
    all: bool,
    /// The seed that picks the subset, as hex (default: random; printed either way).
    #[arg(long, conflicts_with = "all", value_name = "HEX")]
    seed: Option<String>,
    /// Print the verdict as one JSON object on stdout: `{"valid", "reason", "checked", "milliseconds"}`.
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand; the verdict is the exit code.
///
/// # Errors
/// Unreadable or malformed inputs, invalid parameters, or a RandomX failure.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let json = args.json;
    match check(args) {
        // With --json, stdout always has the verdict, a usage or I/O error included.
        Err(e) if json => {
            let report = serde_json::json!({
                "valid": false,
                "reason": null,
                "error": format!("{e:#}"),
                "checked": 0,
                "milliseconds": null,
            });
            println!("{report}");
            tracing::error!("{e:#}");
            Ok(ExitCode::from(2))
        }
        result => result,
    }
}

fn check(args: Args) -> anyhow::Result<ExitCode> {
    // Step 1.
    let proof_text = read_capped(&args.proof)?;
    let (proof, metadata) = match ProofRecord::from_json(&proof_text) {
        Ok(record) => {
            if let Some(challenge) = args.challenge {
                anyhow::ensure!(
                    challenge == *record.metadata.challenge.as_bytes(),
                    "--challenge differs from the challenge in {}",
                    args.proof.display()
                );
            }
            (record.proof, record.metadata)
        }
        Err(_) => {
            let proof = Proof::from_json(&proof_text).with_context(|| format!("{}", args.proof.display()))?;
            let challenge = args.challenge.with_context(|| {
                format!("{} is a bare proof without metadata: give --challenge", args.proof.display())
            })?;
            let meta = match (&args.dir, &args.metadata) {
                (Some(dir), _) => PostMetadata::load(dir)?,
                (None, Some(path)) => {
                    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                    PostMetadata::from_json(&text, path)?
                }
                (None, None) => {
                    anyhow::bail!("{} is a bare proof without metadata: give --dir or --metadata", args.proof.display())
                }
            };
            let metadata = ProofMetadata {
                node_id: meta.node_id,
                commitment_atx_id: meta.commitment_atx_id,
                challenge: Challenge(challenge),
                num_units: meta.num_units,
                labels_per_unit: Some(meta.labels_per_unit),
            };
            (proof, metadata)
        }
    };

    // Step 2.
    let implied = metadata
        .labels_per_unit
        .and_then(|lpu| Preset::ALL.into_iter().find(|p| p.init_config().labels_per_unit == lpu));
    let preset = args.thresholds.preset.or(implied).unwrap_or(Preset::Mainnet);
    let (proof_defaults, init_defaults) = (preset.proof_config(), preset.init_config());
    let proof_config = ProofConfig {
        k1: args.thresholds.k1.unwrap_or(proof_defaults.k1),
        k2: args.thresholds.k2.unwrap_or(proof_defaults.k2),
        k3: args.k3.unwrap_or(proof_defaults.k3),
        pow_difficulty: args.thresholds.pow_difficulty.unwrap_or(proof_defaults.pow_difficulty),
    };
    let init_config = InitConfig {
        labels_per_unit: args.labels_per_unit.unwrap_or(init_defaults.labels_per_unit),
        scrypt: args.scrypt_n.unwrap_or(init_defaults.scrypt),
        ..init_defaults
    };
    if let Some(lpu) = metadata.labels_per_unit.filter(|&lpu| lpu != init_config.labels_per_unit) {
        tracing::warn!(
            "verify: the data has {lpu} labels per unit, the verifier uses {} (--labels-per-unit or --preset)",
            init_config.labels_per_unit
        );
    }
    let metadata = ProofMetadata { labels_per_unit: None, ..metadata };

    // Step 3.
    let mode = if args.all {
        Mode::All
    } else {
        let seed = match &args.seed {
            Some(text) => hex::decode(text.trim()).with_context(|| format!("--seed {text:?} is not hex"))?,
            None => crate::data_report::random_seed().to_le_bytes().to_vec(),
        };
        Mode::Subset { k3: proof_config.k3 as usize, seed }
    };
    let checked = match &mode {
        Mode::Subset { k3, .. } => (*k3).min(proof_config.k2 as usize),
        _ => proof_config.k2 as usize,
    };
    let sampled = match &mode {
        Mode::Subset { seed, .. } if checked < proof_config.k2 as usize => format!(
            "{checked} of {} indices recomputed, sampled with seed {} (repeat with --seed {0}; --all recomputes \
             every one)",
            proof_config.k2,
            hex::encode(seed)
        ),
        _ => format!("all {checked} indices recomputed"),
    };
    let verifier = Verifier::new(LazyRandomX::default(), proof_config, init_config)?;
    let clock = Instant::now();
    let verdict = verifier.verify(&proof, &metadata, &mode);
    let took = clock.elapsed();
    let setup = verifier.pow().setup.lock().map(|s| *s).unwrap_or_default().unwrap_or_default();

    // Step 4.
    if args.json {
        let (valid, reason) = match &verdict {
            Ok(()) => (true, None),
            Err(e) if e.is_rejection() => (false, Some(e.to_string())),
            Err(_) => (false, None),
        };
        if valid || reason.is_some() {
            let report = serde_json::json!({
                "valid": valid,
                "reason": reason,
                "checked": checked,
                "milliseconds": took.as_secs_f64() * 1e3,
            });
            println!("{report}");
            return Ok(ExitCode::from(u8::from(!valid)));
        }
    }
    match verdict {
        Ok(()) => {
            println!("valid");
            tracing::info!(
                "verify: valid: {sampled}, in {:.1} ms (of which RandomX light-mode setup {:.1} ms, overlapped with \
                 the labels)",
                took.as_secs_f64() * 1e3,
                setup.as_secs_f64() * 1e3
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.is_rejection() => {
            println!("invalid");
            tracing::error!("verify: invalid proof: {e}");
            if matches!(
                e,
                post_proof::Error::InvalidPow { .. }
                    | post_proof::Error::InvalidMsb { .. }
                    | post_proof::Error::InvalidLsb { .. }
            ) {
                tracing::info!(
                    "verify: checked against challenge {}, node id {}, commitment {}, {} units: a proof made for \
                     other values fails this way",
                    hex::encode(metadata.challenge.as_bytes()),
                    hex::encode(metadata.node_id.as_bytes()),
                    hex::encode(metadata.commitment_atx_id.as_bytes()),
                    metadata.num_units
                );
            }
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

/// Largest proof file read: a proof with its metadata is well under a kilobyte at any k2 the network
/// uses; anything near this is not a proof.
const MAX_PROOF_FILE: u64 = 1 << 20;

/// Reads a proof file, refusing one larger than [`MAX_PROOF_FILE`] before reading it.
fn read_capped(path: &std::path::Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_PROOF_FILE + 1).read_to_string(&mut text).with_context(|| format!("reading {}", path.display()))?;
    anyhow::ensure!(
        text.len() as u64 <= MAX_PROOF_FILE,
        "{} is larger than {MAX_PROOF_FILE} bytes: not a proof file",
        path.display()
    );
    Ok(text)
}

/// RandomX in light mode, set up on first use: a proof that fails a structural check (length, padding,
/// a repeated or out-of-range index, the unit count) is rejected without paying the setup, and for a
/// well-formed proof the setup runs beside the label computations.
#[derive(Default)]
struct LazyRandomX {
    pow: OnceLock<RandomXPow>,
    setup: Mutex<Option<Duration>>,
}

impl std::fmt::Debug for LazyRandomX {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyRandomX").field("ready", &self.pow.get().is_some()).finish()
    }
}

impl PowVerifier for LazyRandomX {
    fn verify(&self, pow: u64, job: &PowJob<'_>) -> Result<(), post_proof::Error> {
        if self.pow.get().is_none() {
            let clock = Instant::now();
            let randomx = RandomXPow::new(RandomXMode::Light)?;
            if let Ok(mut setup) = self.setup.lock() {
                *setup = Some(clock.elapsed());
            }
            // One verification per process: nobody else can have set it in between.
            let _ = self.pow.set(randomx);
        }
        match self.pow.get() {
            Some(randomx) => randomx.verify(pow, job),
            None => RandomXPow::new(RandomXMode::Light)?.verify(pow, job),
        }
    }
}
