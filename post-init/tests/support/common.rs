//! Helpers shared by the scenario tests: the small reference identity, requests, and directory
//! snapshots.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use post_core::{AtxId, InitConfig, NodeId, ScryptParams};
use post_init::{CancelToken, InitOutcome, InitRequest, NoProgress};
use post_oracle::ReferenceLabeller;

/// The reference directory of `../shared/vectors/datadir-small`.
pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/datadir-small")
}

/// The shape of the reference directory: N = 16, 256 labels per unit, files of 4800 bytes (300 labels).
pub fn small_config() -> InitConfig {
    InitConfig {
        labels_per_unit: 256,
        min_num_units: 1,
        max_num_units: 64,
        max_file_size: 4800,
        scrypt: ScryptParams::with_n(16).unwrap(),
    }
}

/// A request for the reference identity (node id 77…77, ATX id 11…11).
pub fn request(dir: &Path, units: u32) -> InitRequest {
    InitRequest {
        dir: dir.to_path_buf(),
        node_id: NodeId([0x77; 32]),
        atx_id: AtxId([0x11; 32]),
        config: small_config(),
        num_units: units,
        files: None,
        tuning: post_init::Tuning { batch: Some(64), ..Default::default() },
    }
}

/// Prepares and runs a request to its end with the reference labeller.
pub fn init(request: &InitRequest) -> Result<InitOutcome, post_init::Error> {
    post_init::prepare(request, &ReferenceLabeller, &ReferenceLabeller)?.run(&CancelToken::new(), &NoProgress)
}

/// Every `postdata_*.bin` file of a directory by name.
pub fn data_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            e.file_name().to_string_lossy().starts_with("postdata_")
                && e.file_name().to_string_lossy().ends_with(".bin")
        })
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// The metadata as JSON.
pub fn metadata_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("postdata_metadata.json")).unwrap()).unwrap()
}

/// The fields both reference tools write.
pub fn common_fields(meta: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    ["NodeId", "CommitmentAtxId", "LabelsPerUnit", "NumUnits", "MaxFileSize", "Nonce"]
        .iter()
        .map(|k| (k.to_string(), meta[*k].clone()))
        .collect()
}

/// A directory equals the reference: identical data files and metadata fields.
pub fn assert_same_data(dir: &Path, reference: &Path) {
    assert_eq!(data_files(dir), data_files(reference), "data files of {} differ", dir.display());
    assert_eq!(common_fields(&metadata_json(dir)), common_fields(&metadata_json(reference)));
}

/// A progress sink that records events and cancels a token after `n` events matching a filter.
pub struct CancelAfter {
    pub token: CancelToken,
    left: std::sync::atomic::AtomicI64,
    filter: fn(&post_init::Event) -> bool,
    pub events: std::sync::Mutex<Vec<post_init::Event>>,
}

impl CancelAfter {
    pub fn new(n: i64, filter: fn(&post_init::Event) -> bool) -> Self {
        Self {
            token: CancelToken::new(),
            left: std::sync::atomic::AtomicI64::new(n),
            filter,
            events: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Cancels after `n` batches were written.
    pub fn writes(n: i64) -> Self {
        Self::new(n, |e| matches!(e, post_init::Event::LabelsWritten { .. }))
    }

    pub fn events(&self) -> Vec<post_init::Event> {
        self.events.lock().unwrap().clone()
    }
}

impl post_init::ProgressSink for CancelAfter {
    fn event(&self, event: &post_init::Event) {
        self.events.lock().unwrap().push(event.clone());
        if (self.filter)(event) && self.left.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) <= 1 {
            self.token.cancel();
        }
    }
}

/// Prepares and runs a request with a sink that also cancels.
pub fn init_with(request: &InitRequest, sink: &CancelAfter) -> Result<InitOutcome, post_init::Error> {
    post_init::prepare(request, &ReferenceLabeller, &ReferenceLabeller)?.run(&sink.token, sink)
}

/// Every file of a directory (data, metadata, anything) by name, except the lock file.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != ".post.lock")
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// Copies the reference directory into `dir` (writable).
pub fn copy_reference(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in snapshot(&reference_dir()) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// The first file of a directory that is shorter than a full file of the small layout (4800 bytes,
/// the last one 1984), if any.
pub fn partial_file(dir: &Path) -> Option<PathBuf> {
    let expected = [4800u64, 4800, 4800, 1984];
    (0..4).map(|i| dir.join(format!("postdata_{i}.bin"))).zip(expected).find_map(|(p, e)| {
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        (len < e).then_some(p)
    })
}
