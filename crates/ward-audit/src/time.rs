//! Timestamps as the entry format writes them: RFC 3339, UTC, milliseconds,
//! `Z`, exactly 24 characters (`YYYY-MM-DDTHH:MM:SS.sssZ`). Pure: the clock is
//! the caller's.

use std::fmt;
use std::str::FromStr;

/// Milliseconds since the Unix epoch, printed as the entry format requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

/// Why a timestamp string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time `{0}`: expected `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC, milliseconds)")]
pub struct TimestampError(String);

/// The latest instant printable with a four-digit year: 9999-12-31T23:59:59.999Z.
const MAX_MILLIS: u64 = 253_402_300_799_999;

impl Timestamp {
    /// A time from milliseconds since the Unix epoch, clamped to year 9999.
    pub fn from_unix_millis(millis: u64) -> Timestamp {
        Timestamp(millis.min(MAX_MILLIS))
    }

    /// The current time from the system clock. Only for callers at the
    /// edge; the pure parts of Ward take time as a value.
    pub fn now() -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(MAX_MILLIS))
            .unwrap_or(0);
        Timestamp::from_unix_millis(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> u64 {
        self.0
    }
}

/// Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A civil date to days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0 % 1000;
        let secs = self.0 / 1000;
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        )
    }
}

impl Timestamp {
    /// Parses a query bound: a day (`2026-07-01`, its midnight UTC), whole
    /// seconds (`2026-07-01T00:00:00Z`) or the log's own millisecond form.
    pub fn parse_bound(text: &str) -> Result<Timestamp, TimestampError> {
        let full = match (text.len(), text.strip_suffix('Z')) {
            (10, _) => format!("{text}T00:00:00.000Z"),
            (20, Some(secs)) => format!("{secs}.000Z"),
            _ => text.to_owned(),
        };
        full.parse()
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Timestamp, TimestampError> {
        let err = || TimestampError(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 24 {
            return Err(err());
        }
        let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
        for (c, want) in b.iter().zip(shape) {
            let ok = if *want == b'd' {
                c.is_ascii_digit()
            } else {
                c == want
            };
            if !ok {
                return Err(err());
            }
        }
        let num = |range: std::ops::Range<usize>| -> Result<u64, TimestampError> {
            s.get(range).and_then(|p| p.parse().ok()).ok_or_else(err)
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second, millis) =
            (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
        if !(1..=12).contains(&month)
            || day == 0
            || hour > 23
            || minute > 59
            || second > 59
            || year < 1970
        {
            return Err(err());
        }
        let days = days_from_civil(year as i64, month as u32, day as u32);
        // Reject day numbers that do not exist in that month (e.g. 02-30).
        if civil_from_days(days) != (year as i64, month as u32, day as u32) {
            return Err(err());
        }
        let secs = days as u64 * 86_400 + hour * 3600 + minute * 60 + second;
        Ok(Timestamp(secs * 1000 + millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(
            Timestamp::from_unix_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(1_795_223_698_123).to_string(),
            "2026-11-21T01:14:58.123Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(951_782_400_000).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(u64::MAX).to_string(),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn bad_strings_are_refused() {
        for bad in [
            "",
            "2026-11-22T01:14:58Z",
            "2026-11-22T01:14:58.123+00:00",
            "2026-02-30T01:14:58.123Z",
            "2026-13-01T01:14:58.123Z",
            "2026-11-22 01:14:58.123Z",
            "2026-11-22T24:00:00.000Z",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(millis in 0u64..=MAX_MILLIS) {
            let t = Timestamp::from_unix_millis(millis);
            let s = t.to_string();
            prop_assert_eq!(s.len(), 24);
            prop_assert_eq!(s.parse::<Timestamp>().unwrap(), t);
        }
    }
}
