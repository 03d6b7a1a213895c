//! A `post` process whose stderr is read as it is written, so that a test can act at a given log line
//! (send a signal, remove a folder) instead of after a guessed delay.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running process and what it has written to stderr so far.
pub struct Live {
    child: Child,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

/// How a process ended.
pub struct Ended {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Ended {
    /// stdout and stderr together, for assertion messages.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Live {
    /// Starts `cmd` with stdout and stderr piped.
    pub fn start(cmd: &mut Command) -> Self {
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Self { child, log, reader: Some(reader) }
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until stderr holds a line containing `needle`; panics when the process ends first or
    /// `limit` passes.
    pub fn wait_for_line(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self.log().lines().any(|l| l.contains(needle)) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(50));
                panic!("the process ended ({status}) before printing {needle:?}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "no {needle:?} within {limit:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `signal`.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0, "kill({}, {signal})", self.pid());
    }

    /// Waits for the process to end (killing it and failing after `limit`) and returns how it ended
    /// and when it was seen to end.
    pub fn wait(mut self, limit: Duration) -> (Ended, Instant) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("still running after {limit:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let ended = Instant::now();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            out.read_to_string(&mut stdout).unwrap();
        }
        (Ended { status, stdout, stderr: self.log() }, ended)
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(mut self) -> Ended {
        let _ = self.child.kill();
        self.wait(Duration::from_secs(30)).0
    }
}
