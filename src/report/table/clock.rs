//! The table's time column: what a frame's time is counted from, and how
//! it is written (`--time`).

use crate::time::{self, Timestamp};

/// What the time column shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeMode {
    /// Seconds since the connection's first packet.
    #[default]
    Relative,
    /// Seconds since the capture's first packet (Wireshark's
    /// `frame.time_relative`).
    Capture,
    /// Wall-clock time of day in UTC; the date is in the connection's
    /// facts (`start ...`) and above a row on a new day.
    Utc,
    /// Wall-clock time of day in the local time zone (the C library's:
    /// `TZ`, else /etc/localtime), under a line with the date and offset.
    Local,
}

impl TimeMode {
    /// The column's title, which says what the times count from.
    pub fn title(self) -> &'static str {
        match self {
            TimeMode::Relative => "since conn",
            TimeMode::Capture => "since capture",
            TimeMode::Utc => "UTC",
            TimeMode::Local => "local time",
        }
    }

    /// The column's width.
    pub fn width(self) -> usize {
        match self {
            TimeMode::Relative => 10,
            TimeMode::Capture => 13,
            TimeMode::Utc | TimeMode::Local => 15,
        }
    }

    fn wall_clock(self) -> bool {
        matches!(self, TimeMode::Utc | TimeMode::Local)
    }
}

/// A time cell and, on a wall clock, the date it belongs to.
pub struct Cell {
    pub time: String,
    /// `2024-05-01 (UTC)`: printed above a row whose date differs from
    /// the one before (the first row's is the connection's start), so rows
    /// need only the time of day.
    pub date: Option<String>,
}

/// Turns timestamps into cells for one mode.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub mode: TimeMode,
    /// The capture's first packet, once told.
    pub capture_start: Option<Timestamp>,
}

impl Clock {
    /// The cell of a packet at `ts` of a connection that began at `conn_start`.
    pub fn cell(&self, ts: Timestamp, conn_start: Timestamp) -> Cell {
        match self.mode {
            TimeMode::Relative => Cell {
                time: relative(ts, conn_start),
                date: None,
            },
            TimeMode::Capture => Cell {
                time: relative(ts, self.capture_start.unwrap_or(conn_start)),
                date: None,
            },
            TimeMode::Utc | TimeMode::Local => {
                let (date, time, zone) = self.wall(ts);
                Cell {
                    time,
                    date: Some(format!("{date} ({zone})")),
                }
            }
        }
    }

    /// When a connection began, for its facts line; `None` where the rows
    /// already count from it.
    pub fn start(&self, conn_start: Timestamp) -> Option<String> {
        if self.mode.wall_clock() {
            let (date, time, zone) = self.wall(conn_start);
            return Some(format!("start {date} {time} {zone}"));
        }
        (self.mode == TimeMode::Capture).then(|| {
            format!(
                "start {} since capture",
                self.cell(conn_start, conn_start).time
            )
        })
    }

    fn wall(&self, ts: Timestamp) -> (String, String, String) {
        let (offset, zone) = match self.mode {
            TimeMode::Local => {
                let o = time::local_offset(ts);
                (o, time::offset_label(o))
            }
            _ => (0, "UTC".to_owned()),
        };
        let (date, time) = ts.date_and_time(offset);
        (date, time, zone)
    }
}

/// Seconds since `start`, in 10 columns: microseconds for the first 100 s,
/// then coarser so long connections still fit.
pub fn relative(ts: Timestamp, start: Timestamp) -> String {
    let s = ts.secs_since(start);
    if s.abs() < 99.999_999 {
        format!("{s:+.6}")
    } else if s.abs() < 99_999.999 {
        format!("{s:+.3}")
    } else {
        format!("{s:+.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_fit() {
        let t0 = Timestamp(0);
        assert_eq!(relative(Timestamp(1_715_000), t0), "+0.001715");
        for ns in [
            99_999_999_000,
            999_000_000_000,
            99_998_000_000_000,
            9_000_000_000_000_000,
        ] {
            assert!(relative(Timestamp(ns), t0).len() <= 10, "{ns}");
            assert!(relative(Timestamp(-ns), t0).len() <= 10, "-{ns}");
        }
    }

    #[test]
    fn cells_per_mode() {
        let capture = Timestamp(1_700_000_000_000_000_000);
        let conn = Timestamp(1_700_000_002_000_000_000);
        let ts = Timestamp(1_700_000_002_500_000_000);
        let clock = |mode| Clock {
            mode,
            capture_start: Some(capture),
        };
        assert_eq!(clock(TimeMode::Relative).cell(ts, conn).time, "+0.500000");
        assert_eq!(clock(TimeMode::Capture).cell(ts, conn).time, "+2.500000");
        let utc = clock(TimeMode::Utc).cell(ts, conn);
        assert_eq!(utc.time, "22:13:22.500000");
        assert_eq!(utc.date.as_deref(), Some("2023-11-14 (UTC)"));
        assert_eq!(clock(TimeMode::Relative).start(conn), None);
        assert_eq!(
            clock(TimeMode::Capture).start(conn).as_deref(),
            Some("start +2.000000 since capture")
        );
        assert_eq!(
            clock(TimeMode::Utc).start(conn).as_deref(),
            Some("start 2023-11-14 22:13:22.000000 UTC")
        );
        for m in [
            TimeMode::Relative,
            TimeMode::Capture,
            TimeMode::Utc,
            TimeMode::Local,
        ] {
            assert!(m.title().len() <= m.width(), "{m:?}");
            assert!(clock(m).cell(ts, conn).time.len() <= m.width(), "{m:?}");
        }
    }
}
