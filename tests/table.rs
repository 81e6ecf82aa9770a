//! The table format end to end: the terminal's width, payload previews,
//! the time column, which connections get a block and in what order, and
//! the Wireshark filters it prints.

mod cli_common;

use cli_common::*;

fn cap(name: &str) -> String {
    capture(name).to_string_lossy().into_owned()
}

fn table(args: &[&str]) -> String {
    let mut a = vec!["--format", "table"];
    a.extend_from_slice(args);
    let o = run(&a);
    assert!(o.code == 0 || o.code == 1, "{a:?}: {}", o.stderr);
    o.stdout
}

/// The output without the run's elapsed time.
fn stable(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("  elapsed "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn longest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// Block headers (`conn N  ...`), in order.
fn conns(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("conn ")?.split(' ').next()?.parse().ok())
        .collect()
}

/// Seconds of packet `n` (1-based) of a microsecond pcap since its first.
fn time_relative(path: &str, n: usize) -> f64 {
    let pcap = Pcap::parse(&std::fs::read(path).unwrap());
    let ts = |r: &Vec<u8>| {
        let word = |i: usize| f64::from(u32::from_le_bytes(r[i..i + 4].try_into().unwrap()));
        word(0) + word(4) / 1e6
    };
    ts(&pcap.records[n - 1]) - ts(&pcap.records[0])
}

#[test]
fn the_table_uses_the_width_it_is_given() {
    let c = cap("nginx-http10.pcap");
    let narrow = table(&[&c]);
    assert!(longest(&narrow) <= 80, "{narrow}");
    let wide = table(&["--width", "180", &c]);
    assert!(longest(&wide) <= 180, "{wide}");
    assert!(longest(&wide) > 100, "prose uses the width: {wide}");
    // The fix for nginx on one line rather than three.
    assert!(
        wide.lines().any(|l| l.contains("`proxy_http_version 1.1;`")
            && l.contains("`proxy_set_header Connection \"upgrade\";`")),
        "{wide}"
    );
    // COLUMNS does the same for scripts; --width wins over it.
    let env = run_env(&["--format", "table", &c], None, &[("COLUMNS", "180")]);
    assert_eq!(stable(&env.stdout), stable(&wide));
    let both = run_env(
        &["--format", "table", "--width", "80", &c],
        None,
        &[("COLUMNS", "180")],
    );
    assert_eq!(stable(&both.stdout), stable(&narrow));
    // So does the summary format.
    let s = run_env(&["--format", "summary", &c], None, &[("COLUMNS", "180")]);
    assert!(longest(&s.stdout) > 80, "{}", s.stdout);
}

#[test]
fn nothing_that_fits_is_cut() {
    for c in all_captures() {
        let p = c.to_string_lossy();
        for width in ["80", "180"] {
            let t = table(&["--width", width, "--payload", "text", &p]);
            for l in t.lines() {
                let cut = l.ends_with('…') && !l.ends_with(" …") && !l.contains("frames not shown");
                // A preview ends with … when the payload goes on past it.
                let preview =
                    l.starts_with("        ") || l.starts_with("  → ") || l.starts_with("  ← ");
                assert!(!cut || preview, "{p} at {width}: cut line {l:?}");
                assert!(l.chars().count() <= width.parse().unwrap(), "{p}: {l:?}");
            }
        }
    }
}

#[test]
fn payload_previews_show_in_the_table() {
    let c = cap("py-echo.pcap");
    let plain = table(&[&c]);
    assert!(!plain.contains("Hello, wscap!"), "{plain}");
    let t = table(&["--payload", "text", &c]);
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines.iter().any(|l| l.ends_with("  payload")), "{t}");
    // The first client row (packet 8) shows it beside or below.
    let at = lines
        .iter()
        .position(|l| l.starts_with("  → ") && l.split_whitespace().nth(2) == Some("8"))
        .unwrap();
    assert!(
        lines[at].ends_with("  Hello, wscap!") || lines[at + 1].trim() == "Hello, wscap!",
        "{t}"
    );
    let hex = table(&["--payload", "hex", "--width", "120", &c]);
    assert!(hex.contains("  48656c6c6f2c20777363617021\n"), "{hex}");
    // A payload longer than the preview is marked as going on.
    assert!(hex.contains(&format!("{}…", "78".repeat(32))), "{hex}");
}

#[test]
fn time_column_counts_from_connection_capture_or_clock() {
    let c = cap("py-two-conns.pcap");
    let rel = table(&[&c]);
    assert!(rel.contains(" since conn "), "{rel}");
    // conn 1's first frame is packet 18: Wireshark's frame.time_relative.
    let t = table(&["--time", "capture", &c]);
    assert!(t.contains(" since capture "), "{t}");
    let want = format!("{:+.6}", time_relative(&c, 18));
    let row = t
        .lines()
        .find(|l| l.starts_with("  → ") && l.split_whitespace().nth(2) == Some("18"))
        .unwrap();
    assert_eq!(row.split_whitespace().nth(3), Some(want.as_str()), "{t}");

    // Wall clock: the time of day of the frame record's `ts`, and the date.
    let e = cap("py-echo.pcap");
    let ts = run(&["--format", "jsonl", &e]).of_type("frame")[0]["ts"]
        .as_str()
        .unwrap()
        .to_owned();
    let (date, time) = ts.split_once('T').unwrap();
    let t = table(&["--time", "absolute", &e]);
    assert!(t.contains(&format!(" {} ", &time[..15])), "{ts}: {t}");
    assert!(t.contains(&format!("start {date} ")), "{t}");
    assert!(t.lines().any(|l| l.contains(" UTC FIN")), "{t}");
    // Local time: two hours east, whichever name the flag is given.
    for flag in ["local", "absolute-local"] {
        let o = run_env(
            &["--format", "table", "--time", flag, &e],
            None,
            &[("TZ", "UTC-2")],
        );
        let hour: u32 = time[..2].parse().unwrap();
        let local = format!("{:02}{}", (hour + 2) % 24, &time[2..15]);
        assert!(o.stdout.contains(&format!(" {local} ")), "{}", o.stdout);
        assert!(o.stdout.contains("UTC+02:00"), "{}", o.stdout);
    }
}

#[test]
fn websocket_connections_only_unless_all() {
    let c = cap("py-two-conns.pcap");
    let t = table(&[&c]);
    assert_eq!(conns(&t), [0, 1], "{t}");
    assert!(
        t.contains("\n1 other TCP connection (not WebSocket) not shown; --all shows it\n"),
        "{t}"
    );
    let all = table(&["--all", &c]);
    assert_eq!(conns(&all), [0, 1, 2], "{all}");
    assert!(all.contains("not WebSocket  tcp.stream eq 2"), "{all}");
    assert!(!all.contains("not shown"), "{all}");
    // Asked for by number, a connection is shown whatever it is.
    let one = table(&["--conn", "2", &c]);
    assert_eq!(conns(&one), [2], "{one}");
    // The machine formats keep every connection.
    assert_eq!(
        run(&["--format", "jsonl", &c]).of_type("connection").len(),
        3
    );
    // A capture of a failed upgrade keeps its blocks.
    assert_eq!(conns(&table(&[&cap("nginx-http10.pcap")])), [0, 1]);
}

#[test]
fn blocks_in_order_of_first_packet_live_runs_as_they_end() {
    let c = cap("keepalive-proxy.pcap");
    // conn 1 (proxy to backend) ends first.
    let jsonl = run(&["--format", "jsonl", &c]);
    let ended: Vec<u64> = jsonl
        .of_type("connection")
        .iter()
        .map(|r| r["conn"].as_u64().unwrap())
        .collect();
    assert_eq!(ended, [1, 0]);
    assert_eq!(conns(&table(&[&c])), [0, 1]);
    // From standard input (how live captures arrive): as they end.
    let bytes = std::fs::read(capture("keepalive-proxy.pcap")).unwrap();
    let o = run_env(&["--format", "table", "-"], Some(&bytes), &[]);
    assert_eq!(conns(&o.stdout), [1, 0], "{}", o.stdout);
}

#[test]
fn wireshark_filters_for_connections_and_findings() {
    for name in [
        "bad-unmasked_client_frame.pcap",
        "nginx-http10.pcap",
        "bad-invalid_utf8.pcap",
    ] {
        let c = cap(name);
        let t = table(&[&c]);
        for l in t.lines().filter(|l| l.starts_with("conn ")) {
            let n = l.split(' ').nth(1).unwrap();
            assert!(l.ends_with(&format!("  tcp.stream eq {n}")), "{l}");
        }
        // Each finding's packet, as in the records.
        let jsonl = run(&["--format", "jsonl", &c]);
        let mut packets = Vec::new();
        for f in jsonl.of_type("frame") {
            for x in f["findings"].as_array().unwrap() {
                packets.push(
                    x["packet"]
                        .as_u64()
                        .unwrap_or(f["packet"].as_u64().unwrap()),
                );
            }
        }
        for r in jsonl.of_type("connection") {
            for x in r["findings"].as_array().unwrap() {
                packets.extend(x["packet"].as_u64());
            }
        }
        assert!(!packets.is_empty(), "{name}");
        let shown: Vec<u64> = t
            .lines()
            .filter(|l| !l.trim_start().starts_with("diagnosis:"))
            .filter_map(|l| l.split("  frame.number == ").nth(1)?.parse().ok())
            .collect();
        let (mut a, mut b) = (packets.clone(), shown);
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "{name}: {t}");
    }
}
