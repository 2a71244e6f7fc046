//! The one error type of the library. Every variant renders as a single line
//! that names the file, the field and what was expected, because these lines
//! are what a user sees when a config or model is wrong.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{col}: {msg}")]
    Parse {
        path: String,
        line: usize,
        col: usize,
        msg: String,
    },
    /// A value outside its allowed range, or of the wrong kind.
    #[error("{file}: {field} = {value}: expected {expected}")]
    Invalid {
        file: String,
        field: String,
        value: String,
        expected: String,
    },
    /// The model does not fit the chip: names the parameter and the numbers.
    #[error("{file}: model does not fit: {msg}")]
    DoesNotFit { file: String, msg: String },
    /// The simulated chip stopped making progress (never expected on the
    /// feed-forward workloads of the IR; reported, never hung on).
    #[error("deadlock at cycle {cycle}: {msg}")]
    Deadlock { cycle: u64, msg: String },
    #[error("{0}")]
    Usage(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn invalid(
        file: &str,
        field: impl Into<String>,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> Error {
        Error::Invalid {
            file: file.to_string(),
            field: field.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// Checks `lo <= value <= hi` and names the field when it is not.
pub fn check_range<T: PartialOrd + std::fmt::Display>(
    file: &str,
    field: &str,
    value: T,
    lo: T,
    hi: T,
) -> Result<()> {
    if value < lo || value > hi {
        return Err(Error::invalid(
            file,
            field,
            &value,
            format!("{lo} ..= {hi}"),
        ));
    }
    Ok(())
}

/// Parses RON, mapping serde's error to a line that names the file and
/// position (unknown fields included, since every type denies them).
pub fn parse_ron<T: serde::de::DeserializeOwned>(path: &str, text: &str) -> Result<T> {
    parse_ron_ext(path, text, ron::extensions::Extensions::empty())
}

/// [`parse_ron`] with RON extensions on (e.g. `IMPLICIT_SOME`). A UTF-8
/// byte-order mark is skipped.
pub fn parse_ron_ext<T: serde::de::DeserializeOwned>(
    path: &str,
    text: &str,
    extensions: ron::extensions::Extensions,
) -> Result<T> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    ron::Options::default()
        .with_default_extension(extensions)
        .from_str::<T>(text)
        .map_err(|e| Error::Parse {
            path: path.to_string(),
            line: e.span.start.line,
            col: e.span.start.col,
            msg: e.code.to_string(),
        })
}

/// Reads a whole file as bytes.
pub fn read_bytes(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

pub fn read_file(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes through a temporary file and a rename, so a crash or a full disk
/// never leaves a half-written report where a good one was.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
