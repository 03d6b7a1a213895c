//! `postdata_metadata.json`, the description of a data directory (spec §4.2), read and written so that
//! the Go tools (postcli, go-spacemesh) and the Rust tools (post-rs) both accept it.
//!
//! Reading accepts what either tool writes: PascalCase keys in any order and whitespace, ids in padded
//! standard base64, `Nonce` and `LastPosition` absent or `null`, `NonceValue` as hex (Go only). Keys this
//! crate does not know are kept and written back unchanged.
//!
//! Writing follows post-rs: two-space indent, no trailing newline, `Nonce` and `LastPosition` written as
//! `null` when unknown (Go reads `null` into its `*uint64` as nil, and post-rs writes exactly this, so a
//! directory made by post-rs is rewritten byte for byte), `NonceValue` as lowercase hex and omitted when
//! unknown (as Go does). The write is atomic:
//!
//! ```text
//! 1. write the JSON to `.postdata_metadata.json.tmp` in the same directory
//! 2. fsync the temporary file
//! 3. rename it over `postdata_metadata.json`
//! 4. fsync the directory, so the rename survives a power loss
//! ```

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{b64, commitment, AtxId, Commitment, Error, InitConfig, Layout, NodeId};

/// The metadata file's name inside a data directory.
pub const METADATA_FILE: &str = "postdata_metadata.json";

/// The temporary name a new metadata file is written under before the rename.
const TEMP_FILE: &str = ".postdata_metadata.json.tmp";

/// The contents of `postdata_metadata.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct PostMetadata {
    /// The smesher's node id (`NodeId`).
    pub node_id: NodeId,
    /// The commitment ATX id (`CommitmentAtxId`).
    pub commitment_atx_id: AtxId,
    /// Labels per space unit (`LabelsPerUnit`).
    pub labels_per_unit: u64,
    /// Space units (`NumUnits`).
    pub num_units: u32,
    /// Largest file size in bytes, a multiple of 16 (`MaxFileSize`).
    pub max_file_size: u64,
    /// The VRF nonce: a label index whose full label is below the VRF difficulty (`Nonce`).
    pub nonce: Option<u64>,
    /// The first 16 bytes of the nonce's label (`NonceValue`, written by Go only).
    pub nonce_value: Option<[u8; 16]>,
    /// Where the nonce search beyond the data stopped (`LastPosition`, Go only).
    pub last_position: Option<u64>,
    /// Keys this crate does not know, kept so that a rewrite loses nothing.
    unknown: Map<String, Value>,
}

/// The metadata as written, in the order post-rs and Go write their keys.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Wire<'a> {
    node_id: String,
    commitment_atx_id: String,
    labels_per_unit: u64,
    num_units: u32,
    max_file_size: u64,
    nonce: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce_value: Option<String>,
    last_position: Option<u64>,
    #[serde(flatten)]
    unknown: &'a Map<String, Value>,
}

/// Most data files a metadata may describe: 2^22 files are 16 PiB at the network's 4 GiB per file. A
/// forged `MaxFileSize` of 16 bytes would otherwise describe billions of files, and opening the
/// directory would reserve memory for each.
pub const MAX_FILES: u32 = 1 << 22;

/// Largest metadata file read: the network's is a few hundred bytes.
const MAX_METADATA_BYTES: u64 = 1 << 20;

/// Reads at most [`MAX_METADATA_BYTES`] + 1 bytes of `path`, so that the caller can tell an oversized file.
fn read_capped(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    fs::File::open(path)?.take(MAX_METADATA_BYTES + 1).read_to_string(&mut text)?;
    Ok(text)
}

impl PostMetadata {
    /// Metadata for a new data directory of `num_units` units shaped by `init`; no nonce yet.
    pub fn new(node_id: NodeId, commitment_atx_id: AtxId, init: &InitConfig, num_units: u32) -> Self {
        Self {
            node_id,
            commitment_atx_id,
            labels_per_unit: init.labels_per_unit,
            num_units,
            max_file_size: init.max_file_size,
            nonce: None,
            nonce_value: None,
            last_position: None,
            unknown: Map::new(),
        }
    }

    /// The path of the metadata file in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(METADATA_FILE)
    }

    /// Total labels: `LabelsPerUnit · NumUnits` (saturating; exact for any metadata that passed
    /// [`PostMetadata::validate`]).
    pub fn num_labels(&self) -> u64 {
        self.labels_per_unit.saturating_mul(u64::from(self.num_units))
    }

    /// BLAKE3(node id ‖ commitment ATX id), the identity every label derives from.
    pub fn commitment(&self) -> Commitment {
        commitment(&self.node_id, &self.commitment_atx_id)
    }

    /// The file layout of the data.
    ///
    /// # Errors
    /// As [`PostMetadata::validate`].
    pub fn layout(&self) -> Result<Layout, Error> {
        self.checked_layout(Path::new(METADATA_FILE))
    }

    /// Keys of the file this crate does not interpret, sorted by name. They are written back after the
    /// known keys; a number in them beyond what an `f64` holds exactly is written back rounded.
    pub fn unknown_keys(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.unknown.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Checks the values: units and labels per unit at least 1, `MaxFileSize` a positive multiple of 16,
    /// and the data's size and file count representable.
    ///
    /// # Errors
    /// [`Error::Metadata`] naming the field at fault.
    pub fn validate(&self) -> Result<(), Error> {
        self.checked_layout(Path::new(METADATA_FILE)).map(|_| ())
    }

    fn checked_layout(&self, path: &Path) -> Result<Layout, Error> {
        let bad = |field, reason: String| Error::Metadata { path: path.to_owned(), field, reason };
        if self.labels_per_unit == 0 {
            return Err(bad("LabelsPerUnit", "is 0; it must be at least 1".into()));
        }
        if self.num_units == 0 {
            return Err(bad("NumUnits", "is 0; it must be at least 1".into()));
        }
        if self.max_file_size == 0 || !self.max_file_size.is_multiple_of(16) {
            return Err(bad("MaxFileSize", format!("{} is not a positive multiple of 16", self.max_file_size)));
        }
        let num_labels = self.labels_per_unit.checked_mul(u64::from(self.num_units)).ok_or_else(|| {
            bad(
                "NumUnits",
                format!("{} units × {} labels per unit overflows 64 bits", self.num_units, self.labels_per_unit),
            )
        })?;
        let layout = Layout::new(num_labels, self.max_file_size).map_err(|e| match e {
            Error::InvalidParam { reason, .. } => bad("NumUnits", reason),
            other => other,
        })?;
        Ok(layout)
    }

    /// On reading and saving: a layout of more than [`MAX_FILES`] files is refused (a forged tiny
    /// `MaxFileSize`). `validate` does not apply it, so that `post init` reports a size that does not
    /// fit the disk as such before anything is saved.
    fn check_file_count(&self, layout: &Layout, path: &Path) -> Result<(), Error> {
        if layout.num_files() <= MAX_FILES {
            return Ok(());
        }
        Err(Error::Metadata {
            path: path.to_owned(),
            field: "MaxFileSize",
            reason: format!(
                "{} bytes per file makes {} files for {} labels, more than {MAX_FILES}: not a layout any tool \
                 writes",
                self.max_file_size,
                layout.num_files(),
                layout.num_labels()
            ),
        })
    }

    /// Reads and checks `postdata_metadata.json` in `dir`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, [`Error::MetadataJson`] when it is not a JSON object,
    /// [`Error::Metadata`] naming the field that is missing, of the wrong type, badly encoded or out of
    /// range.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let path = Self::path(dir);
        let text = read_capped(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound if !dir.is_dir() => {
                Error::NotPostData { dir: dir.to_owned(), reason: "it does not exist or is not a directory" }
            }
            std::io::ErrorKind::NotFound => {
                Error::NotPostData { dir: dir.to_owned(), reason: "it has no postdata_metadata.json" }
            }
            _ => Error::Io { path: path.clone(), source },
        })?;
        if text.len() as u64 > MAX_METADATA_BYTES {
            return Err(Error::MetadataJson {
                path,
                reason: format!("larger than {MAX_METADATA_BYTES} bytes: not a metadata file"),
            });
        }
        Self::from_json(&text, &path)
    }

    /// Parses metadata JSON; `path` is only used in error messages.
    ///
    /// # Errors
    /// As [`PostMetadata::load`].
    pub fn from_json(text: &str, path: &Path) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::MetadataJson { path: path.to_owned(), reason: e.to_string() })?;
        let Value::Object(mut map) = value else {
            return Err(Error::MetadataJson { path: path.to_owned(), reason: "the top level is not an object".into() });
        };
        let mut fields = Fields { map: &mut map, path };
        let node_id = NodeId(fields.base64_id("NodeId")?);
        let commitment_atx_id = AtxId(fields.base64_id("CommitmentAtxId")?);
        let labels_per_unit = fields.required_u64("LabelsPerUnit")?;
        let num_units = fields.required_u64("NumUnits")?;
        let num_units = u32::try_from(num_units)
            .map_err(|_| fields.bad("NumUnits", format!("{num_units} does not fit in 32 bits")))?;
        let max_file_size = fields.required_u64("MaxFileSize")?;
        let nonce = fields.optional_u64("Nonce")?;
        let nonce_value = fields.nonce_value()?;
        let last_position = fields.optional_u64("LastPosition")?;
        let metadata = Self {
            node_id,
            commitment_atx_id,
            labels_per_unit,
            num_units,
            max_file_size,
            nonce,
            nonce_value,
            last_position,
            unknown: map,
        };
        let layout = metadata.checked_layout(path)?;
        metadata.check_file_count(&layout, path)?;
        Ok(metadata)
    }

    /// The JSON text as written by [`PostMetadata::save`].
    ///
    /// # Errors
    /// [`Error::MetadataJson`] if serialization fails (it cannot for these field types).
    pub fn to_json(&self) -> Result<String, Error> {
        let wire = Wire {
            node_id: b64::encode(self.node_id.as_bytes()),
            commitment_atx_id: b64::encode(self.commitment_atx_id.as_bytes()),
            labels_per_unit: self.labels_per_unit,
            num_units: self.num_units,
            max_file_size: self.max_file_size,
            nonce: self.nonce,
            nonce_value: self.nonce_value.map(hex::encode),
            last_position: self.last_position,
            unknown: &self.unknown,
        };
        serde_json::to_string_pretty(&wire)
            .map_err(|e| Error::MetadataJson { path: PathBuf::from(METADATA_FILE), reason: e.to_string() })
    }

    /// Checks the metadata and writes it atomically to `dir` (see the module doc).
    ///
    /// # Errors
    /// [`Error::Metadata`] when a field is invalid (nothing is written), [`Error::Io`] naming the file or
    /// directory when a write, sync or rename fails.
    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        let path = Self::path(dir);
        // Never write what a later read would refuse.
        let layout = self.checked_layout(&path)?;
        self.check_file_count(&layout, &path)?;
        let text = self.to_json()?;
        let temp = dir.join(TEMP_FILE);
        let io = |p: &Path| {
            let p = p.to_owned();
            move |source| Error::io(p, source)
        };
        let mut file = File::create(&temp).map_err(io(&temp))?;
        file.write_all(text.as_bytes()).map_err(io(&temp))?;
        file.sync_all().map_err(io(&temp))?;
        drop(file);
        fs::rename(&temp, &path).map_err(io(&path))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
    }
}

/// Takes the known keys out of the parsed object, with errors naming the file and key.
struct Fields<'a> {
    map: &'a mut Map<String, Value>,
    path: &'a Path,
}

impl Fields<'_> {
    fn bad(&self, field: &'static str, reason: String) -> Error {
        Error::Metadata { path: self.path.to_owned(), field, reason }
    }

    /// Removes a key; `null` counts as absent.
    fn take(&mut self, field: &'static str) -> Option<Value> {
        self.map.remove(field).filter(|v| !v.is_null())
    }

    fn required(&mut self, field: &'static str) -> Result<Value, Error> {
        self.take(field).ok_or_else(|| self.bad(field, "is missing".into()))
    }

    fn base64_id(&mut self, field: &'static str) -> Result<[u8; 32], Error> {
        match self.required(field)? {
            Value::String(text) => b64::decode_exact::<32>(&text).map_err(|reason| self.bad(field, reason)),
            other => Err(self.bad(field, format!("{other} is not a base64 string"))),
        }
    }

    fn as_u64(&self, field: &'static str, value: &Value) -> Result<u64, Error> {
        value.as_u64().ok_or_else(|| self.bad(field, format!("{value} is not an integer in 0..2^64")))
    }

    fn required_u64(&mut self, field: &'static str) -> Result<u64, Error> {
        let value = self.required(field)?;
        self.as_u64(field, &value)
    }

    fn optional_u64(&mut self, field: &'static str) -> Result<Option<u64>, Error> {
        self.take(field).map(|v| self.as_u64(field, &v)).transpose()
    }

    /// `NonceValue`: 32 hex digits (Go writes lowercase); an empty string counts as absent.
    fn nonce_value(&mut self) -> Result<Option<[u8; 16]>, Error> {
        const FIELD: &str = "NonceValue";
        match self.take(FIELD) {
            None => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => {
                let bytes = hex::decode(&text).map_err(|e| self.bad(FIELD, format!("{text:?} is not hex: {e}")))?;
                <[u8; 16]>::try_from(bytes.as_slice())
                    .map(Some)
                    .map_err(|_| self.bad(FIELD, format!("{text:?} is {} bytes, expected 16", bytes.len())))
            }
            Some(other) => Err(self.bad(FIELD, format!("{other} is not a hex string"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_EXAMPLE: &str =
        "{\n\t\"NodeId\": \"hBGTHs44tav7YR87sRVafuzZwObCZnK1Z/exYpxwqSQ=\",\n\t\"CommitmentAtxId\": \
                              \"ZuxocVjIYWfv7A/K1Lmm8+mNsHzAZaWVpbl5+KINx+I=\",\n\t\"LabelsPerUnit\": 4294967296,\n\t\
                              \"NumUnits\": 4,\n\t\"MaxFileSize\": 4294967296,\n\t\"Nonce\": 12345,\n\t\"NonceValue\": \
                              \"0000488e171389cce69344d68b66f6b4\"\n}";

    fn parse(text: &str) -> Result<PostMetadata, Error> {
        PostMetadata::from_json(text, Path::new("dir/postdata_metadata.json"))
    }

    fn with(key: &str, value: &str) -> String {
        let mut v: Value = serde_json::from_str(GO_EXAMPLE).unwrap_or_default();
        if value.is_empty() {
            v.as_object_mut().map(|m| m.remove(key));
        } else {
            v[key] = serde_json::from_str(value).unwrap_or_default();
        }
        v.to_string()
    }

    fn field_error(text: &str) -> (String, String) {
        match parse(text) {
            Err(Error::Metadata { field, reason, .. }) => (field.to_owned(), reason),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn go_example_parses() {
        let m = parse(GO_EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((m.labels_per_unit, m.num_units, m.max_file_size, m.nonce), (1 << 32, 4, 1 << 32, Some(12345)));
        assert_eq!(m.nonce_value.map(hex::encode).as_deref(), Some("0000488e171389cce69344d68b66f6b4"));
        assert_eq!(m.last_position, None);
        assert_eq!(m.num_labels(), 1 << 34);
        assert_eq!(m.layout().map(|l| l.num_files()).ok(), Some(64));
    }

    #[test]
    fn every_field_error_names_the_field() {
        let cases = [
            ("NodeId", ""),
            ("NodeId", "\"AAAA\""),
            ("NodeId", "\"??\""),
            ("NodeId", "7"),
            ("CommitmentAtxId", "null"),
            ("LabelsPerUnit", "-1"),
            ("LabelsPerUnit", "0"),
            ("LabelsPerUnit", "1.5"),
            ("NumUnits", "4294967296"),
            ("NumUnits", "0"),
            ("MaxFileSize", "100"),
            ("MaxFileSize", "0"),
            ("MaxFileSize", "\"16\""),
            // 2^34 labels in files of 64 labels: 2^28 files, a forged layout.
            ("MaxFileSize", "1024"),
            ("Nonce", "\"x\""),
            ("NonceValue", "\"00\""),
            ("NonceValue", "\"zz\""),
            ("NonceValue", "5"),
            ("LastPosition", "true"),
        ];
        for (key, value) in cases {
            let (field, reason) = field_error(&with(key, value));
            assert_eq!(field, key, "{key}={value}: {reason}");
        }
        let (field, reason) = field_error(&with("LabelsPerUnit", "18446744073709551615"));
        assert_eq!(field, "NumUnits", "{reason}");
        assert!(matches!(parse("[1]"), Err(Error::MetadataJson { .. })));
        assert!(matches!(parse("{\"NodeId\": "), Err(Error::MetadataJson { .. })));
    }

    #[test]
    fn absent_and_null_are_the_same() {
        let null = parse(&with("Nonce", "null")).unwrap_or_else(|e| panic!("{e}"));
        let absent = parse(&with("Nonce", "")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((null.nonce, absent.nonce), (None, None));
        assert_eq!(null, absent);
        assert_eq!(parse(&with("NonceValue", "\"\"")).ok().and_then(|m| m.nonce_value), None);
    }

    #[test]
    fn unknown_keys_survive_a_rewrite() {
        let text = with("Provider", "{\"id\": 3}");
        let m = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.unknown_keys().map(|(k, _)| k).collect::<Vec<_>>(), ["Provider"]);
        let text = m.to_json().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parse(&text).ok(), Some(m));
        assert!(text.contains("\"Provider\": {"), "{text}");
    }

    #[test]
    fn writes_as_post_rs_does() {
        let init = crate::Preset::Dev.init_config();
        let mut m = PostMetadata::new(NodeId([0x77; 32]), AtxId([0x11; 32]), &init, 2);
        let text = m.to_json().unwrap_or_default();
        assert!(text.starts_with("{\n  \"NodeId\": \"d3d3"), "{text}");
        assert!(text.contains("\"Nonce\": null") && text.contains("\"LastPosition\": null"), "{text}");
        assert!(!text.contains("NonceValue") && !text.ends_with('\n'), "{text}");
        m.nonce_value = Some([0xab; 16]);
        assert!(m.to_json().unwrap_or_default().contains(&format!("\"NonceValue\": \"{}\"", "ab".repeat(16))));
    }

    #[test]
    fn save_is_atomic_and_refuses_invalid_metadata() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut m = parse(GO_EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
        m.save(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(PostMetadata::load(dir.path()).ok(), Some(m.clone()));
        assert!(!dir.path().join(TEMP_FILE).exists());
        m.max_file_size = 17;
        assert!(matches!(m.save(dir.path()), Err(Error::Metadata { field: "MaxFileSize", .. })));
        assert_eq!(PostMetadata::load(dir.path()).map(|m| m.max_file_size).ok(), Some(1 << 32));
        let missing = PostMetadata::load(&dir.path().join("nope"));
        assert!(matches!(&missing, Err(Error::NotPostData { dir, .. }) if dir.ends_with("nope")), "{missing:?}");
        let empty = PostMetadata::load(&std::env::temp_dir()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(empty.contains("no postdata_metadata.json"), "{empty}");
    }

    #[test]
    fn an_oversized_metadata_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // Valid JSON with a 2 MiB field: refused for its size, naming the file.
        let text = GO_EXAMPLE.replacen('{', &format!("{{\"Padding\": \"{}\",", "x".repeat(2 << 20)), 1);
        fs::write(dir.path().join(METADATA_FILE), text).unwrap_or_else(|e| panic!("{e}"));
        let err = PostMetadata::load(dir.path()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains(METADATA_FILE) && err.contains("larger than"), "{err}");
    }
}
