//! Parsing of fixed-size hex arguments with errors that name the argument.

use crate::Error;

/// Parses exactly 64 hex digits into 32 bytes.
///
/// # Errors
/// [`Error::InvalidParam`] naming `what` for odd length, a wrong length or a non-hex digit.
pub fn parse_hex32(what: &'static str, text: &str) -> Result<[u8; 32], Error> {
    let text = text.trim();
    // `0x…`, as block explorers and the node's API print ids, means the same.
    let text = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    let bad = |reason: String| Error::InvalidParam { name: what, reason };
    if !text.len().is_multiple_of(2) {
        return Err(bad(format!("odd number of hex digits ({})", text.len())));
    }
    let bytes = hex::decode(text).map_err(|e| bad(format!("not hex: {e}")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| bad(format!("expected 32 bytes (64 hex digits), got {} bytes", bytes.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let ok = "00".repeat(31) + "Ff";
        assert_eq!(parse_hex32("x", &ok).ok().map(|b| b[31]), Some(0xff));
        assert_eq!(parse_hex32("x", &format!("0x{ok}")).ok().map(|b| b[31]), Some(0xff));
        assert_eq!(parse_hex32("x", &format!("0X{ok}")).ok().map(|b| b[31]), Some(0xff));
        for bad in ["0", "zz", &"00".repeat(31), &"00".repeat(33), "0x", &format!("0x0x{}", "00".repeat(31))] {
            let err = parse_hex32("--node-id", bad).err().map(|e| e.to_string());
            assert!(err.is_some_and(|e| e.contains("--node-id")), "{bad}");
        }
    }
}
