//! Kernel variants: how many threads compute one label and how sparse the scratch table is.
//!
//! Both are run-time choices so that `post bench label --provider cuda@<variant>` can measure each on
//! the card at hand:
//! * one thread per label (`tpl1`) keeps all of X (32 words) in one thread's registers; a random read
//!   is one 128-byte line read by one thread;
//! * four threads per label (`tpl4`) give each thread one ChaCha column (8 words) and exchange rows
//!   with warp shuffles; a random read is one line read by four neighbouring threads, coalesced;
//! * a lookup gap g stores every g-th table entry and recomputes the others: g times less memory per
//!   label (so more labels in flight) for (g − 1)/2 extra BlockMix per read on average.

use std::fmt;

use crate::Error;

/// Threads that compute one label together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreadsPerLabel {
    /// One thread per label.
    One,
    /// Four threads per label, one ChaCha column each.
    Four,
}

impl ThreadsPerLabel {
    /// The number of threads.
    pub fn count(self) -> u32 {
        match self {
            ThreadsPerLabel::One => 1,
            ThreadsPerLabel::Four => 4,
        }
    }
}

/// One of the six ROMix kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KernelVariant {
    threads: ThreadsPerLabel,
    gap: u32,
}

impl KernelVariant {
    /// Every variant, in the order benchmarks report them.
    pub const ALL: [KernelVariant; 6] = [
        KernelVariant { threads: ThreadsPerLabel::One, gap: 1 },
        KernelVariant { threads: ThreadsPerLabel::One, gap: 2 },
        KernelVariant { threads: ThreadsPerLabel::One, gap: 4 },
        KernelVariant { threads: ThreadsPerLabel::Four, gap: 1 },
        KernelVariant { threads: ThreadsPerLabel::Four, gap: 2 },
        KernelVariant { threads: ThreadsPerLabel::Four, gap: 4 },
    ];

    /// The lookup gaps the kernels are built for.
    pub const GAPS: [u32; 3] = [1, 2, 4];

    /// Builds a variant.
    ///
    /// # Errors
    /// [`Error::Spec`] when the gap is not 1, 2 or 4.
    pub fn new(threads: ThreadsPerLabel, gap: u32) -> Result<Self, Error> {
        if !Self::GAPS.contains(&gap) {
            return Err(Error::Spec { spec: format!("gap{gap}"), reason: "the lookup gap must be 1, 2 or 4".into() });
        }
        Ok(Self { threads, gap })
    }

    /// Threads per label.
    pub fn threads(self) -> ThreadsPerLabel {
        self.threads
    }

    /// The lookup gap asked for.
    pub fn gap(self) -> u32 {
        self.gap
    }

    /// The gap used at scrypt N: never more than N (N = 2 with gap 4 stores one entry of two).
    pub fn effective_gap(self, n: u32) -> u32 {
        self.gap.min(n.max(1))
    }

    /// Labels per block of [`crate::BLOCK_THREADS`] threads.
    pub fn labels_per_block(self) -> u32 {
        crate::BLOCK_THREADS / self.threads.count()
    }

    /// The ROMix kernel's name in the CUDA source for scrypt N.
    pub fn romix_kernel(self, n: u32) -> &'static str {
        match (self.threads, self.effective_gap(n)) {
            (ThreadsPerLabel::One, 1) => "post_romix_t1_g1",
            (ThreadsPerLabel::One, 2) => "post_romix_t1_g2",
            (ThreadsPerLabel::One, _) => "post_romix_t1_g4",
            (ThreadsPerLabel::Four, 1) => "post_romix_t4_g1",
            (ThreadsPerLabel::Four, 2) => "post_romix_t4_g2",
            (ThreadsPerLabel::Four, _) => "post_romix_t4_g4",
        }
    }

    /// Bytes of scratch table one label needs at scrypt N.
    pub fn scratch_bytes_per_label(self, n: u32) -> u64 {
        u64::from(n / self.effective_gap(n)) * 128
    }

    /// Parses `tpl1-gap1` … `tpl4-gap4`.
    ///
    /// # Errors
    /// [`Error::Spec`] naming the known variants.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|v| v.to_string() == text)
            .ok_or_else(|| Error::Spec { spec: text.to_string(), reason: format!("unknown kernel variant {text:?}") })
    }
}

impl fmt::Display for KernelVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tpl{}-gap{}", self.threads.count(), self.gap)
    }
}

/// The variant a labeller runs: a fixed one, or chosen per device and N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VariantChoice {
    /// One thread per label with the smallest lookup gap whose tables for all the labels the card
    /// runs at once fit in its free memory (a starting point until `post bench` says otherwise).
    #[default]
    Auto,
    /// Always this variant.
    Fixed(KernelVariant),
}

impl VariantChoice {
    /// Parses `auto` or a variant name.
    ///
    /// # Errors
    /// [`Error::Spec`] for an unknown name.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text == "auto" {
            return Ok(VariantChoice::Auto);
        }
        KernelVariant::parse(text).map(VariantChoice::Fixed)
    }

    /// The variant to run at scrypt N with `free_bytes` of memory, where `resident(v)` is how many
    /// labels variant v runs at once.
    pub fn resolve(self, n: u32, free_bytes: u64, resident: impl Fn(KernelVariant) -> u64) -> KernelVariant {
        match self {
            VariantChoice::Fixed(v) => v,
            VariantChoice::Auto => {
                let one = |gap| KernelVariant { threads: ThreadsPerLabel::One, gap };
                KernelVariant::GAPS
                    .into_iter()
                    .map(one)
                    .find(|&v| v.scratch_bytes_per_label(n).saturating_mul(resident(v)) <= free_bytes)
                    .unwrap_or(one(4))
            }
        }
    }
}

impl fmt::Display for VariantChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VariantChoice::Auto => f.write_str("auto"),
            VariantChoice::Fixed(v) => v.fmt(f),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for v in KernelVariant::ALL {
            assert_eq!(KernelVariant::parse(&v.to_string()).unwrap(), v);
            assert_eq!(VariantChoice::parse(&v.to_string()).unwrap(), VariantChoice::Fixed(v));
        }
        assert_eq!(VariantChoice::parse("auto").unwrap(), VariantChoice::Auto);
        for bad in ["", "tpl2-gap1", "tpl1-gap3", "tpl1", "TPL1-GAP1"] {
            assert!(VariantChoice::parse(bad).is_err(), "{bad}");
        }
        assert!(KernelVariant::new(ThreadsPerLabel::One, 8).is_err());
    }

    #[test]
    fn gap_never_exceeds_n() {
        let v = KernelVariant::new(ThreadsPerLabel::Four, 4).unwrap();
        assert_eq!(v.effective_gap(2), 2);
        assert_eq!(v.effective_gap(8192), 4);
        assert_eq!(v.romix_kernel(2), "post_romix_t4_g2");
        assert_eq!(v.scratch_bytes_per_label(8192), 2048 * 128);
        assert_eq!(v.scratch_bytes_per_label(2), 128);
        assert_eq!(v.labels_per_block(), crate::BLOCK_THREADS / 4);
    }

    #[test]
    fn every_variant_has_its_own_kernel() {
        let names: std::collections::HashSet<_> = KernelVariant::ALL.iter().map(|v| v.romix_kernel(8192)).collect();
        assert_eq!(names.len(), KernelVariant::ALL.len());
    }

    #[test]
    fn auto_picks_the_smallest_gap_that_fits() {
        let mib = 1u64 << 20;
        let auto = VariantChoice::Auto;
        let hundred = |_| 100;
        assert_eq!(auto.resolve(8192, 100 * mib, hundred).to_string(), "tpl1-gap1");
        assert_eq!(auto.resolve(8192, 60 * mib, hundred).to_string(), "tpl1-gap2");
        assert_eq!(auto.resolve(8192, 30 * mib, hundred).to_string(), "tpl1-gap4");
        assert_eq!(auto.resolve(8192, mib, hundred).to_string(), "tpl1-gap4");
        // Fewer resident labels at gap 1 (more registers) make gap 1 fit.
        let by_gap = |v: KernelVariant| if v.gap() == 1 { 50 } else { 100 };
        assert_eq!(auto.resolve(8192, 60 * mib, by_gap).to_string(), "tpl1-gap1");
        let fixed = VariantChoice::Fixed(KernelVariant::ALL[4]);
        assert_eq!(fixed.resolve(8192, mib, hundred), KernelVariant::ALL[4]);
    }
}
