//! A clear message instead of a crash when a mapped data file is cut short by another process while
//! it is read. The proving scan maps the data files; reading a page past a file's new end raises SIGBUS,
//! which would otherwise kill the process with no word about the cause. The handler looks the faulting
//! address up among the mapped files, writes one line naming the file, and exits with code 2. Nothing
//! has been written by then: the proof job's saved state is only replaced whole, so the next run
//! resumes from it.

use std::ffi::CString;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The mapped files, set once before the scan starts.
static MAPPED: OnceLock<Vec<(Range<usize>, CString)>> = OnceLock::new();

/// Installs the handler for the files mapped at `ranges` (the first call wins).
pub fn install(ranges: Vec<(Range<usize>, PathBuf)>) {
    let ranges = ranges
        .into_iter()
        .filter_map(|(range, path)| CString::new(path.to_string_lossy().into_owned()).ok().map(|p| (range, p)))
        .collect();
    if MAPPED.set(ranges).is_err() {
        return;
    }
    // SAFETY: a zeroed sigaction is a valid starting value; the handler only reads the static set
    // above (never changed again), calls write(2) and _exit(2), all async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

extern "C" fn handler(_signal: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    let write = |bytes: &[u8]| {
        // SAFETY: write(2) on stderr with a valid buffer.
        unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
    };
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let address = unsafe { (*info).si_addr() } as usize;
    let file = MAPPED.get().and_then(|files| files.iter().find(|(range, _)| range.contains(&address)));
    write(b"\nerror: ");
    match file {
        Some((_, path)) => write(path.as_bytes()),
        None => write(b"a data file"),
    }
    write(
        b" was cut short by another process while it was being read; nothing was written. Check the directory \
          (post info, post verify-data), then run the same command again to continue\n",
    );
    // SAFETY: _exit ends the process at once, as a signal handler must.
    unsafe { libc::_exit(2) };
}
