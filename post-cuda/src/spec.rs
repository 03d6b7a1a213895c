//! The text that selects CUDA devices and a kernel variant on the command line:
//!
//! ```text
//! cuda                 every device, variant chosen per device (auto)
//! cuda:0,2             devices 0 and 2
//! cuda@tpl4-gap2       every device, four threads per label, lookup gap 2
//! cuda:1@tpl1-gap1     device 1, one thread per label, no lookup gap
//! ```

use std::fmt;

use crate::{Error, VariantChoice};

/// Which devices a provider uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSelection {
    /// Every device the driver reports.
    All,
    /// These ordinals, in this order, without repeats.
    Some(Vec<usize>),
}

/// A parsed `cuda[:ORDINALS][@VARIANT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaSpec {
    /// The devices.
    pub devices: DeviceSelection,
    /// The kernel variant.
    pub variant: VariantChoice,
}

impl CudaSpec {
    /// Parses a provider spec that starts with `cuda`.
    ///
    /// # Errors
    /// [`Error::Spec`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::Spec { spec: text.to_string(), reason };
        let rest = text.strip_prefix("cuda").ok_or_else(|| bad("it does not start with `cuda`".into()))?;
        let (devices_part, variant_part) = match rest.split_once('@') {
            Some((d, v)) => (d, Some(v)),
            None => (rest, None),
        };
        let variant = match variant_part {
            None => VariantChoice::Auto,
            Some(v) => VariantChoice::parse(v).map_err(|_| bad(format!("unknown kernel variant {v:?}")))?,
        };
        let devices = if devices_part.is_empty() {
            DeviceSelection::All
        } else {
            let list = devices_part
                .strip_prefix(':')
                .ok_or_else(|| bad(format!("expected `:` or `@` after `cuda`, found {devices_part:?}")))?;
            let mut ordinals = Vec::new();
            for item in list.split(',') {
                let ordinal: usize =
                    item.trim().parse().map_err(|_| bad(format!("{item:?} is not a device number")))?;
                if ordinals.contains(&ordinal) {
                    return Err(bad(format!("device {ordinal} is listed twice")));
                }
                ordinals.push(ordinal);
            }
            DeviceSelection::Some(ordinals)
        };
        Ok(Self { devices, variant })
    }
}

impl fmt::Display for CudaSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cuda")?;
        if let DeviceSelection::Some(list) = &self.devices {
            let list: Vec<String> = list.iter().map(ToString::to_string).collect();
            write!(f, ":{}", list.join(","))?;
        }
        if self.variant != VariantChoice::Auto {
            write!(f, "@{}", self.variant)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::KernelVariant;

    #[test]
    fn parses_devices_and_variant() {
        let s = CudaSpec::parse("cuda").unwrap();
        assert_eq!((s.devices, s.variant), (DeviceSelection::All, VariantChoice::Auto));
        let s = CudaSpec::parse("cuda:0,2").unwrap();
        assert_eq!(s.devices, DeviceSelection::Some(vec![0, 2]));
        let s = CudaSpec::parse("cuda@tpl4-gap2").unwrap();
        assert_eq!(s.variant, VariantChoice::Fixed(KernelVariant::parse("tpl4-gap2").unwrap()));
        let s = CudaSpec::parse("cuda:1@auto").unwrap();
        assert_eq!((s.devices, s.variant), (DeviceSelection::Some(vec![1]), VariantChoice::Auto));
    }

    #[test]
    fn rejects_malformed_specs() {
        for bad in ["cpu", "cuda:", "cuda:a", "cuda:0,,1", "cuda:0,0", "cuda0", "cuda@tpl9", "cuda:-1", "cuda@"] {
            let err = CudaSpec::parse(bad).unwrap_err();
            assert!(matches!(err, Error::Spec { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["cuda", "cuda:0,2", "cuda@tpl1-gap4", "cuda:3@tpl4-gap1"] {
            assert_eq!(CudaSpec::parse(text).unwrap().to_string(), text);
        }
    }
}
