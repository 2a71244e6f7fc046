//! The one error type of the library. Every variant renders as a single line
//! that names the file, the field and what was expected, because these lines
//! are what a user sees when a config or model is wrong.

use std::path::PathBuf;

/// Every error of the simulator: each names the file, the field and what
/// was expected, so a user can fix the input.
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

/// A result with the simulator's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A value out of range: file, field, the value given, what is expected.
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
    let options = ron::Options::default().with_default_extension(extensions);
    options.from_str::<T>(text).map_err(|e| {
        let (line, col) = (e.span.start.line, e.span.start.col);
        let msg = match (&e.code, number_at(text, line, col)) {
            (ron::Error::IntegerOutOfBounds, Some((field, literal))) => {
                let range = integer_range::<T>(&options, text, &e.span, &literal)
                    .unwrap_or("the field's range");
                format!("{field} = {literal}: expected a whole number in {range}")
            }
            (code, Some((field, literal))) => format!("{field} = {literal}: {code}"),
            (code, None) => code.to_string(),
        };
        Error::Parse {
            path: path.to_string(),
            line,
            col,
            msg,
        }
    })
}

/// The byte offset of a 1-based line and column (in characters).
fn number_offset(text: &str, line: usize, col: usize) -> Option<usize> {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.checked_sub(1)?)
        .map(str::len)
        .sum();
    let in_line: usize = text
        .get(line_start..)?
        .chars()
        .take(col.checked_sub(1)?)
        .map(char::len_utf8)
        .sum();
    Some((line_start + in_line).min(text.len()))
}

/// The field name and the number at a 1-based line and column of a RON
/// text, when a number is there (ron's messages about numbers name
/// neither).
fn number_at(text: &str, line: usize, col: usize) -> Option<(String, String)> {
    let offset = number_offset(text, line, col)?;
    let (before, after) = text.split_at(offset);
    // ron points after a minus sign.
    let (before, sign) = match before.strip_suffix('-') {
        Some(b) => (b, "-"),
        None => (before, ""),
    };
    let digits: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
        .collect();
    if !digits.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let field = before.rfind(':').map(|i| {
        let name = before[..i].trim_end();
        let start = name
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |j| j + 1);
        name[start..].to_string()
    });
    Some((
        field
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "value".into()),
        format!("{sign}{digits}"),
    ))
}

/// The range of the integer field a too-large literal is in, found by
/// parsing again with probe values in its place (ron does not say the
/// type); small texts only.
fn integer_range<T: serde::de::DeserializeOwned>(
    options: &ron::Options,
    text: &str,
    span: &ron::error::Span,
    literal: &str,
) -> Option<&'static str> {
    const UNSIGNED: [(&str, &str); 4] = [
        ("255", "0 ..= 255"),
        ("65535", "0 ..= 65535"),
        ("4294967295", "0 ..= 4294967295"),
        ("18446744073709551615", "0 ..= 18446744073709551615"),
    ];
    const SIGNED: [(&str, &str); 4] = [
        ("127", "-128 ..= 127"),
        ("32767", "-32768 ..= 32767"),
        ("2147483647", "-2147483648 ..= 2147483647"),
        (
            "9223372036854775807",
            "-9223372036854775808 ..= 9223372036854775807",
        ),
    ];
    if text.len() > 1 << 20 {
        return None;
    }
    let start = number_offset(text, span.start.line, span.start.col)?;
    // The literal as written starts at the sign; ron's span after it.
    let from = start - (literal.starts_with('-') as usize);
    let to = start + literal.trim_start_matches('-').len();
    let fits = |probe: &str| {
        let candidate = format!("{}{probe}{}", &text[..from], &text[to..]);
        match options.from_str::<T>(&candidate) {
            Ok(_) => true,
            Err(e) => {
                !(matches!(e.code, ron::Error::IntegerOutOfBounds)
                    && e.span.start.line == span.start.line)
            }
        }
    };
    let table = if fits("-1") { SIGNED } else { UNSIGNED };
    table.iter().rev().find(|(p, _)| fits(p)).map(|(_, r)| *r)
}

/// Largest text file (config, sweep, report, RON model) read whole.
pub const MAX_TEXT_BYTES: u64 = 1 << 30;

/// Opens `path` for reading whole, refusing what is not a regular file (a
/// device like `/dev/zero` would be read for ever) and files over `cap`.
fn open_regular(path: &std::path::Path, cap: u64) -> Result<(std::fs::File, u64)> {
    let err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    if !meta.is_file() {
        return Err(err(std::io::Error::other(
            "not a regular file (a directory, device, fifo or socket)",
        )));
    }
    if meta.len() > cap {
        return Err(err(std::io::Error::other(format!(
            "{} bytes, more than the {cap} this kind of file may have",
            meta.len()
        ))));
    }
    Ok((std::fs::File::open(path).map_err(err)?, meta.len()))
}

/// Reads a whole regular file of at most `cap` bytes (a file growing
/// while it is read is cut there and refused).
pub fn read_bytes_capped(path: &std::path::Path, cap: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let (file, len) = open_regular(path, cap)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > cap {
        return Err(Error::Read {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!("grew past {cap} bytes while read")),
        });
    }
    Ok(bytes)
}

/// Reads a whole model file (binary or text): at most what the machine has
/// available.
pub fn read_bytes(path: &std::path::Path) -> Result<Vec<u8>> {
    read_bytes_capped(path, crate::limits::available_bytes())
}

/// Reads a whole text file (at most `MAX_TEXT_BYTES`).
pub fn read_file(path: &std::path::Path) -> Result<String> {
    let bytes = read_bytes_capped(path, MAX_TEXT_BYTES)?;
    String::from_utf8(bytes).map_err(|e| Error::Read {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// Writes an output. A regular file (or a new path) is written through a
/// temporary file and a rename, so a crash or a full disk never leaves a
/// half-written report where a good one was; a symbolic link is followed
/// and its target replaced that way; a device or fifo is written to as it
/// is (never replaced by a regular file); a directory is refused.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let target = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(path) {
            Ok(real) => real,
            // A dangling link: writing through it creates its target.
            Err(_) => return std::fs::write(path, bytes).map_err(err),
        },
        _ => path.to_path_buf(),
    };
    match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => {
            return Err(err(std::io::Error::other("is a directory")));
        }
        Ok(m) if !m.is_file() => {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(err)?;
            return f.write_all(bytes).and_then(|_| f.flush()).map_err(err);
        }
        _ => {}
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, &target).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("neurocycle-io-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_go_through_links_and_fifos_and_never_replace_them() {
        let d = scratch("write");
        // A symbolic link: the target is replaced, the link stays a link.
        let target = d.join("target.json");
        std::fs::write(&target, "old").unwrap();
        let link = d.join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        // A fifo: written to as it is, read by another thread, still a fifo.
        let fifo = d.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let reader = {
                let fifo = fifo.clone();
                std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
            };
            write_atomic(&fifo, b"through").unwrap();
            assert_eq!(reader.join().unwrap(), "through");
            use std::os::unix::fs::FileTypeExt;
            assert!(std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo());
            // Reading a fifo where a file is expected is refused at once.
            let e = read_file(&fifo).unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
        }
        // A directory is refused; a new path is created.
        assert!(write_atomic(&d, b"x").is_err());
        write_atomic(&d.join("sub/new.txt"), b"made").unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("sub/new.txt")).unwrap(),
            "made"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn reads_are_capped_and_refuse_what_is_not_a_file() {
        let d = scratch("read");
        let big = d.join("big.ron");
        std::fs::write(&big, vec![b' '; 100]).unwrap();
        let e = read_bytes_capped(&big, 10).unwrap_err().to_string();
        assert!(e.contains("100 bytes") && e.contains("10"), "{e}");
        assert_eq!(read_bytes_capped(&big, 100).unwrap().len(), 100);
        let e = read_file(&d).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read_file(std::path::Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let v: (u32, u32) = parse_ron("bom.ron", "\u{feff}(1, 2)").unwrap();
        assert_eq!(v, (1, 2));
    }
}
