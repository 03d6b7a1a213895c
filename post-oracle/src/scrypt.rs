//! The scrypt engine, written once and generic over the PBKDF2 hash and the 64-byte mix core.
//!
//! The network's label function is this engine with original Keccak-512 and ChaCha20/8
//! ([`crate::scrypt_jane`]); RFC 7914 scrypt is the same engine with SHA-256 and Salsa20/8
//! ([`crate::scrypt_rfc7914`]), which the tests compare with the `scrypt` crate to prove the engine.
//!
//! ```text
//! 1. B = PBKDF2-HMAC(P, S, 128·r·p), one iteration
//! 2. for each of the p chunks of 128·r bytes: chunk = ROMix(chunk)      (words are little-endian)
//! 3. out = PBKDF2-HMAC(P, B, dkLen), one iteration
//! ```
//!
//! All memory lives in a caller-owned [`Scratch`], allocated once and reused for any number of calls.

use post_core::ScryptParams;

use crate::block_mix::{MixCore, SubBlock};
use crate::pbkdf2::{pbkdf2, pbkdf2_max_len, Hmac, PrfHash};
use crate::romix::romix;
use crate::Error;

/// Working memory of one scrypt evaluation: the ROMix table (128·r·N bytes), two working blocks and
/// the 128·r·p-byte PBKDF2 buffer. One per thread; reuse it across calls.
pub struct Scratch {
    params: ScryptParams,
    table: Vec<SubBlock>,
    x: Vec<SubBlock>,
    y: Vec<SubBlock>,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch").field("params", &self.params).field("table_bytes", &(self.table.len() * 64)).finish()
    }
}

/// RFC 7914 bounds r·p below 2^30.
const MAX_RP: u64 = 1 << 30;

impl Scratch {
    /// Allocates the working memory for `params`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when r·p ≥ 2^30 (the RFC 7914 bound) or the memory cannot be allocated.
    pub fn new(params: ScryptParams) -> Result<Self, Error> {
        let (n, r, p) = (u64::from(params.n()), u64::from(params.r()), u64::from(params.p()));
        let unsupported = |reason: String| Error::Unsupported {
            labeller: "scrypt".into(),
            n: params.n(),
            r: params.r(),
            p: params.p(),
            reason,
        };
        if r * p >= MAX_RP {
            return Err(unsupported("r·p must be below 2^30 (RFC 7914); lower r or p".into()));
        }
        let sub_blocks = |count: u64| {
            usize::try_from(count).map_err(|_| unsupported(format!("{count} sub-blocks do not fit in memory")))
        };
        let table_len = sub_blocks(2 * r * n)?;
        let block_len = sub_blocks(2 * r)?;
        let bytes_len = sub_blocks(2 * r * p)?.saturating_mul(64);
        let mut table = Vec::new();
        table.try_reserve_exact(table_len).map_err(|e| {
            unsupported(format!("cannot allocate the {} MiB ROMix table: {e}; lower N or r", (128 * r * n) >> 20))
        })?;
        table.resize(table_len, [0; 16]);
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(bytes_len).map_err(|e| {
            unsupported(format!("cannot allocate the {bytes_len}-byte PBKDF2 buffer: {e}; lower r or p"))
        })?;
        bytes.resize(bytes_len, 0);
        Ok(Self { params, table, x: vec![[0; 16]; block_len], y: vec![[0; 16]; block_len], bytes })
    }

    /// The parameters this scratch was made for.
    pub fn params(&self) -> ScryptParams {
        self.params
    }
}

/// scrypt with PBKDF2 over `H` and BlockMix over `M`: fills `out` from `password` and `salt` with the
/// parameters `scratch` was made for.
///
/// # Errors
/// [`Error::OutputTooLong`] when `out` is longer than PBKDF2 allows ((2^32 − 1) digests).
pub fn scrypt<H: PrfHash, M: MixCore>(
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    scratch: &mut Scratch,
) -> Result<(), Error> {
    let max = pbkdf2_max_len::<H>();
    if out.len() as u64 > max {
        return Err(Error::OutputTooLong { len: out.len(), max });
    }
    let n = scratch.params.n() as usize;
    let Scratch { table, x, y, bytes, .. } = scratch;
    // Step 1: expand the password and salt.
    let prf = Hmac::<H>::new(password);
    pbkdf2(&prf, salt, bytes)?;
    // Step 2: mix each chunk of 128·r bytes on its own.
    for chunk in bytes.chunks_exact_mut(x.len() * 64) {
        load(chunk, x);
        romix::<M>(x, table, y, n);
        store(x, chunk);
    }
    // Step 3: compress the mixed buffer.
    pbkdf2(&prf, bytes, out)
}

/// Bytes → little-endian words.
fn load(bytes: &[u8], blocks: &mut [SubBlock]) {
    for (block, chunk) in blocks.iter_mut().zip(bytes.chunks_exact(64)) {
        for (w, c) in block.iter_mut().zip(chunk.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
    }
}

/// Little-endian words → bytes.
fn store(blocks: &[SubBlock], bytes: &mut [u8]) {
    for (block, chunk) in blocks.iter().zip(bytes.chunks_exact_mut(64)) {
        for (w, c) in block.iter().zip(chunk.chunks_exact_mut(4)) {
            c.copy_from_slice(&w.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_rejects_what_it_cannot_hold() {
        let ok = ScryptParams::new(16, 1, 1).map(Scratch::new);
        assert!(matches!(ok, Ok(Ok(_))));
        let big_rp = ScryptParams::new(2, 1 << 15, 1 << 15).map(Scratch::new);
        assert!(matches!(big_rp, Ok(Err(Error::Unsupported { .. }))));
    }

    #[test]
    fn words_round_trip_little_endian() {
        let bytes: Vec<u8> = (0..128u8).collect();
        let mut blocks = vec![[0u32; 16]; 2];
        load(&bytes, &mut blocks);
        assert_eq!(blocks[0][0], 0x0302_0100);
        assert_eq!(blocks[1][15], 0x7f7e_7d7c);
        let mut back = vec![0u8; 128];
        store(&blocks, &mut back);
        assert_eq!(back, bytes);
    }
}
