//! RandomX v1 (spec §6) behind [`PowProver`] and [`PowVerifier`], through the `randomx-rs` bindings
//! (RandomX 1.2.x, the network's version; RandomX v2 is never enabled: the bundled library has no such
//! flag).
//!
//! ```text
//! key   = "spacemesh-randomx-cache-key"               (27 ASCII bytes, the same for every node)
//! light = 256 MiB cache; each hash computes the dataset items it needs  (verification)
//! fast  = 2 GiB dataset built from the cache once, then hashes ~10x faster (proving)
//! hash  = RandomX_v1(key, 48-byte input of pow.rs)
//! ```
//!
//! A RandomX VM may be used by one thread at a time, while the cache and the dataset are read-only and
//! shared. So one [`RandomXPow`] owns the cache (and the dataset in fast mode) and a pool of idle VMs: a
//! hash checks a VM out, uses it and puts it back. Verifying many proofs therefore creates the cache once
//! and at most one VM per thread.

use parking_lot::Mutex;
use randomx_rs::{RandomXCache, RandomXDataset, RandomXFlag, RandomXVM};

use super::{search, PowJob, PowProver, PowVerifier};
use crate::{CancelToken, Error};

/// The RandomX key of the Spacemesh k2 proof of work.
pub const RANDOMX_KEY: &[u8] = b"spacemesh-randomx-cache-key";

/// How RandomX computes: with the 2 GiB dataset in memory, or from the 256 MiB cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RandomXMode {
    /// The full dataset (about 2.1 GiB, tens of seconds to build): fast hashing, for proving.
    Fast,
    /// The cache only (256 MiB, under a second to build): slow hashing, for verification.
    Light,
}

impl RandomXMode {
    /// `fast` or `light`.
    pub fn name(self) -> &'static str {
        match self {
            RandomXMode::Fast => "fast",
            RandomXMode::Light => "light",
        }
    }
}

/// RandomX with the Spacemesh key, a shared cache/dataset and a pool of VMs.
pub struct RandomXPow {
    mode: RandomXMode,
    flags: RandomXFlag,
    cache: Shared<RandomXCache>,
    dataset: Option<Shared<RandomXDataset>>,
    idle: Mutex<Vec<Vm>>,
}

impl std::fmt::Debug for RandomXPow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RandomXPow").field("mode", &self.mode).field("flags", &self.flags).finish_non_exhaustive()
    }
}

/// A cache or dataset shared by the VMs of all threads.
struct Shared<T>(T);

// SAFETY: RandomX caches and datasets are written only while they are built (inside `RandomXPow::new`)
// and only read afterwards; randomx.h allows one cache or dataset to serve VMs on many threads. The
// bindings' handles are reference-counted with `Arc`, which is thread-safe.
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above, shared access is read-only.
unsafe impl<T> Sync for Shared<T> {}

/// One RandomX VM, used by one thread at a time.
struct Vm(RandomXVM);

// SAFETY: a RandomX VM has no thread affinity; it must only not be used by two threads at once. The
// pool hands each VM to one user at a time (`VmGuard` holds it exclusively).
unsafe impl Send for Vm {}

/// A VM checked out of the pool; it goes back when dropped.
struct VmGuard<'a> {
    pool: &'a RandomXPow,
    vm: Option<Vm>,
}

impl Drop for VmGuard<'_> {
    fn drop(&mut self) {
        if let Some(vm) = self.vm.take() {
            self.pool.idle.lock().push(vm);
        }
    }
}

impl VmGuard<'_> {
    fn hash(&mut self, input: &[u8]) -> Result<[u8; 32], Error> {
        let vm = self.vm.as_ref().ok_or_else(|| Error::PowBackend { message: "VM already returned".into() })?;
        let hash = vm.0.calculate_hash(input).map_err(|e| Error::PowBackend { message: e.to_string() })?;
        <[u8; 32]>::try_from(hash.as_slice())
            .map_err(|_| Error::PowBackend { message: format!("RandomX returned {} bytes, expected 32", hash.len()) })
    }
}

impl RandomXPow {
    /// Builds the cache (and in fast mode the dataset) for the Spacemesh key with the CPU's recommended
    /// flags (JIT, hardware AES, Argon2 SIMD). Light mode takes under a second and 256 MiB; fast mode
    /// about 2.1 GiB and, single-threaded, tens of seconds.
    ///
    /// # Errors
    /// [`Error::PowBackend`] when RandomX cannot allocate or initialize its memory.
    pub fn new(mode: RandomXMode) -> Result<Self, Error> {
        let recommended = RandomXFlag::get_recommended_flags();
        match Self::with_flags(mode, recommended) {
            // Hardened systems may refuse the JIT's executable memory; the interpreter is slower but
            // computes the same hashes.
            Err(_) if recommended.contains(RandomXFlag::FLAG_JIT) => {
                Self::with_flags(mode, recommended - RandomXFlag::FLAG_JIT)
            }
            other => other,
        }
    }

    fn with_flags(mode: RandomXMode, base: RandomXFlag) -> Result<Self, Error> {
        let fail = |what: &str, e: &dyn std::fmt::Display| Error::PowBackend { message: format!("{what}: {e}") };
        let cache = RandomXCache::new(base, RANDOMX_KEY).map_err(|e| fail("RandomX cache", &e))?;
        let (flags, dataset) = match mode {
            RandomXMode::Light => (base, None),
            RandomXMode::Fast => {
                let dataset = RandomXDataset::new(base, cache.clone(), 0).map_err(|e| fail("RandomX dataset", &e))?;
                (base | RandomXFlag::FLAG_FULL_MEM, Some(Shared(dataset)))
            }
        };
        let pow = Self { mode, flags, cache: Shared(cache), dataset, idle: Mutex::new(Vec::new()) };
        // Make one VM now, so that a setup failure shows here and not in the middle of a search.
        drop(pow.checkout()?);
        Ok(pow)
    }

    /// The mode this instance computes in.
    pub fn mode(&self) -> RandomXMode {
        self.mode
    }

    fn checkout(&self) -> Result<VmGuard<'_>, Error> {
        let idle = self.idle.lock().pop();
        let vm = match idle {
            Some(vm) => vm,
            None => {
                let dataset = self.dataset.as_ref().map(|d| d.0.clone());
                let vm = RandomXVM::new(self.flags, Some(self.cache.0.clone()), dataset)
                    .map_err(|e| Error::PowBackend { message: format!("RandomX VM: {e}") })?;
                // The bindings do not check the C library's result; a VM that failed to allocate would
                // crash the first hash. Its handle only shows through `Debug`.
                if vm_is_null(&vm) {
                    return Err(Error::PowBackend {
                        message: format!("RandomX could not create a VM with flags {:?}", self.flags),
                    });
                }
                Vm(vm)
            }
        };
        Ok(VmGuard { pool: self, vm: Some(vm) })
    }

    /// RandomX hash of `input` (any length ≥ 1).
    ///
    /// # Errors
    /// [`Error::PowBackend`] when a VM cannot be created or RandomX fails.
    pub fn hash(&self, input: &[u8]) -> Result<[u8; 32], Error> {
        self.checkout()?.hash(input)
    }
}

/// Whether the bindings hold a null VM handle, read from their `Debug` output (`vm: 0x0,`); a test
/// below keeps this in step with the bindings' format.
fn vm_is_null(vm: &RandomXVM) -> bool {
    format!("{vm:?}").contains("vm: 0x0,")
}

impl PowProver for RandomXPow {
    fn name(&self) -> String {
        format!("randomx-{}", self.mode.name())
    }

    fn prove(&self, job: &PowJob<'_>, cancel: &CancelToken) -> Result<u64, Error> {
        search(job, cancel, || self.checkout(), |vm, input| vm.hash(input))
    }
}

impl PowVerifier for RandomXPow {
    fn verify(&self, pow: u64, job: &PowJob<'_>) -> Result<(), Error> {
        job.check(pow, |input| self.hash(input))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn vm_handles_show_in_debug_output() {
        let rx = RandomXPow::new(RandomXMode::Light).unwrap();
        let vm = rx.checkout().unwrap();
        let text = format!("{:?}", vm.vm.as_ref().unwrap().0);
        assert!(text.contains("vm: 0x"), "{text}");
        assert!(!vm_is_null(&vm.vm.as_ref().unwrap().0));
        assert_eq!(rx.mode(), RandomXMode::Light);
        assert_eq!(rx.name(), "randomx-light");
    }
}
