//! Real RandomX (light mode) against `tests/data/pow.json`, values recorded from the network's
//! reference: the 48-byte input, the raw hashes of the solution and of the nonce before it, the
//! verdicts, and that a one-thread search finds exactly the smallest valid nonce.

#![allow(clippy::unwrap_used)]

use post_core::{Challenge, NodeId, NonceGroup};
use post_proof::{CancelToken, PowJob, PowProver, PowVerifier, RandomXMode, RandomXPow};
use rayon::prelude::*;
use serde_json::Value;

fn hex32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap()).unwrap().try_into().unwrap()
}

#[test]
fn randomx_reproduces_the_reference_vectors() {
    let doc: Value = serde_json::from_str(include_str!("data/pow.json")).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 5);
    let rx = RandomXPow::new(RandomXMode::Light).unwrap();
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    for v in vectors {
        // The challenge's first 8 bytes are all the proof of work sees.
        let mut challenge = [0u8; 32];
        challenge[..8].copy_from_slice(&hex::decode(v["challenge8"].as_str().unwrap()).unwrap());
        let challenge = Challenge(challenge);
        let miner = NodeId(hex32(&v["miner_id"]));
        let threshold = hex32(&v["difficulty"]);
        let group = NonceGroup(u8::try_from(v["nonce_group"].as_u64().unwrap()).unwrap());
        let job = PowJob { group, challenge: &challenge, miner: &miner, threshold: &threshold };
        let pow = v["pow_nonce"].as_u64().unwrap();
        let name = format!("group {} pow {pow}", group.0);

        let input = job.input(pow);
        assert_eq!(hex::encode(input), v["randomx_input48"].as_str().unwrap(), "{name}");
        assert_eq!(hex::encode(rx.hash(&input).unwrap()), v["randomx_hash"].as_str().unwrap(), "{name}");
        assert!(rx.verify(pow, &job).is_ok(), "{name}");
        if let Some(prev) = v["randomx_hash_nonce_minus_1"].as_str() {
            assert_eq!(hex::encode(rx.hash(&job.input(pow - 1)).unwrap()), prev, "{name}");
            assert!(rx.verify(pow - 1, &job).is_err(), "{name}");
        }
        if pow <= 8 {
            let found = one_thread.install(|| rx.prove(&job, &CancelToken::new())).unwrap();
            assert_eq!(found, pow, "{name}: the one-thread search returns the smallest valid nonce");
        } else {
            // The same fact, on all threads: no smaller nonce is valid.
            let smaller = (0..pow).into_par_iter().find_any(|&n| rx.verify(n, &job).is_ok());
            assert_eq!(smaller, None, "{name}: a smaller valid nonce exists");
        }
    }
}

/// Large pages change where RandomX's memory lies, never a hash: the reference vectors again, from a
/// cache asked for in large pages (on a system without reserved huge pages this takes the fallback to
/// normal pages, which must work too).
#[test]
fn large_pages_or_their_fallback_hash_the_same() {
    let doc: Value = serde_json::from_str(include_str!("data/pow.json")).unwrap();
    let rx = RandomXPow::new_with_large_pages(RandomXMode::Light, &CancelToken::new(), &|_, _| {}).unwrap();
    let reserved = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find_map(|l| l.strip_prefix("HugePages_Free:").map(|v| v.trim().to_string())));
    eprintln!("large pages: obtained {}, free huge pages on this system: {reserved:?}", rx.large_pages());
    if reserved.as_deref() == Some("0") {
        assert!(!rx.large_pages(), "no huge page is free, yet large pages were reported");
    }
    for v in doc["vectors"].as_array().unwrap() {
        let input: [u8; 48] = hex::decode(v["randomx_input48"].as_str().unwrap()).unwrap().try_into().unwrap();
        assert_eq!(hex::encode(rx.hash(&input).unwrap()), v["randomx_hash"].as_str().unwrap());
    }
}
