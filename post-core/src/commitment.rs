//! The commitment every label is derived from (spec §1).

use crate::{AtxId, Commitment, NodeId};

/// BLAKE3-256(node id ‖ commitment ATX id), node id first.
pub fn commitment(node_id: &NodeId, atx_id: &AtxId) -> Commitment {
    let mut hasher = blake3::Hasher::new();
    hasher.update(node_id.as_bytes());
    hasher.update(atx_id.as_bytes());
    Commitment(*hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_ids() {
        let c = commitment(&NodeId([0; 32]), &AtxId([0; 32]));
        assert_eq!(c.to_string(), "4d006976636a8696d909a630a4081aad4d7c50f81afdee04020bf05086ab6a55");
    }
}
