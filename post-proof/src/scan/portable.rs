//! The portable scan kernel: the `aes` crate encrypts a block of labels with each group key, then a plain
//! byte loop applies the label test. It runs everywhere and is the oracle for the vector kernels.

use std::ops::ControlFlow;

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Block};
use post_core::{LabelIndex, Nonce};

use super::{Hits, Params};
use crate::cipher::lazy_value;
use crate::NonceKeys;

/// Labels per block.
const BLOCK: usize = 64;

/// Expanded ciphers of one pass.
pub(crate) struct Keys {
    groups: Vec<Aes128>,
    lazy: Vec<Aes128>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("portable::Keys").field("groups", &self.groups.len()).finish_non_exhaustive()
    }
}

impl Keys {
    pub(crate) fn new(keys: &NonceKeys) -> Self {
        let expand = |k: &[u8; 16]| Aes128::new(&(*k).into());
        Self {
            groups: keys.group_keys().iter().map(expand).collect(),
            lazy: keys.lazy_keys().iter().map(expand).collect(),
        }
    }
}

pub(crate) fn scan(
    keys: &Keys,
    p: &Params,
    labels: &[[u8; 16]],
    first: u64,
    hits: &mut Hits,
    sink: &mut dyn FnMut(Nonce, LabelIndex) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let mut buf = [Block::default(); BLOCK];
    for (c, chunk) in labels.chunks(BLOCK).enumerate() {
        let base = first + (c * BLOCK) as u64;
        let out = &mut buf[..chunk.len()];
        for (g, cipher) in keys.groups.iter().enumerate() {
            for (b, label) in out.iter_mut().zip(chunk) {
                *b = Block::from(*label);
            }
            cipher.encrypt_blocks(out);
            for (i, (e, label)) in out.iter().zip(chunk).enumerate() {
                for (j, &byte) in e.iter().enumerate() {
                    let good =
                        byte < p.msb || (byte == p.msb && p.ties && lazy_value(&keys.lazy[g * 16 + j], label) < p.lsb);
                    if good {
                        hits.push(base + i as u64, p.first_nonce + (g * 16 + j) as u32);
                    }
                }
            }
        }
        hits.flush(sink)?;
    }
    ControlFlow::Continue(())
}
