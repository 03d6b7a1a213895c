//! A proof job: one challenge's proving, from start to a verified proof, that survives Ctrl-C, `kill -9`
//! and power cuts, and says where it is. `post prove` and the proving service both run one.
//!
//! ```text
//! open:  check the parameters; take the job's lock; load .post-proof/<challenge>.json when its
//!        parameters are exactly this request's (else set it aside, renamed, and start afresh)
//! run:   for pass p from the saved pass:
//!          1. k2pow: every nonce group of the pass that has no saved pow; each pow is saved when found
//!          2. scan from the saved position (sweep.rs); the position and every nonce's good indices so
//!             far are saved every `checkpoint_every` and when the run stops
//!          3. no winner: p + 1, position 0, saved
//!        4. winner: the proof is saved, then verified over all k2 indices (self_check.rs)
//!        5. verified: saved as done, returned; failed: saved as failed with the reason and the bad labels
//! ```
//!
//! Every step is deterministic — the smallest pow of each group, the sweep's window merge — so a resumed
//! job produces exactly the proof an uninterrupted one does, with any number of threads. A finished proof
//! stays in its state file until it is removed explicitly ([`remove_jobs_except`]); running a finished
//! job again returns it at once. A failed job runs again from its k2pow results, scanning anew.

mod self_check;
mod state;

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use post_core::{
    compress_indices, proving_difficulty, required_bits, scale_pow_difficulty, Challenge, LabelThreshold, Layout,
    Nonce, NonceGroup, PostData, PostMetadata, Proof, ProofConfig, ProofMetadata, ProofRecord, ScryptParams,
};

pub use state::{remove_jobs_except, JOB_DIR};

use self::self_check::CheckTarget;
use self::state::{JobFiles, SavedParams, SavedPhase, SavedState};
use crate::sweep::{sweep, PassScan};
use crate::{
    AesBackend, CancelToken, Error, LabelScanner, MappedData, NonceKeys, PowJob, PowProver, PowVerifier, NONCE_LIMIT,
};

/// What to prove, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobParams {
    /// The challenge.
    pub challenge: Challenge,
    /// Expected good labels per nonce.
    pub k1: u32,
    /// Good labels a proof needs.
    pub k2: u32,
    /// The k2 proof-of-work difficulty for one unit (the job scales it by the number of units).
    pub pow_difficulty: [u8; 32],
    /// Nonces per pass: a positive multiple of 16, at most 4096.
    pub nonces: u32,
    /// The label function's parameters, to recompute labels when the proof is verified.
    pub scrypt: ScryptParams,
    /// The AES kernel of the scan.
    pub backend: AesBackend,
    /// How often the scan's position is saved.
    pub checkpoint_every: Duration,
}

/// The default of [`JobParams::checkpoint_every`].
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// What a job is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPhase {
    /// Finding the proofs of work of a pass.
    K2Pow,
    /// Scanning the data.
    Scanning,
    /// Verifying the proof found.
    Verifying,
    /// Finished with a verified proof.
    Done,
    /// Stopped by an error.
    Failed,
}

impl JobPhase {
    /// `k2pow`, `scanning`, `verifying`, `done` or `failed`.
    pub fn name(self) -> &'static str {
        match self {
            JobPhase::K2Pow => "k2pow",
            JobPhase::Scanning => "scanning",
            JobPhase::Verifying => "verifying",
            JobPhase::Done => "done",
            JobPhase::Failed => "failed",
        }
    }
}

/// A progress report of [`ProofJob::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct JobProgress {
    /// What the job is doing.
    pub phase: JobPhase,
    /// The pass, from 0.
    pub pass: u32,
    /// The pass's nonces.
    pub nonces: Range<u32>,
    /// Nonce groups of the pass with a proof of work.
    pub groups_done: u32,
    /// Nonce groups of the pass.
    pub groups_total: u32,
    /// Bytes of the pass scanned (the scan's position).
    pub bytes_done: u64,
    /// Bytes of the data.
    pub bytes_total: u64,
    /// Scan speed of this run, bytes per second (0 before the scan).
    pub bytes_per_sec: f64,
    /// Time left in the current phase of this pass, when it can be estimated.
    pub eta: Option<Duration>,
}

/// What [`ProofJob::open`] found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStart {
    /// Nothing: the job starts from the beginning.
    New,
    /// An interrupted job, continued from where it was saved.
    Resumed {
        /// The pass.
        pass: u32,
        /// Proofs of work already found, over all passes.
        pows_saved: u32,
        /// The scan's saved position in the pass, in labels.
        position: u64,
        /// Runs before this one.
        runs: u32,
    },
    /// A job that failed before (the reason); it runs again from its saved proofs of work.
    Retry {
        /// Why the last run failed.
        failure: String,
    },
    /// A finished job: its proof is returned without work.
    Finished,
}

/// A state file that could not be used and was renamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    /// Its new name.
    pub path: PathBuf,
    /// Why it was not used.
    pub reason: String,
}

/// Time and work of a job, over all its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSummary {
    /// Runs, this one included.
    pub runs: u32,
    /// Passes made.
    pub passes: u32,
    /// Time on proofs of work.
    pub k2pow: Duration,
    /// Time scanning.
    pub scan: Duration,
    /// Time verifying.
    pub verify: Duration,
    /// Bytes scanned over all passes.
    pub bytes_scanned: u64,
    /// Proofs of work computed by this run.
    pub pows_computed: u32,
    /// Proofs of work this run took from the saved state.
    pub pows_reused: u32,
}

/// One challenge's proving on one data directory.
#[derive(Debug)]
pub struct ProofJob {
    params: JobParams,
    files: JobFiles,
    _lock: Option<File>,
    state: SavedState,
    data: MappedData,
    dir: PathBuf,
    metadata: PostMetadata,
    layout: Layout,
    start: JobStart,
    set_aside: Option<SetAside>,
    record: Option<ProofRecord>,
    pows_computed: u32,
    pows_reused: u32,
}

impl ProofJob {
    /// Opens the job for `params.challenge` on a complete data directory opened with a shared lock (which
    /// the caller keeps while the job runs): checks the parameters, takes the job's lock, and loads the
    /// saved state when its parameters are exactly these, else sets it aside.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for nonces that are not a positive multiple of 16 up to 4096, a k2 of 0 or
    /// above the number of labels; the difficulty errors of `post-core`; the errors of
    /// [`MappedData::open`]; [`Error::JobBusy`] when another process runs this job;
    /// [`Error::JobState`] when the state folder cannot be used.
    pub fn open(data: &PostData, params: JobParams) -> Result<Self, Error> {
        let invalid = |name, reason: String| Err(Error::InvalidParam { name, reason });
        if params.nonces == 0 || !params.nonces.is_multiple_of(Nonce::GROUP_SIZE) || params.nonces > NONCE_LIMIT {
            return invalid(
                "nonces",
                format!("{} is not a positive multiple of 16 up to {NONCE_LIMIT}", params.nonces),
            );
        }
        let metadata = data.metadata().clone();
        let num_labels = metadata.num_labels();
        if params.k2 == 0 || u64::from(params.k2) > num_labels {
            return invalid("k2", format!("{} good labels cannot be found among {num_labels} labels", params.k2));
        }
        proving_difficulty(params.k1, num_labels)?;
        scale_pow_difficulty(&params.pow_difficulty, metadata.num_units)?;
        let mapped = MappedData::open(data)?;

        let mut files = JobFiles::new(data.dir(), &params.challenge);
        let lock = files.lock()?;
        files.persist = lock.is_some();
        let want = SavedParams {
            challenge: hex::encode(params.challenge.as_bytes()),
            node_id: hex::encode(metadata.node_id.as_bytes()),
            commitment_atx_id: hex::encode(metadata.commitment_atx_id.as_bytes()),
            num_units: metadata.num_units,
            labels_per_unit: metadata.labels_per_unit,
            k1: params.k1,
            k2: params.k2,
            nonces: params.nonces,
            pow_difficulty: hex::encode(params.pow_difficulty),
        };
        let (saved, unusable) = match files.load() {
            Ok(None) => (None, None),
            Ok(Some(saved)) => {
                let why = match saved.params.first_difference(&want) {
                    Some(field) => Some(format!("it was made with another {field}")),
                    None => inconsistency(&saved, num_labels).map(|why| format!("it is inconsistent: {why}")),
                };
                match why {
                    None => (Some(saved), None),
                    Some(why) => (None, Some(why)),
                }
            }
            Err(reason) => (None, Some(reason)),
        };
        let mut set_aside = None;
        if let Some(reason) = unusable {
            let path = files.set_aside()?;
            files.trace(&format!("set aside {}: {reason}", path.display()));
            set_aside = Some(SetAside { path, reason });
        }
        let state = saved.unwrap_or_else(|| SavedState::new(want));
        let start = match state.phase {
            _ if state.totals.runs == 0 => JobStart::New,
            SavedPhase::Done => JobStart::Finished,
            SavedPhase::Failed => JobStart::Retry { failure: state.failure.clone().unwrap_or_default() },
            SavedPhase::Proving | SavedPhase::Verifying => JobStart::Resumed {
                pass: state.pass,
                pows_saved: state.pows.len() as u32,
                position: state.position,
                runs: state.totals.runs,
            },
        };
        let layout = *data.layout();
        let mut job = Self {
            params,
            files,
            _lock: lock,
            state,
            data: mapped,
            dir: data.dir().to_owned(),
            metadata,
            layout,
            start,
            set_aside,
            record: None,
            pows_computed: 0,
            pows_reused: 0,
        };
        if job.start == JobStart::Finished {
            job.record = job.state.proof.clone().map(|proof| job.record_of(proof));
        }
        Ok(job)
    }

    /// What was found on disk.
    pub fn start(&self) -> &JobStart {
        &self.start
    }

    /// The state file that was set aside, if one was.
    pub fn set_aside(&self) -> Option<&SetAside> {
        self.set_aside.as_ref()
    }

    /// The address range of each mapped data file with its path (see [`MappedData::mapped_ranges`]).
    pub fn mapped_ranges(&self) -> Vec<(Range<usize>, PathBuf)> {
        self.data.mapped_ranges()
    }

    /// Whether the job is saved as it goes (false on a read-only data directory: an interrupted run
    /// then starts again from the beginning).
    pub fn is_saved(&self) -> bool {
        self.files.persist
    }

    /// The job's state file.
    pub fn state_path(&self) -> &Path {
        &self.files.state
    }

    /// The job's event trace.
    pub fn trace_path(&self) -> &Path {
        &self.files.log
    }

    /// The verified proof, once the job has one.
    pub fn finished(&self) -> Option<&ProofRecord> {
        self.record.as_ref()
    }

    /// Time and work so far.
    pub fn summary(&self) -> JobSummary {
        let t = &self.state.totals;
        JobSummary {
            runs: t.runs,
            passes: self.state.pass + 1,
            k2pow: Duration::from_secs_f64(t.k2pow_secs),
            scan: Duration::from_secs_f64(t.scan_secs),
            verify: Duration::from_secs_f64(t.verify_secs),
            bytes_scanned: t.bytes_scanned,
            pows_computed: self.pows_computed,
            pows_reused: self.pows_reused,
        }
    }

    /// Runs the job to a verified proof (steps 1–5), on the current rayon pool. A finished job returns
    /// its proof at once.
    ///
    /// # Errors
    /// [`Error::Cancelled`] with the state saved (running again resumes); [`Error::SelfCheck`] when the
    /// proof found does not verify, naming the bad labels; [`Error::NoncesExhausted`]; proof-of-work
    /// failures; [`Error::JobState`] when the state cannot be saved. Every error but a cancel is saved
    /// as the job's failure.
    pub fn run(
        &mut self,
        pow: &dyn PowProver,
        verify_pow: &dyn PowVerifier,
        cancel: &CancelToken,
        progress: &(dyn Fn(&JobProgress) + Sync),
    ) -> Result<ProofRecord, Error> {
        if let Some(record) = &self.record {
            return Ok(record.clone());
        }
        if self.state.phase == SavedPhase::Failed && self.state.proof.is_some() {
            // The last proof failed its check (bad data, since repaired?): scan again from the start.
            self.state.pass = 0;
            self.state.position = 0;
            self.state.candidates.clear();
            self.state.proof = None;
        }
        self.state.phase = SavedPhase::Proving;
        self.state.totals.runs += 1;
        self.files.save(&self.state)?;
        self.files.trace(&format!("run {} started: {:?}", self.state.totals.runs, self.start));

        let result = self.prove(pow, cancel, progress).and_then(|(proof, indices)| {
            self.state.phase = SavedPhase::Verifying;
            self.state.proof = Some(proof.clone());
            self.files.save(&self.state)?;
            self.files.trace(&format!("proof found: nonce {}, indices {indices:?}, pow {}", proof.nonce, proof.pow));
            progress(&self.progress(JobPhase::Verifying, 0.0, None));
            let clock = Instant::now();
            let checked = self.check(verify_pow, &proof, &indices);
            self.state.totals.verify_secs += clock.elapsed().as_secs_f64();
            checked.map(|()| proof)
        });
        match result {
            Ok(proof) => {
                self.state.phase = SavedPhase::Done;
                self.state.failure = None;
                self.files.save(&self.state)?;
                self.files.trace("proof verified; done");
                let record = self.record_of(proof);
                self.record = Some(record.clone());
                progress(&self.progress(JobPhase::Done, 0.0, None));
                Ok(record)
            }
            Err(Error::Cancelled) => {
                self.files.save(&self.state)?;
                self.files.trace(&format!("cancelled at pass {} position {}", self.state.pass, self.state.position));
                Err(Error::Cancelled)
            }
            Err(e) => {
                self.state.phase = SavedPhase::Failed;
                self.state.failure = Some(e.to_string());
                self.files.save(&self.state)?;
                self.files.trace(&format!("failed: {e}"));
                progress(&self.progress(JobPhase::Failed, 0.0, None));
                Err(e)
            }
        }
    }

    /// Steps 1–3: passes until a winner; returns the proof and its indices.
    fn prove(
        &mut self,
        pow: &dyn PowProver,
        cancel: &CancelToken,
        progress: &(dyn Fn(&JobProgress) + Sync),
    ) -> Result<(Proof, Vec<u64>), Error> {
        let p = self.params;
        let num_labels = self.metadata.num_labels();
        let threshold = LabelThreshold::from_difficulty(proving_difficulty(p.k1, num_labels)?);
        let pow_threshold = scale_pow_difficulty(&p.pow_difficulty, self.metadata.num_units)?;
        loop {
            let (first, end) = self.pass_nonces()?;
            let groups: Vec<u8> = ((first / Nonce::GROUP_SIZE)..(end / Nonce::GROUP_SIZE)).map(|g| g as u8).collect();

            // Step 1.
            let node_id = self.metadata.node_id;
            let job = |group| PowJob {
                group: NonceGroup(group),
                challenge: &p.challenge,
                miner: &node_id,
                threshold: &pow_threshold,
            };
            let missing: Vec<u8> = groups.iter().copied().filter(|g| !self.state.pows.contains_key(g)).collect();
            self.pows_reused += (groups.len() - missing.len()) as u32;
            progress(&self.progress(JobPhase::K2Pow, 0.0, None));
            let clock = Instant::now();
            let mut done = 0usize;
            let (state, files, computed) = (&mut self.state, &self.files, &mut self.pows_computed);
            find_pows(pow, &missing, &job, cancel, &mut |group, value, took| {
                state.pows.insert(group, value);
                state.totals.k2pow_secs += took.as_secs_f64();
                *computed += 1;
                files.save(state)?;
                files.trace(&format!("k2pow group {group} = {value} ({:.3} s)", took.as_secs_f64()));
                done += 1;
                let eta = clock.elapsed() / done as u32 * (missing.len() - done) as u32;
                progress(&progress_of(state, &p, num_labels, JobPhase::K2Pow, 0.0, Some(eta)));
                Ok(())
            })?;

            // Step 2.
            let pows: Vec<u64> = groups.iter().map(|g| self.state.pows.get(g).copied().unwrap_or_default()).collect();
            let keys = NonceKeys::new(&p.challenge, NonceGroup(groups[0]), &pows);
            let scanner = LabelScanner::new(p.backend, &keys, threshold)?;
            let lists = match self.state.candidates.is_empty() {
                true => vec![Vec::new(); (end - first) as usize],
                false => self.state.candidates.clone(),
            };
            let mut scan = PassScan::resume(first, p.k2, self.state.position, lists)?;
            progress(&self.progress(JobPhase::Scanning, 0.0, None));
            let regions = self.data.regions();
            let clock = Instant::now();
            let (mut saved_at, mut bytes_this_run) = (Instant::now(), 0u64);
            let mut last_secs = 0.0;
            let total_bytes = num_labels * 16;
            let (state, files) = (&mut self.state, &self.files);
            let result = sweep(&regions, &scanner, cancel, &mut scan, &mut |scan, bytes| {
                let secs = clock.elapsed().as_secs_f64();
                state.totals.scan_secs += secs - last_secs;
                last_secs = secs;
                state.totals.bytes_scanned += bytes;
                state.position = scan.position();
                state.candidates = scan.lists().to_vec();
                bytes_this_run += bytes;
                if saved_at.elapsed() >= p.checkpoint_every {
                    saved_at = Instant::now();
                    files.save(state)?;
                    files.trace(&format!("scan saved at label {}", state.position));
                }
                let rate = bytes_this_run as f64 / secs.max(1e-9);
                let left = total_bytes.saturating_sub(scan.position() * 16) as f64;
                let eta = (rate > 0.0).then(|| Duration::from_secs_f64(left / rate));
                progress(&progress_of(state, &p, num_labels, JobPhase::Scanning, rate, eta));
                Ok(())
            });
            match result? {
                Some((nonce, indices)) => {
                    let pow = keys.pow_of(nonce).ok_or_else(|| Error::InvalidParam {
                        name: "nonce",
                        reason: format!("winning nonce {} is outside the pass", nonce.0),
                    })?;
                    let proof =
                        Proof { nonce: nonce.0, indices: compress_indices(&indices, required_bits(num_labels)), pow };
                    return Ok((proof, indices));
                }
                // Step 3.
                None => {
                    self.files.trace(&format!("pass {} ended without a proof", self.state.pass));
                    self.state.pass += 1;
                    self.state.position = 0;
                    self.state.candidates.clear();
                    self.files.save(&self.state)?;
                }
            }
        }
    }

    /// The nonces of the saved pass.
    fn pass_nonces(&self) -> Result<(u32, u32), Error> {
        let first = self.state.pass.saturating_mul(self.params.nonces);
        if first >= NONCE_LIMIT {
            return Err(Error::NoncesExhausted { next_nonce: first });
        }
        Ok((first, (first + self.params.nonces).min(NONCE_LIMIT)))
    }

    /// Step 4.
    fn check(&self, pow: &dyn PowVerifier, proof: &Proof, indices: &[u64]) -> Result<(), Error> {
        let config = ProofConfig {
            k1: self.params.k1,
            k2: self.params.k2,
            k3: self.params.k2,
            pow_difficulty: self.params.pow_difficulty,
        };
        let regions = self.data.regions();
        let target = CheckTarget {
            dir: &self.dir,
            layout: &self.layout,
            regions: &regions,
            scrypt: self.params.scrypt,
            labels_per_unit: self.metadata.labels_per_unit,
            max_file_size: self.metadata.max_file_size,
        };
        let metadata = self.record_of(proof.clone()).metadata;
        self_check::check(pow, config, &target, proof, indices, &metadata)
    }

    fn record_of(&self, proof: Proof) -> ProofRecord {
        let m = &self.metadata;
        ProofRecord {
            proof,
            metadata: ProofMetadata {
                node_id: m.node_id,
                commitment_atx_id: m.commitment_atx_id,
                challenge: self.params.challenge,
                num_units: m.num_units,
                labels_per_unit: Some(m.labels_per_unit),
            },
            vrf_nonce: m.nonce,
        }
    }

    fn progress(&self, phase: JobPhase, bytes_per_sec: f64, eta: Option<Duration>) -> JobProgress {
        progress_of(&self.state, &self.params, self.metadata.num_labels(), phase, bytes_per_sec, eta)
    }
}

/// A progress report from the saved state.
fn progress_of(
    state: &SavedState,
    params: &JobParams,
    num_labels: u64,
    phase: JobPhase,
    bytes_per_sec: f64,
    eta: Option<Duration>,
) -> JobProgress {
    let first = state.pass.saturating_mul(params.nonces).min(NONCE_LIMIT);
    let end = (first + params.nonces).min(NONCE_LIMIT);
    let groups = (first / Nonce::GROUP_SIZE)..(end / Nonce::GROUP_SIZE);
    let groups_done = groups.clone().filter(|&g| state.pows.contains_key(&(g as u8))).count() as u32;
    JobProgress {
        phase,
        pass: state.pass,
        nonces: first..end,
        groups_done,
        groups_total: groups.len() as u32,
        bytes_done: state.position * 16,
        bytes_total: num_labels * 16,
        bytes_per_sec,
        eta,
    }
}

/// Why a saved state with the right parameters still cannot be used, if it cannot.
fn inconsistency(saved: &SavedState, num_labels: u64) -> Option<String> {
    let p = &saved.params;
    if saved.position > num_labels {
        return Some(format!("position {} is beyond the {num_labels} labels", saved.position));
    }
    let first = saved.pass.saturating_mul(p.nonces);
    if first >= NONCE_LIMIT {
        return Some(format!("pass {} starts beyond nonce {NONCE_LIMIT}", saved.pass));
    }
    if !saved.candidates.is_empty() {
        let nonces = (first + p.nonces).min(NONCE_LIMIT) - first;
        if saved.candidates.len() != nonces as usize {
            return Some(format!("{} candidate lists for {nonces} nonces", saved.candidates.len()));
        }
        if let Err(e) = PassScan::resume(first, p.k2, saved.position, saved.candidates.clone()) {
            return Some(e.to_string());
        }
    }
    if saved.phase == SavedPhase::Done && saved.proof.is_none() {
        return Some("it is marked done without a proof".into());
    }
    None
}

/// Step 1: the proofs of work of `groups`, handed to `found` one by one as they are found (on the
/// calling thread). A local search uses the whole pool for one group, so groups go one at a time; a
/// prover that takes several at once gets that many worker threads.
fn find_pows<'j>(
    pow: &dyn PowProver,
    groups: &[u8],
    job: &(dyn Fn(u8) -> PowJob<'j> + Sync),
    cancel: &CancelToken,
    found: &mut dyn FnMut(u8, u64, Duration) -> Result<(), Error>,
) -> Result<(), Error> {
    let parallel = pow.parallel_groups().clamp(1, groups.len().max(1));
    if parallel == 1 {
        for &group in groups {
            let clock = Instant::now();
            let value = pow.prove(&job(group), cancel)?;
            found(group, value, clock.elapsed())?;
        }
        return Ok(());
    }
    let queue = Mutex::new(groups.iter().copied());
    let stop = CancelToken::new();
    std::thread::scope(|s| {
        let (send, receive) = mpsc::channel();
        for _ in 0..parallel {
            let send = send.clone();
            let (queue, stop) = (&queue, &stop);
            s.spawn(move || loop {
                if stop.is_cancelled() || cancel.is_cancelled() {
                    return;
                }
                let Some(group) = queue.lock().next() else { return };
                let clock = Instant::now();
                let result = pow.prove(&job(group), cancel);
                if send.send((group, result, clock.elapsed())).is_err() {
                    return;
                }
            });
        }
        drop(send);
        let mut first_error = None;
        for (group, result, took) in receive {
            let outcome = result.and_then(|value| found(group, value, took));
            if let Err(e) = outcome {
                stop.cancel();
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None if cancel.is_cancelled() => Err(Error::Cancelled),
            None => Ok(()),
        }
    })
}
