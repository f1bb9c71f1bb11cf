//! wgrib2 inventories (`.idx` files): `n:offset:d=YYYYMMDDHH:VAR:level:forecast:`.

use crate::FormatError;
use hod_core::Format;

/// One line of a wgrib2 inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxEntry {
    /// Message number as written (`1`, or `3.2` for the second field of message 3).
    pub n: String,
    /// Byte offset of the message in the GRIB file.
    pub offset: u64,
    /// Reference date as written after `d=` (`2022101400`).
    pub date: String,
    /// wgrib2 variable name (`TMP`, `APCP`).
    pub var: String,
    /// Level description (`2 m above ground`).
    pub level: String,
    /// Forecast description (`anl`, `6 hour fcst`, `18-21 hour acc fcst`).
    pub forecast: String,
}

/// Parses the text of a wgrib2 `.idx` inventory; blank lines are ignored.
///
/// # Errors
/// [`FormatError::Corrupt`] naming the line that has too few fields or a bad offset.
pub fn parse_idx(text: &str) -> Result<Vec<IdxEntry>, FormatError> {
    let bad = |line: usize, what: String| FormatError::Corrupt {
        format: Format::Grib2,
        offset: line as u64,
        what: format!(".idx line {line}: {what}"),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.splitn(7, ':').collect();
        let [n, offset, date, var, level, forecast, ..] = f[..] else {
            return Err(bad(
                i + 1,
                format!("expected n:offset:d=date:VAR:level:forecast:, got {line:?}"),
            ));
        };
        let offset = offset
            .parse()
            .map_err(|_| bad(i + 1, format!("offset {offset:?} is not a number")))?;
        out.push(IdxEntry {
            n: n.to_string(),
            offset,
            date: date.strip_prefix("d=").unwrap_or(date).to_string(),
            var: var.to_string(),
            level: level.to_string(),
            forecast: forecast.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        let e = parse_idx(
            "1:0:d=2023082318:WIND:surface:1 hour fcst:\n\n2:41723:d=2023082318:WDIR:surface:1 hour fcst:\n",
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].offset, 41723);
        assert_eq!(e[1].date, "2023082318");
        assert_eq!(e[1].var, "WDIR");
        assert_eq!(e[1].level, "surface");
        assert_eq!(e[1].forecast, "1 hour fcst");
        assert!(parse_idx("1:x:d=1:A:b:c:").is_err());
        assert!(parse_idx("1:0:d=1").is_err());
    }
}
