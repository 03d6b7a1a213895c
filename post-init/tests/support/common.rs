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
        batch: Some(64),
    }
}

/// Prepares and runs a request to its end with the reference labeller.
pub fn init(request: &InitRequest) -> Result<InitOutcome, post_init::Error> {
    post_init::prepare(request, &ReferenceLabeller)?.run(&CancelToken::new(), &NoProgress)
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
