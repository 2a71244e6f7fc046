//! The IDX format of MNIST-style data sets (optionally gzip-compressed):
//! two zero bytes, a type byte (0x08 = unsigned byte, the only one these
//! sets use), the number of dimensions, each dimension as a big-endian
//! u32, then the data, row-major.

use crate::error::{Error, Result};
use std::io::Read;

/// A decoded IDX file of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Decompresses `bytes` if they are gzip, leaves them alone otherwise.
fn gunzip(bytes: &[u8], file: &str) -> Result<Vec<u8>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| {
                Error::invalid(
                    file,
                    "gzip stream",
                    format!("corrupt ({e})"),
                    "a complete gzip file",
                )
            })?;
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

/// Parses an IDX file's bytes; `file` names it in errors.
pub fn parse(bytes: &[u8], file: &str) -> Result<Idx> {
    let raw = gunzip(bytes, file)?;
    if raw.len() < 4 || raw[0] != 0 || raw[1] != 0 {
        return Err(Error::invalid(
            file,
            "magic number",
            format!("{:02x?}", &raw[..raw.len().min(4)]),
            "00 00 08 NN (an IDX file of unsigned bytes)",
        ));
    }
    if raw[2] != 0x08 {
        return Err(Error::invalid(
            file,
            "IDX type byte",
            format!("0x{:02x}", raw[2]),
            "0x08 (unsigned byte)",
        ));
    }
    let n_dims = raw[3] as usize;
    let header = 4 + 4 * n_dims;
    if n_dims == 0 || raw.len() < header {
        return Err(Error::invalid(
            file,
            "header",
            format!("{} bytes with {n_dims} dimensions", raw.len()),
            format!("at least {header} bytes and one dimension"),
        ));
    }
    let dims: Vec<usize> = (0..n_dims)
        .map(|i| {
            let b = &raw[4 + 4 * i..8 + 4 * i];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let expected = dims.iter().product::<usize>();
    let found = raw.len() - header;
    if found != expected {
        return Err(Error::invalid(
            file,
            "data",
            format!("{found} bytes"),
            format!(
                "{expected} bytes for dimensions {dims:?} ({})",
                if found < expected {
                    "the file is truncated"
                } else {
                    "trailing bytes"
                }
            ),
        ));
    }
    Ok(Idx {
        dims,
        data: raw[header..].to_vec(),
    })
}

/// Serializes bytes as an IDX file (used by tests to make bad files).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend((*d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}
