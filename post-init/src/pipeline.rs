//! The write pipeline of initialization: the calling thread computes batches of labels while a writer
//! thread appends the previous batch to its file, so that disk writes overlap label computation.
//!
//! ```text
//! 1. The range to write is a list of segments, each a run of labels at the end of one file.
//! 2. The compute side cuts segments into batches (never across a file), checks the cancel token,
//!    labels a batch into a recycled buffer with the current VRF threshold, and sends it over a
//!    channel of capacity one (so at most three buffers exist: computing, queued, writing).
//! 3. The writer first saves a better VRF nonce when the batch brought one — before any label that
//!    produced it reaches the disk, so a crash can never leave labels whose nonce was not recorded —
//!    then writes the batch at its offset. Before the first write to a file it syncs the file and its
//!    directory and records the segment's start as the file's durable mark (see `durable`); every
//!    `sync_bytes` written it syncs the file and moves the mark; when the file's last label is
//!    written it syncs the file and removes the mark.
//! 4. On cancellation, an error or the end, the channel closes; the writer finishes what it received,
//!    syncs the open file, moves its mark to what was written, and hands back the buffers.
//! ```

use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use post_core::{Commitment, LabelIndex, ScryptParams};
use post_oracle::{LabelJob, Labeller, VrfCandidate};

use crate::durable::DurableMarks;
use crate::{CancelToken, Error, Event, ProgressSink, VrfSearch};

/// A run of labels to write at the end of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// The file's number.
    pub file: u32,
    /// The file.
    pub path: PathBuf,
    /// Global label indices to write.
    pub labels: Range<u64>,
    /// Byte offset in the file of `labels.start`.
    pub offset: u64,
}

/// What the pipeline needs besides the segments.
pub(crate) struct Pipeline<'a> {
    /// Computes the labels.
    pub labeller: &'a dyn Labeller,
    /// The identity.
    pub commitment: &'a Commitment,
    /// Label cost.
    pub params: ScryptParams,
    /// Labels per batch (at least 1).
    pub batch: usize,
    /// Bytes written to a file between two syncs of it (0: only when the file is finished).
    pub sync_bytes: u64,
    /// Stops the run at the next batch.
    pub cancel: &'a CancelToken,
    /// Receives progress.
    pub progress: &'a dyn ProgressSink,
}

/// How a pipeline run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// Every segment was written and synced.
    Done,
    /// The cancel token stopped it; everything sent was written and synced.
    Cancelled,
}

struct Batch {
    segment: usize,
    /// Byte offset in the segment's file.
    offset: u64,
    buf: Vec<u8>,
    /// The last batch of its segment.
    last: bool,
    new_best: Option<VrfCandidate>,
}

impl Pipeline<'_> {
    /// Writes all segments, chaining the VRF search through `vrf` and calling `save_nonce` with every
    /// improvement before the labels that produced it are written; returns how it ended and how many
    /// labels were written.
    ///
    /// # Errors
    /// A labeller failure ([`Error::Label`]), a write or sync failure ([`Error::Io`], [`Error::DiskFull`])
    /// or whatever `save_nonce` returns. Everything written before the error is synced.
    pub fn run(
        &self,
        segments: &[Segment],
        vrf: &mut VrfSearch,
        marks: &mut DurableMarks,
        save_nonce: &mut (dyn FnMut(&VrfCandidate) -> Result<(), Error> + Send),
    ) -> Result<(RunEnd, u64), Error> {
        let batch_bytes = self.batch.max(1) * 16;
        let (to_writer, from_compute) = sync_channel::<Batch>(1);
        let (to_compute, recycled) = sync_channel::<Vec<u8>>(3);
        for _ in 0..3 {
            // Cannot fail: the channel has room for three buffers and its receiver is alive.
            let _ = to_compute.send(Vec::with_capacity(batch_bytes));
        }
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                let mut writer = Writer { segments, marks, sync_bytes: self.sync_bytes, open: None };
                writer.write_batches(from_compute, to_compute, save_nonce, self.progress)
            });
            let computed = self.compute(segments, vrf, batch_bytes, &to_writer, &recycled);
            drop(to_writer);
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(Error::Internal { what: "the label writer thread panicked".into() }));
            // A write error explains a closed channel, so it comes first.
            let written = written?;
            computed.map(|end| (end, written))
        })
    }

    fn compute(
        &self,
        segments: &[Segment],
        vrf: &mut VrfSearch,
        batch_bytes: usize,
        to_writer: &SyncSender<Batch>,
        recycled: &Receiver<Vec<u8>>,
    ) -> Result<RunEnd, Error> {
        for (index, seg) in segments.iter().enumerate() {
            let mut start = seg.labels.start;
            while start < seg.labels.end {
                if self.cancel.is_cancelled() {
                    return Ok(RunEnd::Cancelled);
                }
                let count = (seg.labels.end - start).min(batch_bytes as u64 / 16);
                let Ok(mut buf) = recycled.recv() else {
                    return Ok(RunEnd::Done); // The writer stopped; its error is reported by `run`.
                };
                buf.resize(count as usize * 16, 0);
                let job = LabelJob {
                    commitment: self.commitment,
                    params: self.params,
                    start: LabelIndex(start),
                    out: &mut buf,
                    vrf_threshold: Some(vrf.threshold()),
                };
                let found = self.labeller.label(job).map_err(|source| Error::Label { start, count, source })?;
                let new_best = vrf.offer(found);
                let offset = seg.offset + (start - seg.labels.start) * 16;
                let last = start + count == seg.labels.end;
                if to_writer.send(Batch { segment: index, offset, buf, last, new_best }).is_err() {
                    return Ok(RunEnd::Done); // As above.
                }
                start += count;
            }
        }
        Ok(RunEnd::Done)
    }
}

/// The file the writer has open.
struct OpenFile {
    segment: usize,
    file: File,
    /// The end of the last write.
    end: u64,
    /// Bytes written since the last sync.
    unsynced: u64,
}

/// The writer thread's state: see steps 3 and 4 of the module documentation.
struct Writer<'a> {
    segments: &'a [Segment],
    marks: &'a mut DurableMarks,
    sync_bytes: u64,
    open: Option<OpenFile>,
}

impl Writer<'_> {
    fn write_batches(
        &mut self,
        batches: Receiver<Batch>,
        recycle: SyncSender<Vec<u8>>,
        save_nonce: &mut (dyn FnMut(&VrfCandidate) -> Result<(), Error> + Send),
        progress: &dyn ProgressSink,
    ) -> Result<u64, Error> {
        let segments = self.segments;
        let mut written = 0;
        let result = (|| {
            for batch in batches.iter() {
                if let Some(best) = &batch.new_best {
                    save_nonce(best)?;
                    progress.event(&Event::NewVrfNonce { index: best.index, label: best.label });
                }
                let seg = &segments[batch.segment];
                if self.open.as_ref().is_none_or(|o| o.segment != batch.segment) {
                    self.close()?;
                    self.open = Some(self.start(batch.segment)?);
                }
                if let Some(open) = &mut self.open {
                    open.file
                        .write_all_at(&batch.buf, batch.offset)
                        .map_err(|e| write_error(&seg.path, batch.offset, e))?;
                    open.end = batch.offset + batch.buf.len() as u64;
                    open.unsynced += batch.buf.len() as u64;
                }
                written += batch.buf.len() as u64 / 16;
                progress.event(&Event::LabelsWritten { labels: batch.buf.len() as u64 / 16 });
                if batch.last {
                    if let Some(open) = self.open.take() {
                        sync(&seg.path, &open.file)?;
                        sync_parent(&seg.path)?;
                        self.marks.remove(seg.file)?;
                    }
                    progress.event(&Event::FileCompleted { path: seg.path.clone() });
                } else if self.sync_bytes > 0 && self.open.as_ref().is_some_and(|o| o.unsynced >= self.sync_bytes) {
                    self.checkpoint()?;
                }
                // The compute side may have stopped; then the buffer is simply dropped.
                let _ = recycle.try_send(batch.buf);
            }
            Ok(())
        })();
        // Whatever happened, what was written is synced (and marked) before returning.
        result.and(self.close()).map(|()| written)
    }

    /// Opens a segment's file; what it keeps before the segment is synced, with the file's name, and
    /// becomes its durable mark before anything is written.
    fn start(&mut self, segment: usize) -> Result<OpenFile, Error> {
        let seg = &self.segments[segment];
        let file = open_for_append(&seg.path)?;
        file.sync_data().map_err(|source| write_error(&seg.path, u64::MAX, source))?;
        sync_parent(&seg.path)?;
        self.marks.set(seg.file, seg.offset)?;
        Ok(OpenFile { segment, file, end: seg.offset, unsynced: 0 })
    }

    /// Syncs the open file's data and moves its mark to the end of what was written.
    fn checkpoint(&mut self) -> Result<(), Error> {
        let Some(open) = &mut self.open else { return Ok(()) };
        let seg = &self.segments[open.segment];
        open.file.sync_data().map_err(|source| write_error(&seg.path, u64::MAX, source))?;
        open.unsynced = 0;
        self.marks.set(seg.file, open.end)
    }

    /// Syncs the open file, moves its mark, and closes it.
    fn close(&mut self) -> Result<(), Error> {
        let synced = self.checkpoint();
        self.open = None;
        synced
    }
}

fn open_for_append(path: &Path) -> Result<File, Error> {
    OpenOptions::new().write(true).create(true).truncate(false).open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        action: "opening for writing",
        source,
    })
}

fn sync(path: &Path, file: &File) -> Result<(), Error> {
    file.sync_all().map_err(|source| write_error(path, u64::MAX, source))
}

/// Syncs the directory holding `path`, so that a newly created file's name is durable too.
pub(crate) fn sync_parent(path: &Path) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all()).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        action: "syncing directory",
        source,
    })
}

/// A write or sync failure; a full disk or a file-size limit gets its own message.
pub(crate) fn write_error(path: &Path, offset: u64, source: std::io::Error) -> Error {
    use std::io::ErrorKind;
    let full = matches!(source.kind(), ErrorKind::StorageFull | ErrorKind::FileTooLarge | ErrorKind::QuotaExceeded);
    if full {
        Error::DiskFull { path: path.to_path_buf(), source }
    } else if offset == u64::MAX {
        Error::Io { path: path.to_path_buf(), action: "syncing", source }
    } else {
        Error::Io { path: path.to_path_buf(), action: "writing", source }
    }
}
