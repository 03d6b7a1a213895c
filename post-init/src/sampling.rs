//! Deterministic sampling for `verify-data --fraction`: which chunks of labels a partial check
//! recomputes, derived from a seed alone so that a check can be repeated exactly.
//!
//! ```text
//! 1. The labels of each file are cut into chunks of `chunk` labels (the last one may be shorter).
//! 2. A chunk starting at global label index s is picked iff mix(seed, s) < fraction · 2^64.
//! 3. A file in which no chunk was picked gets one chunk, chosen by mix(seed, file index).
//! ```
//! `mix` is SplitMix64's finaliser, written out here because the selection must stay the same across
//! versions of any random-number crate and must cost about a nanosecond per chunk (mainnet data has
//! hundreds of millions of chunks).

/// Picks chunks of labels with a given probability, reproducibly from a seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampler {
    seed: u64,
    /// A chunk is picked when its hash is below this; `None` picks everything.
    below: Option<u64>,
}

impl Sampler {
    /// A sampler picking about `percent` % of the chunks (clamped to 0..=100).
    pub fn new(seed: u64, percent: f64) -> Self {
        let p = if percent.is_nan() { 0.0 } else { percent.clamp(0.0, 100.0) };
        let below = if p >= 100.0 { None } else { Some((p / 100.0 * 18_446_744_073_709_551_616.0) as u64) };
        Self { seed, below }
    }

    /// A sampler picking every chunk.
    pub fn all() -> Self {
        Self { seed: 0, below: None }
    }

    /// Whether the chunk starting at global label index `start` is picked.
    pub fn picks(&self, start: u64) -> bool {
        self.below.is_none_or(|below| mix(self.seed ^ mix(start)) < below)
    }

    /// The chunk (0-based within the file) picked when a file of `chunks` chunks got none.
    pub fn fallback(&self, file: u32, chunks: u64) -> u64 {
        if chunks == 0 {
            return 0;
        }
        mix(self.seed.wrapping_add(mix(u64::from(file) | 1 << 63))) % chunks
    }
}

/// SplitMix64's output function: a bijective 64-bit mixer with good avalanche.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_about_the_fraction_reproducibly() {
        let s = Sampler::new(42, 10.0);
        let picked = (0..100_000u64).filter(|&c| s.picks(c * 64)).count();
        assert!((9_000..11_000).contains(&picked), "{picked}");
        let again = (0..100_000u64).filter(|&c| Sampler::new(42, 10.0).picks(c * 64)).count();
        assert_eq!(picked, again);
        let other = (0..1000u64).filter(|&c| s.picks(c) != Sampler::new(43, 10.0).picks(c)).count();
        assert!(other > 0, "the seed matters");
    }

    #[test]
    fn extremes() {
        assert!((0..1000).all(|c| Sampler::new(1, 100.0).picks(c)));
        assert!((0..1000).all(|c| Sampler::all().picks(c)));
        assert!((0..1000).all(|c| !Sampler::new(1, 0.0).picks(c)));
        assert!(!Sampler::new(1, f64::NAN).picks(5));
        assert!(Sampler::new(7, 1.0).fallback(3, 10) < 10);
        assert_eq!(Sampler::new(7, 1.0).fallback(3, 0), 0);
    }
}
