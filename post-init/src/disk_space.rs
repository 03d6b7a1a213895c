//! Free space of the filesystem holding a directory (`statvfs`), so that initialization can refuse to
//! start a write that cannot finish.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::Error;

/// A byte count for messages, in binary units with two decimals (`1.50 GiB`, `16.00 PiB`, `7 B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bytes(pub u64);

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.2} {}", UNITS[unit])
    }
}

/// Bytes an unprivileged process may still write on the filesystem holding `dir`.
///
/// # Errors
/// [`Error::Io`] when `statvfs` fails (for example the directory does not exist).
pub fn available_bytes(dir: &Path) -> Result<u64, Error> {
    let io = |source| Error::Io { path: dir.to_path_buf(), action: "checking free space of", source };
    let c_path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains a NUL byte")))?;
    // SAFETY: `statvfs` is plain old data, valid when zeroed; the path is a NUL-terminated C string
    // that outlives the call, and the struct pointer is valid for writes.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    #[allow(clippy::useless_conversion)] // the field types differ between platforms
    let (avail, frsize) = (u64::from(st.f_bavail), u64::from(st.f_frsize));
    Ok(avail.saturating_mul(frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_as_binary_units() {
        let cases =
            [(7, "7 B"), (1536, "1.50 KiB"), (1 << 30, "1.00 GiB"), (1 << 54, "16.00 PiB"), (u64::MAX, "16.00 EiB")];
        for (n, text) in cases {
            assert_eq!(Bytes(n).to_string(), text);
        }
    }

    #[test]
    fn reports_space_or_a_named_error() {
        let dir = std::env::temp_dir();
        assert!(available_bytes(&dir).is_ok_and(|b| b > 0));
        let missing = dir.join("post-init-no-such-dir/x");
        let err = available_bytes(&missing).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("post-init-no-such-dir"), "{err}");
    }
}
