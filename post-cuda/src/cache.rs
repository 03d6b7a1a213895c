//! The on-disk kernel cache: one file per key, validated on every load, written atomically.
//!
//! A cache file is one header line and the image:
//! ```text
//! post-cuda-kernel-cache 2 cubin sm_90 1234567 <blake3 of the image, 64 hex digits>\n
//! <the image: 1234567 bytes>
//! ```
//! 1. Loading reads the file, parses the header and checks the format version, the kind, that exactly
//!    `length` bytes follow and that their BLAKE3 hash is the header's. Any failure (a torn write, a
//!    flipped byte, a file of another version, an unreadable file) is a [`CacheRejection`], never an
//!    error: the caller compiles again and overwrites the file, so a bad cache never disables the GPU.
//! 2. Writing goes to a temporary file in the same directory, which is flushed to disk (`fsync`) and
//!    then renamed over the final name, so a reader sees the old file or the whole new one.

use std::fmt;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, ImageKind, KernelImage};

/// The first word of every cache file.
const MAGIC: &str = "post-cuda-kernel-cache";

/// The version of the file format; files of any other version are compiled again.
pub(crate) const FORMAT: u32 = 2;

/// The longest header accepted (a real one is about 120 bytes).
const MAX_HEADER: usize = 512;

/// Why a cache file was not used (the kernels were compiled again and the file rewritten).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheRejection {
    /// The file could not be read (the I/O error's text).
    Unreadable(String),
    /// No complete header line: not a cache file, or torn inside the header.
    NoHeader,
    /// A header of another format version or another program.
    Format {
        /// The header as found (at most its first [`MAX_HEADER`] bytes).
        header: String,
    },
    /// The header is of this version but a field does not parse.
    BadHeader {
        /// The header as found.
        header: String,
    },
    /// The image is shorter or longer than the header says (a torn write).
    Length {
        /// Bytes the header announces.
        expected: u64,
        /// Bytes that follow the header.
        found: u64,
    },
    /// The image's BLAKE3 hash is not the header's (a corrupted byte).
    Hash,
}

impl fmt::Display for CacheRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheRejection::Unreadable(e) => write!(f, "unreadable: {e}"),
            CacheRejection::NoHeader => f.write_str("no complete header line"),
            CacheRejection::Format { header } => write!(f, "another format ({header:?}), expected version {FORMAT}"),
            CacheRejection::BadHeader { header } => write!(f, "malformed header {header:?}"),
            CacheRejection::Length { expected, found } => {
                write!(f, "torn: the header announces {expected} bytes, {found} follow")
            }
            CacheRejection::Hash => f.write_str("corrupt: the image's BLAKE3 hash is not the header's"),
        }
    }
}

/// Where a [`KernelImage`] came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CacheOutcome {
    /// No cache directory was given: compiled in this process.
    #[default]
    NoCache,
    /// Loaded from the cache file.
    Hit,
    /// No cache file yet: compiled and written.
    Miss,
    /// The cache file was unusable: compiled again and the file rewritten.
    Rejected(CacheRejection),
}

/// A cache file's bytes for an image: the header line, then the image.
pub(crate) fn encode(image: &KernelImage) -> Vec<u8> {
    let kind = match image.kind {
        ImageKind::Cubin => "cubin",
        ImageKind::Ptx => "ptx",
    };
    let hash = blake3::hash(&image.bytes).to_hex();
    let mut data = format!("{MAGIC} {FORMAT} {kind} {} {} {hash}\n", image.arch, image.bytes.len()).into_bytes();
    data.extend_from_slice(&image.bytes);
    data
}

/// The image a cache file holds, or why it cannot be used.
pub(crate) fn decode(bytes: &[u8]) -> Result<KernelImage, CacheRejection> {
    let head = &bytes[..bytes.len().min(MAX_HEADER)];
    let newline = head.iter().position(|&b| b == b'\n').ok_or(CacheRejection::NoHeader)?;
    let header = String::from_utf8_lossy(&head[..newline]).into_owned();
    let body = &bytes[newline + 1..];
    let fields: Vec<&str> = header.split(' ').collect();
    if fields.first() != Some(&MAGIC) || fields.get(1) != Some(&FORMAT.to_string().as_str()) {
        return Err(CacheRejection::Format { header });
    }
    let bad = || CacheRejection::BadHeader { header: header.clone() };
    let [_, _, kind, arch, length, hash] = fields.as_slice() else { return Err(bad()) };
    let kind = match *kind {
        "cubin" => ImageKind::Cubin,
        "ptx" => ImageKind::Ptx,
        _ => return Err(bad()),
    };
    let valid_arch = |prefix: &str| {
        arch.strip_prefix(prefix).is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    if !(valid_arch("sm_") || valid_arch("compute_")) {
        return Err(bad());
    }
    let expected: u64 = length.parse().map_err(|_| bad())?;
    let hash = blake3::Hash::from_hex(hash).map_err(|_| bad())?;
    let found = body.len() as u64;
    if found != expected {
        return Err(CacheRejection::Length { expected, found });
    }
    // blake3::Hash compares in constant time; speed is not the point here, equality is.
    if blake3::hash(body) != hash {
        return Err(CacheRejection::Hash);
    }
    Ok(KernelImage {
        arch: (*arch).to_string(),
        kind,
        bytes: body.to_vec(),
        log: String::new(),
        cache: CacheOutcome::Hit,
    })
}

/// Reads and validates a cache file: `None` when there is none, the rejection when it is unusable.
pub(crate) fn read(path: &Path) -> Option<Result<KernelImage, CacheRejection>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(decode(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(CacheRejection::Unreadable(e.to_string()))),
    }
}

/// Writes a cache file atomically: a temporary file in the same directory (created when missing),
/// flushed to disk, renamed over `path`, and the directory flushed so the rename lasts.
///
/// # Errors
/// [`Error::Cache`] naming the file or directory that could not be written.
pub(crate) fn write(dir: &Path, path: &Path, image: &KernelImage) -> Result<(), Error> {
    static TEMPS: AtomicU64 = AtomicU64::new(0);
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Cache { path, source }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    // Unique per process and call: two devices of one architecture may write the same file at once.
    let tmp = path.with_extension(format!("tmp{}-{}", std::process::id(), TEMPS.fetch_add(1, Ordering::Relaxed)));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&encode(image))?;
        file.sync_all()
    })();
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(path)(e));
    }
    // The rename is durable once the directory is; where a directory cannot be opened for that (some
    // platforms), the file is still whole, only possibly absent after a crash, which recompiles.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn image() -> KernelImage {
        KernelImage {
            arch: "sm_90".into(),
            kind: ImageKind::Cubin,
            bytes: (0..=255u8).chain([b'\n', 0, b'\n']).collect(),
            log: String::new(),
            cache: CacheOutcome::Hit,
        }
    }

    #[test]
    fn a_file_round_trips() {
        let data = encode(&image());
        let header = String::from_utf8_lossy(&data[..data.iter().position(|&b| b == b'\n').unwrap()]).into_owned();
        assert!(header.starts_with("post-cuda-kernel-cache 2 cubin sm_90 259 "), "{header}");
        assert_eq!(decode(&data), Ok(image()));
        let ptx = KernelImage { arch: "compute_89".into(), kind: ImageKind::Ptx, ..image() };
        assert_eq!(decode(&encode(&ptx)), Ok(ptx));
        let empty = KernelImage { bytes: Vec::new(), ..image() };
        assert_eq!(decode(&encode(&empty)), Ok(empty));
    }

    #[test]
    fn a_torn_file_is_rejected() {
        let data = encode(&image());
        let header_len = data.iter().position(|&b| b == b'\n').unwrap() + 1;
        // Torn inside the image, and right after the header.
        assert_eq!(decode(&data[..data.len() - 1]), Err(CacheRejection::Length { expected: 259, found: 258 }));
        assert_eq!(decode(&data[..header_len]), Err(CacheRejection::Length { expected: 259, found: 0 }));
        // Torn inside the header: no newline yet.
        assert_eq!(decode(&data[..header_len - 1]), Err(CacheRejection::NoHeader));
        assert_eq!(decode(&data[..10]), Err(CacheRejection::NoHeader));
        assert_eq!(decode(b""), Err(CacheRejection::NoHeader));
        // Too long, as if two writes were interleaved.
        let mut long = data.clone();
        long.push(0);
        assert_eq!(decode(&long), Err(CacheRejection::Length { expected: 259, found: 260 }));
    }

    #[test]
    fn a_flipped_byte_is_rejected() {
        let data = encode(&image());
        let header_len = data.iter().position(|&b| b == b'\n').unwrap() + 1;
        for at in [header_len, header_len + 100, data.len() - 1] {
            let mut bad = data.clone();
            bad[at] ^= 0x01;
            assert_eq!(decode(&bad), Err(CacheRejection::Hash), "byte {at}");
        }
        // A flipped hash digit.
        let mut bad = data.clone();
        let digit = header_len - 2;
        bad[digit] = if bad[digit] == b'0' { b'1' } else { b'0' };
        assert_eq!(decode(&bad), Err(CacheRejection::Hash));
    }

    #[test]
    fn other_versions_and_malformed_headers_are_rejected() {
        let data = encode(&image());
        let text = |d: &[u8]| d.to_vec();
        let with_header = |header: &str| {
            let body = &data[data.iter().position(|&b| b == b'\n').unwrap()..];
            [header.as_bytes(), body].concat()
        };
        // The format before this one: `cubin sm_90` then the image.
        let old = [b"cubin sm_90\n".as_slice(), &image().bytes].concat();
        assert!(matches!(decode(&old), Err(CacheRejection::Format { .. })));
        let hash = blake3::hash(&image().bytes).to_hex();
        let v3 = with_header(&format!("post-cuda-kernel-cache 3 cubin sm_90 259 {hash}"));
        assert!(matches!(decode(&v3), Err(CacheRejection::Format { ref header }) if header.contains(" 3 ")));
        for header in [
            format!("post-cuda-kernel-cache 2 elf sm_90 259 {hash}"),
            format!("post-cuda-kernel-cache 2 cubin sm_9x 259 {hash}"),
            format!("post-cuda-kernel-cache 2 cubin ../x 259 {hash}"),
            format!("post-cuda-kernel-cache 2 cubin sm_90 -1 {hash}"),
            format!("post-cuda-kernel-cache 2 cubin sm_90 259 {}", &hash[..63]),
            format!("post-cuda-kernel-cache 2 cubin sm_90 259 {hash} extra"),
            "post-cuda-kernel-cache 2 cubin sm_90".to_string(),
        ] {
            assert!(matches!(decode(&with_header(&header)), Err(CacheRejection::BadHeader { .. })), "{header}");
        }
        // A header line longer than any real one is not looked for past MAX_HEADER bytes.
        let long = text(&[vec![b'x'; MAX_HEADER], data.clone()].concat());
        assert_eq!(decode(&long), Err(CacheRejection::NoHeader));
    }

    #[test]
    fn rejections_say_why() {
        let cases = [
            (CacheRejection::Unreadable("denied".into()), "denied"),
            (CacheRejection::NoHeader, "header"),
            (CacheRejection::Format { header: "cubin sm_90".into() }, "version 2"),
            (CacheRejection::BadHeader { header: "x".into() }, "malformed"),
            (CacheRejection::Length { expected: 9, found: 3 }, "9 bytes, 3 follow"),
            (CacheRejection::Hash, "BLAKE3"),
        ];
        for (r, part) in cases {
            assert!(r.to_string().contains(part), "{r}");
        }
    }

    #[test]
    fn writes_are_whole_and_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("kernels");
        let file = sub.join("k.bin");
        write(&sub, &file, &image()).unwrap();
        write(&sub, &file, &image()).unwrap();
        assert_eq!(read(&file), Some(Ok(image())));
        assert_eq!(read(&sub.join("missing.bin")), None);
        let names: Vec<_> = std::fs::read_dir(&sub).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("k.bin")]);
        // A directory where the file should be: the rename fails, the error names the file, and the
        // temporary file is removed.
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        std::fs::write(file.join("x"), b"x").unwrap();
        let err = write(&sub, &file, &image()).unwrap_err();
        assert!(matches!(err, Error::Cache { ref path, .. } if path == &file), "{err}");
        assert_eq!(std::fs::read_dir(&sub).unwrap().count(), 1);
    }
}
