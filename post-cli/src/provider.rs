//! Choosing what computes labels from a `--provider` name, in one place for every subcommand:
//!
//! * `cpu`: the fast multi-lane labeller on the fastest instruction set this CPU has;
//! * `cpu:<backend>`: the fast labeller forced onto one backend (`cpu:avx512`, `cpu:avx2`, `cpu:sse2`,
//!   `cpu:portable`), for comparisons and for checking a backend;
//! * `reference`: the readable reference labeller, one label at a time per thread.

use anyhow::Context;
use post_oracle::{Backend, FastLabeller, Labeller, ReferenceLabeller};

/// The provider names this build knows, for messages.
fn known() -> String {
    let backends: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
    format!("cpu, cpu:<{}>, reference", backends.join("|"))
}

/// The labeller named by `spec`.
///
/// # Errors
/// When the name is unknown, or names a CPU backend this machine cannot run.
pub fn labeller(spec: &str) -> anyhow::Result<Box<dyn Labeller>> {
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
}
