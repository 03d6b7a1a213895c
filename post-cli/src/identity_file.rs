//! Identity key files, as the Spacemesh node and postcli keep them.
//!
//! A smesher's node id is an ed25519 public key. go-spacemesh loads its signing keys from
//! `<data>/identities/*.key` (`local.key` for the node's own), and postcli writes `identity.key` into the
//! data directory when it is given no `-id`. Both files hold the same thing: the 64-byte ed25519 private
//! key as Go's `crypto/ed25519` lays it out (32-byte seed ‖ 32-byte public key), written as 128 lowercase
//! hex digits with no newline — the node decodes the whole file as hex, so a trailing newline breaks it.
//!
//! Reading is as strict as the node: exactly 128 hex digits, and the public half must be the seed's
//! public key (a file whose halves disagree would sign with one key and claim another).

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use anyhow::{bail, Context as _};
use ed25519_dalek::{SigningKey, KEYPAIR_LENGTH};
use post_core::NodeId;

/// The file postcli (and `post init` without `--node-id`) keeps the key in, inside the data directory.
pub const IDENTITY_FILE: &str = "identity.key";

/// Where go-spacemesh looks for its own key, relative to its data directory (`data-folder`).
pub const NODE_KEY_PATH: &str = "identities/local.key";

/// An ed25519 signing key: the identity of a smesher.
pub struct Identity {
    key: SigningKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret half.
        f.debug_struct("Identity").field("node_id", &self.node_id().to_string()).finish()
    }
}

impl Identity {
    /// A new key from the operating system's random number generator.
    ///
    /// # Errors
    /// When the system's random source fails.
    pub fn generate() -> anyhow::Result<Self> {
        let mut seed = [0u8; 32];
        rand::RngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut seed)
            .map_err(|e| anyhow::anyhow!("reading the system's random source: {e}"))?;
        let key = SigningKey::from_bytes(&seed);
        seed.fill(0);
        Ok(Self { key })
    }

    /// The node id: the public key.
    pub fn node_id(&self) -> NodeId {
        NodeId(self.key.verifying_key().to_bytes())
    }

    /// The file's contents: hex of seed ‖ public key, no newline.
    fn file_text(&self) -> String {
        hex::encode(self.key.to_keypair_bytes())
    }

    /// Parses a key file's contents as the node does.
    ///
    /// # Errors
    /// When the text is not exactly 128 hex digits, or its public half is not the seed's public key.
    pub fn parse(text: &[u8]) -> anyhow::Result<Self> {
        let trimmed = text.trim_ascii();
        if trimmed.len() != text.len() && hex::decode(trimmed).is_ok_and(|b| b.len() == KEYPAIR_LENGTH) {
            bail!(
                "the key is followed or preceded by whitespace (a newline?); go-spacemesh decodes the whole file as \
                 hex and would refuse it — remove the whitespace"
            );
        }
        let bytes = hex::decode(text).map_err(|e| anyhow::anyhow!("not a key file: not hex ({e})"))?;
        let pair: [u8; KEYPAIR_LENGTH] = bytes.as_slice().try_into().map_err(|_| {
            anyhow::anyhow!(
                "not a key file: {} bytes where an ed25519 private key has {KEYPAIR_LENGTH} (seed and public key, \
                 {} hex digits)",
                bytes.len(),
                2 * KEYPAIR_LENGTH
            )
        })?;
        let key = SigningKey::from_keypair_bytes(&pair)
            .map_err(|_| anyhow::anyhow!("the public half of the key is not the public key of its seed half"))?;
        Ok(Self { key })
    }

    /// Loads a key file.
    ///
    /// # Errors
    /// When the file cannot be read or is not a key file; the message names the file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = fs::read(path).with_context(|| format!("reading the key file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("{}", path.display()))
    }

    /// Writes the key to a new file readable by its owner only; an existing file is never replaced.
    ///
    /// ```text
    /// 1. write the key to a temporary file next to `path` (mode 0600) and fsync it
    /// 2. hard-link it to `path`: this fails when `path` exists, so no key is ever overwritten
    /// 3. remove the temporary name and fsync the directory
    /// ```
    ///
    /// # Errors
    /// When `path` exists or a step fails; the message names the file.
    pub fn write_new(&self, path: &Path) -> anyhow::Result<()> {
        if path.exists() {
            bail!("{} already exists; a key file is never overwritten (move it away first)", path.display());
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let written = (|| {
            let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
            file.write_all(self.file_text().as_bytes())?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e).with_context(|| format!("writing the key file {}", temp.display()));
        }
        let linked = fs::hard_link(&temp, path);
        let _ = fs::remove_file(&temp);
        linked.with_context(|| format!("writing the key file {}", path.display()))?;
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032, section 7.1, test 1.
    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    #[test]
    fn parses_the_rfc_8032_key() -> anyhow::Result<()> {
        let id = Identity::parse(format!("{SEED}{PUBLIC}").as_bytes())?;
        assert_eq!(id.node_id().to_string(), PUBLIC);
        assert_eq!(id.file_text(), format!("{SEED}{PUBLIC}"));
        Ok(())
    }

    #[test]
    fn refuses_what_the_node_refuses() {
        let good = format!("{SEED}{PUBLIC}");
        let cases = [
            (format!("{good}\n"), "whitespace"),
            (SEED.to_string(), "32 bytes"),
            (format!("{SEED}{}", "00".repeat(32)), "public half"),
            ("zz".repeat(64), "not hex"),
        ];
        for (text, want) in cases {
            let err = Identity::parse(text.as_bytes()).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn new_files_round_trip_and_are_never_overwritten() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(IDENTITY_FILE);
        let id = Identity::generate()?;
        id.write_new(&path)?;
        assert_eq!(Identity::load(&path)?.node_id(), id.node_id());
        let mode = std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&path)?.permissions());
        assert_eq!(mode & 0o777, 0o600);
        let other = Identity::generate()?;
        assert_ne!(other.node_id(), id.node_id());
        assert!(other.write_new(&path).is_err());
        assert_eq!(Identity::load(&path)?.node_id(), id.node_id());
        assert_eq!(fs::read_dir(dir.path())?.count(), 1, "no temporary file left");
        Ok(())
    }
}
