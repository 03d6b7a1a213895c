//! Compiling the kernels with NVRTC at run time, for the device's own architecture, once.
//!
//! 1. The source is `kernels/label_core.cuh` followed by `kernels/label_kernels.cu`, built into the
//!    crate with `include_str!` (so the binary carries it; no files are needed at run time).
//! 2. Images are cached in the process per architecture, and, when the caller passes a directory, on
//!    disk under a name keyed by a BLAKE3 hash of the source, the architecture and the driver version
//!    (so a driver or source update recompiles; a machine without NVRTC can use a filled cache). Each
//!    file carries its length and hash and is checked on load; an unusable one is compiled over
//!    (`cache.rs`).
//! 3. Before compiling, NVRTC's version is compared with the driver's CUDA version (`compat.rs`): NVRTC
//!    compiles real code (`--gpu-architecture=sm_XY`, a cubin the driver loads as is) when the driver
//!    is of NVRTC's major version or newer, and refuses with the driver version needed otherwise (NVRTC
//!    13 cubins need a CUDA 13.0 driver, 580 or newer). When this NVRTC does not know the device's
//!    architecture (a card newer than the toolkit), it compiles PTX for the newest virtual
//!    architecture it knows below the device and the driver JIT-compiles it. The NVRTC version is part
//!    of the cache key.

use std::collections::HashMap;
use std::ffi::CString;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use cudarc::nvrtc::{result as nvrtc, sys as nvrtc_sys};
use parking_lot::Mutex;

use crate::cache::{self, CacheOutcome};
use crate::compat::plan_code;
use crate::driver::{guarded, nvrtc_present};
use crate::{ComputeCapability, Error};

/// The CUDA C++ source of every kernel, exactly as NVRTC compiles it.
pub const KERNEL_SOURCE: &str =
    concat!(include_str!("../kernels/label_core.cuh"), "\n", include_str!("../kernels/label_kernels.cu"));

/// The names of the kernels in [`KERNEL_SOURCE`].
pub const KERNEL_NAMES: [&str; 9] = [
    "post_pbkdf2_in",
    "post_romix_t1_g1",
    "post_romix_t1_g2",
    "post_romix_t1_g4",
    "post_romix_t4_g1",
    "post_romix_t4_g2",
    "post_romix_t4_g4",
    "post_pbkdf2_out",
    "post_vrf_reduce",
];

/// What kind of code an image holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// Machine code for one architecture.
    Cubin,
    /// PTX, compiled by the driver when loaded.
    Ptx,
}

/// Compiled kernels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelImage {
    /// `sm_90` for a cubin, `compute_90` for PTX.
    pub arch: String,
    /// Cubin or PTX.
    pub kind: ImageKind,
    /// The image (PTX without its terminating NUL).
    pub bytes: Vec<u8>,
    /// NVRTC's log (register and spill counts from ptxas), empty when loaded from the cache.
    pub log: String,
    /// Whether it came from the disk cache, and if a cache file was there but unusable, why.
    pub cache: CacheOutcome,
}

/// Compiled images of this process by architecture, driver version and NVRTC version.
type ImageCache = HashMap<(ComputeCapability, (u32, u32), Option<(u32, u32)>), Arc<KernelImage>>;

/// Where and for what to compile.
#[derive(Debug, Clone, Copy)]
pub struct CompileTarget<'a> {
    /// The device's compute capability.
    pub compute_capability: ComputeCapability,
    /// The driver version, part of the cache key.
    pub driver_version: (u32, u32),
    /// A directory for compiled kernels, created when missing.
    pub cache_dir: Option<&'a Path>,
}

/// The kernels for a target: from the process cache, the disk cache, or NVRTC.
///
/// # Errors
/// [`Error::NvrtcNotFound`] without NVRTC and without a valid cached image, [`Error::DriverTooOld`]
/// when the driver cannot load what this NVRTC writes, [`Error::Compile`] when
/// NVRTC fails, [`Error::Cache`] when the new image cannot be written to the cache directory. A torn,
/// corrupt or foreign cache file is no error: the kernels are compiled again and the file replaced
/// ([`KernelImage::cache`] says why).
pub fn kernel_image(target: CompileTarget<'_>) -> Result<Arc<KernelImage>, Error> {
    static IMAGES: OnceLock<Mutex<ImageCache>> = OnceLock::new();
    let nvrtc = nvrtc_version();
    let key = (target.compute_capability, target.driver_version, nvrtc);
    let images = IMAGES.get_or_init(Default::default);
    if let Some(image) = images.lock().get(&key) {
        return Ok(Arc::clone(image));
    }
    let cc = target.compute_capability;
    let image = match (target.cache_dir, nvrtc) {
        (Some(dir), Some(version)) => {
            let file = dir.join(cache_file_name(target, version));
            load_or_compile(Some((dir, &file)), || compile_with(cc, Some(target.driver_version)))?
        }
        (None, Some(_)) => compile_with(cc, Some(target.driver_version))?,
        // Without NVRTC only a cache file made by some NVRTC for this source, device and driver helps.
        (Some(dir), None) => newest_cached(dir, target).ok_or_else(|| Error::NvrtcNotFound { arch: cc.sm() })?,
        (None, None) => return Err(Error::NvrtcNotFound { arch: cc.sm() }),
    };
    let image = Arc::new(image);
    images.lock().insert(key, Arc::clone(&image));
    Ok(image)
}

/// The hash part of a cache file's name: the source, the architecture and the driver version.
fn cache_key(target: CompileTarget<'_>) -> String {
    let mut h = blake3::Hasher::new();
    h.update(KERNEL_SOURCE.as_bytes());
    h.update(target.compute_capability.sm().as_bytes());
    h.update(format!("driver {}.{}", target.driver_version.0, target.driver_version.1).as_bytes());
    let hash = h.finalize().to_hex();
    format!("post-cuda-{}-{}", target.compute_capability.sm(), &hash[..16])
}

/// `post-cuda-sm_90-<hash>-nvrtc12.9.bin`: the hash covers the source, the architecture and the driver
/// version; the NVRTC version is spelled out so that a machine without NVRTC can find the file.
fn cache_file_name(target: CompileTarget<'_>, nvrtc: (u32, u32)) -> String {
    format!("{}-nvrtc{}.{}.bin", cache_key(target), nvrtc.0, nvrtc.1)
}

/// The valid cache file for a target made by the newest NVRTC, whichever that was.
fn newest_cached(dir: &Path, target: CompileTarget<'_>) -> Option<KernelImage> {
    let prefix = format!("{}-nvrtc", cache_key(target));
    let mut found: Vec<((u32, u32), std::path::PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?;
            let (major, minor) = name.strip_prefix(&prefix)?.strip_suffix(".bin")?.split_once('.')?;
            Some(((major.parse().ok()?, minor.parse().ok()?), path))
        })
        .collect();
    found.sort();
    found.into_iter().rev().find_map(|(_, path)| cache::read(&path)?.ok())
}

/// The image from a valid cache file, or else from `compile`, then written to the cache. A missing,
/// torn, corrupt or foreign file is compiled over (its rejection is recorded in the image); only a
/// failure to compile or to write the new file is an error.
fn load_or_compile(
    cache: Option<(&Path, &Path)>,
    compile: impl FnOnce() -> Result<KernelImage, Error>,
) -> Result<KernelImage, Error> {
    let Some((dir, file)) = cache else { return compile() };
    let outcome = match cache::read(file) {
        Some(Ok(image)) => return Ok(image),
        Some(Err(why)) => CacheOutcome::Rejected(why),
        None => CacheOutcome::Miss,
    };
    let image = compile()?;
    cache::write(dir, file, &image)?;
    Ok(KernelImage { cache: outcome, ..image })
}

/// An NVRTC program, destroyed on drop.
struct Program(nvrtc_sys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: created by create_program and destroyed only here. A failure only leaks.
        let _ = unsafe { nvrtc::destroy_program(self.0) };
    }
}

/// Compiles [`KERNEL_SOURCE`] for a compute capability with NVRTC.
///
/// # Errors
/// [`Error::NvrtcNotFound`] without NVRTC, [`Error::ArchitectureUnsupported`] when this NVRTC knows no
/// architecture the device runs, [`Error::Compile`] with NVRTC's log otherwise. No driver is consulted:
/// [`kernel_image`] also checks that the driver can load the result.
pub fn compile(cc: ComputeCapability) -> Result<KernelImage, Error> {
    compile_with(cc, None)
}

/// Compiles for a device and, when given, a driver whose CUDA version must be able to load the
/// result ([`plan_code`] decides between a cubin, PTX and a refusal).
fn compile_with(cc: ComputeCapability, driver: Option<(u32, u32)>) -> Result<KernelImage, Error> {
    if !nvrtc_present() {
        return Err(Error::NvrtcNotFound { arch: cc.sm() });
    }
    guarded("NVRTC", || {
        let nvrtc = nvrtc_version().ok_or_else(|| Error::Compile {
            arch: cc.sm(),
            options: Vec::new(),
            log: "nvrtcVersion failed".into(),
        })?;
        let plan = plan_code(nvrtc, driver, cc, &supported_archs(cc)?)?;
        compile_for(&plan.arch, plan.kind)
    })
}

/// The architectures this NVRTC compiles for (e.g. 50, 52, …, 90).
fn supported_archs(cc: ComputeCapability) -> Result<Vec<u32>, Error> {
    let fail = |what: &str, e: nvrtc::NvrtcError| Error::Compile {
        arch: cc.sm(),
        options: Vec::new(),
        log: format!("{what}: {e:?}"),
    };
    let mut count: std::os::raw::c_int = 0;
    // SAFETY: writes one int.
    unsafe { nvrtc_sys::nvrtcGetNumSupportedArchs(&mut count) }
        .result()
        .map_err(|e| fail("nvrtcGetNumSupportedArchs", e))?;
    let mut archs: Vec<std::os::raw::c_int> = vec![0; usize::try_from(count).unwrap_or(0)];
    // SAFETY: the vector holds `count` ints.
    unsafe { nvrtc_sys::nvrtcGetSupportedArchs(archs.as_mut_ptr()) }
        .result()
        .map_err(|e| fail("nvrtcGetSupportedArchs", e))?;
    Ok(archs.into_iter().filter_map(|a| u32::try_from(a).ok()).collect())
}

/// The version of the NVRTC this process loads, as (major, minor), e.g. (12, 9); `None` without NVRTC.
pub fn nvrtc_version() -> Option<(u32, u32)> {
    if !nvrtc_present() {
        return None;
    }
    guarded("nvrtcVersion", || {
        let (mut major, mut minor): (std::os::raw::c_int, std::os::raw::c_int) = (0, 0);
        // SAFETY: writes two ints.
        let status = unsafe { nvrtc_sys::nvrtcVersion(&mut major, &mut minor) }.result();
        Ok(status.ok().and_then(|()| Some((u32::try_from(major).ok()?, u32::try_from(minor).ok()?))))
    })
    .ok()
    .flatten()
}

/// NVRTC's options for `arch` (`sm_90` or `compute_90`), exactly as [`compile`] passes them. ptxas runs
/// only for a real architecture (`sm_XX`): its `-v` (register and spill counts in the log) is passed
/// only then, never for a virtual one (`compute_XX`, PTX).
pub fn nvrtc_options(arch: &str) -> Vec<String> {
    let mut options = vec![format!("--gpu-architecture={arch}"), "--std=c++17".to_string()];
    if arch.starts_with("sm_") {
        options.push("--ptxas-options=-v".to_string());
    }
    options
}

fn compile_for(arch: &str, kind: ImageKind) -> Result<KernelImage, Error> {
    let options = nvrtc_options(arch);
    let fail = |log: String| Error::Compile { arch: arch.to_string(), options: options.clone(), log };
    let source = CString::new(KERNEL_SOURCE).map_err(|_| fail("the kernel source contains a NUL byte".into()))?;
    let name = c"post_label.cu";
    let program = Program(nvrtc::create_program(&source, Some(name)).map_err(|e| fail(format!("{e:?}")))?);
    // SAFETY: `program` is a live program; the options are plain ASCII without NUL bytes.
    let compiled = unsafe { nvrtc::compile_program(program.0, &options) };
    // SAFETY: as above.
    let log = unsafe { nvrtc::get_program_log(program.0) }
        .map(|raw| {
            let bytes: Vec<u8> = raw.into_iter().map(|c| c as u8).take_while(|&b| b != 0).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        })
        .unwrap_or_default();
    compiled.map_err(|e| fail(format!("{e:?}\n{log}")))?;
    let bytes = match kind {
        ImageKind::Cubin => {
            let mut size = 0usize;
            // SAFETY: the program compiled for a real architecture, so it has a cubin of `size` bytes.
            unsafe { nvrtc_sys::nvrtcGetCUBINSize(program.0, &mut size) }
                .result()
                .map_err(|e| fail(format!("nvrtcGetCUBINSize: {e:?}")))?;
            let mut cubin = vec![0u8; size];
            // SAFETY: `cubin` holds `size` bytes.
            unsafe { nvrtc_sys::nvrtcGetCUBIN(program.0, cubin.as_mut_ptr().cast()) }
                .result()
                .map_err(|e| fail(format!("nvrtcGetCUBIN: {e:?}")))?;
            cubin
        }
        ImageKind::Ptx => {
            // SAFETY: the program compiled.
            let raw = unsafe { nvrtc::get_ptx(program.0) }.map_err(|e| fail(format!("nvrtcGetPTX: {e:?}")))?;
            raw.into_iter().map(|c| c as u8).take_while(|&b| b != 0).collect()
        }
    };
    Ok(KernelImage { arch: arch.to_string(), kind, bytes, log, cache: CacheOutcome::NoCache })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {

    #[test]
    fn ptxas_options_only_for_a_real_architecture() {
        assert!(nvrtc_options("sm_90").contains(&"--ptxas-options=-v".to_string()));
        assert!(nvrtc_options("sm_80").contains(&"--gpu-architecture=sm_80".to_string()));
        let virtual_arch = nvrtc_options("compute_90");
        assert!(!virtual_arch.iter().any(|o| o.starts_with("--ptxas")), "{virtual_arch:?}");
        assert!(virtual_arch.contains(&"--gpu-architecture=compute_90".to_string()));
    }

    use super::*;

    fn target(dir: Option<&Path>) -> CompileTarget<'_> {
        CompileTarget {
            compute_capability: ComputeCapability { major: 9, minor: 0 },
            driver_version: (12, 4),
            cache_dir: dir,
        }
    }

    #[test]
    fn source_defines_every_kernel() {
        for name in KERNEL_NAMES {
            assert!(
                KERNEL_SOURCE.contains(&format!("{name}(")) || KERNEL_SOURCE.contains(&format!("({name},")),
                "{name}"
            );
        }
        // The ROMix kernel the host asks for must exist for every variant and gap.
        for v in crate::KernelVariant::ALL {
            for n in [2, 4, 8192] {
                assert!(KERNEL_NAMES.contains(&v.romix_kernel(n)));
            }
        }
        assert_eq!(crate::BLOCK_THREADS, 256);
        assert!(KERNEL_SOURCE.contains("#define PC_BLOCK 256"));
    }

    #[test]
    fn cache_name_depends_on_arch_driver_and_nvrtc() {
        let a = cache_file_name(target(None), (12, 9));
        let b = cache_file_name(CompileTarget { driver_version: (12, 8), ..target(None) }, (12, 9));
        let c = cache_file_name(
            CompileTarget { compute_capability: ComputeCapability { major: 8, minor: 0 }, ..target(None) },
            (12, 9),
        );
        let d = cache_file_name(target(None), (13, 0));
        assert!(a.starts_with("post-cuda-sm_90-") && a.ends_with("-nvrtc12.9.bin"), "{a}");
        let names = std::collections::HashSet::from([&a, &b, &c, &d]);
        assert_eq!(names.len(), 4);
    }

    fn fake_image(bytes: &[u8]) -> KernelImage {
        KernelImage {
            arch: "sm_90".into(),
            kind: ImageKind::Cubin,
            bytes: bytes.to_vec(),
            log: "compiled".into(),
            cache: CacheOutcome::NoCache,
        }
    }

    /// The ways a cache file goes bad: torn inside the image, a flipped byte, the header cut short, a
    /// file of another format version, not a cache file at all.
    fn corruptions(file: &Path) -> Vec<(&'static str, Vec<u8>)> {
        let good = std::fs::read(file).unwrap();
        let header = good.iter().position(|&b| b == b'\n').unwrap() + 1;
        let mut flipped = good.clone();
        flipped[header + (good.len() - header) / 2] ^= 0x40;
        let mut old_version = good.clone();
        old_version[..header].copy_from_slice(
            &String::from_utf8_lossy(&good[..header])
                .replacen(&format!(" {} ", cache::FORMAT), &format!(" {} ", cache::FORMAT - 1), 1)
                .into_bytes()[..header],
        );
        vec![
            ("torn", good[..header + (good.len() - header) / 3].to_vec()),
            ("flipped byte", flipped),
            ("header cut short", good[..header / 2].to_vec()),
            ("wrong version", old_version),
            ("foreign", b"garbage".to_vec()),
        ]
    }

    /// A bad cache file is compiled over, never an error, and the next load is a hit again.
    #[test]
    fn a_bad_cache_file_is_compiled_over() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("kernels");
        let file = sub.join("k.bin");
        let compiles = std::cell::Cell::new(0);
        let load = || {
            load_or_compile(Some((&sub, &file)), || {
                compiles.set(compiles.get() + 1);
                Ok(fake_image(&[0, 10, 255, 10, 7, 7, 7, 7, 7, 7]))
            })
            .unwrap()
        };
        let first = load();
        assert_eq!((first.cache.clone(), compiles.get()), (CacheOutcome::Miss, 1));
        let hit = load();
        assert_eq!((hit.cache.clone(), compiles.get(), &hit.bytes), (CacheOutcome::Hit, 1, &first.bytes));
        for (what, bytes) in corruptions(&file) {
            std::fs::write(&file, bytes).unwrap();
            let before = compiles.get();
            let again = load();
            assert!(matches!(again.cache, CacheOutcome::Rejected(_)), "{what}: {:?}", again.cache);
            assert_eq!((compiles.get(), &again.bytes), (before + 1, &first.bytes), "{what}");
            assert_eq!(load().cache, CacheOutcome::Hit, "{what}: the file was not rewritten");
        }
        // Without a directory nothing is read or written.
        let plain = load_or_compile(None, || Ok(fake_image(b"x"))).unwrap();
        assert_eq!(plain.cache, CacheOutcome::NoCache);
        // A compile failure is still an error.
        std::fs::write(&file, b"garbage").unwrap();
        let err = load_or_compile(Some((&sub, &file)), || Err(Error::NvrtcNotFound { arch: "sm_90".into() }));
        assert!(matches!(err, Err(Error::NvrtcNotFound { .. })));
    }

    /// The same with the real NVRTC: a cubin for sm_80 written to the cache, the file damaged in each
    /// way, and every next load compiles again and gives the same image, byte for byte. Skips (loudly)
    /// without NVRTC unless `POST_REQUIRE_NVRTC=1`, as `cargo xtask test` sets.
    #[test]
    fn a_bad_cache_file_is_recompiled_with_nvrtc() {
        if !nvrtc_present() {
            let required = std::env::var("POST_REQUIRE_NVRTC").is_ok_and(|v| v == "1");
            assert!(!required, "POST_REQUIRE_NVRTC=1 but libnvrtc is not found");
            let line = "SKIPPED a_bad_cache_file_is_recompiled_with_nvrtc: NVRTC (libnvrtc) is not found \
                        (set POST_REQUIRE_NVRTC=1 to make this a failure)\n";
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            return;
        }
        let cc = ComputeCapability { major: 8, minor: 0 };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.bin");
        let load = || load_or_compile(Some((dir.path(), &file)), || compile(cc)).unwrap();
        let first = load();
        assert_eq!((first.kind, first.arch.as_str(), &first.cache), (ImageKind::Cubin, "sm_80", &CacheOutcome::Miss));
        assert!(first.bytes.starts_with(b"\x7fELF"));
        assert_eq!(load().bytes, first.bytes);
        for (what, bytes) in corruptions(&file) {
            std::fs::write(&file, bytes).unwrap();
            let again = load();
            assert!(matches!(again.cache, CacheOutcome::Rejected(_)), "{what}: {:?}", again.cache);
            assert!(!again.log.is_empty(), "{what}: not compiled again");
            assert!(again.bytes == first.bytes, "{what}: NVRTC gave another image");
            assert_eq!(load().cache, CacheOutcome::Hit, "{what}");
        }
    }

    #[test]
    fn a_filled_disk_cache_needs_no_nvrtc() {
        let dir = tempfile::tempdir().unwrap();
        // An architecture no real device has, so that no other test's process cache entry interferes.
        let t =
            CompileTarget { compute_capability: ComputeCapability { major: 1, minor: 7 }, ..target(Some(dir.path())) };
        let image = KernelImage {
            arch: "sm_17".into(),
            kind: ImageKind::Ptx,
            bytes: b".version 8.0".to_vec(),
            log: String::new(),
            cache: CacheOutcome::Hit,
        };
        let older = KernelImage { bytes: b".version 7.0".to_vec(), ..image.clone() };
        cache::write(dir.path(), &dir.path().join(cache_file_name(t, (11, 8))), &older).unwrap();
        cache::write(dir.path(), &dir.path().join(cache_file_name(t, (12, 10))), &image).unwrap();
        // Found by the name without knowing the NVRTC (the newest NVRTC's valid file wins); with NVRTC,
        // this one's file is looked for.
        assert_eq!(newest_cached(dir.path(), t), Some(image.clone()));
        std::fs::write(dir.path().join(cache_file_name(t, (12, 10))), b"torn").unwrap();
        assert_eq!(newest_cached(dir.path(), t), Some(older));
        cache::write(dir.path(), &dir.path().join(cache_file_name(t, (12, 10))), &image).unwrap();
        if !nvrtc_present() {
            assert_eq!(*kernel_image(t).unwrap(), image);
        }
    }
}
