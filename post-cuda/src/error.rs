//! The one error type of `post-cuda`. Every message says which device (name and ordinal) or which
//! file failed and what to do about it; [`Error::into_oracle`] turns it into the `Labeller` trait's
//! error with the device name as the labeller.

use std::path::PathBuf;

/// Errors of GPU discovery, kernel compilation and labelling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `libcuda` could not be loaded.
    #[error(
        "the NVIDIA CUDA driver library (libcuda.so.1 / nvcuda.dll) was not found: install the NVIDIA driver \
         to use a GPU, or choose a CPU provider"
    )]
    DriverNotFound,
    /// `libnvrtc` could not be loaded and no cached kernel fits the device.
    #[error(
        "the NVRTC library (libnvrtc.so.13, libnvrtc.so.12 or libnvrtc.so) was not found, and the kernel cache holds no kernel \
         for {arch}: install CUDA's NVRTC (the cuda-nvrtc package of the CUDA toolkit, or `pip install \
         nvidia-cuda-nvrtc`) and add its lib directory to LD_LIBRARY_PATH"
    )]
    NvrtcNotFound {
        /// The architecture a kernel was needed for, e.g. `sm_90`.
        arch: String,
    },
    /// A CUDA driver call failed.
    #[error("{device}: CUDA call {call} failed: {message}")]
    Driver {
        /// The device (`cuda:0 NVIDIA H200`), or `CUDA driver` before a device is chosen.
        device: String,
        /// The failing driver function.
        call: &'static str,
        /// The driver's description.
        message: String,
    },
    /// The CUDA library panicked, typically a function missing from an old driver.
    #[error("the CUDA library failed inside {call}: {message} (is the NVIDIA driver older than CUDA 12?)")]
    Panic {
        /// What was being done.
        call: &'static str,
        /// The panic message.
        message: String,
    },
    /// No device with this ordinal.
    #[error("there is no CUDA device {ordinal}: this machine has {count} (run `post providers` to list them)")]
    NoSuchDevice {
        /// The requested ordinal.
        ordinal: usize,
        /// How many devices the driver reports.
        count: usize,
    },
    /// The driver reports no device at all.
    #[error("the CUDA driver is installed but reports no GPU (check `nvidia-smi`)")]
    NoDevices,
    /// The driver cannot load what this NVRTC writes: its CUDA version is older than NVRTC's.
    #[error(
        "NVRTC {}.{} writes GPU code that needs a driver for CUDA {}.{} or newer{}, but this driver supports \
         CUDA {}.{}{}: upgrade the NVIDIA driver{}, or use an NVRTC of CUDA {}.x or older (e.g. `pip install \
         nvidia-cuda-nvrtc-cu{}`) on LD_LIBRARY_PATH",
        nvrtc.0, nvrtc.1, needed.0, needed.1,
        needed_driver.map_or(String::new(), |d| format!(" (NVIDIA driver {d} or newer)")),
        found.0, found.1,
        found_driver.map_or(String::new(), |d| format!(" (NVIDIA driver {d} series)")),
        needed_driver.map_or(String::new(), |d| format!(" to {d} or newer")),
        found.0, found.0
    )]
    DriverTooOld {
        /// The NVRTC version (major, minor).
        nvrtc: (u32, u32),
        /// The CUDA version the driver must support.
        needed: (u32, u32),
        /// The oldest NVIDIA driver of that CUDA version, when known.
        needed_driver: Option<u32>,
        /// The CUDA version the driver supports (`cuDriverGetVersion`).
        found: (u32, u32),
        /// The oldest NVIDIA driver of that CUDA version, when known.
        found_driver: Option<u32>,
    },
    /// The device is older than every architecture this NVRTC compiles for.
    #[error(
        "NVRTC {}.{} compiles for compute capabilities {supported:?} (as numbers, 75 = 7.5), none at or below \
         the device's {arch}: use NVRTC 12 (`pip install nvidia-cuda-nvrtc-cu12`), which supports it",
        nvrtc.0, nvrtc.1
    )]
    ArchitectureUnsupported {
        /// The device's architecture, e.g. `sm_70`.
        arch: String,
        /// The NVRTC version.
        nvrtc: (u32, u32),
        /// The architectures it knows.
        supported: Vec<u32>,
    },
    /// NVRTC rejected the kernel source.
    #[error("NVRTC could not compile the label kernels for {arch} with {options:?}: {log}")]
    Compile {
        /// Target architecture.
        arch: String,
        /// The options passed.
        options: Vec<String>,
        /// NVRTC's log or error.
        log: String,
    },
    /// A compiled kernel could not be written to the cache directory (a bad cache file is never an
    /// error: it is compiled over).
    #[error("kernel cache {path}: {source}; fix the directory's permissions or pass another cache directory")]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A provider spec such as `cuda:0,2@tpl4-gap2` could not be parsed.
    #[error(
        "bad CUDA provider {spec:?}: {reason}; expected cuda[:ORDINALS][@VARIANT], e.g. cuda, cuda:0,2, \
         cuda@tpl4-gap2 (variants: auto, tpl1-gap1, tpl1-gap2, tpl1-gap4, tpl4-gap1, tpl4-gap2, tpl4-gap4)"
    )]
    Spec {
        /// The text given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not even one label's scratch table fits in the device's free memory.
    #[error(
        "{device}: {free} bytes of device memory are free, but one label at scrypt N={n} with kernel {variant} \
         needs {need} bytes: free GPU memory or choose a larger lookup gap (e.g. cuda@tpl1-gap4)"
    )]
    OutOfMemory {
        /// The device.
        device: String,
        /// Free bytes reported by the driver.
        free: u64,
        /// Bytes one batch needs at the least.
        need: u64,
        /// scrypt N.
        n: u32,
        /// The kernel variant.
        variant: String,
    },
    /// The label function's parameters are outside what the kernels compute.
    #[error("the CUDA kernels compute scrypt with r = 1 and p = 1 only (the network's values), not r = {r}, p = {p}")]
    Unsupported {
        /// scrypt N.
        n: u32,
        /// scrypt r.
        r: u32,
        /// scrypt p.
        p: u32,
    },
    /// A label job was malformed (buffer length, range past 2^64 - 1).
    #[error(transparent)]
    Job(#[from] post_oracle::Error),
}

impl Error {
    /// The error of a driver call on `device`.
    pub(crate) fn driver(device: &str, call: &'static str, err: cudarc::driver::DriverError) -> Self {
        let message = match (err.error_name(), err.error_string()) {
            (Ok(name), Ok(text)) => format!("{} ({})", text.to_string_lossy(), name.to_string_lossy()),
            _ => format!("{:?}", err.0),
        };
        Error::Driver { device: device.to_string(), call, message }
    }

    /// The `Labeller` trait's error for this one, naming `labeller`.
    pub fn into_oracle(self, labeller: &str) -> post_oracle::Error {
        match self {
            Error::Job(e) => e,
            Error::Unsupported { n, r, p } => post_oracle::Error::Unsupported {
                labeller: labeller.to_string(),
                n,
                r,
                p,
                reason: "the CUDA kernels compute r = 1, p = 1 only (the network's values)".to_string(),
            },
            other => post_oracle::Error::Backend { labeller: labeller.to_string(), message: other.to_string() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant prints its fields and advice.
    #[test]
    fn every_variant_formats_its_fields() {
        let cases: Vec<(Error, &[&str])> = vec![
            (Error::DriverNotFound, &["libcuda.so.1", "driver"]),
            (Error::NvrtcNotFound { arch: "sm_90".into() }, &["libnvrtc", "sm_90", "LD_LIBRARY_PATH"]),
            (
                Error::Driver {
                    device: "cuda:1 NVIDIA H200".into(),
                    call: "cuMemAlloc",
                    message: "out of memory".into(),
                },
                &["cuda:1 NVIDIA H200", "cuMemAlloc", "out of memory"],
            ),
            (Error::Panic { call: "cuInit", message: "missing symbol".into() }, &["cuInit", "missing symbol"]),
            (Error::NoSuchDevice { ordinal: 3, count: 2 }, &["device 3", "has 2"]),
            (Error::NoDevices, &["no GPU"]),
            (
                Error::DriverTooOld {
                    nvrtc: (13, 0),
                    needed: (13, 0),
                    needed_driver: Some(580),
                    found: (12, 4),
                    found_driver: Some(550),
                },
                &["NVRTC 13.0", "CUDA 13.0", "580 or newer", "CUDA 12.4", "550", "nvrtc-cu12"],
            ),
            (
                Error::ArchitectureUnsupported { arch: "sm_70".into(), nvrtc: (13, 0), supported: vec![75, 80] },
                &["NVRTC 13.0", "[75, 80]", "sm_70", "NVRTC 12"],
            ),
            (
                Error::Compile { arch: "sm_90".into(), options: vec!["-x".into()], log: "error: oops".into() },
                &["sm_90", "-x", "oops"],
            ),
            (
                Error::Cache { path: "/c/k.cubin".into(), source: std::io::Error::other("denied") },
                &["/c/k.cubin", "denied"],
            ),
            (Error::Spec { spec: "cuda:x".into(), reason: "bad ordinal".into() }, &["cuda:x", "bad ordinal", "@"]),
            (
                Error::OutOfMemory {
                    device: "cuda:0 X".into(),
                    free: 10,
                    need: 20,
                    n: 8192,
                    variant: "tpl1-gap1".into(),
                },
                &["cuda:0 X", "10 bytes", "20 bytes", "N=8192", "tpl1-gap1"],
            ),
            (Error::Unsupported { n: 16, r: 8, p: 1 }, &["r = 8", "p = 1"]),
            (Error::Job(post_oracle::Error::BufferLength { len: 7 }), &["7 bytes"]),
        ];
        for (err, parts) in cases {
            let text = err.to_string();
            for part in parts {
                assert!(text.contains(part), "{text:?} lacks {part:?}");
            }
        }
    }

    #[test]
    fn into_oracle_keeps_the_device_name() {
        let err = Error::NoDevices.into_oracle("cuda:0 NVIDIA H200");
        assert!(matches!(err, post_oracle::Error::Backend { ref labeller, .. } if labeller == "cuda:0 NVIDIA H200"));
        let err = Error::Unsupported { n: 16, r: 2, p: 1 }.into_oracle("cuda:0");
        assert!(matches!(err, post_oracle::Error::Unsupported { r: 2, .. }));
    }
}
