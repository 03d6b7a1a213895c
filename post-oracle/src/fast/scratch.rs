//! Scratch memory of the fast labeller: one ROMix table per worker, reused across lane groups and
//! calls, so that labelling allocates (and page-faults) nothing in its steady state.
//!
//! Memory: a worker's table is `lanes · 128 · r · N` bytes, lanes counting both interleaved groups
//! (32 MiB for AVX-512's 2 × 16 lanes at N = 8192, 16 MiB for AVX2, 8 MiB for SSE2), plus a few KiB
//! of per-lane buffers. The pool holds at most one scratch per worker that
//! ever ran at the same time, and frees them when the labeller is dropped.

use std::sync::{Mutex, PoisonError};

/// Alignment of the table: a 2 MiB huge page (which also aligns every lane's 128-byte entry to
/// cache lines).
const TABLE_ALIGN_WORDS: usize = HUGE_PAGE / 4;

/// Size of an x86-64 / AArch64 transparent huge page.
const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel to back `words` with transparent huge pages. ROMix's second loop reads a random
/// entry of a multi-MiB table per lane and step; with 4 KiB pages nearly every read also misses the
/// TLB. Best effort: without transparent huge pages the advice changes nothing.
fn advise_huge_pages(words: &mut [u32]) {
    #[cfg(target_os = "linux")]
    {
        let len = words.len() * 4 / HUGE_PAGE * HUGE_PAGE;
        if len > 0 {
            // SAFETY: the range lies inside `words` (the caller aligned its start to a huge page), and
            // MADV_HUGEPAGE changes no memory contents; a failure only means no huge pages.
            unsafe { libc::madvise(words.as_mut_ptr().cast(), len, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = words;
}

/// Allocates `words` zeroed words without writing them: the allocator maps fresh zero pages for large
/// sizes, so no page is touched (or backed) before ROMix writes it. `None` when the allocator
/// refuses. (`vec![0; n]` does the same but aborts the process on failure.)
fn zeroed_words(words: usize) -> Option<Vec<u32>> {
    let layout = std::alloc::Layout::array::<u32>(words).ok()?;
    if layout.size() == 0 {
        return Some(Vec::new());
    }
    // SAFETY: the layout has a nonzero size; zero is a valid u32, so all `words` elements are
    // initialized; `from_raw_parts` gets the pointer, length and capacity of this very allocation,
    // made with the layout `Vec<u32>` uses for that capacity.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout).cast::<u32>();
        if ptr.is_null() {
            return None;
        }
        Some(Vec::from_raw_parts(ptr, words, words))
    }
}

/// The buffers one worker needs for one lane group.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    memory: Vec<u32>,
    table_words: usize,
    mixed: Vec<u8>,
    state: Vec<u32>,
}

/// Borrowed views of a [`Scratch`].
#[derive(Debug)]
pub(crate) struct ScratchParts<'a> {
    /// The ROMix table, aligned to a cache line.
    pub(crate) table: &'a mut [u32],
    /// Per-lane PBKDF2 output, mixed in place (`lanes · 128 · r · p` bytes).
    pub(crate) mixed: &'a mut [u8],
    /// The ROMix state of all lanes, vertical (`32 · r · lanes` words).
    pub(crate) state: &'a mut [u32],
}

impl Scratch {
    /// The buffers.
    pub(crate) fn parts(&mut self) -> ScratchParts<'_> {
        let offset = self.memory.as_ptr().align_offset(HUGE_PAGE).min(TABLE_ALIGN_WORDS);
        ScratchParts {
            table: &mut self.memory[offset..offset + self.table_words],
            mixed: &mut self.mixed,
            state: &mut self.state,
        }
    }

    /// Makes room for a table of `table_words` words and the per-lane buffers.
    fn fit(&mut self, table_words: usize, mixed_bytes: usize, state_words: usize) -> Result<(), String> {
        let total = table_words.checked_add(TABLE_ALIGN_WORDS).ok_or("the table size overflows")?;
        if self.memory.len() < total {
            self.memory = Vec::new();
            self.memory = zeroed_words(total).ok_or_else(|| format!("the allocator refused {total} words"))?;
            // Advise before the first touch (ROMix's first loop), so that the pages fault in huge.
            let offset = self.memory.as_ptr().align_offset(HUGE_PAGE).min(TABLE_ALIGN_WORDS);
            advise_huge_pages(&mut self.memory[offset..offset + table_words]);
        }
        self.table_words = table_words;
        self.mixed.try_reserve(mixed_bytes.saturating_sub(self.mixed.len())).map_err(|e| e.to_string())?;
        self.mixed.resize(mixed_bytes, 0);
        self.state.try_reserve(state_words.saturating_sub(self.state.len())).map_err(|e| e.to_string())?;
        self.state.resize(state_words, 0);
        Ok(())
    }
}

/// Scratch buffers free for the next worker.
#[derive(Debug, Default)]
pub(crate) struct ScratchPool {
    free: Mutex<Vec<Scratch>>,
}

/// Sizes of the buffers a lane group needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScratchSize {
    /// Words of the ROMix table.
    pub(crate) table_words: usize,
    /// Bytes of the per-lane PBKDF2 output.
    pub(crate) mixed_bytes: usize,
    /// Words of the vertical ROMix state.
    pub(crate) state_words: usize,
}

impl ScratchPool {
    /// Takes a scratch (a free one, or a new one) sized for `size`; it goes back on drop.
    ///
    /// # Errors
    /// A sentence saying why, when the table cannot be allocated.
    pub(crate) fn take(&self, size: ScratchSize) -> Result<PooledScratch<'_>, String> {
        let mut scratch = self.free.lock().unwrap_or_else(PoisonError::into_inner).pop().unwrap_or_default();
        scratch.fit(size.table_words, size.mixed_bytes, size.state_words).map_err(|reason| {
            format!(
                "cannot allocate a scratch table of {} bytes per thread: {reason}",
                size.table_words.saturating_mul(4)
            )
        })?;
        Ok(PooledScratch { pool: self, scratch: Some(scratch) })
    }
}

/// A scratch on loan from a [`ScratchPool`].
#[derive(Debug)]
pub(crate) struct PooledScratch<'a> {
    pool: &'a ScratchPool,
    scratch: Option<Scratch>,
}

impl PooledScratch<'_> {
    /// The scratch.
    pub(crate) fn get(&mut self) -> &mut Scratch {
        // The option is only emptied by `drop`.
        self.scratch.get_or_insert_with(Scratch::default)
    }
}

impl Drop for PooledScratch<'_> {
    fn drop(&mut self) {
        if let Some(scratch) = self.scratch.take() {
            self.pool.free.lock().unwrap_or_else(PoisonError::into_inner).push(scratch);
        }
    }
}
