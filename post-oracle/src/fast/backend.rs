//! Which instruction set the fast labeller uses: detected once at construction, stored in the
//! labeller, and matched once per batch of labels (never per label).

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A multi-lane ROMix implementation for one instruction set.
pub(crate) trait Engine {
    /// Labels computed together.
    const LANES: usize;

    /// Runs ROMix on `LANES` labels: see `romix::romix` for the state and table layout.
    ///
    /// # Safety
    /// The CPU must have the backend's instructions ([`Backend::is_available`]).
    unsafe fn romix(state: &mut [u32], table: &mut [u32], n: usize);
}

/// An instruction set the fast labeller can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Plain arrays the compiler may vectorise for the build target (2 × 4 lanes); runs everywhere.
    Portable,
    /// x86-64 SSE2 (2 × 4 lanes).
    Sse2,
    /// x86-64 AVX2 (2 × 8 lanes).
    Avx2,
    /// x86-64 AVX-512F (2 × 16 lanes).
    Avx512,
}

impl Backend {
    /// Every backend, slowest first.
    pub const ALL: [Backend; 4] = [Backend::Portable, Backend::Sse2, Backend::Avx2, Backend::Avx512];

    /// The fastest backend this CPU supports.
    pub fn detect() -> Backend {
        Self::ALL.into_iter().rev().find(|b| b.is_available()).unwrap_or(Backend::Portable)
    }

    /// The backends this CPU supports, slowest first.
    pub fn available() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_available()).collect()
    }

    /// Whether this CPU has the backend's instructions.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Backend::Sse2 => std::arch::is_x86_feature_detected!("sse2"),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Sse2 | Backend::Avx2 | Backend::Avx512 => false,
        }
    }

    /// The backend's name as `FromStr` accepts it: `portable`, `sse2`, `avx2`, `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Portable => "portable",
            Backend::Sse2 => "sse2",
            Backend::Avx2 => "avx2",
            Backend::Avx512 => "avx512",
        }
    }

    /// How many labels the backend computes at once per thread.
    pub fn lanes(self) -> usize {
        match self {
            Backend::Portable => <super::portable::Portable as Engine>::LANES,
            Backend::Sse2 => 4 * super::romix::GROUPS,
            Backend::Avx2 => 8 * super::romix::GROUPS,
            Backend::Avx512 => 16 * super::romix::GROUPS,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        Self::ALL.into_iter().find(|b| b.name() == name).ok_or_else(|| Error::UnknownBackend {
            name: name.to_string(),
            known: Self::ALL.map(Backend::name).join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>().ok(), Some(b));
        }
        assert!("avx1024".parse::<Backend>().is_err());
    }

    #[test]
    fn lanes_are_the_engines_lanes() {
        assert_eq!(Backend::Portable.lanes(), <super::super::portable::Portable as Engine>::LANES);
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(Backend::Sse2.lanes(), <super::super::sse2::Sse2 as Engine>::LANES);
            assert_eq!(Backend::Avx2.lanes(), <super::super::avx2::Avx2 as Engine>::LANES);
            assert_eq!(Backend::Avx512.lanes(), <super::super::avx512::Avx512 as Engine>::LANES);
        }
    }

    #[test]
    fn detect_picks_an_available_backend() {
        assert!(Backend::detect().is_available());
        assert!(Backend::available().contains(&Backend::Portable));
        assert!(Backend::available().contains(&Backend::detect()));
    }
}
