//! The proving scan's kernel: find the (nonce, label) pairs where a label is good (spec §5.4) in a
//! slice of labels, for every nonce of a pass at once.
//!
//! ```text
//! for each block of labels (32 for vaes512, 16 for vaes256, 8 for aesni, 64 for portable):
//!   1. for each nonce group g of the pass:
//!        E = AES128(key_group(g), label) for every label of the block
//!        lt = bytes of E below difficulty.msb       (good outright)
//!        eq = bytes of E equal to difficulty.msb    (ties, about 1 byte in 256)
//!        byte j of label i's E is the pair (nonce 16·g + j, index i)
//!   2. lt pairs are good; each tie is good iff its lazy value < difficulty.lsb (one more AES)
//!   3. every few blocks: sort the good pairs by (index, nonce) and push them to the sink
//! ```
//!
//! The vector kernels compare all 16 bytes of a block (64 in a `zmm` register) against the broadcast
//! threshold byte at once and record the masks without branching; they are in `scan/aesni.rs`,
//! `scan/vaes256.rs` and `scan/vaes.rs`, with the shared slow path (step 2, ties eight at a time) in
//! `scan/ties.rs`; `vaes.rs` settles most ties itself, four to a register between its rounds. Their AES rounds are written with intrinsics by hand because the `aes` crate has no
//! VAES path and no way to compare the ciphertext while it is still in registers. `scan/ceiling.rs`
//! measures the AES throughput that bounds them all.
//!
//! Order: within one call, pairs reach the sink sorted by label index, then nonce. A nonce's good
//! indices therefore arrive in increasing order, and with one thread the first nonce to collect k2 of
//! them is the one whose k2-th good label comes first (on a tie, the smaller nonce).

mod ceiling;
mod portable;

#[cfg(target_arch = "x86_64")]
mod aesni;
#[cfg(target_arch = "x86_64")]
mod ties;
#[cfg(target_arch = "x86_64")]
mod vaes;
#[cfg(target_arch = "x86_64")]
mod vaes256;

use std::ops::ControlFlow;

use post_core::{LabelIndex, LabelThreshold, Nonce};

use crate::{AesBackend, Error, NonceKeys};

pub use ceiling::{aes_ceiling, scan_blocks_per_label, scan_ceiling_bytes_per_second, AesRate};

/// Scans labels for good (nonce, index) pairs with one pass's keys, on one AES backend.
#[derive(Debug)]
pub struct LabelScanner {
    backend: AesBackend,
    params: Params,
    kernel: Kernel,
}

/// What every kernel needs besides its keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    /// The difficulty's top byte.
    msb: u8,
    /// The difficulty's low 56 bits.
    lsb: u64,
    /// Whether a tie on the top byte can ever be good (`lsb > 0`); when not, ties are skipped.
    ties: bool,
    /// The first nonce of the pass (group 0 of the keys).
    first_nonce: u32,
}

#[derive(Debug)]
enum Kernel {
    Portable(portable::Keys),
    #[cfg(target_arch = "x86_64")]
    AesNi(aesni::Keys),
    #[cfg(target_arch = "x86_64")]
    Vaes256(vaes256::Keys),
    #[cfg(target_arch = "x86_64")]
    Vaes512(vaes::Keys),
}

impl LabelScanner {
    /// Prepares the kernel of `backend` for the keys of one pass and the label threshold.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when this CPU cannot run `backend`.
    pub fn new(backend: AesBackend, keys: &NonceKeys, threshold: LabelThreshold) -> Result<Self, Error> {
        if !backend.is_available() {
            return Err(Error::InvalidParam {
                name: "AES backend",
                reason: format!("{} is not supported by this CPU", backend.name()),
            });
        }
        let params = Params {
            msb: threshold.msb,
            lsb: threshold.lsb,
            ties: threshold.lsb > 0,
            first_nonce: keys.first_nonce().0,
        };
        let kernel = match backend {
            AesBackend::Portable => Kernel::Portable(portable::Keys::new(keys)),
            // SAFETY (both): `is_available` checked the CPU features the key expansion needs.
            #[cfg(target_arch = "x86_64")]
            AesBackend::AesNi => Kernel::AesNi(unsafe { aesni::Keys::new(keys) }),
            #[cfg(target_arch = "x86_64")]
            AesBackend::Vaes256 => Kernel::Vaes256(unsafe { vaes256::Keys::new(keys) }),
            #[cfg(target_arch = "x86_64")]
            AesBackend::Vaes512 => Kernel::Vaes512(unsafe { vaes::Keys::new(keys) }),
            #[cfg(not(target_arch = "x86_64"))]
            AesBackend::AesNi | AesBackend::Vaes256 | AesBackend::Vaes512 => {
                return Err(Error::InvalidParam { name: "AES backend", reason: "x86_64 only".into() })
            }
        };
        Ok(Self { backend, params, kernel })
    }

    /// The backend this scanner runs on.
    pub fn backend(&self) -> AesBackend {
        self.backend
    }

    /// Tests every label of `labels` (the first has global index `first`) against every nonce of the
    /// pass and pushes the good pairs to `sink` in (index, nonce) order. Stops when the sink breaks.
    pub fn scan<S>(&self, labels: &[[u8; 16]], first: LabelIndex, sink: &mut S) -> ControlFlow<()>
    where
        S: FnMut(Nonce, LabelIndex) -> ControlFlow<()>,
    {
        let mut hits = Hits::default();
        let sink: &mut dyn FnMut(Nonce, LabelIndex) -> ControlFlow<()> = sink;
        let p = &self.params;
        match &self.kernel {
            Kernel::Portable(keys) => portable::scan(keys, p, labels, first.0, &mut hits, sink),
            // SAFETY (both): the kernel exists only if `new` found its CPU features.
            #[cfg(target_arch = "x86_64")]
            Kernel::AesNi(keys) => unsafe { aesni::scan(keys, p, labels, first.0, &mut hits, sink) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Vaes256(keys) => unsafe { vaes256::scan(keys, p, labels, first.0, &mut hits, sink) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Vaes512(keys) => unsafe { vaes::scan(keys, p, labels, first.0, &mut hits, sink) },
        }
    }
}

/// The good pairs of one block, sorted before they reach the sink.
#[derive(Debug, Default)]
pub(crate) struct Hits(Vec<(u64, u32)>);

impl Hits {
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }

    #[inline]
    fn push(&mut self, index: u64, nonce: u32) {
        self.0.push((index, nonce));
    }

    /// Pushes the pairs to the sink in (index, nonce) order and empties the buffer. Callers flush only
    /// when every label before the buffered ones is settled, so the order holds across flushes.
    #[inline]
    fn flush(&mut self, sink: &mut dyn FnMut(Nonce, LabelIndex) -> ControlFlow<()>) -> ControlFlow<()> {
        if self.0.is_empty() {
            return ControlFlow::Continue(());
        }
        self.0.sort_unstable();
        let result = self.0.iter().try_for_each(|&(index, nonce)| sink(Nonce(nonce), LabelIndex(index)));
        self.0.clear();
        result
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use post_core::{Challenge, NonceGroup};
    use proptest::prelude::*;

    use super::*;
    use crate::cipher::{LabelTest, NonceCipher};

    /// The specification: every label, every nonce, one `NonceCipher` test each.
    fn reference(
        keys: &NonceKeys,
        challenge: &Challenge,
        t: LabelThreshold,
        labels: &[[u8; 16]],
        first: u64,
    ) -> Vec<(u64, u32)> {
        let first_nonce = keys.first_nonce().0;
        let ciphers: Vec<NonceCipher> = (0..keys.num_groups() as u32 * 16)
            .map(|j| {
                let n = Nonce(first_nonce + j);
                NonceCipher::new(challenge, n, keys.pow_of(n).unwrap())
            })
            .collect();
        let mut out = Vec::new();
        for (i, label) in labels.iter().enumerate() {
            for (j, c) in ciphers.iter().enumerate() {
                if c.test(label, t) == LabelTest::Good {
                    out.push((first + i as u64, first_nonce + j as u32));
                }
            }
        }
        out
    }

    fn collect(s: &LabelScanner, labels: &[[u8; 16]], first: u64) -> Vec<(u64, u32)> {
        let mut got = Vec::new();
        let flow = s.scan(labels, LabelIndex(first), &mut |n, i| {
            got.push((i.0, n.0));
            ControlFlow::Continue(())
        });
        assert_eq!(flow, ControlFlow::Continue(()));
        got
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Every backend finds exactly the pairs of the per-label specification, in (index, nonce)
        /// order, for any labels, keys, pass and threshold, including tails that fill no block and passes
        /// of more than 8 groups (more than one word of the candidate bitmap).
        #[test]
        fn every_backend_matches_the_specification(
            seed in any::<[u8; 32]>(),
            count in 0usize..150,
            first in 0u64..1 << 40,
            first_group in 0u8..=250,
            groups in prop_oneof![1usize..=5, 6usize..=19],
            msb in prop_oneof![Just(0u8), Just(1u8), any::<u8>()],
            lsb in prop_oneof![Just(0u64), Just(LabelThreshold::LSB_MASK), 0u64..=LabelThreshold::LSB_MASK],
        ) {
            let mut xof = blake3::Hasher::new().update(&seed).finalize_xof();
            let mut labels = vec![[0u8; 16]; count];
            for l in &mut labels {
                xof.fill(l);
            }
            let challenge = Challenge(seed);
            let pows: Vec<u64> = (0..groups as u64).map(|g| g * 1000 + u64::from(seed[0])).collect();
            let keys = NonceKeys::new(&challenge, NonceGroup(first_group), &pows);
            let t = LabelThreshold { msb, lsb };
            let want = reference(&keys, &challenge, t, &labels, first);
            for backend in AesBackend::available() {
                let s = LabelScanner::new(backend, &keys, t).unwrap();
                prop_assert_eq!(&collect(&s, &labels, first), &want, "{}", backend.name());
            }
        }
    }

    /// Random labels over many settlings of the ties (tens of thousands at 288 nonces and the
    /// network's threshold byte), some of them good.
    #[test]
    fn many_settlings_match_the_specification() {
        let challenge = Challenge([7; 32]);
        let pows: Vec<u64> = (0..18).map(|g| g * 31 + 5).collect();
        let keys = NonceKeys::new(&challenge, NonceGroup(3), &pows);
        let mut xof = blake3::Hasher::new().update(b"many settlings").finalize_xof();
        let mut labels = vec![[0u8; 16]; 40_001];
        for l in &mut labels {
            xof.fill(l);
        }
        let t = LabelThreshold { msb: 0, lsb: LabelThreshold::LSB_MASK / 64 };
        let want = reference(&keys, &challenge, t, &labels, 1 << 33);
        assert!(want.len() > 100, "{} good pairs", want.len());
        for backend in AesBackend::available() {
            let s = LabelScanner::new(backend, &keys, t).unwrap();
            assert_eq!(collect(&s, &labels, 1 << 33), want, "{}", backend.name());
        }
    }

    /// A label whose group-0 cipher text is all zero bytes ties on all 16 nonces of the group; thousands
    /// of copies among 288 nonces fill those nonces' tie buckets long before the pending total would
    /// settle them.
    #[test]
    fn a_label_that_ties_everywhere_fills_its_buckets() {
        use aes::cipher::{BlockDecrypt, KeyInit};

        let challenge = Challenge([9; 32]);
        let pows: Vec<u64> = (0..18).map(|g| g + 11).collect();
        let keys = NonceKeys::new(&challenge, NonceGroup(0), &pows);
        let mut tie = aes::Block::default();
        aes::Aes128::new(&keys.group_keys()[0].into()).decrypt_block(&mut tie);
        let mut xof = blake3::Hasher::new().update(b"ties everywhere").finalize_xof();
        let labels: Vec<[u8; 16]> = (0..6_003)
            .map(|i| {
                let mut l = [0u8; 16];
                if i % 3 == 0 {
                    l = tie.into();
                } else {
                    xof.fill(&mut l);
                }
                l
            })
            .collect();
        let t = LabelThreshold { msb: 0, lsb: LabelThreshold::LSB_MASK / 2 };
        let want = reference(&keys, &challenge, t, &labels, 0);
        assert!(want.len() > 2_001, "{} good pairs", want.len());
        for backend in AesBackend::available() {
            let s = LabelScanner::new(backend, &keys, t).unwrap();
            assert_eq!(collect(&s, &labels, 0), want, "{}", backend.name());
        }
    }

    #[test]
    fn sink_break_stops_the_scan() {
        let challenge = Challenge([2; 32]);
        let keys = NonceKeys::new(&challenge, NonceGroup(0), &[0, 1]);
        let t = LabelThreshold { msb: 128, lsb: 0 };
        let labels: Vec<[u8; 16]> = (0..100u8).map(|i| [i; 16]).collect();
        for backend in AesBackend::available() {
            let s = LabelScanner::new(backend, &keys, t).unwrap();
            let mut seen = 0;
            let flow = s.scan(&labels, LabelIndex(0), &mut |_, _| {
                seen += 1;
                if seen == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            assert_eq!((flow, seen), (ControlFlow::Break(()), 3), "{}", backend.name());
        }
    }

    #[test]
    fn unavailable_backend_is_refused() {
        let keys = NonceKeys::new(&Challenge([0; 32]), NonceGroup(0), &[0]);
        for backend in AesBackend::ALL {
            let made = LabelScanner::new(backend, &keys, LabelThreshold { msb: 1, lsb: 0 });
            assert_eq!(made.is_ok(), backend.is_available());
        }
    }
}
