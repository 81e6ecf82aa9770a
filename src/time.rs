//! Capture timestamps: nanoseconds since the Unix epoch, printed as RFC 3339.

use std::cell::Cell;
use std::fmt;

/// A capture timestamp in nanoseconds since 1970-01-01T00:00:00Z.
///
/// Signed so that a pcapng `if_tsoffset` or a broken clock before 1970 still
/// orders correctly; i64 nanoseconds reach the year 2262.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn from_nanos(ns: i64) -> Self {
        Timestamp(ns)
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Seconds (and fraction) from `earlier` to `self`, for relative times.
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        (self.0.saturating_sub(earlier.0)) as f64 / 1e9
    }
}

impl Timestamp {
    /// The calendar date (`YYYY-MM-DD`) and time of day to the microsecond
    /// (`HH:MM:SS.ffffff`) of this instant at `offset` seconds east of UTC,
    /// for people reading a wall clock.
    pub fn date_and_time(self, offset: i64) -> (String, String) {
        let local = i128::from(self.0) + i128::from(offset) * 1_000_000_000;
        let secs = local.div_euclid(1_000_000_000) as i64;
        let micros = local.rem_euclid(1_000_000_000) / 1000;
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        (
            format!("{y:04}-{m:02}-{d:02}"),
            format!(
                "{:02}:{:02}:{:02}.{micros:06}",
                sod / 3600,
                (sod / 60) % 60,
                sod % 60
            ),
        )
    }
}

/// `UTC+02:00` for an offset of 7200 seconds east of UTC.
pub fn offset_label(offset: i64) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let m = offset.unsigned_abs() / 60;
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

/// Seconds east of UTC of the local time zone at `ts`, as the C library
/// sees it (`TZ`, else /etc/localtime), so that daylight saving time is
/// that of the instant, not of today. 0 (UTC) where it cannot tell.
///
/// `localtime_r` rather than a time zone crate: it is what `date` and
/// tcpdump use, it costs no dependency beyond `libc` (already in the
/// tree), and its one hazard, a concurrent `setenv`, cannot happen in
/// wscap, which never changes its environment.
#[cfg(unix)]
pub fn local_offset(ts: Timestamp) -> i64 {
    // POSIX, though not in every `libc` crate target's list.
    unsafe extern "C" {
        fn tzset();
    }
    static TZSET: std::sync::Once = std::sync::Once::new();
    // SAFETY: tzset reads TZ and the zone files into the C library's own
    // state (POSIX leaves it to the caller before localtime_r); called
    // once, before any localtime_r.
    TZSET.call_once(|| unsafe { tzset() });
    // time_t is 32 bits on some targets.
    #[allow(irrefutable_let_patterns)]
    let Ok(t) = libc::time_t::try_from(ts.0.div_euclid(1_000_000_000)) else {
        return 0;
    };
    // SAFETY: `tm` is plain data that localtime_r fills; both pointers are
    // valid for the call, and a null return (out of range) is checked.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return 0;
        }
        // A C long: 32 bits on some targets.
        #[allow(clippy::useless_conversion)]
        i64::from(tm.tm_gmtoff)
    }
}

/// Without the C library's time zone database: UTC.
#[cfg(not(unix))]
pub fn local_offset(_ts: Timestamp) -> i64 {
    0
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's `civil_from_days`, valid for the whole i64 range we use.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's
/// `days_from_civil`, the inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl std::str::FromStr for Timestamp {
    type Err = String;

    /// A wall-clock time as people type it: RFC 3339
    /// (`2026-03-01T10:00:00Z`, `2026-03-01T10:00:00.5+01:00`; a space may
    /// stand for the `T`, and a date alone means its midnight UTC), or
    /// seconds since the Unix epoch (`1772359200`, `1772359200.25`).
    fn from_str(s: &str) -> Result<Timestamp, String> {
        let t = s.trim();
        // A date has its first dash after a four-digit year.
        let parsed = if t.get(4..5) == Some("-") {
            rfc3339(t)
        } else {
            epoch_seconds(t)
        };
        parsed.ok_or_else(|| {
            format!(
                "{s:?} is not a time (expected RFC 3339 like 2026-03-01T10:00:00Z, \
                 or seconds since the Unix epoch)"
            )
        })
    }
}

/// `[-]SECONDS[.FRACTION]` to a timestamp.
fn epoch_seconds(t: &str) -> Option<Timestamp> {
    let (neg, t) = t.strip_prefix('-').map_or((false, t), |r| (true, r));
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ns = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(fraction_ns(frac)?)?;
    Some(Timestamp(if neg { -ns } else { ns }))
}

/// The digits after a decimal point as nanoseconds (more than 9 digits are
/// cut, not rounded).
fn fraction_ns(frac: &str) -> Option<i64> {
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    digits.parse().ok()
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.F]](Z|±HH:MM)]`.
fn rfc3339(t: &str) -> Option<Timestamp> {
    let num = |a: usize, b: usize| {
        t.get(a..b)
            .filter(|x| x.bytes().all(|c| c.is_ascii_digit()))
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if t.get(4..5) != Some("-") || t.get(7..8) != Some("-") {
        return None;
    }
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y.parse().ok()?, m, d);
    let rest = &t[10..];
    if rest.is_empty() {
        return Some(Timestamp(days * 86_400 * 1_000_000_000));
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, offset_s) = split_offset(rest)?;
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = hms.split(':');
    let mut field = |max: i64| -> Option<i64> {
        match parts.next() {
            None => Some(0),
            Some(p) if p.len() == 2 && p.bytes().all(|c| c.is_ascii_digit()) => {
                p.parse().ok().filter(|v| *v <= max)
            }
            Some(_) => None,
        }
    };
    let secs = field(23)? * 3600 + field(59)? * 60 + field(60)?;
    if parts.next().is_some() {
        return None;
    }
    let total = (days * 86_400 + secs - offset_s).checked_mul(1_000_000_000)?;
    Some(Timestamp(total.checked_add(fraction_ns(frac)?)?))
}

/// Splits `HH:MM:SS(Z|±HH:MM)` into the clock and the offset in seconds.
fn split_offset(rest: &str) -> Option<(&str, i64)> {
    if let Some(clock) = rest.strip_suffix(['Z', 'z']) {
        return Some((clock, 0));
    }
    let at = rest.rfind(['+', '-'])?;
    let (clock, off) = rest.split_at(at);
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let (h, m) = off[1..].split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((clock, sign * (h * 3600 + m * 60)))
}

thread_local! {
    /// The last second formatted (`YYYY-MM-DDTHH:MM:SS`): records of one
    /// capture mostly share it, and the calendar arithmetic is the costly
    /// part of a timestamp.
    static LAST_SECOND: Cell<(i64, [u8; 19])> = const { Cell::new((i64::MIN, [0; 19])) };
}

fn second_prefix(secs: i64) -> [u8; 19] {
    let (cached, text) = LAST_SECOND.get();
    if cached == secs {
        return text;
    }
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = [0u8; 19];
    let text = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    // Years beyond 9999 do not fit the fixed form; they are not cached.
    if text.len() == 19 {
        out.copy_from_slice(text.as_bytes());
        LAST_SECOND.set((secs, out));
    }
    out
}

/// RFC 3339 in UTC with nanoseconds: `2024-05-01T12:00:00.123456789Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000_000);
        let mut nanos = self.0.rem_euclid(1_000_000_000);
        let prefix = second_prefix(secs);
        let mut buf = [0u8; 31];
        buf[..19].copy_from_slice(&prefix);
        buf[19] = b'.';
        for i in (20..29).rev() {
            buf[i] = b'0' + (nanos % 10) as u8;
            nanos /= 10;
        }
        buf[29] = b'Z';
        match std::str::from_utf8(&buf[..30]) {
            Ok(s) if prefix[0] != 0 => f.write_str(s),
            _ => {
                // Outside the cacheable range: the plain way.
                let days = secs.div_euclid(86_400);
                let sod = secs.rem_euclid(86_400);
                let (y, m, d) = civil_from_days(days);
                write!(
                    f,
                    "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
                    sod / 3600,
                    (sod / 60) % 60,
                    sod % 60,
                    self.0.rem_euclid(1_000_000_000)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wall_clock() {
        let p = |s: &str| s.parse::<Timestamp>();
        let t = Timestamp(1_772_359_200 * 1_000_000_000);
        assert_eq!(t.to_string(), "2026-03-01T10:00:00.000000000Z");
        assert_eq!(p("2026-03-01T10:00:00Z"), Ok(t));
        assert_eq!(p("2026-03-01 10:00:00Z"), Ok(t));
        assert_eq!(p("2026-03-01T11:30:00+01:30"), Ok(t));
        assert_eq!(p("2026-03-01T09:00:00-01:00"), Ok(t));
        assert_eq!(p("2026-03-01T10:00Z"), Ok(t));
        assert_eq!(p("1772359200"), Ok(t));
        assert_eq!(p("1772359200.25"), Ok(Timestamp(t.0 + 250_000_000)));
        assert_eq!(
            p("2026-03-01T10:00:00.123456789Z"),
            Ok(Timestamp(t.0 + 123_456_789))
        );
        assert_eq!(p("2026-03-01"), Ok(Timestamp(t.0 - 36_000 * 1_000_000_000)));
        assert_eq!(
            p("2024-02-29T00:00:00Z").unwrap().to_string(),
            "2024-02-29T00:00:00.000000000Z"
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-03-01T25:00:00Z",
            "2026-03-01T10:00:00",
            "1.2.3",
            "99999999999999999999",
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn epoch() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000000Z");
    }

    #[test]
    fn known_instant() {
        // date -u -d @1700000000 -> 2023-11-14T22:13:20Z
        assert_eq!(
            Timestamp(1_700_000_000_123_456_789).to_string(),
            "2023-11-14T22:13:20.123456789Z"
        );
    }

    #[test]
    fn cached_second_is_reused_and_replaced() {
        let a = Timestamp(1_700_000_000_000_000_001);
        let b = Timestamp(1_700_000_000_999_999_999);
        let c = Timestamp(1_700_000_001_000_000_000);
        assert_eq!(a.to_string(), "2023-11-14T22:13:20.000000001Z");
        assert_eq!(b.to_string(), "2023-11-14T22:13:20.999999999Z");
        assert_eq!(c.to_string(), "2023-11-14T22:13:21.000000000Z");
        assert_eq!(
            Timestamp(i64::MAX).to_string(),
            "2262-04-11T23:47:16.854775807Z"
        );
        assert_eq!(
            Timestamp(i64::MIN).to_string(),
            "1677-09-21T00:12:43.145224192Z"
        );
    }

    #[test]
    fn leap_day_and_before_epoch() {
        // 2024-02-29T00:00:00Z = 1709164800
        assert_eq!(
            Timestamp(1_709_164_800_000_000_000).to_string(),
            "2024-02-29T00:00:00.000000000Z"
        );
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn wall_clock_parts() {
        let t = Timestamp(1_700_000_000_123_456_789);
        assert_eq!(
            t.date_and_time(0),
            ("2023-11-14".to_owned(), "22:13:20.123456".to_owned())
        );
        // Two hours east crosses midnight.
        assert_eq!(
            t.date_and_time(7200),
            ("2023-11-15".to_owned(), "00:13:20.123456".to_owned())
        );
        assert_eq!(Timestamp(-1).date_and_time(0).1, "23:59:59.999999");
        assert_eq!(Timestamp(i64::MAX).date_and_time(86_400).0, "2262-04-12");
        assert_eq!(offset_label(7200), "UTC+02:00");
        assert_eq!(offset_label(-19_800), "UTC-05:30");
        assert_eq!(offset_label(0), "UTC+00:00");
    }
}
