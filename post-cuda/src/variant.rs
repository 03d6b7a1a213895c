//! Kernel variants: how many threads compute one label and how sparse the scratch table is.
//!
//! Both are run-time choices so that `post bench label --provider cuda@<variant>` can measure each on
//! the card at hand:
//! * one thread per label (`tpl1`) keeps all of X (32 words) in one thread's registers; a random read
//!   is one 128-byte line read by one thread;
//! * four threads per label (`tpl4`) give each thread one ChaCha column (8 words) and exchange rows
//!   with warp shuffles; a random read is one line read by four neighbouring threads, coalesced;
//! * a lookup gap g stores every g-th table entry and recomputes the others: g times less memory per
//!   label (so more labels in flight) for up to g − 1 extra BlockMix per read. One label pays
//!   (g − 1)/2 on average, but the threads of a warp run in lock step, so a warp pays its worst lane's
//!   count, which with 32 (or 8) labels a warp is almost always g − 1. ROMix is 2N BlockMix (N to fill
//!   the table, N reads), so the recomputation adds N · (g − 1), i.e. (g − 1)/2 of the ROMix work:
//!   about +50 % at gap 2 and +150 % at gap 4 ([`KernelVariant::romix_cost`]), not +25 % and +75 %.

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

    /// The ROMix work of this variant at scrypt N relative to gap 1, as a warp pays it:
    /// 1 + (g − 1)/2 with g the gap used at N (1.5 at gap 2, 2.5 at gap 4; see the module's notes).
    pub fn romix_cost(self, n: u32) -> f64 {
        1.0 + f64::from(self.effective_gap(n) - 1) / 2.0
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
    /// One thread per label with the lookup gap of the best estimated throughput: the share of the
    /// labels the card runs at once whose tables fit in its free memory (at most 1), divided by the
    /// gap's ROMix cost ([`KernelVariant::romix_cost`]); the smaller gap on a tie. So gap 1 is kept
    /// while it fits at least 2/3 of the resident labels, and gap 4 is chosen only when gap 2 fits less
    /// than 3/5 of them (a starting point until `post bench` says otherwise).
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
                // Throughput ∝ min(free, need) / need / cost, with cost = (g + 1) / 2; compared exactly
                // as fractions (u128 cross products), so that ties are ties.
                let score = |v: KernelVariant| {
                    let need = u128::from(v.scratch_bytes_per_label(n).saturating_mul(resident(v)).max(1));
                    let fits = u128::from(free_bytes).min(need);
                    (fits, need * u128::from(v.effective_gap(n) + 1))
                };
                let mut best = one(1);
                for v in KernelVariant::GAPS.into_iter().map(one) {
                    let ((a, da), (b, db)) = (score(v), score(best));
                    if a.saturating_mul(db) > b.saturating_mul(da) {
                        best = v;
                    }
                }
                best
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
    fn a_warp_pays_its_worst_lane() {
        let cost = |name: &str, n| KernelVariant::parse(name).unwrap().romix_cost(n);
        assert_eq!((cost("tpl1-gap1", 8192), cost("tpl1-gap2", 8192), cost("tpl4-gap4", 8192)), (1.0, 1.5, 2.5));
        // At N = 2 gap 4 is gap 2.
        assert_eq!(cost("tpl1-gap4", 2), 1.5);
    }

    #[test]
    fn auto_picks_the_gap_of_the_best_estimated_throughput() {
        let mib = 1u64 << 20;
        let auto = VariantChoice::Auto;
        // 100 labels at once: 100 MiB of tables at gap 1, 50 at gap 2, 25 at gap 4.
        let hundred = |_| 100;
        assert_eq!(auto.resolve(8192, 100 * mib, hundred).to_string(), "tpl1-gap1");
        // Gap 1 fitting 70 % of the labels (0.7) beats gap 2 at +50 % work (1/1.5 = 0.67).
        assert_eq!(auto.resolve(8192, 70 * mib, hundred).to_string(), "tpl1-gap1");
        assert_eq!(auto.resolve(8192, 60 * mib, hundred).to_string(), "tpl1-gap2");
        // Gap 2 fitting 56 % (0.37) loses to gap 4 at +150 % (0.4); at 60 % they tie and gap 2 stays.
        assert_eq!(auto.resolve(8192, 30 * mib, hundred).to_string(), "tpl1-gap2");
        assert_eq!(auto.resolve(8192, 28 * mib, hundred).to_string(), "tpl1-gap4");
        assert_eq!(auto.resolve(8192, mib, hundred).to_string(), "tpl1-gap4");
        // At N = 2 there is no gap 4: every gap costs the same, so the smallest wins.
        assert_eq!(auto.resolve(2, 0, hundred).to_string(), "tpl1-gap1");
        // Fewer resident labels at gap 1 (more registers) make gap 1 fit.
        let by_gap = |v: KernelVariant| if v.gap() == 1 { 50 } else { 100 };
        assert_eq!(auto.resolve(8192, 60 * mib, by_gap).to_string(), "tpl1-gap1");
        let fixed = VariantChoice::Fixed(KernelVariant::ALL[4]);
        assert_eq!(fixed.resolve(8192, mib, hundred), KernelVariant::ALL[4]);
    }
}
