//! The labels the proving scan reads: runs of consecutive labels in memory ([`LabelRegion`]), either
//! memory-mapped data files ([`MappedData`]) or any buffer the caller owns (benchmarks, tests).
//!
//! Files are mapped by their number: `postdata_<i>.bin` holds labels `i · labels_per_file …` whatever
//! other files exist (spec §13: the reference maps the k-th listed file instead, so a missing middle file
//! shifts every later index). Mapping lets the kernel read the page cache without a copy and lets many
//! threads read one file; the kernel walks each region front to back, which the kernel's read-ahead
//! (`madvise(MADV_SEQUENTIAL)`) follows.

use std::fs::File;

use memmap2::{Advice, Mmap};
use post_core::{LabelIndex, PostData, LABEL_SIZE};

use crate::Error;

/// Consecutive labels: `labels[k]` is the label with global index `first + k`.
#[derive(Debug, Clone, Copy)]
pub struct LabelRegion<'a> {
    /// Global index of the first label.
    pub first: LabelIndex,
    /// The labels.
    pub labels: &'a [[u8; 16]],
}

impl<'a> LabelRegion<'a> {
    /// A region over `bytes`, which must hold whole labels.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when `bytes.len()` is not a multiple of 16.
    pub fn from_bytes(first: LabelIndex, bytes: &'a [u8]) -> Result<Self, Error> {
        let (labels, rest) = bytes.as_chunks::<16>();
        if !rest.is_empty() {
            return Err(Error::InvalidParam {
                name: "label data",
                reason: format!("{} bytes is not a whole number of 16-byte labels", bytes.len()),
            });
        }
        Ok(Self { first, labels })
    }

    /// Bytes of label data.
    pub fn len_bytes(&self) -> u64 {
        self.labels.len() as u64 * LABEL_SIZE
    }
}

/// The data files of a complete, locked data directory, memory-mapped read-only.
#[derive(Debug)]
pub struct MappedData {
    maps: Vec<(LabelIndex, Mmap, usize)>,
    paths: Vec<std::path::PathBuf>,
}

impl MappedData {
    /// Maps every file of `data`'s layout by its number. `data` must stay open (its shared lock keeps
    /// writers away) while the maps are used.
    ///
    /// # Errors
    /// The first incomplete file's error from [`PostData::require_complete`]; [`Error::Io`] when a
    /// file cannot be opened or mapped; [`Error::IncompleteData`] when a file shrank after the check.
    pub fn open(data: &PostData) -> Result<Self, Error> {
        data.require_complete()?;
        let layout = data.layout();
        let mut maps = Vec::with_capacity(layout.num_files() as usize);
        let mut paths = Vec::with_capacity(layout.num_files() as usize);
        for status in data.files() {
            let labels = layout.file_labels(status.index);
            let expected = (labels.end - labels.start) * LABEL_SIZE;
            if expected == 0 {
                continue;
            }
            let io = |source| Error::Io { path: status.path.clone(), source };
            let file = File::open(&status.path).map_err(io)?;
            // SAFETY: the map is read-only, and the directory's shared lock (held by `data`) keeps our
            // own writers from changing the file while it is mapped. A foreign process truncating the
            // file would make reads fault; that is the documented risk of every memory-mapped reader.
            let map = unsafe { Mmap::map(&file) }.map_err(io)?;
            if (map.len() as u64) < expected {
                return Err(Error::IncompleteData { path: status.path.clone(), expected, found: map.len() as u64 });
            }
            // Advice only tunes read-ahead; a refusal changes nothing about correctness.
            let _ = map.advise(Advice::Sequential);
            maps.push((LabelIndex(labels.start), map, expected as usize));
            paths.push(status.path.clone());
        }
        Ok(Self { maps, paths })
    }

    /// The mapped files as label regions, in file order.
    pub fn regions(&self) -> Vec<LabelRegion<'_>> {
        self.maps
            .iter()
            .map(|(first, map, len)| {
                let (labels, _) = map[..*len].as_chunks::<16>();
                LabelRegion { first: *first, labels }
            })
            .collect()
    }

    /// The address range each file is mapped at, with its path: a process that gets SIGBUS (a file cut
    /// short by someone else while it is mapped) can say which file it was.
    pub fn mapped_ranges(&self) -> Vec<(std::ops::Range<usize>, std::path::PathBuf)> {
        self.maps
            .iter()
            .zip(&self.paths)
            .map(|((_, map, _), path)| {
                let start = map.as_ptr() as usize;
                (start..start + map.len(), path.clone())
            })
            .collect()
    }

    /// Total bytes mapped.
    pub fn len_bytes(&self) -> u64 {
        self.maps.iter().map(|(_, _, len)| *len as u64).sum()
    }
}
