//! The bounded cache of finished k2pow jobs: the reference keeps every result forever; here a result
//! lives until it is older than the configured age or pushed out by newer ones (count limit), which
//! is long enough for the client, which polls every few seconds, to collect it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::K2PowJobKey;

/// What a finished job answers: the pow (200) or the failure's text (500).
pub(crate) type JobOutcome = Result<u64, String>;

/// Finished jobs by key, oldest first.
#[derive(Debug)]
pub(crate) struct ResultCache {
    capacity: usize,
    max_age: Duration,
    entries: HashMap<K2PowJobKey, (JobOutcome, Instant)>,
    order: VecDeque<(K2PowJobKey, Instant)>,
}

impl ResultCache {
    /// A cache of at most `capacity` results (at least one), each kept for `max_age`.
    pub(crate) fn new(capacity: usize, max_age: Duration) -> Self {
        Self { capacity: capacity.max(1), max_age, entries: HashMap::new(), order: VecDeque::new() }
    }

    /// Stores a result, evicting expired and surplus ones.
    pub(crate) fn insert(&mut self, key: K2PowJobKey, outcome: JobOutcome, now: Instant) {
        self.expire(now);
        self.entries.insert(key, (outcome, now));
        self.order.push_back((key, now));
        while self.entries.len() > self.capacity {
            self.pop_oldest();
        }
    }

    /// The result of a job, when it is still kept.
    pub(crate) fn get(&mut self, key: &K2PowJobKey, now: Instant) -> Option<JobOutcome> {
        self.expire(now);
        self.entries.get(key).map(|(outcome, _)| outcome.clone())
    }

    /// Results kept.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(_, at)) = self.order.front() {
            if now.saturating_duration_since(at) <= self.max_age {
                break;
            }
            self.pop_oldest();
        }
    }

    /// Drops the oldest entry of the queue; an entry replaced later (same key stored again) stays.
    fn pop_oldest(&mut self) {
        if let Some((key, at)) = self.order.pop_front() {
            if self.entries.get(&key).is_some_and(|(_, stored)| *stored == at) {
                self.entries.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(group: u8) -> K2PowJobKey {
        K2PowJobKey { miner: [1; 32], group, challenge: [2; 8], difficulty: [3; 32] }
    }

    #[test]
    fn count_limit_evicts_the_oldest() {
        let now = Instant::now();
        let mut cache = ResultCache::new(2, Duration::from_secs(60));
        cache.insert(key(1), Ok(1), now);
        cache.insert(key(2), Err("bad".into()), now);
        cache.insert(key(3), Ok(3), now);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&key(1), now), None);
        assert_eq!(cache.get(&key(2), now), Some(Err("bad".into())));
        assert_eq!(cache.get(&key(3), now), Some(Ok(3)));
    }

    #[test]
    fn age_limit_expires_results() {
        let start = Instant::now();
        let mut cache = ResultCache::new(10, Duration::from_secs(5));
        cache.insert(key(1), Ok(1), start);
        cache.insert(key(2), Ok(2), start + Duration::from_secs(3));
        assert_eq!(cache.get(&key(1), start + Duration::from_secs(5)), Some(Ok(1)));
        assert_eq!(cache.get(&key(1), start + Duration::from_secs(6)), None);
        assert_eq!(cache.get(&key(2), start + Duration::from_secs(6)), Some(Ok(2)));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_stored_again_key_survives_its_old_queue_entry() {
        let start = Instant::now();
        let mut cache = ResultCache::new(10, Duration::from_secs(5));
        cache.insert(key(1), Ok(1), start);
        cache.insert(key(1), Ok(1), start + Duration::from_secs(4));
        assert_eq!(cache.get(&key(1), start + Duration::from_secs(7)), Some(Ok(1)));
    }
}
