//! scrypt's BlockMix, generic over the 64-byte mix core (spec §2.4, RFC 7914 §4).
//!
//! A scrypt block of 128·r bytes is 2r sub-blocks of 64 bytes; each sub-block is 16 little-endian
//! words. BlockMix chains the mix core through the sub-blocks and writes the results with the even
//! ones first, then the odd ones:
//!
//! ```text
//! X = B[2r-1]
//! for i in 0..2r:  X = Core(X ^ B[i]);  Y[i] = X
//! return Y[0], Y[2], …, Y[2r-2], Y[1], Y[3], …, Y[2r-1]
//! ```

/// A 64-byte mix function applied in place to 16 little-endian words: ChaCha20/8 for the network,
/// Salsa20/8 for RFC 7914.
pub trait MixCore {
    /// Mixes one 64-byte sub-block in place.
    fn core(block: &mut [u32; 16]);
}

/// One 64-byte sub-block as 16 little-endian words.
pub type SubBlock = [u32; 16];

/// BlockMix: reads the 2r sub-blocks of `input` and writes 2r sub-blocks to `out`.
///
/// `input` and `out` have the same, even length 2r ≥ 2 (the engine guarantees it).
#[inline]
pub fn block_mix<M: MixCore>(input: &[SubBlock], out: &mut [SubBlock]) {
    let r = input.len() / 2;
    let Some(&last) = input.last() else { return };
    let mut x = last;
    for (i, b) in input.iter().enumerate() {
        xor_into(&mut x, b);
        M::core(&mut x);
        // Even results go to the first half, odd ones to the second.
        out[i / 2 + (i % 2) * r] = x;
    }
}

/// `a ^= b`, word by word.
#[inline(always)]
pub fn xor_into(a: &mut SubBlock, b: &SubBlock) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Salsa8;

    fn words(hex_text: &str) -> Vec<SubBlock> {
        let bytes = hex::decode(hex_text).unwrap_or_default();
        bytes
            .chunks_exact(64)
            .map(|block| {
                let mut w = [0u32; 16];
                for (wi, c) in w.iter_mut().zip(block.chunks_exact(4)) {
                    *wi = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
                w
            })
            .collect()
    }

    #[test]
    fn block_mix_salsa8_rfc7914_section_9() {
        let input = words(
            "f7ce0b653d2d72a4108cf5abe912ffdd777616dbbb27a70e8204f3ae2d0f6fad\
             89f68f4811d1e87bcc3bd7400a9ffd29094f0184639574f39ae5a1315217bcd7\
             894991447213bb226c25b54da86370fbcd984380374666bb8ffcb5bf40c254b0\
             67d27c51ce4ad5fed829c90b505a571b7f4d1cad6a523cda770e67bceaaf7e89",
        );
        let expected = words(
            "a41f859c6608cc993b81cacb020cef05044b2181a2fd337dfd7b1c6396682f29\
             b4393168e3c9e6bcfe6bc5b7a06d96bae424cc102c91745c24ad673dc7618f81\
             20edc975323881a80540f64c162dcd3c21077cfe5f8d5fe2b1a4168f953678b7\
             7d3b3d803b60e4ab920996e59b4d53b65d2a225877d5edf5842cb9f14eefe425",
        );
        assert_eq!(input.len(), 2);
        let mut out = vec![[0u32; 16]; 2];
        block_mix::<Salsa8>(&input, &mut out);
        assert_eq!(out, expected);
    }

    #[test]
    fn block_mix_interleaves_even_then_odd() {
        // A core that stamps a counter shows which output slot each step lands in.
        struct Count;
        impl MixCore for Count {
            fn core(block: &mut [u32; 16]) {
                block[1] = block[1].wrapping_add(1);
                block[0] = block[1];
            }
        }
        let input = vec![[0u32; 16]; 6];
        let mut out = vec![[0u32; 16]; 6];
        block_mix::<Count>(&input, &mut out);
        let order: Vec<u32> = out.iter().map(|b| b[0]).collect();
        assert_eq!(order, [1, 3, 5, 2, 4, 6]);
    }
}
