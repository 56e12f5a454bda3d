//! The clock behind a small trait (tests use a fixed one), and the few date formats the
//! project writes (rotation dates, release stamps, audit lines), through the `time` crate.

/// Seconds since the Unix epoch, from wherever the caller decides.
pub trait Clock {
    fn now(&self) -> i64;

    /// Today's date as days since 1970-01-01 (UTC).
    fn today(&self) -> i64 {
        self.now().div_euclid(86_400)
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }
}

/// A clock stopped at the given Unix time (tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");
const STAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

fn utc(t: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// `YYYY-MM-DD` for a day number (days since 1970-01-01).
pub fn format_date(days: i64) -> String {
    utc(days * 86_400).date().format(DATE).unwrap_or_default()
}

/// RFC 3339 UTC timestamp (`2026-11-25T13:31:11Z`) of a Unix time.
pub fn rfc3339(t: i64) -> String {
    utc(t).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// `YYYYmmddTHHMMSSZ` of a Unix time: sorts by time, safe in a file name.
pub fn stamp(t: i64) -> String {
    utc(t).format(STAMP).unwrap_or_default()
}

/// Day number of a `YYYY-MM-DD` date; None when it is not one (2026-02-31 is not).
pub fn parse_date(text: &str) -> Option<i64> {
    let date = time::Date::parse(text.trim(), DATE).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp().div_euclid(86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_615_205), "2026-11-25T14:00:05Z");
        assert_eq!(stamp(1_795_615_205), "20261125T140005Z");
    }

    #[test]
    fn dates_round_trip_across_leap_years() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(format_date(19_782), "2024-02-29");
        for d in [-1000, 0, 59, 365, 11_016, 20_417, 30_000] {
            assert_eq!(parse_date(&format_date(d)), Some(d));
        }
        assert_eq!(parse_date("2026-02-31"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn fixed_clock_gives_its_day() {
        assert_eq!(FixedClock(86_400 * 3 + 5).today(), 3);
    }
}
