//! RandomX's C API, declared by hand: an owned cache, a dataset built in parallel ranges that can be
//! cancelled and reports its progress, and a VM. [`RandomXPow`](super::RandomXPow) is built on these.
//!
//! Why by hand: `randomx-rs` 1.6.0 keeps its `bindings` module private and its handles' pointers
//! private, and its `RandomXDataset::new` initializes the whole 2 GiB dataset in one C call on the
//! calling thread (over a minute of CPU), which can be neither split, nor watched, nor stopped. Its
//! `RandomXVM` accepts only its own dataset type, so a dataset built another way cannot be hashed with
//! it either. The C library says (randomx.h, `randomx_init_dataset`) that the dataset may be initialized
//! "by several calls to this function using non-overlapping item sequences", and its own benchmark does
//! so from several threads; that is what [`Dataset::build`] does, on the current rayon pool.
//!
//! `randomx-rs` still builds the library (RandomX 1.2.x, the network's version) and links it
//! statically; the functions below are resolved from it, and its `RandomXFlag` gives the flags.
//!
//! ```text
//! Cache::new(flags, key)          randomx_alloc_cache + randomx_init_cache (argon2, 256 MiB)
//! Dataset::build(flags, cache)    randomx_alloc_dataset, then for each range of DATASET_RANGE_ITEMS
//!                                 items, in parallel: check the cancel token, randomx_init_dataset,
//!                                 report items done / total
//! Vm::new(flags, memory)          randomx_create_vm: light VMs read the cache, fast VMs the dataset
//! Vm::hash(input)                 randomx_calculate_hash
//! ```

use std::ffi::{c_uint, c_ulong, c_void};
use std::marker::{PhantomData, PhantomPinned};
use std::ptr::NonNull;
use std::sync::Arc;

use parking_lot::Mutex;
use randomx_rs::RandomXFlag;
use rayon::prelude::*;

use crate::{CancelToken, Error};

/// Dataset items initialized between two looks at the cancel token: 16 Ki items of 64 bytes (1 MiB),
/// about 35 ms of one core with the JIT and a few times that without, so a cancel takes effect well
/// within a second, and the 2 GiB dataset is about 2,100 ranges.
pub(super) const DATASET_RANGE_ITEMS: u64 = 1 << 14;

/// The C declarations, as in RandomX's `randomx.h`.
mod sys {
    use super::*;

    /// `randomx_cache`, opaque.
    #[repr(C)]
    pub(super) struct RawCache {
        _data: [u8; 0],
        _marker: PhantomData<(*mut u8, PhantomPinned)>,
    }

    /// `randomx_dataset`, opaque.
    #[repr(C)]
    pub(super) struct RawDataset {
        _data: [u8; 0],
        _marker: PhantomData<(*mut u8, PhantomPinned)>,
    }

    /// `randomx_vm`, opaque.
    #[repr(C)]
    pub(super) struct RawVm {
        _data: [u8; 0],
        _marker: PhantomData<(*mut u8, PhantomPinned)>,
    }

    // `randomx_flags` is a C enum, passed as an int; `randomx-rs` declares it `c_uint` as well.
    extern "C" {
        pub(super) fn randomx_alloc_cache(flags: c_uint) -> *mut RawCache;
        pub(super) fn randomx_init_cache(cache: *mut RawCache, key: *const c_void, key_size: usize);
        pub(super) fn randomx_release_cache(cache: *mut RawCache);
        pub(super) fn randomx_alloc_dataset(flags: c_uint) -> *mut RawDataset;
        pub(super) fn randomx_dataset_item_count() -> c_ulong;
        pub(super) fn randomx_init_dataset(
            dataset: *mut RawDataset,
            cache: *mut RawCache,
            start_item: c_ulong,
            item_count: c_ulong,
        );
        pub(super) fn randomx_release_dataset(dataset: *mut RawDataset);
        pub(super) fn randomx_create_vm(flags: c_uint, cache: *mut RawCache, dataset: *mut RawDataset) -> *mut RawVm;
        pub(super) fn randomx_destroy_vm(machine: *mut RawVm);
        pub(super) fn randomx_calculate_hash(
            machine: *mut RawVm,
            input: *const c_void,
            input_size: usize,
            output: *mut c_void,
        );
    }
}

fn backend(message: String) -> Error {
    Error::PowBackend { message }
}

/// A RandomX cache initialized with a key (256 MiB).
pub(super) struct Cache {
    ptr: NonNull<sys::RawCache>,
}

// SAFETY: a cache is written only inside `Cache::new`; afterwards RandomX only reads it (dataset
// initialization and light VMs), and randomx.h lets one cache serve any number of threads. The handle
// has no thread affinity.
unsafe impl Send for Cache {}
// SAFETY: as above, every access through `&Cache` is a read.
unsafe impl Sync for Cache {}

impl Cache {
    /// Allocates a cache with `flags` (JIT, large pages and Argon2 SIMD matter here) and initializes it
    /// with `key`.
    ///
    /// # Errors
    /// [`Error::PowBackend`] for an empty key or when RandomX cannot allocate the cache (or, with the
    /// JIT flag, executable memory).
    pub(super) fn new(flags: RandomXFlag, key: &[u8]) -> Result<Self, Error> {
        if key.is_empty() {
            return Err(backend("RandomX cache: empty key".into()));
        }
        // SAFETY: any flags are accepted; the result is null on failure, checked below.
        let raw = unsafe { sys::randomx_alloc_cache(flags.bits()) };
        let ptr = NonNull::new(raw)
            .ok_or_else(|| backend(format!("RandomX could not allocate its 256 MiB cache with flags {flags:?}")))?;
        let cache = Self { ptr };
        // SAFETY: the cache was just allocated and is not shared yet; `key` is valid for `key.len()` bytes,
        // which the library copies.
        unsafe { sys::randomx_init_cache(cache.ptr.as_ptr(), key.as_ptr().cast(), key.len()) };
        Ok(cache)
    }
}

impl Cache {
    /// The C handle. (A method, so that closures capture the `Sync` handle, not its raw field.)
    fn raw(&self) -> *mut sys::RawCache {
        self.ptr.as_ptr()
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `randomx_alloc_cache` and is released once. Datasets no longer
        // need it once built, and every light VM holds an `Arc<Cache>`, so no VM outlives it.
        unsafe { sys::randomx_release_cache(self.ptr.as_ptr()) }
    }
}

/// A fully initialized RandomX dataset (about 2.03 GiB).
pub(super) struct Dataset {
    ptr: NonNull<sys::RawDataset>,
}

// SAFETY: while it is built, the dataset is only reachable inside `Dataset::build`, whose threads write
// disjoint item ranges; once `build` returns it, RandomX only reads it, and randomx.h lets one dataset
// serve VMs on any number of threads. The handle has no thread affinity.
unsafe impl Send for Dataset {}
// SAFETY: as above; the only writes through `&Dataset` are the disjoint ranges inside `build`.
unsafe impl Sync for Dataset {}

impl Dataset {
    /// The number of 64-byte items in a dataset (`randomx_dataset_item_count`).
    pub(super) fn item_count() -> u64 {
        // SAFETY: no arguments, no preconditions.
        items(unsafe { sys::randomx_dataset_item_count() })
    }

    /// Allocates a dataset and initializes it from `cache` in ranges of [`DATASET_RANGE_ITEMS`] items
    /// on the threads of the current rayon pool. Before each range the cancel token is checked; after
    /// each, `progress(items done, items in total)` is called, from whichever thread finished it, with
    /// a count that only grows and ends at the total. `progress(0, total)` is called once before.
    ///
    /// # Errors
    /// [`Error::Cancelled`] when `cancel` is set (the memory is released), [`Error::PowBackend`] when
    /// RandomX cannot allocate the dataset.
    pub(super) fn build(
        flags: RandomXFlag,
        cache: &Cache,
        cancel: &CancelToken,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<Self, Error> {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let total = Self::item_count();
        // SAFETY: any flags are accepted (large pages is the one read); null on failure, checked below.
        let raw = unsafe { sys::randomx_alloc_dataset(flags.bits()) };
        let ptr = NonNull::new(raw).ok_or_else(|| {
            backend(format!("RandomX could not allocate its dataset ({} MiB)", total * 64 / (1024 * 1024)))
        })?;
        // From here on, an early return (cancelled) releases the memory.
        let dataset = Self { ptr };
        let done = Mutex::new(0u64);
        progress(0, total);
        ranges(total, DATASET_RANGE_ITEMS).collect::<Vec<_>>().into_par_iter().try_for_each(|(start, count)| {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            // Lossless: both are at most `total`, which came from a `c_ulong`.
            let (first, n) = (start as c_ulong, count as c_ulong);
            // SAFETY: `dataset` and `cache` are live, allocated by RandomX, and the cache is initialized.
            // `ranges` yields disjoint ranges inside `0..total`, so each item is written by exactly one
            // thread and nothing reads the dataset until `build` returns: randomx.h allows initializing
            // a dataset by several calls over non-overlapping item sequences, and the cache is only read
            // (its JIT-compiled initialization code, if any, is executed, not written).
            unsafe { sys::randomx_init_dataset(dataset.raw(), cache.raw(), first, n) };
            // One lock, so that the reported count never goes down between threads.
            let mut done = done.lock();
            *done += count;
            progress(*done, total);
            Ok(())
        })?;
        Ok(dataset)
    }
}

impl Dataset {
    /// The C handle. (A method, so that closures capture the `Sync` handle, not its raw field.)
    fn raw(&self) -> *mut sys::RawDataset {
        self.ptr.as_ptr()
    }
}

impl Drop for Dataset {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `randomx_alloc_dataset` and is released once; every fast VM holds
        // an `Arc<Dataset>`, so no VM outlives it.
        unsafe { sys::randomx_release_dataset(self.ptr.as_ptr()) }
    }
}

/// `c_ulong` is 32 bits on Windows and 64 elsewhere; item counts fit both.
#[allow(clippy::useless_conversion)]
fn items(n: c_ulong) -> u64 {
    u64::from(n)
}

/// `(start, count)` of consecutive ranges of at most `size` items covering `0..total`.
pub(super) fn ranges(total: u64, size: u64) -> impl Iterator<Item = (u64, u64)> {
    let size = size.max(1);
    (0..total.div_ceil(size)).map(move |i| (i * size, size.min(total - i * size)))
}

/// What a VM computes from: the cache (light) or the dataset (fast).
#[derive(Clone)]
pub(super) enum Memory {
    /// Light mode: each hash computes the dataset items it needs from the cache.
    Light(Arc<Cache>),
    /// Fast mode: the dataset alone (a fast VM never reads the cache).
    Fast(Arc<Dataset>),
}

/// A RandomX VM. It holds the memory it reads, and hashes on one thread at a time (`&mut self`).
pub(super) struct Vm {
    ptr: NonNull<sys::RawVm>,
    _memory: Memory,
}

// SAFETY: a RandomX VM has no thread affinity; it must only not be used by two threads at once, which
// `hash(&mut self)` ensures (and `Vm` is not `Sync`). The memory it reads is `Send + Sync`.
unsafe impl Send for Vm {}

impl Vm {
    /// Creates a VM over `memory` with `flags` (`FLAG_FULL_MEM` is added for a dataset and removed for a
    /// cache).
    ///
    /// # Errors
    /// [`Error::PowBackend`] when RandomX cannot create the VM (memory, or the JIT's executable pages).
    pub(super) fn new(flags: RandomXFlag, memory: &Memory) -> Result<Self, Error> {
        let (flags, cache, dataset) = match memory {
            Memory::Light(cache) => (flags - RandomXFlag::FLAG_FULL_MEM, cache.ptr.as_ptr(), std::ptr::null_mut()),
            Memory::Fast(dataset) => (flags | RandomXFlag::FLAG_FULL_MEM, std::ptr::null_mut(), dataset.ptr.as_ptr()),
        };
        // SAFETY: a light VM gets an initialized cache and no dataset, a fast VM a fully built dataset and
        // no cache (randomx.h: the cache may be NULL with RANDOMX_FLAG_FULL_MEM, which full-memory VMs
        // ignore anyway). Both stay alive as long as the VM, which clones the `Arc` holding them. The
        // result is null on failure, checked below.
        let raw = unsafe { sys::randomx_create_vm(flags.bits(), cache, dataset) };
        let ptr =
            NonNull::new(raw).ok_or_else(|| backend(format!("RandomX could not create a VM with flags {flags:?}")))?;
        Ok(Self { ptr, _memory: memory.clone() })
    }

    /// The RandomX hash of `input`.
    pub(super) fn hash(&mut self, input: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        // SAFETY: the VM is live and used by this thread only (`&mut self`); `input` is valid for
        // `input.len()` bytes and `out` has room for RANDOMX_HASH_SIZE (32) bytes.
        unsafe {
            sys::randomx_calculate_hash(self.ptr.as_ptr(), input.as_ptr().cast(), input.len(), out.as_mut_ptr().cast())
        };
        out
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `randomx_create_vm` and is destroyed once, before the memory it
        // reads (held by `_memory`, dropped after this).
        unsafe { sys::randomx_destroy_vm(self.ptr.as_ptr()) }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_item_once() {
        for (total, size) in [(0, 4), (1, 4), (8, 4), (9, 4), (34_078_719, DATASET_RANGE_ITEMS)] {
            let mut next = 0;
            for (start, count) in ranges(total, size) {
                assert_eq!(start, next, "total {total} size {size}");
                assert!((1..=size).contains(&count), "total {total} size {size}: count {count}");
                next = start + count;
            }
            assert_eq!(next, total, "size {size}");
        }
    }

    #[test]
    fn the_dataset_has_the_documented_size() {
        // RandomX 1.2.x: 2 GiB + 32 MiB - 64 bytes of 64-byte items.
        assert_eq!(Dataset::item_count() * 64, 2_147_483_648 + 33_554_368);
        assert!(Dataset::item_count() / DATASET_RANGE_ITEMS > 1_000);
    }

    #[test]
    fn a_light_vm_hashes_and_an_empty_key_is_refused() {
        assert!(matches!(Cache::new(RandomXFlag::FLAG_DEFAULT, b""), Err(Error::PowBackend { .. })));
        let cache = Arc::new(Cache::new(RandomXFlag::get_recommended_flags(), b"test key 000").unwrap());
        let mut vm = Vm::new(RandomXFlag::get_recommended_flags(), &Memory::Light(cache)).unwrap();
        // RandomX's own test vector (tests/tests.cpp, "test a").
        assert_eq!(
            hex::encode(vm.hash(b"This is a test")),
            "639183aae1bf4c9a35884cb46b09cad9175f04efd7684e7262a0ac1c2f0b4e3f"
        );
    }
}
