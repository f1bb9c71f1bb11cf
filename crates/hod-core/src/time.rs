//! CF time coordinates: `"<unit> since <epoch>"` units on the standard calendar.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};
use std::fmt::Write as _;

/// A CF time unit could not be understood.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum TimeError {
    /// The `units` attribute is not `<unit> since <date>`.
    #[error("time units {0:?} are not of the form '<unit> since <date>'")]
    Units(String),
    /// The calendar is one we cannot convert to real dates.
    #[error("calendar {0:?} is not supported (standard, gregorian, proleptic_gregorian, julian)")]
    Calendar(String),
    /// A value is outside the representable range.
    #[error("time value {0} is out of range")]
    Range(f64),
}

/// Parsed CF time units: values are `epoch + value × unit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CfTime {
    /// Seconds per unit.
    pub unit_seconds: f64,
    /// The reference date, in UTC.
    pub epoch: NaiveDateTime,
}

impl CfTime {
    /// Parses `units` (e.g. `hours since 1900-01-01 00:00:00.0`) with an optional `calendar`.
    pub fn parse(units: &str, calendar: Option<&str>) -> Result<Self, TimeError> {
        if let Some(cal) = calendar {
            let c = cal.trim().to_ascii_lowercase();
            // Julian-calendar labels (IMERG) are converted as Gregorian ones: the two calendars
            // count the same days between any two labels of 1901-03-01..2100-02-28, so the
            // labels come out as the file means them in that range.
            if !matches!(
                c.as_str(),
                "standard" | "gregorian" | "proleptic_gregorian" | "julian" | ""
            ) {
                return Err(TimeError::Calendar(cal.to_string()));
            }
        }
        let bad = || TimeError::Units(units.to_string());
        let (unit, since) = units.split_once(" since ").ok_or_else(bad)?;
        let unit_seconds = match unit.trim().to_ascii_lowercase().as_str() {
            "days" | "day" | "d" => 86400.0,
            "hours" | "hour" | "h" | "hr" | "hrs" => 3600.0,
            "minutes" | "minute" | "min" | "mins" => 60.0,
            "seconds" | "second" | "s" | "sec" | "secs" => 1.0,
            "milliseconds" | "millisecond" | "ms" => 1e-3,
            "microseconds" | "microsecond" | "us" => 1e-6,
            _ => return Err(bad()),
        };
        let epoch = parse_datetime(since.trim()).ok_or_else(bad)?;
        Ok(CfTime { unit_seconds, epoch })
    }

    /// Seconds since 1970-01-01T00:00:00 of a value in these units.
    pub fn unix_seconds(&self, value: f64) -> f64 {
        self.epoch.and_utc().timestamp() as f64 + value * self.unit_seconds
    }

    /// The date and time of a value in these units (to the millisecond).
    pub fn datetime(&self, value: f64) -> Result<NaiveDateTime, TimeError> {
        let ms = value * self.unit_seconds * 1000.0;
        if !ms.is_finite() || ms.abs() > 9.0e15 {
            return Err(TimeError::Range(value));
        }
        self.epoch
            .checked_add_signed(TimeDelta::milliseconds(ms.round() as i64))
            .ok_or(TimeError::Range(value))
    }
}

/// Formats seconds since the Unix epoch as ISO 8601 (`2019-03-01T00:00:00`).
pub fn format_unix_seconds(s: f64) -> String {
    let Some(t) = DateTime::from_timestamp_millis((s * 1000.0).round() as i64) else {
        return format!("{s} s since 1970-01-01");
    };
    let (t, ms) = (t.naive_utc(), t.timestamp_subsec_millis());
    // Field by field: a strftime pattern is parsed at every call, and CSV writers call this once
    // per row. Years outside 0..=9999 take chrono's signed form.
    if !(0..=9999).contains(&t.year()) {
        return t.format(strftime_pattern(ms)).to_string();
    }
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if ms != 0 {
        // Infallible: writing to a String.
        let _ = write!(out, ".{ms:03}");
    }
    out
}

/// The pattern [`format_unix_seconds`] follows.
fn strftime_pattern(ms: u32) -> &'static str {
    if ms == 0 {
        "%Y-%m-%dT%H:%M:%S"
    } else {
        "%Y-%m-%dT%H:%M:%S%.3f"
    }
}

/// Parses the date part of CF units: `1900-01-01`, `1900-1-1 0:0:0`, `1970-01-01T00:00:00Z`,
/// `1980-01-06 00:00:00 UTC`, with optional fractional seconds.
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim().trim_end_matches(" UTC").trim_end_matches('Z').trim();
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, t.trim()),
        None => (s, ""),
    };
    let mut dp = date.split('-');
    let y: i32 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next().unwrap_or("1").parse().ok()?;
    let d: u32 = dp.next().unwrap_or("1").parse().ok()?;
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    // A trailing timezone offset like "+00:00" is accepted only when zero.
    let time = time.trim_end_matches("+00:00").trim_end_matches("+0000");
    let time = if time.is_empty() {
        NaiveTime::MIN
    } else {
        let mut tp = time.split(':');
        let h: u32 = tp.next()?.parse().ok()?;
        let mi: u32 = tp.next().unwrap_or("0").parse().ok()?;
        let sec: f64 = tp.next().unwrap_or("0").parse().ok()?;
        let whole = sec.trunc() as u32;
        let nanos = ((sec - sec.trunc()) * 1e9).round() as u32;
        NaiveTime::from_hms_nano_opt(h, mi, whole, nanos)?
    };
    Some(date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn era5_units() {
        let t = CfTime::parse("hours since 1900-01-01 00:00:00.0", Some("gregorian")).unwrap();
        // 2019-03-01T00:00 is 1044552 hours after 1900-01-01.
        assert_eq!(
            format_unix_seconds(t.unix_seconds(1_044_552.0)),
            "2019-03-01T00:00:00"
        );
    }

    #[test]
    fn formats_as_the_strftime_pattern() {
        // Whole seconds, milliseconds, before 1970, and years past 9999 and before year 0.
        let mut ms: i64 = -70_000_000_000_000;
        while ms < 300_000_000_000_000 {
            let t = DateTime::from_timestamp_millis(ms).unwrap();
            let want = t
                .naive_utc()
                .format(strftime_pattern(t.timestamp_subsec_millis()))
                .to_string();
            assert_eq!(format_unix_seconds(ms as f64 / 1000.0), want, "{ms} ms");
            ms += 123_456_789_123;
            ms -= ms % 1000 * i64::from(ms % 3 == 0);
        }
    }

    #[test]
    fn imerg_units() {
        let t = CfTime::parse("seconds since 1980-01-06 00:00:00 UTC", None).unwrap();
        assert_eq!(t.datetime(0.0).unwrap().to_string(), "1980-01-06 00:00:00");
    }

    #[test]
    fn rejects_garbage() {
        assert!(CfTime::parse("fortnights since 2000-01-01", None).is_err());
        assert!(CfTime::parse("hours", None).is_err());
        assert!(CfTime::parse("days since 2000-01-01", Some("360_day")).is_err());
    }
}
