//! Which AES instructions the proving scan uses, detected once and chosen per batch.
//!
//! The scan encrypts every label with every nonce group's key, so its speed is the CPU's AES throughput.
//! Three kernels, widest first:
//!
//! | backend | instructions | blocks per instruction |
//! | --- | --- | --- |
//! | `vaes512` | VAES on AVX-512 (`vaesenc zmm`), AVX-512BW byte compares into mask registers, tie codes made with AVX-512 VBMI and VPOPCNTDQ (every CPU with 512-bit VAES has both) | 4 |
//! | `vaes256` | VAES on AVX2 (`vaesenc ymm`), AVX2 byte compares | 2 |
//! | `aesni` | AES-NI (`aesenc xmm`), SSE2 byte compares | 1 |
//! | `portable` | the `aes` crate (its own runtime detection, or a constant-time software path) | — |
//!
//! The portable kernel is always compiled and is the oracle the others are tested against.

/// An AES kernel of the proving scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AesBackend {
    /// The `aes` crate, one label and one group at a time; available everywhere.
    Portable,
    /// AES-NI on 128-bit registers, 8 labels in flight.
    AesNi,
    /// VAES on 256-bit registers (2 labels per register), 16 labels in flight, AVX2 compares.
    Vaes256,
    /// VAES on 512-bit registers (4 labels per register), 32 labels in flight, AVX-512BW compares,
    /// AVX-512 VBMI and VPOPCNTDQ for the tie codes.
    Vaes512,
}

impl AesBackend {
    /// Every backend, in order of preference (best last).
    pub const ALL: [AesBackend; 4] =
        [AesBackend::Portable, AesBackend::AesNi, AesBackend::Vaes256, AesBackend::Vaes512];

    /// The fastest backend this CPU supports.
    pub fn detect() -> Self {
        Self::ALL.into_iter().rev().find(|b| b.is_available()).unwrap_or(AesBackend::Portable)
    }

    /// The backends this CPU supports, slowest first.
    pub fn available() -> Vec<Self> {
        Self::ALL.into_iter().filter(|b| b.is_available()).collect()
    }

    /// Whether this CPU can run the backend.
    pub fn is_available(self) -> bool {
        match self {
            AesBackend::Portable => true,
            #[cfg(target_arch = "x86_64")]
            AesBackend::AesNi => std::arch::is_x86_feature_detected!("aes"),
            #[cfg(target_arch = "x86_64")]
            AesBackend::Vaes256 => {
                std::arch::is_x86_feature_detected!("aes")
                    && std::arch::is_x86_feature_detected!("vaes")
                    && std::arch::is_x86_feature_detected!("avx2")
            }
            #[cfg(target_arch = "x86_64")]
            AesBackend::Vaes512 => {
                std::arch::is_x86_feature_detected!("aes")
                    && std::arch::is_x86_feature_detected!("vaes")
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vbmi")
                    && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
            }
            #[cfg(not(target_arch = "x86_64"))]
            AesBackend::AesNi | AesBackend::Vaes256 | AesBackend::Vaes512 => false,
        }
    }

    /// The name used in logs, benchmarks and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            AesBackend::Portable => "portable",
            AesBackend::AesNi => "aesni",
            AesBackend::Vaes256 => "vaes256",
            AesBackend::Vaes512 => "vaes512",
        }
    }

    /// Looks a backend up by [`AesBackend::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_is_consistent() {
        let best = AesBackend::detect();
        assert!(best.is_available());
        assert!(AesBackend::available().contains(&AesBackend::Portable));
        assert_eq!(AesBackend::available().last(), Some(&best));
        for b in AesBackend::ALL {
            assert_eq!(AesBackend::from_name(b.name()), Some(b));
        }
        assert_eq!(AesBackend::from_name("avx9"), None);
    }
}
