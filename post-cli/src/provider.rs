//! Choosing what computes labels from a `--provider` name, in one place for every subcommand:
//!
//! * `cpu`: the fast multi-lane labeller on the fastest instruction set this CPU has;
//! * `cpu:<backend>`: the fast labeller forced onto one backend (`cpu:avx512`, `cpu:avx2`, `cpu:sse2`,
//!   `cpu:portable`), for comparisons and for checking a backend;
//! * `reference`: the readable reference labeller, one label at a time per thread;
//! * `cuda[:ORDINALS][@VARIANT]`: CUDA GPUs — `cuda` every device, `cuda:0,2` some, `@tpl1-gap1` …
//!   `@tpl4-gap4` a kernel variant (threads per label, lookup gap; default `auto`). Compiled kernels are
//!   cached in `$POST_CUDA_CACHE`, else `$XDG_CACHE_HOME/post/cuda`, else `~/.cache/post/cuda`.

use std::path::PathBuf;

use anyhow::Context;
use post_core::{Commitment, LabelIndex, ScryptParams};
use post_oracle::{Backend, FastLabeller, Labeller, ReferenceLabeller};
use rayon::prelude::*;

/// The provider names this build knows, for messages.
fn known() -> String {
    let backends: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
    format!("cpu, cpu:<{}>, reference, cuda[:0,1,…][@tpl1|tpl4-gap1|gap2|gap4]", backends.join("|"))
}

/// Where compiled CUDA kernels are kept between runs.
fn cuda_kernel_cache() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("POST_CUDA_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("post").join("cuda")))
        .or_else(|| var("HOME").map(|h| h.join(".cache").join("post").join("cuda")))
}

/// The CUDA devices a `cuda…` spec names, as one labeller.
fn cuda(spec: &str) -> anyhow::Result<Box<dyn Labeller>> {
    let parsed = post_cuda::CudaSpec::parse(spec)?;
    let options = post_cuda::CudaOptions { cache_dir: cuda_kernel_cache(), ..post_cuda::CudaOptions::default() };
    let labeller =
        post_cuda::MultiGpuLabeller::open(&parsed, &options).with_context(|| format!("--provider {spec}"))?;
    Ok(Box::new(labeller))
}

/// The fast labeller a `cpu` or `cpu:<backend>` spec names, or `None` for any other spec.
fn fast(spec: &str) -> Option<anyhow::Result<FastLabeller>> {
    match spec.split_once(':') {
        None if spec == "cpu" => Some(Ok(FastLabeller::new())),
        Some(("cpu", name)) => {
            Some(name.parse::<Backend>().with_context(|| format!("--provider {spec}")).and_then(|backend| {
                // The library's message speaks to programmers; say it in the user's terms.
                FastLabeller::with_backend(backend).map_err(|_| {
                    let available: Vec<&str> = Backend::available().iter().map(|b| b.name()).collect();
                    anyhow::anyhow!(
                        "--provider {spec}: this CPU lacks the instructions of the {backend} backend (this CPU runs: \
                         {}; `post providers` lists them)",
                        available.join(", ")
                    )
                })
            }))
        }
        _ => None,
    }
}

/// Whether `spec` names CUDA devices.
fn is_cuda(spec: &str) -> bool {
    spec == "cuda" || spec.starts_with("cuda:") || spec.starts_with("cuda@")
}

/// The CPU instruction set whose ChaCha20/8 throughput bounds the labeller `spec` names: the fast
/// labeller's backend, the portable lanes for the reference labeller (scalar arithmetic), none for GPUs
/// or unknown names.
pub fn cpu_backend(spec: &str) -> Option<Backend> {
    match spec.split_once(':') {
        None if spec == "cpu" => Some(Backend::detect()),
        None if spec == "reference" => Some(Backend::Portable),
        Some(("cpu", name)) => name.parse().ok(),
        _ => None,
    }
}

/// The labeller named by `spec`.
///
/// # Errors
/// When the name is unknown, or names a CPU backend this machine cannot run.
pub fn labeller(spec: &str) -> anyhow::Result<Box<dyn Labeller>> {
    if is_cuda(spec) {
        return cuda(spec);
    }
    if spec == "reference" {
        return Ok(Box::new(ReferenceLabeller));
    }
    match fast(spec) {
        Some(fast) => Ok(Box::new(fast?)),
        None => anyhow::bail!("unknown provider {spec:?}; known providers: {}", known()),
    }
}

/// Computes full 32-byte labels, as `post label` prints them. The [`Labeller`] trait returns the
/// stored 16 bytes only; the CPU labellers can give all 32.
#[derive(Debug)]
pub enum FullLabeller {
    /// The fast multi-lane labeller.
    Fast(FastLabeller),
    /// The reference label function, one label per rayon task.
    Reference,
}

impl FullLabeller {
    /// The labeller's name, as [`Labeller::name`] gives it.
    pub fn name(&self) -> String {
        match self {
            FullLabeller::Fast(fast) => fast.name(),
            FullLabeller::Reference => ReferenceLabeller.name(),
        }
    }

    /// Fills `out` with the full labels from index `start` on, in the current rayon pool.
    ///
    /// # Errors
    /// When the range runs past 2^64 − 1 or the labeller fails.
    pub fn label_full(
        &self,
        commitment: &Commitment,
        params: ScryptParams,
        start: LabelIndex,
        out: &mut [[u8; 32]],
    ) -> anyhow::Result<()> {
        match self {
            FullLabeller::Fast(fast) => fast.label_full(commitment, params, start, out)?,
            FullLabeller::Reference => out.par_iter_mut().enumerate().try_for_each(|(i, slot)| {
                let index = start.0.checked_add(i as u64).context("label index past 2^64 - 1")?;
                *slot = post_oracle::label_full(commitment, params, LabelIndex(index))?;
                anyhow::Ok(())
            })?,
        }
        Ok(())
    }
}

/// The full-label computer named by `spec`: `cpu`, `cpu:<backend>` or `reference`.
///
/// # Errors
/// When the name is unknown, names a CPU backend this machine cannot run, or names a GPU.
pub fn full_labeller(spec: &str) -> anyhow::Result<FullLabeller> {
    if spec == "reference" {
        return Ok(FullLabeller::Reference);
    }
    if let Some(fast) = fast(spec) {
        return Ok(FullLabeller::Fast(fast?));
    }
    if is_cuda(spec) {
        anyhow::bail!(
            "--provider {spec}: full 32-byte labels come from the CPU providers only (cpu, cpu:<backend>, reference)"
        );
    }
    anyhow::bail!("unknown provider {spec:?}; full labels come from: cpu, cpu:<backend>, reference")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_select_labellers() -> anyhow::Result<()> {
        assert_eq!(labeller("reference")?.name(), "reference");
        assert_eq!(labeller("cpu")?.name(), format!("cpu-{}", Backend::detect()));
        for backend in Backend::available() {
            assert_eq!(labeller(&format!("cpu:{backend}"))?.name(), format!("cpu-{backend}"));
        }
        Ok(())
    }

    #[test]
    fn bad_names_say_what_is_known() {
        for spec in ["gpu", "cpu:", "cpu:avx1024", "reference:x", ""] {
            let err = labeller(spec).err().map(|e| format!("{e:#}")).unwrap_or_default();
            assert!(err.contains("portable"), "{spec:?}: {err}");
        }
        for backend in Backend::ALL.into_iter().filter(|b| !b.is_available()) {
            let err = labeller(&format!("cpu:{backend}")).err().map(|e| format!("{e:#}")).unwrap_or_default();
            assert!(err.contains("this CPU runs") && !err.contains("Backend::"), "{backend}: {err}");
        }
    }

    #[test]
    fn full_labels_agree_between_providers() -> anyhow::Result<()> {
        let commitment = Commitment([9; 32]);
        let params = ScryptParams::with_n(16)?;
        let start = LabelIndex(u64::MAX - 39);
        let mut expected = [[0u8; 32]; 40];
        full_labeller("reference")?.label_full(&commitment, params, start, &mut expected)?;
        assert_eq!(expected[39], post_oracle::label_full(&commitment, params, LabelIndex(u64::MAX))?);
        for spec in ["cpu".to_string()].into_iter().chain(Backend::available().iter().map(|b| format!("cpu:{b}"))) {
            let mut got = [[0u8; 32]; 40];
            full_labeller(&spec)?.label_full(&commitment, params, start, &mut got)?;
            assert_eq!(got, expected, "{spec}");
        }
        for spec in ["cuda", "cuda:0", "gpu"] {
            assert!(full_labeller(spec).is_err(), "{spec}");
        }
        Ok(())
    }

    #[test]
    fn cuda_specs_are_parsed_before_any_device_is_opened() {
        for spec in ["cuda:x", "cuda:0,0", "cuda@tpl9-gap1"] {
            let err = labeller(spec).err().map(|e| format!("{e:#}")).unwrap_or_default();
            assert!(err.contains("cuda[:ORDINALS][@VARIANT]"), "{spec:?}: {err}");
        }
        // Without a driver the answer says so; with one, the device opens or names its problem.
        if !post_cuda::driver_present() {
            let err = labeller("cuda").err().map(|e| format!("{e:#}")).unwrap_or_default();
            assert!(err.contains("libcuda"), "{err}");
        }
    }
}
