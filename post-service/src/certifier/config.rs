//! The certifier's configuration: YAML with the reference certifier's keys, plus overrides (the CLI
//! passes the `CERTIFIER_*` environment variables; this crate reads no environment itself).
//!
//! ```yaml
//! listen: "127.0.0.1:8080"
//! signing_key: <base64 ed25519 secret key, 32 bytes>
//! post_cfg: {k1: 26, k2: 37, k3: 37, pow_difficulty: "000dfb23b0979b4b000000000000000000000000000000000000000000000000"}
//! init_cfg: {min_num_units: 4, max_num_units: 99999, labels_per_unit: 4294967296, scrypt: {n: 8192, r: 1, p: 1}}
//! randomx_mode: Light                  # or Fast; default Light
//! certificate_expiration: 2w           # optional: s, m, h, d, w, combined ("1d12h")
//! metrics: "127.0.0.1:9090"            # optional: GET /metrics there
//! max_concurrent_requests: 4           # verifications at once; default: the number of cores
//! max_pending_requests: 64             # requests waiting beyond those (ours; the reference queues without bound)
//! max_body_size: 1024                  # bytes (ours; the reference's fixed limit)
//! ```
//!
//! An override `(key, value)` replaces one key before the file is checked; `post_cfg__k1` reaches a
//! nested key. Values are read as YAML scalars, except for the keys that are always text.
//! Unknown keys are refused, so a misspelled key never silently keeps a default.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use post_core::{InitConfig, ProofConfig, ScryptParams};
use post_proof::RandomXMode;
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::Error;

/// A checked certifier configuration.
#[derive(Clone)]
pub struct CertifierConfig {
    /// Where `POST /certify` is served.
    pub listen: SocketAddr,
    /// The ed25519 secret key (seed) that signs certificates.
    pub signing_key: [u8; 32],
    /// k1, k2, the pow difficulty (k3 is ignored: the certifier checks all k2 indices).
    pub proof_config: ProofConfig,
    /// Units allowed, labels per unit, scrypt parameters.
    pub init_config: InitConfig,
    /// RandomX mode of the proof-of-work check.
    pub randomx_mode: RandomXMode,
    /// How long a certificate is valid; `None` for no expiry.
    pub certificate_expiration: Option<Duration>,
    /// Where `GET /metrics` is served; `None` for no metrics.
    pub metrics: Option<SocketAddr>,
    /// Verifications running at once.
    pub max_concurrent_requests: usize,
    /// Requests waiting for a verification slot, beyond those running; more get 429.
    pub max_pending_requests: usize,
    /// Largest request body; larger ones get 413.
    pub max_body_size: usize,
}

impl std::fmt::Debug for CertifierConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifierConfig")
            .field("listen", &self.listen)
            .field("signing_key", &"<secret>")
            .field("proof_config", &self.proof_config)
            .field("init_config", &self.init_config)
            .field("randomx_mode", &self.randomx_mode)
            .field("certificate_expiration", &self.certificate_expiration)
            .field("metrics", &self.metrics)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("max_pending_requests", &self.max_pending_requests)
            .field("max_body_size", &self.max_body_size)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: SocketAddr,
    signing_key: String,
    post_cfg: FilePostCfg,
    init_cfg: FileInitCfg,
    #[serde(default)]
    randomx_mode: FileRandomXMode,
    #[serde(default)]
    certificate_expiration: Option<String>,
    #[serde(default)]
    metrics: Option<SocketAddr>,
    #[serde(default)]
    max_concurrent_requests: Option<usize>,
    #[serde(default)]
    max_pending_requests: Option<usize>,
    #[serde(default)]
    max_body_size: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePostCfg {
    k1: u32,
    k2: u32,
    #[serde(default)]
    k3: Option<u32>,
    pow_difficulty: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileInitCfg {
    min_num_units: u32,
    max_num_units: u32,
    labels_per_unit: u64,
    scrypt: FileScrypt,
    /// Accepted for compatibility; the certifier reads no files.
    #[serde(default)]
    #[allow(dead_code)]
    max_file_size: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileScrypt {
    n: u64,
    r: u64,
    p: u64,
}

#[derive(Deserialize, Default)]
enum FileRandomXMode {
    #[serde(alias = "fast")]
    Fast,
    #[default]
    #[serde(alias = "light")]
    Light,
}

/// Keys whose values are text even when they look like numbers (a difficulty of all digits).
const TEXT_KEYS: &[&str] = &["listen", "signing_key", "pow_difficulty", "certificate_expiration", "metrics"];

/// Default body limit (spec §9).
pub const DEFAULT_MAX_BODY_SIZE: usize = 1024;

impl CertifierConfig {
    /// Reads YAML `text`, applies `overrides` (key, value) and checks everything.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key and what is wrong (YAML syntax errors name the line).
    pub fn from_yaml(text: &str, overrides: &[(String, String)]) -> Result<Self, Error> {
        let config_error = |key: &str, reason: String| Error::Config { key: key.to_string(), reason };
        let mut value: Value = serde_yaml_ng::from_str(text).map_err(|e| config_error("file", e.to_string()))?;
        if value.is_null() {
            value = Value::Mapping(Default::default());
        }
        for (key, raw) in overrides {
            apply_override(&mut value, key, raw)?;
        }
        let file: FileConfig = serde_yaml_ng::from_value(value).map_err(|e| config_error("file", e.to_string()))?;
        file.check()
    }
}

fn apply_override(root: &mut Value, key: &str, raw: &str) -> Result<(), Error> {
    let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
    let leaf = path.last().map(String::as_str).unwrap_or_default();
    let parsed = if TEXT_KEYS.contains(&leaf) {
        Value::String(raw.to_string())
    } else {
        serde_yaml_ng::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
    };
    let mut node = root;
    for (depth, part) in path.iter().enumerate() {
        let Value::Mapping(map) = node else {
            return Err(Error::Config {
                key: path[..depth].join("."),
                reason: format!("is not a mapping, so the override {key} cannot reach into it"),
            });
        };
        let entry = map.entry(Value::String(part.clone())).or_insert(Value::Null);
        if depth + 1 == path.len() {
            *entry = parsed;
            return Ok(());
        }
        if entry.is_null() {
            *entry = Value::Mapping(Default::default());
        }
        node = entry;
    }
    Ok(())
}

impl FileConfig {
    fn check(self) -> Result<CertifierConfig, Error> {
        let bad = |key: &str, reason: String| Error::Config { key: key.to_string(), reason };
        let key_bytes = base64::engine::general_purpose::STANDARD
            .decode(self.signing_key.trim())
            .map_err(|e| bad("signing_key", format!("not base64: {e}")))?;
        let signing_key: [u8; 32] = key_bytes.as_slice().try_into().map_err(|_| {
            bad(
                "signing_key",
                format!(
                    "{} bytes, expected a 32-byte ed25519 secret key (`post certifier generate-keys`)",
                    key_bytes.len()
                ),
            )
        })?;
        let mut pow_difficulty = [0u8; 32];
        hex::decode_to_slice(self.post_cfg.pow_difficulty.trim(), &mut pow_difficulty)
            .map_err(|e| bad("post_cfg.pow_difficulty", format!("expected 64 hex digits: {e}")))?;
        let k2 = self.post_cfg.k2;
        let proof_config = ProofConfig {
            k1: self.post_cfg.k1,
            k2,
            k3: self.post_cfg.k3.unwrap_or(k2).clamp(1, k2.max(1)),
            pow_difficulty,
        }
        .validate()
        .map_err(|e| bad("post_cfg", e.to_string()))?;
        let s = &self.init_cfg.scrypt;
        let scrypt = ScryptParams::new(s.n, s.r, s.p).map_err(|e| bad("init_cfg.scrypt", e.to_string()))?;
        let init_config = InitConfig {
            labels_per_unit: self.init_cfg.labels_per_unit,
            min_num_units: self.init_cfg.min_num_units,
            max_num_units: self.init_cfg.max_num_units,
            max_file_size: 16,
            scrypt,
        }
        .validate()
        .map_err(|e| bad("init_cfg", e.to_string()))?;
        let certificate_expiration = match &self.certificate_expiration {
            None => None,
            Some(text) => Some(parse_duration(text).map_err(|reason| bad("certificate_expiration", reason))?),
        };
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let positive = |key: &str, value: Option<usize>, default: usize| match value {
            Some(0) => Err(bad(key, "must be at least 1".into())),
            Some(v) => Ok(v),
            None => Ok(default),
        };
        Ok(CertifierConfig {
            listen: self.listen,
            signing_key,
            proof_config,
            init_config,
            randomx_mode: match self.randomx_mode {
                FileRandomXMode::Fast => RandomXMode::Fast,
                FileRandomXMode::Light => RandomXMode::Light,
            },
            certificate_expiration,
            metrics: self.metrics,
            max_concurrent_requests: positive("max_concurrent_requests", self.max_concurrent_requests, cores)?,
            max_pending_requests: self.max_pending_requests.unwrap_or(64),
            max_body_size: positive("max_body_size", self.max_body_size, DEFAULT_MAX_BODY_SIZE)?,
        })
    }
}

/// Parses `2w`, `36h`, `1d12h`, `90s`, `1h 30m` (units s, m, h, d, w).
///
/// # Errors
/// A sentence saying what does not parse.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err("empty duration; write e.g. 2w, 36h or 1d12h".into());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in compact.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            other => return Err(format!("unknown unit {other:?} in {text:?}; use s, m, h, d or w")),
        };
        let n: u64 = digits.parse().map_err(|_| format!("a unit without a number in {text:?}"))?;
        digits.clear();
        total =
            n.checked_mul(unit).and_then(|s| total.checked_add(s)).ok_or_else(|| format!("{text:?} is too long"))?;
    }
    if !digits.is_empty() {
        return Err(format!("a number without a unit in {text:?}; write e.g. 2w, 36h or 1d12h"));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEY: &str = "DoU0xoVZ1gf/FDvz4K9PldiYCCeiFPhQmWbHd+X6Yjo=";

    fn yaml() -> String {
        format!(
            "listen: \"127.0.0.1:8080\"\nsigning_key: {KEY}\npost_cfg:\n  k1: 26\n  k2: 37\n  pow_difficulty: \
             \"000dfb23b0979b4b000000000000000000000000000000000000000000000000\"\ninit_cfg:\n  min_num_units: 4\n  \
             max_num_units: 99999\n  labels_per_unit: 4294967296\n  scrypt:\n    n: 8192\n    r: 1\n    p: 1\n\
             metrics: \"127.0.0.1:9090\"\nrandomx_mode: Fast\n"
        )
    }

    #[test]
    fn the_reference_example_loads() {
        let c = CertifierConfig::from_yaml(&yaml(), &[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.proof_config.k2, 37);
        assert_eq!(c.proof_config.pow_difficulty[..3], [0x00, 0x0d, 0xfb]);
        assert_eq!(c.init_config.labels_per_unit, 1 << 32);
        assert_eq!(c.randomx_mode, RandomXMode::Fast);
        assert_eq!(c.metrics, Some("127.0.0.1:9090".parse().unwrap()));
        assert_eq!(c.certificate_expiration, None);
        assert_eq!(c.max_body_size, 1024);
        assert!(!format!("{c:?}").contains(KEY));
    }

    #[test]
    fn overrides_replace_top_level_and_nested_keys() {
        let overrides = [
            ("LISTEN".to_string(), "0.0.0.0:1".to_string()),
            ("post_cfg__k1".to_string(), "30".to_string()),
            ("randomx_mode".to_string(), "Light".to_string()),
            ("certificate_expiration".to_string(), "1d12h".to_string()),
            ("max_concurrent_requests".to_string(), "3".to_string()),
        ];
        let c = CertifierConfig::from_yaml(&yaml(), &overrides).unwrap();
        assert_eq!(c.listen.port(), 1);
        assert_eq!(c.proof_config.k1, 30);
        assert_eq!(c.randomx_mode, RandomXMode::Light);
        assert_eq!(c.certificate_expiration, Some(Duration::from_secs(36 * 3600)));
        assert_eq!(c.max_concurrent_requests, 3);
    }

    #[test]
    fn mistakes_name_their_key() {
        for (edit, key) in [
            (("signing_key", "c2hvcnQ="), "signing_key"),
            (("post_cfg__pow_difficulty", "00ff"), "post_cfg.pow_difficulty"),
            (("init_cfg__scrypt__n", "1000"), "init_cfg.scrypt"),
            (("certificate_expiration", "2 fortnights"), "certificate_expiration"),
            (("max_body_size", "0"), "max_body_size"),
        ] {
            let overrides = [(edit.0.to_string(), edit.1.to_string())];
            match CertifierConfig::from_yaml(&yaml(), &overrides) {
                Err(Error::Config { key: got, .. }) => assert_eq!(got, key),
                other => panic!("{edit:?}: {other:?}"),
            }
        }
        let err = CertifierConfig::from_yaml(&format!("{}lisen: x\n", yaml()), &[]).unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("2w").unwrap(), Duration::from_secs(1_209_600));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        for bad in ["", "5", "h", "3y", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
