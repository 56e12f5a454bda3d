//! The clock behind a small trait (tests use a fixed one), and the civil-date arithmetic
//! that rotation ages need, without a date crate.

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

/// `YYYY-MM-DD` for a day number (days since 1970-01-01).
pub fn format_date(days: i64) -> String {
    let (y, m, d, ..) = civil(days * 86_400);
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 UTC timestamp (`2026-11-25T13:31:11Z`) of a Unix time.
pub fn rfc3339(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// UTC calendar fields (year, month, day, hour, minute, second) of a Unix time, by Howard
/// Hinnant's civil_from_days, so no date crate is needed for the few timestamps we write.
pub fn civil(t: i64) -> (i64, i64, i64, i64, i64, i64) {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Day number of a `YYYY-MM-DD` date; None when it is not one.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut it = text.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    // Reject dates like 2026-02-31 that do not survive the round trip.
    (format_date(days) == text.trim()).then_some(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_instants() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        // 2026-11-25T14:00:05Z
        assert_eq!(civil(1_795_615_205), (2026, 11, 25, 14, 0, 5));
        assert_eq!(rfc3339(1_795_615_205), "2026-11-25T14:00:05Z");
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
