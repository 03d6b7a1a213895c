//! Which code to compile so that the driver can load it: a pure decision over the NVRTC version, the
//! driver's CUDA version, the device's compute capability and the architectures NVRTC knows.
//!
//! The rules (CUDA's compatibility guide):
//! 1. A cubin written by NVRTC of major version M loads on a driver for CUDA M.0 or newer, whatever the
//!    minors (minor version compatibility). NVRTC 13 cubins need a CUDA 13.0 driver (NVIDIA 580 or
//!    newer). So a driver whose CUDA major is below NVRTC's is refused, with the versions to upgrade
//!    to. PTX is no way out: NVRTC M writes a PTX ISA that an older driver's JIT does not read.
//! 2. When NVRTC knows the device's architecture: a cubin for it (`sm_XY`).
//! 3. When the device is newer than NVRTC: PTX for the newest architecture NVRTC knows below the
//!    device (`compute_XY`), which the driver JIT-compiles; its JIT must be at least as new as NVRTC
//!    (major and minor), else refused as in 1.
//! 4. When NVRTC knows no architecture at or below the device (NVRTC 13 dropped compute capability
//!    below 7.5), refused, naming the NVRTC that still supports it.
//!
//! Without a driver (compile-only, as the compile test does), rule 1 and the JIT check of rule 3 do
//! not apply.

use crate::{ComputeCapability, Error, ImageKind};

/// What NVRTC is asked to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodePlan {
    /// `sm_90` for a cubin, `compute_90` for PTX.
    pub arch: String,
    /// Cubin or PTX.
    pub kind: ImageKind,
}

/// The oldest NVIDIA Linux driver of a CUDA version (from the CUDA release notes), for messages.
pub fn minimum_driver(cuda: (u32, u32)) -> Option<u32> {
    const TABLE: [((u32, u32), u32); 19] = [
        ((11, 0), 450),
        ((11, 1), 455),
        ((11, 2), 460),
        ((11, 3), 465),
        ((11, 4), 470),
        ((11, 5), 495),
        ((11, 6), 510),
        ((11, 7), 515),
        ((11, 8), 520),
        ((12, 0), 525),
        ((12, 1), 530),
        ((12, 2), 535),
        ((12, 3), 545),
        ((12, 4), 550),
        ((12, 5), 555),
        ((12, 6), 560),
        ((12, 8), 570),
        ((12, 9), 575),
        ((13, 0), 580),
    ];
    TABLE.iter().find(|(v, _)| *v == cuda).map(|&(_, d)| d)
}

/// Decides what to compile for a device (see the module's rules).
///
/// `nvrtc` and `driver` are (major, minor) CUDA versions (`driver` as `cuDriverGetVersion` reports it,
/// `None` to compile without a driver); `supported` is NVRTC's list of architectures (75, 80, …).
///
/// # Errors
/// [`Error::DriverTooOld`] when the driver cannot load what this NVRTC writes,
/// [`Error::ArchitectureUnsupported`] when NVRTC knows no architecture the device can run.
pub fn plan_code(
    nvrtc: (u32, u32),
    driver: Option<(u32, u32)>,
    cc: ComputeCapability,
    supported: &[u32],
) -> Result<CodePlan, Error> {
    let too_old = |needed: (u32, u32), found: (u32, u32)| Error::DriverTooOld {
        nvrtc,
        needed,
        needed_driver: minimum_driver(needed),
        found,
        found_driver: minimum_driver(found),
    };
    // 1. The driver must be of NVRTC's major version or newer.
    if let Some(found) = driver.filter(|d| d.0 < nvrtc.0) {
        return Err(too_old((nvrtc.0, 0), found));
    }
    // 2. Real code for the device.
    if supported.contains(&cc.number()) {
        return Ok(CodePlan { arch: cc.sm(), kind: ImageKind::Cubin });
    }
    // 3. PTX for the newest architecture below the device, JIT-compiled by the driver.
    match supported.iter().copied().filter(|&a| a <= cc.number()).max() {
        Some(a) => {
            if let Some(found) = driver.filter(|&d| d < nvrtc) {
                return Err(too_old(nvrtc, found));
            }
            Ok(CodePlan { arch: format!("compute_{a}"), kind: ImageKind::Ptx })
        }
        // 4. A device older than anything this NVRTC compiles for.
        None => Err(Error::ArchitectureUnsupported { arch: cc.sm(), nvrtc, supported: supported.to_vec() }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// NVRTC 12.9's list (compute capability 5.0 to 12.1) and NVRTC 13.0's (7.5 to 12.1).
    const NVRTC_12_9: &[u32] = &[50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90, 100, 101, 103, 120, 121];
    const NVRTC_13_0: &[u32] = &[75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121];

    fn cc(major: u32, minor: u32) -> ComputeCapability {
        ComputeCapability { major, minor }
    }

    fn plan(nvrtc: (u32, u32), driver: (u32, u32), c: ComputeCapability) -> Result<CodePlan, Error> {
        let supported = if nvrtc.0 >= 13 { NVRTC_13_0 } else { NVRTC_12_9 };
        plan_code(nvrtc, Some(driver), c, supported)
    }

    fn cubin(arch: &str) -> Result<CodePlan, String> {
        Ok(CodePlan { arch: arch.into(), kind: ImageKind::Cubin })
    }

    fn ptx(arch: &str) -> Result<CodePlan, String> {
        Ok(CodePlan { arch: arch.into(), kind: ImageKind::Ptx })
    }

    fn text(r: Result<CodePlan, Error>) -> Result<CodePlan, String> {
        r.map_err(|e| e.to_string())
    }

    #[test]
    fn a_driver_of_nvrtcs_major_or_newer_loads_a_cubin() {
        // Minor version compatibility: a 12.0 driver loads NVRTC 12.9's cubins.
        assert_eq!(text(plan((12, 9), (12, 0), cc(9, 0))), cubin("sm_90"));
        assert_eq!(text(plan((12, 9), (12, 4), cc(8, 6))), cubin("sm_86"));
        assert_eq!(text(plan((12, 9), (13, 0), cc(8, 9))), cubin("sm_89"));
        assert_eq!(text(plan((13, 0), (13, 0), cc(9, 0))), cubin("sm_90"));
        assert_eq!(text(plan((13, 0), (13, 1), cc(12, 0))), cubin("sm_120"));
        // Compile-only: no driver to satisfy.
        assert_eq!(text(plan_code((13, 0), None, cc(9, 0), NVRTC_13_0)), cubin("sm_90"));
    }

    #[test]
    fn nvrtc_13_on_a_cuda_12_driver_is_refused_with_the_upgrade_to_make() {
        for (driver, branch) in [((12, 4), "550"), ((12, 8), "570"), ((12, 7), "")] {
            let err = plan((13, 0), driver, cc(9, 0)).unwrap_err();
            assert!(
                matches!(err, Error::DriverTooOld { needed: (13, 0), needed_driver: Some(580), found, .. } if found == driver),
                "{err:?}"
            );
            let msg = err.to_string();
            for part in ["NVRTC 13.0", "CUDA 13.0", "580", &format!("CUDA {}.{}", driver.0, driver.1), "nvrtc-cu12"] {
                assert!(msg.contains(part), "{msg:?} lacks {part:?}");
            }
            if !branch.is_empty() {
                assert!(msg.contains(branch), "{msg}");
            }
        }
        // Even a device that only PTX could serve: PTX 9.x is no help to a 12.x JIT.
        assert!(matches!(plan((13, 0), (12, 9), cc(13, 0)), Err(Error::DriverTooOld { .. })));
    }

    #[test]
    fn a_device_newer_than_nvrtc_gets_ptx_a_new_enough_driver_jits() {
        // NVRTC 12.9 does not know 11.0: PTX for 10.3.
        assert_eq!(text(plan((12, 9), (13, 0), cc(11, 0))), ptx("compute_103"));
        assert_eq!(text(plan((12, 9), (12, 9), cc(11, 0))), ptx("compute_103"));
        // The driver's JIT must read NVRTC 12.9's PTX.
        let err = plan((12, 9), (12, 8), cc(11, 0)).unwrap_err();
        assert!(matches!(err, Error::DriverTooOld { needed: (12, 9), found: (12, 8), .. }), "{err:?}");
        assert!(err.to_string().contains("575"), "{err}");
        // A minor architecture NVRTC lacks (8.8 for 12.9): PTX for 8.7.
        assert_eq!(text(plan((12, 9), (12, 9), cc(8, 8))), ptx("compute_87"));
    }

    #[test]
    fn a_device_older_than_every_nvrtc_architecture_is_refused() {
        let err = plan((13, 0), (13, 0), cc(7, 0)).unwrap_err();
        assert!(matches!(err, Error::ArchitectureUnsupported { ref arch, nvrtc: (13, 0), .. } if arch == "sm_70"));
        assert!(err.to_string().contains("NVRTC 12"), "{err}");
        assert_eq!(text(plan((12, 9), (13, 0), cc(7, 0))), cubin("sm_70"));
    }

    #[test]
    fn driver_branches() {
        assert_eq!(minimum_driver((13, 0)), Some(580));
        assert_eq!(minimum_driver((12, 0)), Some(525));
        assert_eq!(minimum_driver((12, 7)), None);
    }
}
