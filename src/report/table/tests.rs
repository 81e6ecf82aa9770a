//! The table on hand-built records: widths, order, what is shown.

use super::*;
use crate::finding::Code;
use crate::record::SummaryRecord;

/// A WebSocket connection (or, `websocket: false`, a plain TCP one).
fn conn(id: u64, websocket: bool) -> ConnectionRecord {
    let mut c = ConnectionRecord {
        conn: id,
        client: ([10, 0, 0, 1], 40000 + id as u16).into(),
        server: ([10, 0, 0, 2], 8080).into(),
        websocket,
        ..ConnectionRecord::example()
    };
    if !websocket {
        (c.detected_by, c.request, c.response) = (None, None, None);
    }
    c
}

fn frame(conn: u64, packet: u64, preview: &[u8], payload_len: u64) -> FrameRecord {
    let mut f = FrameRecord::empty(conn, Dir::ClientToServer);
    f.packet = packet;
    f.ts = Timestamp(1_700_000_000_250_000_000);
    f.fin = true;
    f.opcode = Opcode::TEXT;
    f.preview = preview.to_vec();
    f.payload_len = payload_len;
    f
}

/// Writes `records` then a summary through a table with `opts`.
fn render(opts: TableOptions, records: &[Record<'_>]) -> String {
    let mut t = TableWriter::new(Vec::new(), Style::default(), opts);
    t.capture_start(Timestamp(1_699_999_999_000_000_000));
    for r in records {
        t.record(*r).unwrap();
    }
    t.record(Record::Summary(&SummaryRecord::default()))
        .unwrap();
    String::from_utf8(t.finish().unwrap()).unwrap()
}

fn headers(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("conn ")).collect()
}

#[test]
fn blocks_come_in_order_of_first_packet_unless_live() {
    let (a, b, c) = (conn(0, true), conn(1, true), conn(2, true));
    let ending = [
        Record::Connection(&c),
        Record::Connection(&a),
        Record::Connection(&b),
    ];
    let t = render(TableOptions::default(), &ending);
    let h = headers(&t);
    assert!(
        h[0].starts_with("conn 0 ") && h[2].starts_with("conn 2 "),
        "{t}"
    );
    let live = TableOptions {
        ordered: false,
        ..TableOptions::default()
    };
    let t = render(live, &ending);
    let h = headers(&t);
    assert!(
        h[0].starts_with("conn 2 ") && h[1].starts_with("conn 0 "),
        "{t}"
    );
}

#[test]
fn other_tcp_connections_are_counted_unless_all() {
    let (ws, p1, p2) = (conn(1, true), conn(0, false), conn(2, false));
    let recs = [
        Record::Connection(&p1),
        Record::Connection(&ws),
        Record::Connection(&p2),
    ];
    let t = render(TableOptions::default(), &recs);
    assert_eq!(headers(&t).len(), 1, "{t}");
    assert!(
        t.contains("\n2 other TCP connections (not WebSocket) not shown; --all shows them\n"),
        "{t}"
    );
    let all = TableOptions {
        all_connections: true,
        ..TableOptions::default()
    };
    let t = render(all, &recs);
    assert!(!t.contains("not shown"), "{t}");
    // One-line entries, the filter last.
    assert!(
        t.starts_with(
            "conn 0  10.0.0.1:40000 → 10.0.0.2:8080  not WebSocket  tcp.stream eq 0\n\nconn 1"
        ),
        "{t}"
    );
}

#[test]
fn every_line_fits_and_long_lines_use_the_width() {
    let mut c = conn(0, true);
    let detail = "a long explanation of what went wrong ".repeat(6);
    let mut bad = frame(0, 9, b"", 3);
    bad.findings
        .push(Finding::new(Code::UnmaskedClientFrame, detail.clone()));
    c.findings
        .push(Finding::new(Code::CaptureGap, detail).at(12));
    let recs = [Record::Frame(&bad), Record::Connection(&c)];
    for width in [64, 80, 180] {
        let t = render(
            TableOptions {
                width,
                ..TableOptions::default()
            },
            &recs,
        );
        let longest = t.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(longest <= width, "{width}: {t}");
        assert!(longest > width - 20, "{width}: the width is used: {t}");
        assert!(
            t.contains("↳ error   unmasked_client_frame  frame.number == 9"),
            "{t}"
        );
        assert!(t.contains("info    capture_gap  frame.number == 12"), "{t}");
        assert!(t.contains("tcp.stream eq 0"), "{t}");
        // Nothing is cut: the prose wraps.
        assert!(!t.contains('…'), "{width}: {t}");
    }
    // Narrower than a row, rows are cut rather than wrapped by the
    // terminal.
    let t = render(
        TableOptions {
            width: 40,
            ..TableOptions::default()
        },
        &recs,
    );
    assert!(t.lines().all(|l| l.chars().count() <= 40), "{t}");
}

#[test]
fn previews_beside_the_row_when_they_fit_else_below() {
    let short = frame(0, 8, b"hi", 2);
    let long = frame(0, 9, &[b'x'; 32], 300);
    let c = conn(0, true);
    let recs = [
        Record::Frame(&short),
        Record::Frame(&long),
        Record::Connection(&c),
    ];
    let text = TableOptions {
        payload: PayloadMode::Text,
        ..TableOptions::default()
    };
    let t = render(text.clone(), &recs);
    let lines: Vec<&str> = t.lines().collect();
    let row = |p: &str| {
        lines
            .iter()
            .position(|l| l.starts_with("  → ") && l.split_whitespace().nth(2) == Some(p))
            .unwrap()
    };
    assert!(lines[row("8")].ends_with("  hi"), "{t}");
    // 32 bytes of 300: below the row, marked as going on.
    assert_eq!(
        lines[row("9") + 1],
        format!("        {}…", "x".repeat(32)),
        "{t}"
    );
    let wide = TableOptions { width: 120, ..text };
    let t = render(wide, &recs);
    assert!(t.contains(&format!("  {}…\n", "x".repeat(32))), "{t}");
    assert!(t.lines().any(|l| l.contains("  payload")), "{t}");
    // Without --payload, none.
    let t = render(TableOptions::default(), &recs);
    assert!(!t.contains("  hi") && !t.contains("xxx"), "{t}");
}

#[test]
fn time_column_says_what_it_counts_from() {
    let f = frame(0, 8, b"", 0);
    let c = conn(0, true);
    let recs = [Record::Frame(&f), Record::Connection(&c)];
    let with = |time| TableOptions {
        time,
        ..TableOptions::default()
    };
    let t = render(with(TimeMode::Relative), &recs);
    assert!(t.contains(" since conn "), "{t}");
    assert!(t.contains(" +0.250000 "), "{t}");
    let t = render(with(TimeMode::Capture), &recs);
    assert!(t.contains(" since capture "), "{t}");
    assert!(t.contains(" +1.250000 "), "{t}");
    assert!(t.contains("start +1.000000 since capture"), "{t}");
    let t = render(with(TimeMode::Utc), &recs);
    assert!(t.contains(" 22:13:20.250000 "), "{t}");
    assert!(t.contains("start 2023-11-14 22:13:20.000000 UTC"), "{t}");
}

#[test]
fn a_day_change_is_marked() {
    let c = conn(0, true);
    let mut f = frame(0, 8, b"", 0);
    f.ts = Timestamp(c.first_ts.0 + 86_400 * 1_000_000_000);
    let t = render(
        TableOptions {
            time: TimeMode::Utc,
            ..TableOptions::default()
        },
        &[Record::Frame(&f), Record::Connection(&c)],
    );
    assert!(t.contains("\n  2023-11-15 (UTC)\n  → "), "{t}");
}

#[test]
fn past_the_cap_blocks_come_as_connections_end() {
    let mut t = TableWriter::new(Vec::new(), Style::default(), TableOptions::default());
    t.order = Order::with_cap(true, 1000);
    let conns: Vec<ConnectionRecord> = (0..20).map(|i| conn(i, true)).collect();
    // conn 0 stays open while the others end.
    for c in &conns[1..] {
        t.record(Record::Connection(c)).unwrap();
    }
    t.record(Record::Connection(&conns[0])).unwrap();
    t.record(Record::Summary(&SummaryRecord::default()))
        .unwrap();
    let text = String::from_utf8(t.finish().unwrap()).unwrap();
    assert!(text.contains("(conn 0 is still open"), "{text}");
    let h = headers(&text);
    assert_eq!(h.len(), 20);
    // The held blocks in order, then the rest as they ended; conn 0 last.
    assert!(h[0].starts_with("conn 1 "), "{text}");
    assert!(h[19].starts_with("conn 0 "), "{text}");
}

#[test]
fn frames_without_a_connection_record_are_shown() {
    let f = frame(7, 8, b"", 0);
    let t = render(TableOptions::default(), &[Record::Frame(&f)]);
    assert!(
        t.starts_with("conn 7  (no connection record)  tcp.stream eq 7\n"),
        "{t}"
    );
}

#[test]
fn connections_filtered_out_are_not_waited_for() {
    let mut t = TableWriter::new(Vec::new(), Style::default(), TableOptions::default());
    let c1 = conn(1, true);
    t.record(Record::Connection(&c1)).unwrap();
    assert!(t.w.get_ref().is_empty());
    // conn 0 was filtered out: conn 1 is next.
    t.connection_filtered(0);
    t.w.flush().unwrap();
    assert!(String::from_utf8_lossy(t.w.get_ref()).starts_with("conn 1 "));
}
