//! The CUDA kernels run on the host's SIMT emulator (`simt.cpp`): one batch exactly as `post-cuda`
//! launches it — `post_pbkdf2_in`, the variant's ROMix kernel, `post_pbkdf2_out`, and `post_vrf_reduce`
//! when a threshold is set — over host buffers laid out like the device's.

use parking_lot::Mutex;

use crate::{password, CAND_WORDS};

extern "C" {
    fn pc_simt_pbkdf2_in(c: *const u64, start: u64, count: u32, xbuf: *mut u32);
    fn pc_simt_romix(tpl: u32, gap: u32, xbuf: *mut u32, v: *mut u32, count: u32, n: u32, cap: u32) -> i32;
    fn pc_simt_pbkdf2_out(
        c: *const u64,
        start: u64,
        count: u32,
        xbuf: *const u32,
        out: *mut u64,
        threshold: *const u64,
        use_vrf: u32,
        block_cands: *mut u64,
    );
    fn pc_simt_vrf_reduce(block_cands: *const u64, nblocks: u32, result: *mut u64);
}

/// Threads per block of the kernels (`PC_BLOCK`).
const BLOCK: u32 = 256;

/// One batch for the emulator.
#[derive(Debug, Clone, Copy)]
pub struct SimtBatch<'a> {
    /// The commitment.
    pub commitment: &'a [u8; 32],
    /// Index of the first label.
    pub start: u64,
    /// Labels in the batch (at most `cap`).
    pub count: u32,
    /// scrypt N.
    pub n: u32,
    /// 1 or 4.
    pub threads_per_label: u32,
    /// Lookup gap: 1, 2 or 4, at most N.
    pub gap: u32,
    /// Labels the buffers are sized for (the table's interleave stride).
    pub cap: u32,
    /// The VRF threshold, if any.
    pub threshold: Option<&'a [u8; 32]>,
}

/// What a batch returns: the stored 16 bytes of each label, and the candidate record when a threshold
/// was set (found flag, index, four big-endian label words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimtResult {
    /// 16 bytes per label.
    pub labels: Vec<u8>,
    /// The VRF candidate record.
    pub candidate: Option<[u64; CAND_WORDS]>,
}

/// Runs one batch on the emulator (one at a time: the emulator is single-threaded).
///
/// # Panics
/// When the batch is malformed (count above cap, a gap above N or not 1, 2, 4, threads not 1 or 4).
pub fn simt_batch(b: &SimtBatch<'_>) -> SimtResult {
    static LOCK: Mutex<()> = Mutex::new(());
    assert!(b.count >= 1 && b.count <= b.cap, "count {} outside 1..={}", b.count, b.cap);
    assert!(b.n >= 2 && b.n.is_power_of_two() && b.gap <= b.n, "N {} gap {}", b.n, b.gap);
    let cap = b.cap as usize;
    let pw = password(b.commitment, 0);
    let c = [pw[0], pw[1], pw[2], pw[3]];
    let threshold: [u64; 4] = match b.threshold {
        Some(t) => std::array::from_fn(|k| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&t[8 * k..8 * k + 8]);
            u64::from_be_bytes(w)
        }),
        None => [0; 4],
    };
    let use_vrf = u32::from(b.threshold.is_some());
    let mut xbuf = vec![0u32; cap * 32];
    let mut v = vec![0u32; (b.n / b.gap) as usize * cap * 32];
    let mut out = vec![0u64; cap * 2];
    let nblocks = b.count.div_ceil(BLOCK);
    let mut block_cands = vec![0u64; cap.div_ceil(BLOCK as usize) * CAND_WORDS];
    let mut result = [0u64; CAND_WORDS];
    let _one_at_a_time = LOCK.lock();
    // SAFETY: every buffer is sized as post-cuda sizes it for `cap` labels, and count <= cap.
    unsafe {
        pc_simt_pbkdf2_in(c.as_ptr(), b.start, b.count, xbuf.as_mut_ptr());
        let rc = pc_simt_romix(b.threads_per_label, b.gap, xbuf.as_mut_ptr(), v.as_mut_ptr(), b.count, b.n, b.cap);
        assert_eq!(rc, 0, "no ROMix kernel for {} threads per label and gap {}", b.threads_per_label, b.gap);
        pc_simt_pbkdf2_out(
            c.as_ptr(),
            b.start,
            b.count,
            xbuf.as_ptr(),
            out.as_mut_ptr(),
            threshold.as_ptr(),
            use_vrf,
            block_cands.as_mut_ptr(),
        );
        if use_vrf == 1 {
            pc_simt_vrf_reduce(block_cands.as_ptr(), nblocks, result.as_mut_ptr());
        }
    }
    let labels = out[..b.count as usize * 2].iter().flat_map(|l| l.to_le_bytes()).collect();
    SimtResult { labels, candidate: (use_vrf == 1).then_some(result) }
}
