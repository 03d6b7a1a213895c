//! RandomX v1 (spec §6) behind [`PowProver`] and [`PowVerifier`], through the C library that
//! `randomx-rs` builds and links (RandomX 1.2.x, the network's version; RandomX v2 is never enabled: the
//! bundled library has no such flag).
//!
//! ```text
//! key   = "spacemesh-randomx-cache-key"               (27 ASCII bytes, the same for every node)
//! light = 256 MiB cache; each hash computes the dataset items it needs  (verification)
//! fast  = 2 GiB dataset built from the cache once, on all threads, then hashes ~10x faster (proving)
//! hash  = RandomX_v1(key, 48-byte input of pow.rs)
//! ```
//!
//! A RandomX VM may be used by one thread at a time, while the cache and the dataset are read-only and
//! shared. So one [`RandomXPow`] owns the cache (light) or the dataset (fast) and a pool of idle VMs: a
//! hash checks a VM out, uses it and puts it back. Verifying many proofs therefore creates the cache once
//! and at most one VM per thread.
//!
//! Fast mode builds its dataset on all threads of the current rayon pool, in ranges that check a
//! [`CancelToken`] and report progress ([`RandomXPow::new_with`]); the cache is freed once the dataset
//! is built, since fast VMs never read it. The handles are declared by hand in `randomx/ffi.rs` (the
//! bindings cannot build a dataset in parts; that file says why).

mod ffi;

use parking_lot::Mutex;
use randomx_rs::RandomXFlag;

use self::ffi::{Cache, Dataset, Memory, Vm};
use super::{search, PowJob, PowProver, PowVerifier};
use crate::{CancelToken, Error};

/// The RandomX key of the Spacemesh k2 proof of work.
pub const RANDOMX_KEY: &[u8] = b"spacemesh-randomx-cache-key";

/// How RandomX computes: with the 2 GiB dataset in memory, or from the 256 MiB cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RandomXMode {
    /// The full dataset (about 2.1 GiB, tens of seconds of CPU to build): fast hashing, for proving.
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

/// RandomX with the Spacemesh key, a shared cache or dataset and a pool of VMs.
pub struct RandomXPow {
    mode: RandomXMode,
    flags: RandomXFlag,
    memory: Memory,
    large_pages: bool,
    idle: Mutex<Vec<Vm>>,
}

impl std::fmt::Debug for RandomXPow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RandomXPow").field("mode", &self.mode).field("flags", &self.flags).finish_non_exhaustive()
    }
}

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
        if input.is_empty() {
            return Err(Error::PowBackend { message: "RandomX input is empty".into() });
        }
        let vm = self.vm.as_mut().ok_or_else(|| Error::PowBackend { message: "VM already returned".into() })?;
        Ok(vm.hash(input))
    }
}

impl RandomXPow {
    /// Builds the cache (and in fast mode the dataset) for the Spacemesh key with the CPU's recommended
    /// flags (JIT, hardware AES, Argon2 SIMD). Light mode takes under a second and 256 MiB; fast mode
    /// about 2.1 GiB and about a minute of CPU, spread over the threads of the current rayon pool (call
    /// it inside `ThreadPool::install` to choose them). Not cancellable and silent: see
    /// [`RandomXPow::new_with`].
    ///
    /// # Errors
    /// [`Error::PowBackend`] when RandomX cannot allocate or initialize its memory.
    pub fn new(mode: RandomXMode) -> Result<Self, Error> {
        Self::new_with(mode, &CancelToken::new(), &|_, _| {})
    }

    /// As [`RandomXPow::new`], cancellable, with progress. In fast mode the dataset is built in ranges on
    /// the threads of the current rayon pool; between ranges (every few tens of milliseconds per thread)
    /// `cancel` is checked, and after each `progress(items done, items in total)` is called — from any
    /// thread of the pool, with a count that never goes down, first `(0, total)` and last
    /// `(total, total)`. Light mode builds no dataset and never calls `progress`; it checks `cancel`
    /// once, before the cache (under a second, not interruptible).
    ///
    /// # Errors
    /// [`Error::Cancelled`] when `cancel` is set before the build ends (the memory is freed),
    /// [`Error::PowBackend`] when RandomX cannot allocate or initialize its memory.
    pub fn new_with(
        mode: RandomXMode,
        cancel: &CancelToken,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<Self, Error> {
        Self::build(mode, false, cancel, progress)
    }

    /// As [`RandomXPow::new_with`], with the cache and the dataset in 2 MiB pages where the system has
    /// them reserved (`vm.nr_hugepages`): fewer TLB misses make hashing faster, most in fast mode. Each
    /// allocation the system refuses falls back to normal pages; [`RandomXPow::large_pages`] tells what
    /// was obtained. The hashes are the same either way.
    ///
    /// # Errors
    /// As [`RandomXPow::new_with`].
    pub fn new_with_large_pages(
        mode: RandomXMode,
        cancel: &CancelToken,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<Self, Error> {
        Self::build(mode, true, cancel, progress)
    }

    fn build(
        mode: RandomXMode,
        large_pages: bool,
        cancel: &CancelToken,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<Self, Error> {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let mut flags = RandomXFlag::get_recommended_flags() - RandomXFlag::FLAG_FULL_MEM;
        // Hardened systems may refuse the JIT's executable memory, in the cache (which compiles the
        // dataset's initialization) or in a VM; the interpreter is slower but computes the same hashes,
        // and a cache made with the JIT serves interpreted VMs too. So each falls back on its own, and
        // the dataset is never built twice. Large pages fall back the same way, before the JIT does.
        let large = RandomXFlag::FLAG_LARGE_PAGES;
        let with_large = if large_pages { Cache::new(flags | large, RANDOMX_KEY).ok() } else { None };
        let cache_large = with_large.is_some();
        let cache = match with_large {
            Some(cache) => cache,
            None => match Cache::new(flags, RANDOMX_KEY) {
                Err(_) if flags.contains(RandomXFlag::FLAG_JIT) => {
                    flags -= RandomXFlag::FLAG_JIT;
                    Cache::new(flags, RANDOMX_KEY)?
                }
                other => other?,
            },
        };
        let (memory, memory_large) = match mode {
            RandomXMode::Light => (Memory::Light(cache.into()), cache_large),
            // The cache is dropped here: fast VMs read the dataset only.
            RandomXMode::Fast => {
                let dataset = match large_pages {
                    true => match Dataset::build(flags | large, &cache, cancel, progress) {
                        Ok(dataset) => Ok((dataset, true)),
                        Err(Error::Cancelled) => Err(Error::Cancelled),
                        Err(_) => Dataset::build(flags, &cache, cancel, progress).map(|d| (d, false)),
                    },
                    false => Dataset::build(flags, &cache, cancel, progress).map(|d| (d, false)),
                };
                let (dataset, dataset_large) = dataset?;
                (Memory::Fast(dataset.into()), dataset_large)
            }
        };
        // Make one VM now, so that a setup failure shows here and not in the middle of a search.
        let vm = match Vm::new(flags, &memory) {
            Err(_) if flags.contains(RandomXFlag::FLAG_JIT) => {
                flags -= RandomXFlag::FLAG_JIT;
                Vm::new(flags, &memory)?
            }
            other => other?,
        };
        if mode == RandomXMode::Fast {
            flags |= RandomXFlag::FLAG_FULL_MEM;
        }
        Ok(Self { mode, flags, memory, large_pages: memory_large, idle: Mutex::new(vec![vm]) })
    }

    /// The mode this instance computes in.
    pub fn mode(&self) -> RandomXMode {
        self.mode
    }

    /// Whether the cache (light mode) or the dataset (fast mode) lies in large pages.
    pub fn large_pages(&self) -> bool {
        self.large_pages
    }

    fn checkout(&self) -> Result<VmGuard<'_>, Error> {
        let idle = self.idle.lock().pop();
        let vm = match idle {
            Some(vm) => vm,
            None => Vm::new(self.flags, &self.memory)?,
        };
        Ok(VmGuard { pool: self, vm: Some(vm) })
    }

    /// RandomX hash of `input` (any length ≥ 1).
    ///
    /// # Errors
    /// [`Error::PowBackend`] when a VM cannot be created or the input is empty.
    pub fn hash(&self, input: &[u8]) -> Result<[u8; 32], Error> {
        self.checkout()?.hash(input)
    }
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
    fn vms_are_reused_and_cancel_is_checked_first() {
        let rx = RandomXPow::new(RandomXMode::Light).unwrap();
        assert_eq!(rx.mode(), RandomXMode::Light);
        assert_eq!(rx.name(), "randomx-light");
        assert_eq!(rx.idle.lock().len(), 1, "one VM is made up front");
        let a = rx.hash(b"spacemesh").unwrap();
        {
            let (mut first, mut second) = (rx.checkout().unwrap(), rx.checkout().unwrap());
            assert_eq!(first.hash(b"spacemesh").unwrap(), a);
            assert_eq!(second.hash(b"spacemesh").unwrap(), a);
        }
        assert_eq!(rx.idle.lock().len(), 2, "both VMs went back to the pool");
        assert!(matches!(rx.hash(b""), Err(Error::PowBackend { .. })));

        let cancel = CancelToken::new();
        cancel.cancel();
        let called = std::sync::atomic::AtomicBool::new(false);
        let progress = |_: u64, _: u64| called.store(true, std::sync::atomic::Ordering::SeqCst);
        for mode in [RandomXMode::Light, RandomXMode::Fast] {
            assert!(matches!(RandomXPow::new_with(mode, &cancel, &progress), Err(Error::Cancelled)));
        }
        assert!(!called.load(std::sync::atomic::Ordering::SeqCst));
    }
}
