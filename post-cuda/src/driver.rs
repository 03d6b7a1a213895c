//! Finding the CUDA driver and the devices, without ever panicking on a machine that has neither.
//!
//! `cudarc` loads `libcuda` and `libnvrtc` at the first call and panics when a library or a function
//! is missing. So:
//! 1. before the first driver call, [`driver_present`] probes for the library (once per process);
//! 2. every entry point runs its driver calls inside [`guarded`], which turns a panic (a function
//!    missing from an old driver) into [`Error::Panic`].

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use cudarc::driver::{result, sys};

use crate::Error;

/// The label used in errors before any device is chosen.
pub(crate) const HOST: &str = "CUDA driver";

/// A compute capability such as 9.0 (Hopper).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComputeCapability {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl ComputeCapability {
    /// The NVRTC architecture name of real code for it, e.g. `sm_90`.
    pub fn sm(self) -> String {
        format!("sm_{}{}", self.major, self.minor)
    }

    /// The number NVRTC lists supported architectures by (90 for 9.0).
    pub fn number(self) -> u32 {
        self.major * 10 + self.minor
    }
}

impl fmt::Display for ComputeCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What `post providers` shows of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The driver's ordinal (what `cuda:N` selects).
    pub ordinal: usize,
    /// The marketing name, e.g. `NVIDIA H200`.
    pub name: String,
    /// Total device memory in bytes.
    pub total_memory: u64,
    /// Compute capability.
    pub compute_capability: ComputeCapability,
    /// Streaming multiprocessors.
    pub multiprocessors: u32,
    /// Most resident threads per multiprocessor.
    pub max_threads_per_multiprocessor: u32,
    /// Most blocks in a grid's x dimension.
    pub max_grid_x: u32,
}

impl DeviceInfo {
    /// `cuda:0 NVIDIA H200`, the name used in labeller names and errors.
    pub fn label(&self) -> String {
        format!("cuda:{} {}", self.ordinal, self.name)
    }
}

impl fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {:.1} GiB, compute capability {}, {} multiprocessors",
            self.label(),
            self.total_memory as f64 / f64::from(1u32 << 30),
            self.compute_capability,
            self.multiprocessors
        )
    }
}

/// Whether `libcuda` can be loaded (probed once per process).
pub fn driver_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    // SAFETY: loading the NVIDIA driver library runs its initialisers, which is how it is meant to be
    // used; the handle is dropped again right away.
    *PRESENT.get_or_init(|| catch_unwind(|| unsafe { sys::is_culib_present() }).unwrap_or(false))
}

/// Whether `libnvrtc` can be loaded (probed once per process).
pub fn nvrtc_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    // SAFETY: as for the driver; NVRTC has no global state that loading could disturb.
    *PRESENT.get_or_init(|| catch_unwind(|| unsafe { cudarc::nvrtc::sys::is_culib_present() }).unwrap_or(false))
}

/// Runs driver calls, turning a panic inside `cudarc` into [`Error::Panic`].
pub(crate) fn guarded<T>(call: &'static str, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(Error::Panic { call, message })
    })
}

/// Initializes the driver. `Ok(false)` when it is installed but sees no device.
pub(crate) fn init() -> Result<bool, Error> {
    if !driver_present() {
        return Err(Error::DriverNotFound);
    }
    guarded("cuInit", || match result::init() {
        Ok(()) => Ok(true),
        Err(e) if e.0 == sys::CUresult::CUDA_ERROR_NO_DEVICE => Ok(false),
        Err(e) => Err(Error::driver(HOST, "cuInit", e)),
    })
}

/// The driver's CUDA version as (major, minor), e.g. (12, 4).
///
/// # Errors
/// [`Error::DriverNotFound`] without a driver, [`Error::Driver`] when the call fails.
pub fn driver_version() -> Result<(u32, u32), Error> {
    init()?;
    guarded("cuDriverGetVersion", || {
        let mut v: std::os::raw::c_int = 0;
        // SAFETY: writes one int.
        unsafe { sys::cuDriverGetVersion(&mut v) }
            .result()
            .map_err(|e| Error::driver(HOST, "cuDriverGetVersion", e))?;
        let v = u32::try_from(v).unwrap_or(0);
        Ok((v / 1000, (v % 1000) / 10))
    })
}

/// Every CUDA device: name, memory, compute capability and limits.
///
/// # Errors
/// [`Error::DriverNotFound`] when `libcuda` is not installed (no panic, no abort); [`Error::Driver`]
/// when a query fails. A driver that sees no GPU gives an empty list.
pub fn devices() -> Result<Vec<DeviceInfo>, Error> {
    if !init()? {
        return Ok(Vec::new());
    }
    guarded("device discovery", || {
        let count = result::device::get_count().map_err(|e| Error::driver(HOST, "cuDeviceGetCount", e))?;
        (0..usize::try_from(count).unwrap_or(0)).map(device_info).collect()
    })
}

/// One device's description.
pub(crate) fn device_info(ordinal: usize) -> Result<DeviceInfo, Error> {
    let at = format!("cuda:{ordinal}");
    let dev = result::device::get(ordinal as i32).map_err(|e| Error::driver(&at, "cuDeviceGet", e))?;
    let name = result::device::get_name(dev).map_err(|e| Error::driver(&at, "cuDeviceGetName", e))?;
    // SAFETY: `dev` is a valid device handle from cuDeviceGet.
    let total = unsafe { result::device::total_mem(dev) }.map_err(|e| Error::driver(&at, "cuDeviceTotalMem", e))?;
    let attr = |a: sys::CUdevice_attribute| -> Result<u32, Error> {
        // SAFETY: as above.
        let v = unsafe { result::device::get_attribute(dev, a) }
            .map_err(|e| Error::driver(&at, "cuDeviceGetAttribute", e))?;
        Ok(u32::try_from(v).unwrap_or(0))
    };
    use sys::CUdevice_attribute::*;
    Ok(DeviceInfo {
        ordinal,
        name,
        total_memory: total as u64,
        compute_capability: ComputeCapability {
            major: attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?,
            minor: attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?,
        },
        multiprocessors: attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?,
        max_threads_per_multiprocessor: attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR)?,
        max_grid_x: attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_capability_names() {
        let cc = ComputeCapability { major: 9, minor: 0 };
        assert_eq!((cc.sm(), cc.number(), cc.to_string()), ("sm_90".to_string(), 90, "9.0".to_string()));
        assert!(ComputeCapability { major: 8, minor: 9 } < cc);
    }

    #[test]
    fn device_info_prints_name_memory_and_capability() {
        let d = DeviceInfo {
            ordinal: 1,
            name: "NVIDIA H200".into(),
            total_memory: 150_754_820_096,
            compute_capability: ComputeCapability { major: 9, minor: 0 },
            multiprocessors: 132,
            max_threads_per_multiprocessor: 2048,
            max_grid_x: i32::MAX as u32,
        };
        assert_eq!(d.to_string(), "cuda:1 NVIDIA H200: 140.4 GiB, compute capability 9.0, 132 multiprocessors");
    }

    #[test]
    fn guarded_turns_a_panic_into_an_error() {
        let err = guarded::<()>("cuTest", || panic!("Missing symbol cuTest")).err();
        assert!(matches!(err, Some(Error::Panic { call: "cuTest", ref message }) if message.contains("cuTest")));
    }

    /// Without a driver the answer is an error or an empty list, never a panic.
    #[test]
    fn devices_never_panics() {
        match devices() {
            Ok(list) => assert!(list.iter().enumerate().all(|(i, d)| d.ordinal == i)),
            Err(e) => assert!(matches!(e, Error::DriverNotFound | Error::Driver { .. }), "{e}"),
        }
    }
}
