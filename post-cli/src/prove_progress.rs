//! Shows a proof job's progress on stderr: an indicatif bar per phase (the RandomX dataset, k2pow groups, bytes
//! scanned, with rate and ETA, and the deadline when one is given) when stderr is a terminal, plain log
//! lines (one per proof of work, one every few seconds while scanning) when it is not.

use std::io::IsTerminal;
use std::time::{Duration, Instant, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;
use post_proof::{JobPhase, JobProgress};

use crate::prove_estimate::human;

/// How often plain log lines are written while scanning.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Draws the bar or writes the log lines.
#[derive(Debug)]
pub struct ProveProgress {
    bar: Option<ProgressBar>,
    deadline: Option<SystemTime>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    phase: Option<(JobPhase, u32)>,
    last_log: Instant,
    last_groups: u32,
}

impl ProveProgress {
    /// A bar when stderr is a terminal and info logs are on (`post -q` turns them off).
    pub fn new(deadline: Option<SystemTime>) -> Self {
        let visible = tracing::enabled!(tracing::Level::INFO);
        let bar = (visible && std::io::stderr().is_terminal())
            .then(|| ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr()));
        let state = State { phase: None, last_log: Instant::now(), last_groups: 0 };
        Self { bar, deadline, state: Mutex::new(state) }
    }

    /// Removes the bar (call before printing results).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Shows one report.
    pub fn report(&self, p: &JobProgress) {
        let mut state = self.state.lock();
        let new_phase = state.phase != Some((p.phase, p.pass));
        if new_phase {
            state.phase = Some((p.phase, p.pass));
            state.last_groups = p.groups_done;
            self.start_phase(p);
        }
        let eta = self.eta_text(p.eta);
        match (&self.bar, p.phase) {
            (Some(bar), JobPhase::K2Pow) => {
                bar.set_position(u64::from(p.groups_done));
                bar.set_message(eta);
            }
            (Some(bar), JobPhase::Scanning) => {
                bar.set_position(p.bytes_done);
                bar.set_message(format!("{}/s {eta}", indicatif::HumanBytes(p.bytes_per_sec as u64)));
            }
            (Some(_), _) => {}
            (None, JobPhase::K2Pow) if p.groups_done > state.last_groups => {
                state.last_groups = p.groups_done;
                tracing::info!(
                    "prove: pass {} k2pow {}/{} groups (nonces {}..{}) {eta}",
                    p.pass,
                    p.groups_done,
                    p.groups_total,
                    p.nonces.start,
                    p.nonces.end
                );
            }
            (None, JobPhase::Scanning) if p.bytes_done > 0 && state.last_log.elapsed() >= LOG_EVERY => {
                state.last_log = Instant::now();
                tracing::info!(
                    "prove: pass {} scanned {} of {} ({:.1}%), {}/s {eta}",
                    p.pass,
                    indicatif::HumanBytes(p.bytes_done),
                    indicatif::HumanBytes(p.bytes_total),
                    p.bytes_done as f64 * 100.0 / p.bytes_total.max(1) as f64,
                    indicatif::HumanBytes(p.bytes_per_sec as u64)
                );
            }
            (None, _) => {}
        }
    }

    /// Shows the RandomX dataset build: `done` of `total` items after `elapsed`.
    pub fn randomx(&self, done: u64, total: u64, elapsed: Duration) {
        let mut state = self.state.lock();
        let eta = (done > 0).then(|| elapsed.mul_f64(total.saturating_sub(done) as f64 / done as f64));
        match &self.bar {
            Some(bar) => {
                if bar.length() != Some(total) {
                    let style =
                        ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar());
                    bar.set_style(style);
                    bar.set_prefix("prove: RandomX dataset");
                    bar.set_length(total);
                }
                bar.set_position(done);
                bar.set_message(eta.map(|e| format!("ETA {}", human(e))).unwrap_or_default());
            }
            None if done == 0 => {
                state.last_log = Instant::now();
                tracing::info!(
                    "prove: building the RandomX dataset ({} on {} thread(s)); Ctrl-C stops it",
                    indicatif::HumanBytes(total * 64),
                    rayon::current_num_threads()
                );
            }
            None if state.last_log.elapsed() >= LOG_EVERY || done == total => {
                state.last_log = Instant::now();
                tracing::info!(
                    "prove: RandomX dataset {:.0}%{}",
                    done as f64 * 100.0 / total.max(1) as f64,
                    eta.map(|e| format!(", ETA {}", human(e))).unwrap_or_default()
                );
            }
            None => {}
        }
    }

    fn start_phase(&self, p: &JobProgress) {
        let (template, len, what) = match p.phase {
            JobPhase::K2Pow => (
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} groups {msg}",
                u64::from(p.groups_total),
                format!("pass {} k2pow (nonces {}..{})", p.pass, p.nonces.start, p.nonces.end),
            ),
            JobPhase::Scanning => (
                "{prefix} [{elapsed_precise}] {wide_bar} {percent:>3}% {binary_bytes}/{binary_total_bytes} {msg}",
                p.bytes_total,
                format!("pass {} scan", p.pass),
            ),
            JobPhase::Verifying => ("{prefix} {spinner} {msg}", 0, "verifying the proof over all indices".into()),
            JobPhase::Done | JobPhase::Failed => return,
        };
        match &self.bar {
            Some(bar) => {
                bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
                bar.set_prefix(format!("prove: {what}"));
                bar.set_length(len);
                bar.set_position(0);
                if p.phase == JobPhase::Verifying {
                    bar.enable_steady_tick(Duration::from_millis(200));
                }
            }
            None => tracing::info!("prove: {what}"),
        }
    }

    fn eta_text(&self, eta: Option<Duration>) -> String {
        let Some(eta) = eta else { return String::new() };
        let mut text = format!("ETA {}", human(eta));
        if let Some(deadline) = self.deadline {
            match deadline.duration_since(SystemTime::now() + eta) {
                Ok(spare) => text.push_str(&format!(" ({} before the deadline)", human(spare))),
                Err(late) => text.push_str(&format!(" ({} AFTER the deadline)", human(late.duration()))),
            }
        }
        text
    }
}
