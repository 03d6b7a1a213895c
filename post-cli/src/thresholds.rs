//! The proving thresholds every proving and verifying subcommand takes: a network preset, overridden
//! field by field, and the preset a data directory's metadata implies.

use post_core::{PostMetadata, Preset};

use crate::util::hex32;

/// The proving thresholds: a preset, overridden field by field.
#[derive(Debug, Clone, clap::Args)]
pub struct Thresholds {
    /// Network preset for the parameters not given: mainnet, testnet or dev (default: the one whose
    /// labels per unit the data has, else mainnet).
    #[arg(long, value_parser = preset)]
    pub preset: Option<Preset>,
    /// Expected good labels per nonce (overrides the preset).
    #[arg(long)]
    pub k1: Option<u32>,
    /// Good labels in a proof (overrides the preset).
    #[arg(long)]
    pub k2: Option<u32>,
    /// The k2 proof-of-work difficulty for one unit, 64 hex digits (overrides the preset).
    #[arg(long, value_parser = hex32, value_name = "HEX32")]
    pub pow_difficulty: Option<[u8; 32]>,
}

impl Thresholds {
    /// The preset for proving `meta`'s data: the one given, else the one whose labels per unit the
    /// metadata has (mainnet when none has), with a warning to print when the given preset's labels per
    /// unit differ from the data's.
    pub fn preset_for(&self, meta: &PostMetadata) -> (Preset, Option<String>) {
        let implied = Preset::ALL.into_iter().find(|p| p.init_config().labels_per_unit == meta.labels_per_unit);
        match (self.preset, implied) {
            (Some(given), Some(implied)) if given != implied => (
                given,
                Some(format!(
                    "the data has {} labels per unit, which is the {} preset's, but --preset {} was given",
                    meta.labels_per_unit,
                    implied.name(),
                    given.name()
                )),
            ),
            (Some(given), None) if given.init_config().labels_per_unit != meta.labels_per_unit => (
                given,
                Some(format!(
                    "the data has {} labels per unit, the {} preset {}",
                    meta.labels_per_unit,
                    given.name(),
                    given.init_config().labels_per_unit
                )),
            ),
            (Some(given), _) => (given, None),
            (None, Some(implied)) => (implied, None),
            (None, None) => (Preset::Mainnet, None),
        }
    }
}

/// Parses a preset name.
pub fn preset(text: &str) -> Result<Preset, String> {
    Preset::from_name(text).map_err(|e| e.to_string())
}
