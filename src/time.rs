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
