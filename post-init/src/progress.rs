//! Progress reporting: long operations push [`Event`]s to a [`ProgressSink`] the caller provides. The
//! library never prints; the command-line tool turns events into a progress bar or log lines.

use std::path::PathBuf;

use post_core::LabelIndex;

/// Something that happened during a long operation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Initialization starts writing: the selected files hold `total_labels` labels, of which
    /// `done_labels` are already on disk (and checked).
    InitStarted {
        /// Labels of the selected files.
        total_labels: u64,
        /// Labels already written by an earlier run.
        done_labels: u64,
    },
    /// A torn last label (a length that is not a multiple of 16, left by an interrupted write) was cut.
    TornTailCut {
        /// The file.
        path: PathBuf,
        /// Its length before, in bytes.
        from_len: u64,
        /// Its length after, in bytes.
        to_len: u64,
    },
    /// The labels at the end of a file differ from the recomputed ones while its first labels are right:
    /// a write that did not reach the disk (e.g. a power loss). They are overwritten with the right ones.
    TailRewritten {
        /// The file.
        path: PathBuf,
        /// Bytes at its start that are right and kept.
        from: u64,
        /// Bytes of whole labels it had.
        to: u64,
    },
    /// The labels past a file's durable mark (written by a run that stopped without syncing them: a
    /// power cut may have lost any of them) were recomputed and compared.
    CheckedPastMark {
        /// The file.
        path: PathBuf,
        /// The mark: bytes known to be on the disk.
        mark: u64,
        /// Labels checked after it.
        checked: u64,
        /// Byte offset of the first wrong label, from which the file is written again; `None` when
        /// every label was right.
        first_bad: Option<u64>,
    },
    /// The durable marks file could not be used (damaged, or of other data) and was renamed; files
    /// fall back to the check of where they end.
    DurableMarksSetAside {
        /// The marks file.
        path: PathBuf,
        /// Its new name.
        to: PathBuf,
        /// Why it could not be used.
        reason: String,
    },
    /// More labels were written to disk (a delta, not a total).
    LabelsWritten {
        /// Labels written since the previous event.
        labels: u64,
    },
    /// A better VRF nonce was found and saved in the metadata.
    NewVrfNonce {
        /// Its label index.
        index: LabelIndex,
        /// Its full 32-byte label.
        label: [u8; 32],
    },
    /// A data file is complete and synced to disk.
    FileCompleted {
        /// The file.
        path: PathBuf,
    },
    /// No label of the data is below the VRF difficulty: the search goes on beyond the data, block by block.
    NonceSearchBeyond {
        /// The first label index of the block being searched.
        from: LabelIndex,
    },
    /// Verification starts: `total_labels` labels will be recomputed.
    VerifyStarted {
        /// Labels to recompute.
        total_labels: u64,
    },
    /// More labels were recomputed and compared (a delta, not a total).
    LabelsChecked {
        /// Labels checked since the previous event.
        labels: u64,
    },
}

/// Receives progress events. Called from the operation's threads, so it must be `Sync`.
pub trait ProgressSink: Send + Sync {
    /// Handles one event. It should return quickly; the operation waits for it.
    fn event(&self, event: &Event);
}

/// A sink that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn event(&self, _event: &Event) {}
}

impl<F: Fn(&Event) + Send + Sync> ProgressSink for F {
    fn event(&self, event: &Event) {
        self(event);
    }
}
