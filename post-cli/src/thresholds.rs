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
                    "the data has {} labels per unit, the {} preset has {}",
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

#[cfg(test)]
mod tests {
    use super::*;
    use post_core::{AtxId, NodeId};

    fn thresholds(preset: Option<Preset>) -> Thresholds {
        Thresholds { preset, k1: None, k2: None, pow_difficulty: None }
    }

    fn meta(labels_per_unit: u64) -> PostMetadata {
        let mut meta = PostMetadata::new(NodeId([1; 32]), AtxId([2; 32]), &Preset::Dev.init_config(), 1);
        meta.labels_per_unit = labels_per_unit;
        meta
    }

    #[test]
    fn the_preset_is_inferred_from_labels_per_unit() {
        for preset in Preset::ALL {
            let data = meta(preset.init_config().labels_per_unit);
            assert_eq!(thresholds(None).preset_for(&data), (preset, None), "{}", preset.name());
            // The same preset given: no warning.
            assert_eq!(thresholds(Some(preset)).preset_for(&data), (preset, None), "{}", preset.name());
        }
        // Labels per unit of no preset: mainnet, silently (the user gave the shape with --labels-per-unit).
        assert_eq!(thresholds(None).preset_for(&meta(12345)), (Preset::Mainnet, None));
    }

    #[test]
    fn a_given_preset_wins_with_a_warning_on_a_mismatch() {
        let dev = meta(Preset::Dev.init_config().labels_per_unit);
        let (preset, warning) = thresholds(Some(Preset::Mainnet)).preset_for(&dev);
        assert_eq!(preset, Preset::Mainnet);
        let warning = warning.unwrap_or_default();
        assert!(warning.contains("dev preset's") && warning.contains("--preset mainnet"), "{warning}");

        let odd = meta(12345);
        let (preset, warning) = thresholds(Some(Preset::Dev)).preset_for(&odd);
        assert_eq!(preset, Preset::Dev);
        let warning = warning.unwrap_or_default();
        assert!(warning.contains("12345") && warning.contains("dev preset has 16384"), "{warning}");
    }
}
