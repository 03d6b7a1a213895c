//! Proving and verification of PoST: k2 proof of work, the proving scan, the strict verifier.
