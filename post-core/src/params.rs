//! Validated parameters: scrypt cost, the shape of initialized data, the proving thresholds, and the
//! network presets of spec §8. Every type checks its invariants once, in its constructor, so code
//! downstream never re-checks them.

use crate::Error;

/// Cost parameters of the label function (spec §2.2): N, r and p are powers of two, N ≥ 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScryptParams {
    n: u32,
    r: u32,
    p: u32,
}

impl ScryptParams {
    /// The network's label cost: N = 8192, r = 1, p = 1.
    pub const MAINNET: Self = Self { n: 8192, r: 1, p: 1 };

    /// Checks and builds scrypt parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when N is not a power of two ≥ 2, or r or p is not a power of two.
    pub fn new(n: u64, r: u64, p: u64) -> Result<Self, Error> {
        let pow2 = |name: &'static str, v: u64, min: u64| -> Result<u32, Error> {
            if v < min || !v.is_power_of_two() || v > (1 << 31) {
                return Err(Error::InvalidParam {
                    name,
                    reason: format!("{v} is not a power of two between {min} and 2^31"),
                });
            }
            Ok(v as u32)
        };
        let params = Self { n: pow2("scrypt N", n, 2)?, r: pow2("scrypt r", r, 1)?, p: pow2("scrypt p", p, 1)? };
        // The scratch table is 128·r·N bytes; keep it addressable.
        if u64::from(params.r) * u64::from(params.n) > (1 << 32) {
            return Err(Error::InvalidParam { name: "scrypt N", reason: format!("N·r = {}·{} is too large", n, r) });
        }
        Ok(params)
    }

    /// Builds the network's parameters with the given N and r = p = 1.
    ///
    /// # Errors
    /// As [`ScryptParams::new`].
    pub fn with_n(n: u64) -> Result<Self, Error> {
        Self::new(n, 1, 1)
    }

    /// N, the number of entries of the scratch table.
    pub fn n(&self) -> u32 {
        self.n
    }

    /// r, the block size factor (128·r bytes per entry).
    pub fn r(&self) -> u32 {
        self.r
    }

    /// p, the parallelisation factor.
    pub fn p(&self) -> u32 {
        self.p
    }
}

/// The shape of initialized data: how many labels a space unit holds, how many units are allowed,
/// how large a file may grow, and the label cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitConfig {
    /// Labels per space unit.
    pub labels_per_unit: u64,
    /// Fewest units a smesher may commit.
    pub min_num_units: u32,
    /// Most units a smesher may commit.
    pub max_num_units: u32,
    /// Largest size of one `postdata_<i>.bin`, a multiple of 16 bytes.
    pub max_file_size: u64,
    /// Label cost.
    pub scrypt: ScryptParams,
}

impl InitConfig {
    /// Checks the configuration.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when labels per unit is 0, the unit range is empty or starts at 0, or the
    /// file size is not a positive multiple of 16.
    pub fn validate(self) -> Result<Self, Error> {
        let bad = |name, reason: String| Err(Error::InvalidParam { name, reason });
        if self.labels_per_unit == 0 {
            return bad("labels per unit", "must be at least 1".into());
        }
        if self.min_num_units == 0 || self.min_num_units > self.max_num_units {
            return bad(
                "units",
                format!("the allowed range {}..={} is empty or starts at 0", self.min_num_units, self.max_num_units),
            );
        }
        if self.max_file_size < 16 || !self.max_file_size.is_multiple_of(16) {
            return bad("max file size", format!("{} bytes is not a positive multiple of 16", self.max_file_size));
        }
        Ok(self)
    }

    /// Labels in one file.
    pub fn labels_per_file(&self) -> u64 {
        self.max_file_size / 16
    }

    /// Total labels for `num_units` units.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when the product overflows 64 bits.
    pub fn num_labels(&self, num_units: u32) -> Result<u64, Error> {
        self.labels_per_unit.checked_mul(u64::from(num_units)).ok_or_else(|| Error::InvalidParam {
            name: "units",
            reason: format!("{num_units} units × {} labels overflows 64 bits", self.labels_per_unit),
        })
    }

    /// Checks that `num_units` is inside the allowed range.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the range when it is not.
    pub fn check_units(&self, num_units: u32) -> Result<(), Error> {
        if num_units < self.min_num_units || num_units > self.max_num_units {
            return Err(Error::InvalidParam {
                name: "units",
                reason: format!(
                    "{num_units} is outside the allowed range {}..={}",
                    self.min_num_units, self.max_num_units
                ),
            });
        }
        Ok(())
    }
}

/// The proving thresholds (spec §5.1, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofConfig {
    /// Expected number of good labels per nonce.
    pub k1: u32,
    /// Number of good labels a proof carries.
    pub k2: u32,
    /// Number of the proof's labels a verifier recomputes.
    pub k3: u32,
    /// The k2 proof-of-work difficulty for one space unit, 256-bit big-endian.
    pub pow_difficulty: [u8; 32],
}

impl ProofConfig {
    /// Checks the configuration.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when k2 is 0, k3 is 0 or k3 > k2.
    pub fn validate(self) -> Result<Self, Error> {
        if self.k2 == 0 {
            return Err(Error::InvalidParam { name: "k2", reason: "must be at least 1".into() });
        }
        if self.k3 == 0 || self.k3 > self.k2 {
            return Err(Error::InvalidParam {
                name: "k3",
                reason: format!("{} is not in 1..=k2 ({})", self.k3, self.k2),
            });
        }
        Ok(self)
    }
}

/// A named set of parameters (spec §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The Spacemesh main network: 64 GiB units, N = 8192, k1 26, k2 37, k3 1.
    Mainnet,
    /// The Spacemesh test network preset: 16 KiB units, N = 8192, k1 26, k2 37, k3 1, trivial PoW.
    Testnet,
    /// A small preset for quick local runs: 256 KiB units (16384 labels), N = 512, 256 KiB files,
    /// k1 = 48, k2 = 32, k3 = 8, and a proof of work difficulty of `3fff…ff`: about 4 RandomX hashes per unit
    /// and nonce group (16 for 4 units), so that a light-mode proof takes seconds.
    Dev,
}

/// The mainnet k2 proof-of-work difficulty for one unit.
pub const MAINNET_POW_DIFFICULTY: [u8; 32] = {
    let mut d = [0u8; 32];
    let head = [0x00, 0x0d, 0xfb, 0x23, 0xb0, 0x97, 0x9b, 0x4b];
    let mut i = 0;
    while i < head.len() {
        d[i] = head[i];
        i += 1;
    }
    d
};

const GIB4: u64 = 4 << 30;

impl Preset {
    /// All presets, for help texts.
    pub const ALL: [Preset; 3] = [Preset::Mainnet, Preset::Testnet, Preset::Dev];

    /// The preset's name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Mainnet => "mainnet",
            Preset::Testnet => "testnet",
            Preset::Dev => "dev",
        }
    }

    /// Looks a preset up by name.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] listing the known names.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        Self::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| Error::InvalidParam {
            name: "preset",
            reason: format!("unknown preset {name:?}; known: mainnet, testnet, dev"),
        })
    }

    /// The initialization parameters.
    pub fn init_config(self) -> InitConfig {
        match self {
            Preset::Mainnet => InitConfig {
                labels_per_unit: 1 << 32,
                min_num_units: 4,
                max_num_units: u32::MAX,
                max_file_size: GIB4,
                scrypt: ScryptParams::MAINNET,
            },
            Preset::Testnet => InitConfig {
                labels_per_unit: 1024,
                min_num_units: 2,
                max_num_units: u32::MAX,
                max_file_size: GIB4,
                scrypt: ScryptParams::MAINNET,
            },
            Preset::Dev => InitConfig {
                labels_per_unit: 16384,
                min_num_units: 1,
                max_num_units: 1024,
                max_file_size: 256 << 10,
                scrypt: ScryptParams { n: 512, r: 1, p: 1 },
            },
        }
    }

    /// The proving parameters.
    pub fn proof_config(self) -> ProofConfig {
        match self {
            Preset::Mainnet => ProofConfig { k1: 26, k2: 37, k3: 1, pow_difficulty: MAINNET_POW_DIFFICULTY },
            Preset::Testnet => ProofConfig { k1: 26, k2: 37, k3: 1, pow_difficulty: [0xff; 32] },
            Preset::Dev => {
                let mut pow_difficulty = [0xff; 32];
                pow_difficulty[0] = 0x3f;
                ProofConfig { k1: 48, k2: 32, k3: 8, pow_difficulty }
            }
        }
    }

    /// Nonces per proving pass the network's node uses (288 = 18 groups); 16 for the dev preset.
    pub fn proving_nonces(self) -> u32 {
        match self {
            Preset::Mainnet | Preset::Testnet => 288,
            Preset::Dev => 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrypt_params_are_checked() {
        assert!(ScryptParams::new(8192, 1, 1).is_ok());
        assert!(ScryptParams::new(2, 1, 1).is_ok());
        for (n, r, p) in [(0, 1, 1), (1, 1, 1), (3, 1, 1), (8192, 0, 1), (8192, 3, 1), (8192, 1, 6), (1 << 32, 1, 1)] {
            assert!(ScryptParams::new(n, r, p).is_err(), "{n} {r} {p}");
        }
    }

    #[test]
    fn presets_match_the_network() {
        let m = Preset::Mainnet.init_config();
        assert_eq!((m.labels_per_unit, m.min_num_units, m.max_num_units), (1 << 32, 4, u32::MAX));
        assert_eq!(m.labels_per_file(), 268_435_456);
        assert_eq!(
            hex::encode(Preset::Mainnet.proof_config().pow_difficulty),
            format!("000dfb23b0979b4b{}", "0".repeat(48))
        );
        for p in Preset::ALL {
            assert!(p.init_config().validate().is_ok());
            assert!(p.proof_config().validate().is_ok());
            assert_eq!(Preset::from_name(p.name()).ok(), Some(p));
        }
        assert!(Preset::from_name("devnet").is_err());
    }

    #[test]
    fn unit_range_is_enforced() {
        let c = Preset::Mainnet.init_config();
        assert!(c.check_units(3).is_err());
        assert!(c.check_units(4).is_ok());
        assert!(c.num_labels(u32::MAX).is_ok());
        let big = InitConfig { labels_per_unit: u64::MAX, ..c };
        assert!(big.num_labels(2).is_err());
    }
}
