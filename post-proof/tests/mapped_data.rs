//! Mapping a data directory for the scan: files are placed by the number in their name, incomplete
//! data is refused with an error that names the file, and files outside the layout are never read.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use std::path::Path;

use common::*;
use post_core::{LockMode, PostData};
use post_proof::{Error, MappedData};

fn copy_reference(to: &Path) {
    for entry in std::fs::read_dir(reference_dir()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn files_are_mapped_by_their_number() {
    let dir = tempfile::tempdir().unwrap();
    copy_reference(dir.path());
    // A stray file with a later number and a non-canonical name must not be read.
    std::fs::write(dir.path().join("postdata_4.bin"), [0xee; 4800]).unwrap();
    std::fs::write(dir.path().join("postdata_01.bin"), [0xee; 4800]).unwrap();
    let data = PostData::open(dir.path(), LockMode::Shared).unwrap();
    let mapped = MappedData::open(&data).unwrap();
    let regions = mapped.regions();
    let firsts: Vec<u64> = regions.iter().map(|r| r.first.0).collect();
    assert_eq!(firsts, [0, 300, 600, 900]);
    assert_eq!(mapped.len_bytes(), 1024 * 16);
    let all: Vec<[u8; 16]> = regions.iter().flat_map(|r| r.labels.iter().copied()).collect();
    assert_eq!(all, disk_labels());
}

#[test]
fn incomplete_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    copy_reference(dir.path());
    let file = dir.path().join("postdata_2.bin");
    std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(4784).unwrap();
    let data = PostData::open(dir.path(), LockMode::Shared).unwrap();
    let err = MappedData::open(&data).unwrap_err();
    assert!(matches!(&err, Error::Core { source: post_core::Error::FileSize { .. } }), "{err}");
    assert!(err.to_string().contains("postdata_2.bin"), "{err}");

    std::fs::remove_file(&file).unwrap();
    let data = PostData::open(dir.path(), LockMode::Shared).unwrap();
    let err = MappedData::open(&data).unwrap_err();
    assert!(matches!(&err, Error::Core { source: post_core::Error::FileMissing { .. } }), "{err}");
}
