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
use post_oracle::{Backend, FastLabeller, Labeller, ReferenceLabeller};

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

/// The labeller named by `spec`.
///
/// # Errors
/// When the name is unknown, or names a CPU backend this machine cannot run.
pub fn labeller(spec: &str) -> anyhow::Result<Box<dyn Labeller>> {
    if spec == "cuda" || spec.starts_with("cuda:") || spec.starts_with("cuda@") {
        return cuda(spec);
    }
    match spec.split_once(':') {
        None if spec == "cpu" => Ok(Box::new(FastLabeller::new())),
        None if spec == "reference" => Ok(Box::new(ReferenceLabeller)),
        Some(("cpu", name)) => {
            let backend: Backend = name.parse().with_context(|| format!("--provider {spec}"))?;
            let labeller = FastLabeller::with_backend(backend).with_context(|| {
                let available: Vec<&str> = Backend::available().iter().map(|b| b.name()).collect();
                format!("--provider {spec} (this CPU runs: {})", available.join(", "))
            })?;
            Ok(Box::new(labeller))
        }
        _ => anyhow::bail!("unknown provider {spec:?}; known providers: {}", known()),
    }
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
            assert!(err.contains("this CPU runs"), "{backend}: {err}");
        }
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
