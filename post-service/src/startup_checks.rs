//! What the service checks before it dials the node: the data directory must be one the node can use.
//!
//! ```text
//! 1. open it under a shared lock          -> refused while a writer (post init) holds it
//! 2. every file complete                  -> refused for an incomplete directory
//! 3. a VRF nonce in the metadata          -> refused without one (the node fails or crashes on it)
//! 4. --min-num-units <= units <= --max    -> refused outside
//! 5. label 0 recomputed with -n -r -p     -> refused when it differs from the stored one: the data was
//!    equals the stored label 0               written with other scrypt parameters
//! ```

use std::io::Read as _;
use std::path::Path;

use post_core::{LabelIndex, Layout, LockMode, PostData, ScryptParams, LABEL_SIZE};

use crate::Error;

/// The limits the data must meet.
#[derive(Debug, Clone, Copy)]
pub struct DataLimits {
    /// `--min-num-units`.
    pub min_num_units: u32,
    /// `--max-num-units`.
    pub max_num_units: u32,
    /// `-n -r -p`.
    pub scrypt: ScryptParams,
}

/// Opens `dir` and runs the checks of the module doc.
///
/// # Errors
/// [`Error::Data`] naming the directory and the problem (locked, incomplete, no metadata...),
/// [`Error::NoVrfNonce`], [`Error::UnitsOutOfRange`], [`Error::ScryptMismatch`], or
/// [`Error::Io`] when label 0 cannot be read.
pub fn open_checked(dir: &Path, limits: &DataLimits) -> Result<PostData, Error> {
    let data_error = |source: post_core::Error| Error::Data { dir: dir.to_owned(), source };
    // Steps 1 and 2.
    let data = PostData::open(dir, LockMode::Shared).map_err(data_error)?;
    data.require_complete().map_err(data_error)?;
    let meta = data.metadata();
    // Step 3.
    if meta.nonce.is_none() {
        return Err(Error::NoVrfNonce);
    }
    // Step 4.
    if meta.num_units < limits.min_num_units || meta.num_units > limits.max_num_units {
        return Err(Error::UnitsOutOfRange {
            units: meta.num_units,
            min: limits.min_num_units,
            max: limits.max_num_units,
        });
    }
    // Step 5.
    let path = Layout::file_path(dir, 0);
    let mut stored = [0u8; LABEL_SIZE as usize];
    std::fs::File::open(&path)
        .and_then(|mut f| f.read_exact(&mut stored))
        .map_err(|source| Error::Io { what: format!("reading label 0 from {}", path.display()), source })?;
    let computed = post_oracle::label16(&meta.commitment(), limits.scrypt, LabelIndex(0))
        .map_err(|e| Error::Label { reason: e.to_string() })?;
    if computed != stored {
        return Err(Error::ScryptMismatch { path, n: limits.scrypt.n(), r: limits.scrypt.r(), p: limits.scrypt.p() });
    }
    Ok(data)
}
