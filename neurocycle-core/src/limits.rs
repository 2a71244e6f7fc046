//! Memory a command may use: what the machine has available, or what the
//! user allows (`--max-memory`). Commands estimate what they will allocate
//! and refuse, with both numbers, before they allocate it.

use crate::error::{Error, Result};

/// Bytes of memory available to new allocations (Linux `MemAvailable`),
/// or 8 GiB where that cannot be read.
pub fn available_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(8 << 30, |kb| kb * 1024)
}

/// A size in bytes: a number with an optional K, M, G or T suffix (powers
/// of 1024), e.g. `512M`, `2G`, `1.5G`.
pub fn parse_size(flag: &str, s: &str) -> Result<u64> {
    let t = s.trim();
    let (num, scale) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * (scale as f64) < 1e18 => {
            Ok((v * scale as f64) as u64)
        }
        _ => Err(Error::invalid(
            "command line",
            flag,
            s,
            "a size in bytes > 0, optionally with K, M, G or T (e.g. 2G)",
        )),
    }
}

/// The limit of a command: `--max-memory` if given, else what is available.
pub fn max_bytes(flag: &str, given: Option<&str>) -> Result<u64> {
    match given {
        Some(s) => parse_size(flag, s),
        None => Ok(available_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes_and_refuse_nonsense() {
        assert_eq!(parse_size("f", "512").unwrap(), 512);
        assert_eq!(parse_size("f", "2K").unwrap(), 2048);
        assert_eq!(parse_size("f", "1.5g").unwrap(), 3 << 29);
        for bad in ["", "0", "-1G", "x", "NaN", "1e30T"] {
            let e = parse_size("--max-memory", bad).unwrap_err().to_string();
            assert!(e.contains("--max-memory"), "{e}");
        }
        assert!(available_bytes() > 0);
    }
}
