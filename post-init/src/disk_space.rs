//! Free space of the filesystem holding a directory (`statvfs`), so that initialization can refuse to
//! start a write that cannot finish.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::Error;

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
    fn reports_space_or_a_named_error() {
        let dir = std::env::temp_dir();
        assert!(available_bytes(&dir).is_ok_and(|b| b > 0));
        let missing = dir.join("post-init-no-such-dir/x");
        let err = available_bytes(&missing).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("post-init-no-such-dir"), "{err}");
    }
}
