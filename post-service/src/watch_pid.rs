//! `--watch-pid`: the service of a supervising node stops when the node is gone (or a zombie), checked
//! once a second as the reference does.

use std::time::Duration;

/// How often the watched process is checked.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Whether process `pid` is alive: it exists and is not a zombie (`/proc/<pid>/stat` on Linux, `kill(pid,
/// 0)` elsewhere).
pub fn is_alive(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state is the first field after the parenthesised command name.
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
                .is_some_and(|s| s != 'Z' && s != 'X'),
            Err(_) => false,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
        // SAFETY: kill with signal 0 only checks that the process exists; no memory is touched.
        unsafe { libc::kill(pid, 0) == 0 }
    }
}

/// Resolves once `pid` is no longer alive.
pub async fn gone(pid: u32) {
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    loop {
        tick.tick().await;
        if !is_alive(pid) {
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(is_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_alive(pid));
    }

    #[test]
    fn a_zombie_is_not_alive() {
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while is_alive(pid) {
            assert!(std::time::Instant::now() < deadline, "the child never became a zombie");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(child); // never waited for: it stays a zombie until this test process ends
    }
}
