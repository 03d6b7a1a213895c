//! The workspace root and the `cargo` command every xtask runs.
//!
//! RandomX (through `randomx-rs`) is built with CMake, which a fresh machine may lack. That is handled
//! below xtask, in `.cargo/config.toml`: its `[env]` section points the `cmake` build crate at the
//! `.cargo/cmake` wrapper, which runs the system's cmake or installs the CMake wheel from PyPI into
//! `target/tools/cmake` on first use. Plain `cargo` and `cargo xtask` therefore build the same way, and
//! xtask only has to run cargo from the workspace root so that the configuration applies.
//!
//! NVRTC (CUDA's run-time compiler, which needs no GPU and no driver) is provisioned here instead, for
//! `cargo xtask test` only: [`nvrtc`] installs the pinned `nvidia-cuda-nvrtc-cu12` wheel from PyPI into
//! `target/tools/nvrtc` on first use, so that the test that compiles every CUDA kernel
//! (`post-cuda/tests/gpu.rs`) runs in CI. Nothing else needs it, so a plain `cargo build` never downloads it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

/// A `cargo` command run from the workspace root (so `.cargo/config.toml`, and with it the CMake
/// wrapper, applies).
///
/// # Errors
/// Never today; kept fallible so that a tool check can be added without touching every caller.
pub fn cargo() -> anyhow::Result<Command> {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    Ok(cmd)
}

/// Where downloaded tools live: `POST_TOOLS_DIR`, or `target/tools` under the workspace root (as for
/// the `.cargo/cmake` wrapper).
pub fn tools_dir() -> PathBuf {
    std::env::var_os("POST_TOOLS_DIR").map_or_else(|| root().join("target").join("tools"), PathBuf::from)
}

/// The PyPI package that holds NVRTC for Linux (x86-64 and aarch64).
pub const NVRTC_PACKAGE: &str = "nvidia-cuda-nvrtc-cu12";

/// Its pinned version. The register table of `post-cuda/tests/gpu.rs` (`TABLE_NVRTC`, `REGISTERS`) is
/// measured with this compiler: change them together.
pub const NVRTC_VERSION: &str = "12.9.86";

/// The directory holding `libnvrtc.so.12` of the pinned wheel (with `libnvrtc-builtins` beside it, found
/// through the library's `$ORIGIN` run path), installed into `<tools>/nvrtc` on first use: once, under a
/// lock directory, into a staging directory renamed into place when complete. Add it to
/// `LD_LIBRARY_PATH`: `cudarc` opens NVRTC by name, `libnvrtc.so` first, which is a link to
/// `libnvrtc.so.12` here, so that this one wins over any other NVRTC the system has.
///
/// # Errors
/// Not on Linux, no `python3 -m pip`, PyPI unreachable, or the tools directory not writable.
pub fn nvrtc() -> anyhow::Result<PathBuf> {
    if !cfg!(target_os = "linux") {
        bail!("the {NVRTC_PACKAGE} wheel is installed on Linux only");
    }
    let tools = tools_dir();
    let dir = tools.join("nvrtc");
    let lib = dir.join("nvidia").join("cuda_nvrtc").join("lib");
    // The pinned version's metadata, the library and the link: an older pin's install is replaced.
    let dist_info = dir.join(format!("{}-{NVRTC_VERSION}.dist-info", NVRTC_PACKAGE.replace('-', "_")));
    let installed = || dist_info.is_dir() && lib.join("libnvrtc.so.12").is_file() && lib.join("libnvrtc.so").exists();
    if installed() {
        return Ok(lib);
    }
    std::fs::create_dir_all(&tools).with_context(|| format!("creating {}", tools.display()))?;
    let _lock = Lock::take(&tools.join("nvrtc.lock"))?;
    if installed() {
        return Ok(lib);
    }
    eprintln!("xtask: installing NVRTC ({NVRTC_PACKAGE}=={NVRTC_VERSION} from PyPI) into {}", dir.display());
    let staging = tools.join(format!("nvrtc.partial.{}", std::process::id()));
    remove_dir(&staging)?;
    let started = Instant::now();
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location"])
        .args(["--no-deps", "--timeout", "30", "--retries", "1", "--target"])
        .arg(&staging)
        .arg(format!("{NVRTC_PACKAGE}=={NVRTC_VERSION}"))
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .status();
    let failure = match status {
        Ok(s) if s.success() => None,
        Ok(s) => Some(format!("python3 -m pip install {NVRTC_PACKAGE}=={NVRTC_VERSION} failed ({s})")),
        Err(e) => Some(format!("cannot run python3 -m pip: {e}")),
    };
    if let Some(failure) = failure {
        // What pip left is of no use; the failure is what matters, not a failure to clean up.
        let _ = remove_dir(&staging);
        bail!(failure);
    }
    let staged_lib = staging.join("nvidia").join("cuda_nvrtc").join("lib");
    if !staged_lib.join("libnvrtc.so.12").is_file() {
        let _ = remove_dir(&staging);
        bail!("the {NVRTC_PACKAGE} wheel holds no nvidia/cuda_nvrtc/lib/libnvrtc.so.12");
    }
    std::os::unix::fs::symlink("libnvrtc.so.12", staged_lib.join("libnvrtc.so"))
        .with_context(|| format!("linking libnvrtc.so in {}", staged_lib.display()))?;
    remove_dir(&dir)?;
    std::fs::rename(&staging, &dir).with_context(|| format!("renaming {} to {}", staging.display(), dir.display()))?;
    eprintln!("xtask: NVRTC installed in {:.1} s", started.elapsed().as_secs_f64());
    Ok(lib)
}

/// Removes a directory tree; a missing one is fine.
fn remove_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// A lock directory (`mkdir` is atomic) holding the owner's process id, removed on drop; one left by a
/// process that is gone is taken over, as `.cargo/cmake` does.
#[derive(Debug)]
struct Lock(PathBuf);

impl Lock {
    fn take(path: &Path) -> anyhow::Result<Self> {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            match std::fs::create_dir(path) {
                Ok(()) => {
                    std::fs::write(path.join("pid"), std::process::id().to_string())
                        .with_context(|| format!("writing {}", path.join("pid").display()))?;
                    return Ok(Self(path.to_path_buf()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
            }
            let holder = std::fs::read_to_string(path.join("pid")).ok();
            let gone = holder
                .as_deref()
                .and_then(|pid| pid.trim().parse::<u32>().ok())
                .is_some_and(|pid| !Path::new("/proc").join(pid.to_string()).exists());
            if gone {
                remove_dir(path)?;
                continue;
            }
            if Instant::now() > deadline {
                bail!("waited 15 minutes for {}; remove it if no xtask is running", path.display());
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // A lock left behind is taken over by the next run (its process is gone).
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
