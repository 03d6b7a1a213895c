//! Where every label lives on disk (spec §4.1): the data is the concatenation of `postdata_<i>.bin`
//! files of 16-byte labels in index order; every file but the last holds exactly `MaxFileSize / 16`
//! labels.
//!
//! ```text
//! labels_per_file = max_file_size / 16
//! num_files       = ceil(num_labels / labels_per_file)
//! file i          = labels [i·labels_per_file, min((i+1)·labels_per_file, num_labels))
//! label k         = file k / labels_per_file, byte offset 16·(k mod labels_per_file)
//! ```
//!
//! A file is found by the number in its name, never by its position in a directory listing: the
//! reference prover maps the k-th file it lists to the k-th slot, so a missing middle file silently
//! shifts every later label (spec §13).

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::{Error, LabelIndex};

/// Bytes per stored label.
pub const LABEL_SIZE: u64 = 16;

/// The shape of a data directory: how many labels, how they are cut into files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layout {
    num_labels: u64,
    labels_per_file: u64,
    num_files: u32,
}

impl Layout {
    /// Builds the layout of `num_labels` labels in files of at most `max_file_size` bytes.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when `max_file_size` is not a positive multiple of 16, when the data's size
    /// in bytes overflows 64 bits, or when it would take more than `u32::MAX` files.
    pub fn new(num_labels: u64, max_file_size: u64) -> Result<Self, Error> {
        if max_file_size < LABEL_SIZE || !max_file_size.is_multiple_of(LABEL_SIZE) {
            return Err(Error::InvalidParam {
                name: "max file size",
                reason: format!("{max_file_size} bytes is not a positive multiple of 16"),
            });
        }
        if num_labels.checked_mul(LABEL_SIZE).is_none() {
            return Err(Error::InvalidParam {
                name: "labels",
                reason: format!("{num_labels} labels of 16 bytes overflow a 64-bit size"),
            });
        }
        let labels_per_file = max_file_size / LABEL_SIZE;
        let num_files = u32::try_from(num_labels.div_ceil(labels_per_file)).map_err(|_| Error::InvalidParam {
            name: "max file size",
            reason: format!("{num_labels} labels in files of {max_file_size} bytes need more than 2^32 files"),
        })?;
        Ok(Self { num_labels, labels_per_file, num_files })
    }

    /// Total labels.
    pub fn num_labels(&self) -> u64 {
        self.num_labels
    }

    /// Total bytes of all files.
    pub fn total_bytes(&self) -> u64 {
        self.num_labels * LABEL_SIZE
    }

    /// Labels in a full file.
    pub fn labels_per_file(&self) -> u64 {
        self.labels_per_file
    }

    /// Size of a full file in bytes (`MaxFileSize`).
    pub fn max_file_size(&self) -> u64 {
        self.labels_per_file * LABEL_SIZE
    }

    /// Number of files: ceil(num_labels / labels_per_file).
    pub fn num_files(&self) -> u32 {
        self.num_files
    }

    /// The name of file `i`: `postdata_<i>.bin`, decimal without padding.
    pub fn file_name(i: u32) -> String {
        format!("postdata_{i}.bin")
    }

    /// The path of file `i` inside `dir`.
    pub fn file_path(dir: &Path, i: u32) -> PathBuf {
        dir.join(Self::file_name(i))
    }

    /// The file number in a name written by [`Layout::file_name`]: `postdata_` + decimal digits + `.bin`,
    /// without sign and without leading zeros (except `0` itself). Anything else is `None`, so that
    /// `postdata_01.bin` is never taken for file 1.
    pub fn parse_file_name(name: &str) -> Option<u32> {
        let digits = name.strip_prefix("postdata_")?.strip_suffix(".bin")?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !canonical {
            return None;
        }
        digits.parse().ok()
    }

    /// The global label indices held by file `i`; empty for a file beyond the layout.
    pub fn file_labels(&self, i: u32) -> Range<u64> {
        if i >= self.num_files {
            return self.num_labels..self.num_labels;
        }
        let start = u64::from(i) * self.labels_per_file;
        start..(start + self.labels_per_file).min(self.num_labels)
    }

    /// The size file `i` has when complete; 0 for a file beyond the layout.
    pub fn expected_file_size(&self, i: u32) -> u64 {
        let labels = self.file_labels(i);
        (labels.end - labels.start) * LABEL_SIZE
    }

    /// The file holding a label and the label's byte offset inside it.
    ///
    /// # Errors
    /// [`Error::LabelOutOfRange`] when the index is not below `num_labels`.
    pub fn locate(&self, index: LabelIndex) -> Result<(u32, u64), Error> {
        if index.0 >= self.num_labels {
            return Err(Error::LabelOutOfRange { index: index.0, num_labels: self.num_labels });
        }
        // index < num_labels ≤ num_files · labels_per_file, so the quotient fits the file count.
        let file = (index.0 / self.labels_per_file) as u32;
        Ok((file, (index.0 % self.labels_per_file) * LABEL_SIZE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_reference_dir() {
        // shared/vectors/datadir-small: 4 units × 256 labels in files of 4800 bytes (300 labels).
        let layout = Layout::new(1024, 4800).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((layout.labels_per_file(), layout.num_files(), layout.total_bytes()), (300, 4, 16384));
        assert_eq!(layout.file_labels(3), 900..1024);
        assert_eq!((0..5).map(|i| layout.expected_file_size(i)).collect::<Vec<_>>(), [4800, 4800, 4800, 1984, 0]);
        assert_eq!(layout.locate(LabelIndex(299)).ok(), Some((0, 299 * 16)));
        assert_eq!(layout.locate(LabelIndex(300)).ok(), Some((1, 0)));
        assert_eq!(layout.locate(LabelIndex(1023)).ok(), Some((3, 123 * 16)));
        assert!(matches!(layout.locate(LabelIndex(1024)), Err(Error::LabelOutOfRange { index: 1024, .. })));
    }

    #[test]
    fn mainnet_unit() {
        let layout = Layout::new(4 << 32, 4 << 30).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((layout.labels_per_file(), layout.num_files()), (1 << 28, 64));
    }

    #[test]
    fn bad_shapes_are_refused() {
        assert!(Layout::new(10, 0).is_err());
        assert!(Layout::new(10, 100).is_err());
        assert!(Layout::new(u64::MAX / 8, 1 << 20).is_err());
        assert!(Layout::new(1 << 40, 16).is_err());
        let empty = Layout::new(0, 16).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(empty.num_files(), 0);
        assert!(empty.locate(LabelIndex(0)).is_err());
    }

    #[test]
    fn file_names_are_strict() {
        assert_eq!(Layout::file_name(12), "postdata_12.bin");
        assert_eq!(Layout::parse_file_name("postdata_0.bin"), Some(0));
        assert_eq!(Layout::parse_file_name("postdata_4294967295.bin"), Some(u32::MAX));
        for bad in [
            "postdata_.bin",
            "postdata_01.bin",
            "postdata_00.bin",
            "postdata_+1.bin",
            "postdata_-1.bin",
            "postdata_1.bin.tmp",
            "postdata_1.BIN",
            "postdata_4294967296.bin",
            "postdata_1a.bin",
            "xpostdata_1.bin",
            "postdata_metadata.json",
        ] {
            assert_eq!(Layout::parse_file_name(bad), None, "{bad}");
        }
    }
}
