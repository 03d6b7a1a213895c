//! `post init`: initialize, resume, grow, or initialize a range of files of a data directory; with
//! `--rebuild-metadata`, write a lost metadata file again.

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::HumanBytes;
use post_core::{AtxId, InitConfig, NodeId, PostMetadata, METADATA_FILE};
use post_init::{InitEnd, InitRequest};
use post_oracle::Labeller;

use crate::compute::Compute;
use crate::ctrl_c::cancel_on_ctrl_c;
use crate::exit::EXIT_INTERRUPTED;
use crate::identity_file::{Identity, IDENTITY_FILE, NODE_KEY_PATH};
use crate::progress::Progress;
use crate::util::hex32;

/// Initialize PoST data: write `postdata_<i>.bin` files and `postdata_metadata.json`, or resume, grow
/// or finish a directory. It never deletes data: fewer units than on disk is an error (see `post
/// shrink`). Ctrl-C stops after the batch in flight with everything synced; the same command resumes.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data directory (created when missing).
    #[arg(long)]
    dir: PathBuf,
    /// The node id (public key), 64 hex digits. For an existing directory, from its metadata; for a new
    /// one, from `identity.key` in the directory, which is created (a new ed25519 key, as postcli does)
    /// when missing. A key there must belong to this node id.
    #[arg(long, value_parser = hex32, value_name = "HEX32")]
    node_id: Option<[u8; 32]>,
    /// The commitment ATX id, 64 hex digits; for an existing directory, from its metadata.
    #[arg(long, value_parser = hex32, value_name = "HEX32")]
    atx_id: Option<[u8; 32]>,
    /// Space units; more than the directory holds grows it. For an existing directory, its own count.
    #[arg(long)]
    units: Option<u32>,
    /// Labels per unit (overrides the preset).
    #[arg(long)]
    labels_per_unit: Option<u64>,
    /// Largest data file in bytes, a multiple of 16 (overrides the preset).
    #[arg(long)]
    max_file_size: Option<u64>,
    /// First file to initialize (inclusive), to split the work across GPUs or machines; `post merge`
    /// combines the pieces. Label indices stay global.
    #[arg(long)]
    from_file: Option<u32>,
    /// Last file to initialize (inclusive).
    #[arg(long)]
    to_file: Option<u32>,
    /// Write a lost `postdata_metadata.json` again from the data files, as postcli's `-searchForNonce`:
    /// give --node-id (or keep identity.key in the directory), --atx-id, --units and the layout the
    /// data was written with (--preset, --labels-per-unit, --max-file-size, --scrypt-n). A sample of
    /// stored labels is recomputed first and nothing is written when one differs; the VRF nonce is
    /// found in the stored labels. Resume an unfinished init afterwards with plain `post init`.
    #[arg(long, conflicts_with_all = ["from_file", "to_file"])]
    rebuild_metadata: bool,
    /// With --rebuild-metadata: labels to recompute besides the first and last of every file.
    #[arg(long, value_name = "LABELS", default_value_t = 1000, requires = "rebuild_metadata")]
    check_labels: u64,
    /// Print the result as one JSON object on stdout: `{"dir", "node_id", "new_identity_key" (the key
    /// file this run created, else null), "state": "complete" | "files_complete" | "stopped",
    /// "labels_written", "seconds", "labels_per_second", "vrf_nonce"}`.
    #[arg(long)]
    json: bool,
    /// Bytes written to a data file between two syncs of it to the disk; after each sync the file's
    /// "durable up to" mark in `.post-durable.json` moves, and after a power cut a resume recomputes
    /// only the labels past the mark. 0: sync only when a file is finished (then a resume after a power
    /// cut recomputes the whole unfinished part of the file).
    #[arg(long, value_name = "BYTES", default_value_t = post_init::SYNC_BYTES)]
    sync_every: u64,
    #[command(flatten)]
    compute: Compute,
}

/// Runs the subcommand.
///
/// # Errors
/// Bad arguments, a refused directory (locked, other identity, fewer units, not enough space, corrupt
/// tail), or a failure while writing.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.rebuild_metadata {
        return rebuild(&args);
    }
    let (mut request, new_identity) = request(&args)?;
    // An existing directory: its N is detected (or the given one checked) before anything is written.
    request.config.scrypt = args.compute.scrypt_of("init", &request.dir)?;
    request.tuning.sync_bytes = args.sync_every;
    let labeller = args.compute.labeller()?;
    // What is on disk already is checked on the CPU, never only by the device that wrote it.
    let checker = args.compute.checking_labeller()?;
    let cancel = cancel_on_ctrl_c("init")?;
    args.compute.install(|| {
        let prepared = post_init::prepare(&request, labeller.as_ref(), checker.as_ref())?;
        // The key is saved once the directory passed every check, before the first label is written.
        if let Some(identity) = &new_identity {
            let path = request.dir.join(IDENTITY_FILE);
            identity.write_new(&path)?;
            tracing::info!(
                "init: new identity {}: its key is in {}; the node smeshes this data only with this key — copy the \
                 file to <node data>/{NODE_KEY_PATH} (go-spacemesh), or keep it here for postcli",
                identity.node_id(),
                path.display()
            );
        }
        print_summary(prepared.summary(), &request, labeller.as_ref());
        let progress = Progress::new("init", false);
        let clock = std::time::Instant::now();
        let outcome = prepared.run(&cancel, &progress);
        progress.finish();
        let outcome = outcome?;
        if args.json {
            let seconds = clock.elapsed().as_secs_f64();
            let (state, code) = match outcome.end {
                InitEnd::Complete => ("complete", ExitCode::SUCCESS),
                InitEnd::RangeComplete => ("files_complete", ExitCode::SUCCESS),
                InitEnd::Cancelled => ("stopped", ExitCode::from(EXIT_INTERRUPTED)),
            };
            let report = serde_json::json!({
                "dir": request.dir.display().to_string(),
                "node_id": request.node_id.to_string(),
                "new_identity_key": new_identity.as_ref().map(|_| request.dir.join(IDENTITY_FILE)),
                "state": state,
                "labels_written": outcome.labels_written,
                "seconds": seconds,
                "labels_per_second": outcome.labels_written as f64 / seconds.max(1e-9),
                "vrf_nonce": outcome.nonce.map(|n| n.index.0),
            });
            println!("{report}");
            return Ok(code);
        }
        let nonce = outcome.nonce.map_or_else(|| "none yet".to_string(), |n| n.index.0.to_string());
        match outcome.end {
            InitEnd::Complete => {
                println!("complete: {} ({} labels written by this run)", request.dir.display(), outcome.labels_written);
                println!("VRF nonce: {nonce}");
                Ok(ExitCode::SUCCESS)
            }
            InitEnd::RangeComplete => {
                println!(
                    "files {}..={} complete in {} (best VRF nonce of these files: {nonce}); other files of the \
                     data are not complete — initialize them and combine the directories with `post merge`",
                    request.files.as_ref().map_or(0, |f| *f.start()),
                    request.files.as_ref().map_or(0, |f| *f.end()),
                    request.dir.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            InitEnd::Cancelled => {
                tracing::warn!(
                    "init: stopped; {} labels written and synced, state saved — run the same command to resume",
                    outcome.labels_written
                );
                Ok(ExitCode::from(EXIT_INTERRUPTED))
            }
        }
    })
}

/// `--rebuild-metadata`: checks the parameters against the data and writes the metadata.
fn rebuild(args: &Args) -> anyhow::Result<ExitCode> {
    let required = |what: &str| anyhow::anyhow!("--rebuild-metadata needs {what}: the value the data was written with");
    let node_id = match args.node_id {
        Some(id) => NodeId(id),
        None => {
            let key_path = args.dir.join(IDENTITY_FILE);
            if !key_path.exists() {
                return Err(required("--node-id (or the node's key as identity.key in the directory)"));
            }
            Identity::load(&key_path)?.node_id()
        }
    };
    let request = post_init::RebuildRequest {
        dir: args.dir.clone(),
        node_id,
        atx_id: AtxId(args.atx_id.ok_or_else(|| required("--atx-id"))?),
        config: init_config(args, None),
        num_units: args.units.ok_or_else(|| required("--units"))?,
        sample: args.check_labels,
        seed: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64),
        tuning: args.compute.tuning(),
    };
    let labeller = args.compute.labeller()?;
    let cancel = cancel_on_ctrl_c("init")?;
    args.compute.install(|| {
        let progress = Progress::new("rebuild", false);
        let outcome = post_init::rebuild_metadata(&request, labeller.as_ref(), &cancel, &progress);
        progress.finish();
        let outcome = outcome?;
        let nonce = outcome.nonce.map(|n| n.index.0);
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "dir": request.dir.display().to_string(),
                    "node_id": request.node_id.to_string(),
                    "state": if outcome.metadata.is_some() { "rebuilt" } else { "stopped" },
                    "labels_checked": outcome.labels_checked,
                    "labels_on_disk": outcome.labels_on_disk,
                    "num_labels": outcome.num_labels,
                    "vrf_nonce": nonce,
                })
            );
        }
        if outcome.metadata.is_none() {
            tracing::warn!("init: stopped before the metadata was written; run the same command again");
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
        if !args.json {
            println!(
                "rebuilt {}: {} sampled labels match; VRF nonce {}",
                PostMetadata::path(&request.dir).display(),
                outcome.labels_checked,
                nonce.map_or_else(|| "none yet".into(), |n| n.to_string())
            );
        }
        if outcome.labels_on_disk < outcome.num_labels {
            tracing::warn!(
                "init: the files hold {} of the {} labels of {} units: the initialization was not finished (run \
                 `post init --dir {}` to finish it) or --units is larger than the data's",
                outcome.labels_on_disk,
                outcome.num_labels,
                request.num_units,
                request.dir.display()
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Labels per unit, file size and label cost: the arguments, else (without --preset) the existing
/// metadata, else the preset's.
fn init_config(args: &Args, existing: Option<&PostMetadata>) -> InitConfig {
    let preset = args.compute.preset_or_default();
    let base = preset.init_config();
    let shape = |given: Option<u64>, on_disk: Option<u64>, preset_value: u64| {
        given.or(if args.compute.preset.is_none() { on_disk } else { None }).unwrap_or(preset_value)
    };
    let config = InitConfig {
        labels_per_unit: shape(args.labels_per_unit, existing.map(|m| m.labels_per_unit), base.labels_per_unit),
        max_file_size: shape(args.max_file_size, existing.map(|m| m.max_file_size), base.max_file_size),
        scrypt: args.compute.scrypt(),
        ..base
    };
    // Data that exists is not held to a preset's unit range unless a preset is asked for.
    match (existing, args.compute.preset) {
        (Some(_), None) => InitConfig { min_num_units: 1, max_num_units: u32::MAX, ..config },
        _ => config,
    }
}

/// The library request: arguments first, then the existing metadata, then the preset; and the new
/// identity to save when the node id comes from a key made for this directory.
fn request(args: &Args) -> anyhow::Result<(InitRequest, Option<Identity>)> {
    let existing = if args.dir.join(METADATA_FILE).exists() { Some(PostMetadata::load(&args.dir)?) } else { None };
    let config = init_config(args, existing.as_ref());
    let missing = |what: &str| {
        anyhow::anyhow!("{what} is required for a new data directory ({} has no {METADATA_FILE})", args.dir.display())
    };
    let (node_id, new_identity) = node_identity(args, existing.as_ref())?;
    let atx_id = match (args.atx_id, &existing) {
        (Some(id), _) => AtxId(id),
        (None, Some(m)) => m.commitment_atx_id,
        (None, None) => return Err(missing("--atx-id")),
    };
    let num_units = match (args.units, &existing) {
        (Some(u), _) => u,
        (None, Some(m)) => m.num_units,
        (None, None) => return Err(missing("--units")),
    };
    let files = match (args.from_file, args.to_file) {
        (None, None) => None,
        (from, to) => Some(from.unwrap_or(0)..=to.unwrap_or(u32::MAX)),
    };
    let mut request =
        InitRequest { dir: args.dir.clone(), node_id, atx_id, config, num_units, files, tuning: args.compute.tuning() };
    // `--from-file` alone means "to the last file".
    if let Some(files) = &request.files {
        if *files.end() == u32::MAX {
            let layout = post_core::Layout::new(config.num_labels(num_units)?, config.max_file_size)?;
            request.files = Some(*files.start()..=layout.num_files().saturating_sub(1));
        }
    }
    Ok((request, new_identity))
}

/// The node id: `--node-id`, else the metadata's, else the key in `<dir>/identity.key`, else a new key
/// (returned, to be saved once the directory passed its checks). A key in the directory must belong to
/// the node id used, since the node can only smesh the data with that key.
fn node_identity(args: &Args, existing: Option<&PostMetadata>) -> anyhow::Result<(NodeId, Option<Identity>)> {
    let key_path = args.dir.join(IDENTITY_FILE);
    let key = if key_path.exists() { Some(Identity::load(&key_path)?) } else { None };
    if let Some(key) = &key {
        let key_id = key.node_id();
        let conflict = match (args.node_id.map(NodeId), existing) {
            (Some(given), _) if given != key_id => Some(("--node-id", given)),
            (None, Some(m)) if m.node_id != key_id => Some(("the data's NodeId (postdata_metadata.json)", m.node_id)),
            _ => None,
        };
        if let Some((what, other)) = conflict {
            anyhow::bail!(
                "{} holds the key of node id {key_id}, but {what} is {other}; the node can only smesh data with the \
                 key of its node id — put that key there (copy it from <node data>/{NODE_KEY_PATH}) or move {} \
                 away; nothing was changed",
                key_path.display(),
                key_path.display()
            );
        }
    }
    Ok(match (args.node_id, existing, key) {
        (Some(id), _, _) => (NodeId(id), None),
        (None, Some(m), _) => (m.node_id, None),
        (None, None, Some(key)) => {
            tracing::info!("init: node id {} from {}", key.node_id(), key_path.display());
            (key.node_id(), None)
        }
        (None, None, None) => {
            let key = Identity::generate()?;
            (key.node_id(), Some(key))
        }
    })
}

fn print_summary(s: &post_init::InitSummary, request: &InitRequest, labeller: &dyn Labeller) {
    let c = &request.config;
    tracing::info!(
        "init: {}: {} units × {} labels = {} in {} file(s) of at most {}; scrypt N = {}; provider {}",
        s.dir.display(),
        s.num_units,
        c.labels_per_unit,
        HumanBytes(s.total_bytes),
        s.num_files,
        HumanBytes(c.max_file_size),
        c.scrypt.n(),
        labeller.name()
    );
    if let Some(old) = s.existing_units.filter(|old| *old != s.num_units) {
        tracing::info!("init: growing the data from {old} to {} units", s.num_units);
    }
    tracing::info!(
        "init: files {}..={}: {} of {} still to write ({} free on disk)",
        s.files.start(),
        s.files.end(),
        HumanBytes(s.to_write_bytes),
        HumanBytes(s.selected_bytes),
        HumanBytes(s.available_bytes)
    );
    if let Some(n) = &s.nonce {
        tracing::info!("init: best VRF nonce so far: {}", n.index.0);
    }
    if s.checked_past_marks > 0 {
        tracing::info!(
            "init: recomputed {} labels written after the last sync of an earlier run (a power cut may have lost \
             them)",
            s.checked_past_marks
        );
    }
}
