//! The options every command that computes labels shares (`--preset`, `--scrypt-n`, `--provider`,
//! `--threads`, `--batch`), and what they select: the labeller and the thread pool it runs in.

use std::path::Path;

use anyhow::Context as _;
use post_core::{PostMetadata, Preset, ScryptParams};
use post_init::{ScryptEvidence, Tuning};
use post_oracle::{Labeller, ReferenceLabeller};

use crate::util::scrypt_n;

/// Options shared by the commands that compute labels.
#[derive(Debug, Clone, clap::Args)]
pub struct Compute {
    /// Network preset for every parameter not given explicitly: mainnet, testnet or dev. Defaults to
    /// mainnet; for an existing directory the shape (labels per unit, file size) comes from its metadata.
    #[arg(long, value_parser = preset)]
    pub preset: Option<Preset>,
    /// Scrypt N of the label function (a power of two ≥ 2); default from the preset (8192 on the
    /// networks). It is not recorded in the metadata: for an existing directory it is detected from the
    /// data when not given, and a given N that does not reproduce the data is refused.
    #[arg(long, value_parser = scrypt_n, value_name = "N")]
    pub scrypt_n: Option<ScryptParams>,
    /// What computes labels: `cpu` (the fastest CPU backend), `reference` (the portable labeller), or a
    /// GPU (`post providers` lists them). Default: the fastest available.
    #[arg(long, value_name = "PROVIDER")]
    pub provider: Option<String>,
    /// CPU threads to use; 0 or none given: all.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Labels per labeller call (default: what the provider prefers).
    #[arg(long, value_name = "LABELS")]
    pub batch: Option<usize>,
}

fn preset(text: &str) -> Result<Preset, String> {
    Preset::from_name(text).map_err(|e| e.to_string())
}

impl Compute {
    /// The preset (mainnet when not given).
    pub fn preset_or_default(&self) -> Preset {
        self.preset.unwrap_or(Preset::Mainnet)
    }

    /// The scrypt parameters: `--scrypt-n`, else the preset's.
    pub fn scrypt(&self) -> ScryptParams {
        self.scrypt_n.unwrap_or(self.preset_or_default().init_config().scrypt)
    }

    /// The scrypt parameters of the data in `dir`, for `command`'s log lines: `--scrypt-n` checked
    /// against the data, else detected from it (logged as `scrypt N = … (detected)`), else — no metadata,
    /// or nothing on disk that tells N — [`Compute::scrypt`]. The few single labels this takes are
    /// computed by the reference labeller: it needs no multi-lane scratch (the fast one would allocate
    /// it for every candidate N) and runs on any machine.
    ///
    /// # Errors
    /// When the given N does not reproduce the data, no N does, or the data cannot be read.
    pub fn scrypt_of(&self, command: &str, dir: &Path) -> anyhow::Result<ScryptParams> {
        let labeller = &ReferenceLabeller;
        if !PostMetadata::path(dir).exists() {
            return Ok(self.scrypt());
        }
        let evidence = ScryptEvidence::read(dir)?;
        if let Some(given) = self.scrypt_n {
            evidence.check(given, labeller)?;
            return Ok(given);
        }
        match evidence.detect(self.scrypt(), labeller)? {
            Some(params) => {
                tracing::info!("{command}: scrypt N = {} (detected)", params.n());
                Ok(params)
            }
            None => {
                tracing::info!(
                    "{command}: scrypt N = {} (the preset's: no stored label tells the data's N yet)",
                    self.scrypt().n()
                );
                Ok(self.scrypt())
            }
        }
    }

    /// Batch sizes.
    pub fn tuning(&self) -> Tuning {
        Tuning { batch: self.batch, ..Tuning::default() }
    }

    /// The labeller that checks data: `--provider` when given, else the fastest CPU backend — never
    /// by default the GPU that may have written the data, so that a systematic GPU fault cannot agree
    /// with itself.
    ///
    /// # Errors
    /// When the provider is unknown or cannot start.
    pub fn checking_labeller(&self) -> anyhow::Result<Box<dyn Labeller>> {
        crate::provider::labeller(self.provider.as_deref().unwrap_or("cpu"))
    }

    /// The labeller chosen by `--provider`; without it the fastest available: every CUDA GPU when there
    /// is one that starts, else the fastest CPU backend.
    ///
    /// # Errors
    /// When the provider is unknown or cannot start.
    ///
    /// A GPU is always checked batch by batch on the CPU (`CheckedLabeller`): a few labels of every
    /// batch and its VRF candidate are recomputed before the batch is used, and a GPU that disagrees is
    /// retired at once, with an error line naming it, the batch and the label, while the job goes on
    /// on the CPU.
    pub fn labeller(&self) -> anyhow::Result<Box<dyn Labeller>> {
        if let Some(spec) = &self.provider {
            let labeller = crate::provider::labeller(spec)?;
            return if spec.starts_with("cuda") { checked_on_the_cpu(labeller, self.scrypt()) } else { Ok(labeller) };
        }
        if post_cuda::devices().is_ok_and(|d| !d.is_empty()) {
            match crate::provider::labeller("cuda") {
                Ok(gpu) => return checked_on_the_cpu(gpu, self.scrypt()),
                Err(e) => tracing::warn!("not using the GPU ({e:#}); computing labels on the CPU"),
            }
        }
        crate::provider::labeller("cpu")
    }

    /// Runs `f` in a thread pool of `--threads` threads (the labellers use the current rayon pool).
    ///
    /// # Errors
    /// When the pool cannot be built, or what `f` returns.
    pub fn install<T: Send>(&self, f: impl FnOnce() -> anyhow::Result<T> + Send) -> anyhow::Result<T> {
        match self.threads {
            None | Some(0) => f(),
            Some(n) => {
                rayon::ThreadPoolBuilder::new().num_threads(n).build().context("starting the thread pool")?.install(f)
            }
        }
    }
}

/// `gpu`, with every batch checked on the CPU. The checker is the reference labeller: the check
/// computes single labels, where the multi-lane labeller would fill a whole lane group for each.
///
/// First the device's self-test at the job's N (`post_oracle::self_test`: 64 labels around 2^32 across
/// a call boundary); a device that fails it is not used, with an error line saying why, and the job
/// runs on the CPU.
fn checked_on_the_cpu(gpu: Box<dyn Labeller>, scrypt: ScryptParams) -> anyhow::Result<Box<dyn Labeller>> {
    let cpu = crate::provider::labeller("reference")?;
    if let Err(f) = post_oracle::self_test(gpu.as_ref(), cpu.as_ref(), &post_core::Commitment([0x5a; 32]), scrypt) {
        // The reason names the label that differs.
        tracing::error!("{} failed its {}; it is not used, labels are computed on the CPU", f.labeller, f.reason);
        return crate::provider::labeller("cpu");
    }
    let report = |f: &post_oracle::CheckFailure| {
        let label = f.index.map(|i| format!(", label {i}")).unwrap_or_default();
        tracing::error!(
            "{} failed the CPU check of the batch {}..{}{label}: {}; it is not used again, nothing of that batch \
             was written, and the labels are computed on the CPU from here on",
            f.labeller,
            f.batch_start,
            f.batch_start.saturating_add(f.batch_len),
            f.reason
        );
    };
    Ok(Box::new(post_oracle::CheckedLabeller::new(gpu, cpu, Box::new(report))))
}
