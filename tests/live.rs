//! Live captures end to end: the binary reading a pipe that a test feeds
//! packet by packet (as `tcpdump -U -w - | wscap -` does), and stopped by
//! signals while the pipe stays open.
//!
//! The promise is that a record is out within 100 ms of the packet that
//! completes it. The tests wait up to [`BOUND`] so that a loaded CI machine
//! does not fail them, and print the latencies they measured (run with
//! `--nocapture` to see them).

#![cfg(unix)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};
use wscap::synth::{Link, Side, TcpConversation, pcap_bytes};

/// How long a test waits for a record before failing.
const BOUND: Duration = Duration::from_secs(2);

/// The pause between two packets written to the pipe.
const PAUSE: Duration = Duration::from_millis(25);

fn capture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/captures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A classic pcap cut at its record boundaries: the 24-byte file header,
/// then each record (16-byte header and its captured bytes).
fn records(pcap: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let big = match pcap[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
        _ => panic!("not a classic pcap"),
    };
    let mut out = Vec::new();
    let mut at = 24;
    while at < pcap.len() {
        let field: [u8; 4] = pcap[at + 8..at + 12].try_into().unwrap();
        let caplen = if big {
            u32::from_be_bytes(field)
        } else {
            u32::from_le_bytes(field)
        } as usize;
        out.push(&pcap[at..at + 16 + caplen]);
        at += 16 + caplen;
    }
    (&pcap[..24], out)
}

/// wscap reading standard input from a pipe the test holds, its output
/// lines arriving on a channel with the time each was read.
struct Live {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<(Instant, String)>,
    /// Every line seen so far, for failure messages and final checks.
    seen: Vec<String>,
}

impl Live {
    fn start(args: &[&str]) -> Live {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wscap"))
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("TERM")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("wscap runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Live {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Writes `bytes` to the pipe at once; returns when they were written.
    fn write(&mut self, bytes: &[u8]) -> Instant {
        let stdin = self.stdin.as_mut().expect("the pipe is open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
        Instant::now()
    }

    /// Waits up to [`BOUND`] for a line matching `want`; returns when it
    /// was read.
    fn expect(&mut self, what: &str, want: impl Fn(&str) -> bool) -> Instant {
        let deadline = Instant::now() + BOUND;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) => {
                    let hit = want(&line);
                    self.seen.push(line);
                    if hit {
                        return at;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no {what} within {BOUND:?}; output so far:\n{:#?}",
                        self.seen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("output ended before {what}:\n{:#?}", self.seen)
                }
            }
        }
    }

    /// Sends `sig`, once wscap handles it (a signal sent before wscap has
    /// set up its handlers would end it the default way).
    fn signal(&self, sig: libc::c_int) {
        wait_until_catching(self.child.id(), sig);
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) with a child's pid and a signal number.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }

    /// Waits up to `limit` for the process to exit; its status code.
    fn exit_within(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        panic!(
            "wscap still running after {limit:?}; output:\n{:#?}",
            self.seen
        );
    }

    /// The rest of the output, once the process has ended.
    fn rest(&mut self) -> Vec<String> {
        while let Ok((_, line)) = self.lines.recv_timeout(BOUND) {
            self.seen.push(line);
        }
        self.seen.clone()
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // A failed test must not leave its child behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Latencies as "median / max" in milliseconds.
fn spread(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    format!(
        "median {:.1} ms, max {:.1} ms over {}",
        ms[ms.len() / 2],
        ms[ms.len() - 1],
        ms.len()
    )
}

/// The frame records of `name` read as a file: (packet, dir, index, the
/// packet that completes the frame).
fn frames_of(name: &str) -> Vec<(u64, String, u64, u64)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/captures")
        .join(name);
    let out = Command::new(env!("CARGO_BIN_EXE_wscap"))
        .args(["--format", "jsonl"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "frame")
        .map(|r| {
            let n = |k: &str| r[k].as_u64().unwrap();
            let dir = r["dir"].as_str().unwrap().to_owned();
            (n("packet"), dir, n("index"), n("last_packet"))
        })
        .collect()
}

#[test]
fn each_frame_record_follows_its_packet_through_a_slow_pipe() {
    let name = "aiohttp-echo.pcap";
    let pcap = capture(name);
    let (header, packets) = records(&pcap);
    let frames = frames_of(name);
    assert!(frames.len() >= 10, "a conversation of frames");
    let mut live = Live::start(&["--format", "jsonl", "-"]);
    live.write(header);
    let mut latencies = Vec::new();
    for (i, packet) in packets.iter().enumerate() {
        let number = i as u64 + 1;
        let written = live.write(packet);
        for (first, dir, index, _) in frames.iter().filter(|f| f.3 == number) {
            let what = format!("frame {dir} {index} (completed by packet {number})");
            let seen = live.expect(&what, |l| {
                let r: Value = serde_json::from_str(l).unwrap();
                r["type"] == "frame" && r["packet"] == *first && r["dir"] == **dir
            });
            latencies.push(seen.duration_since(written).as_secs_f64() * 1e3);
        }
        std::thread::sleep(PAUSE);
    }
    eprintln!("jsonl through a pipe: {}", spread(latencies));
    drop(live.stdin.take());
    assert_eq!(live.exit_within(BOUND), Some(0));
    let out = live.rest();
    let last: Value = serde_json::from_str(out.last().unwrap()).unwrap();
    assert_eq!(last["type"], "summary");
    assert!(last.get("interrupted").is_none(), "the input ended");
}

#[test]
fn the_table_prints_a_connection_when_it_ends_not_when_the_input_does() {
    let pcap = capture("aiohttp-echo.pcap");
    let (header, packets) = records(&pcap);
    let mut live = Live::start(&["--format", "table", "-"]);
    live.write(header);
    let mut written = Instant::now();
    for packet in &packets {
        written = live.write(packet);
        std::thread::sleep(PAUSE);
    }
    // The last packet ends the connection; the pipe stays open.
    let seen = live.expect("the connection's block", |l| l.starts_with("conn 0 "));
    let ms = seen.duration_since(written).as_secs_f64() * 1e3;
    eprintln!("table block through a pipe: {ms:.1} ms after the last packet was written");
    live.expect("the frame rows", |l| l.contains(" text "));
    assert!(live.child.try_wait().unwrap().is_none(), "still reading");
    drop(live.stdin.take());
    live.expect("the summary", |l| l == "summary");
    assert_eq!(live.exit_within(BOUND), Some(0));
}

#[test]
fn ctrl_c_ends_open_connections_and_writes_the_records() {
    // A reserved opcode (an error) in packet 8, the close in 9: stop after 8.
    let pcap = capture("bad-reserved_opcode.pcap");
    let (header, packets) = records(&pcap);
    let mut live = Live::start(&["--format", "jsonl", "-"]);
    live.write(header);
    for packet in &packets[..8] {
        live.write(packet);
    }
    live.expect("the frame of packet 8", |l| l.contains(r#""packet":8,"#));
    let sent = Instant::now();
    live.signal(libc::SIGINT);
    // Exit status by the findings (an error: 1), as for a whole capture.
    assert_eq!(live.exit_within(BOUND), Some(1));
    eprintln!("stopped {:?} after SIGINT", sent.elapsed());
    let records: Vec<Value> = live
        .rest()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let conn = records
        .iter()
        .find(|r| r["type"] == "connection")
        .expect("the connection record");
    assert_eq!(conn["end"], "interrupted");
    assert_eq!(conn["websocket"], true);
    assert_eq!(conn["diagnosis"][0]["cause"], "framing_violation");
    let summary = records.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["interrupted"], true);
    assert_eq!(summary["packets"], 8);
    assert_eq!(summary["findings_by_severity"]["error"], 1);
}

#[test]
fn sigterm_before_the_capture_header_ends_quietly() {
    let mut live = Live::start(&["--format", "jsonl", "-"]);
    // Nothing written: wscap waits for the file header.
    live.signal(libc::SIGTERM);
    assert_eq!(live.exit_within(BOUND), Some(0));
    let out = live.rest();
    assert_eq!(out.len(), 1, "{out:?}");
    let summary: Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(summary["interrupted"], true);
    assert_eq!(summary["packets"], 0);
    assert_eq!(summary["input_errors"], serde_json::json!([]));
}

#[test]
fn ctrl_c_in_the_summary_format_prints_it() {
    let pcap = capture("aiohttp-echo.pcap");
    let (header, packets) = records(&pcap);
    let mut live = Live::start(&["--format", "summary", "-"]);
    live.write(header);
    for packet in &packets[..12] {
        live.write(packet);
    }
    // Time to read them (the summary format prints nothing to wait for);
    // packets still in the pipe at the signal are not read.
    std::thread::sleep(Duration::from_millis(200));
    live.signal(libc::SIGINT);
    assert_eq!(live.exit_within(BOUND), Some(0));
    let out = live.rest().join("\n");
    assert!(out.starts_with("summary\n"), "{out}");
    assert!(out.contains("\n  packets      "), "{out}");
    assert!(
        out.contains("  interrupted  stopped before the input ended;"),
        "{out}"
    );
}

/// A connection whose server sends `frames` text frames, one a packet.
fn many_frames(frames: usize) -> Vec<u8> {
    const REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    const RESPONSE: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let mut c = TcpConversation::new(
        Link::Ethernet,
        "10.0.0.1:50000".parse().unwrap(),
        "10.0.0.2:8080".parse().unwrap(),
    );
    c.handshake()
        .send(Side::Client, REQUEST.as_bytes())
        .send(Side::Server, RESPONSE.as_bytes());
    for i in 0..frames {
        let msg = format!("message {i}");
        let mut f = vec![0x81, msg.len() as u8];
        f.extend_from_slice(msg.as_bytes());
        c.send(Side::Server, &f);
    }
    pcap_bytes(u32::from(Link::Ethernet.linktype().0), c.packets())
}

/// Waits until process `pid` catches signal `sig`, as Linux's
/// /proc/PID/status tells (`SigCgt`, a hex mask, bit `sig - 1`);
/// elsewhere, a second is plenty for it to start.
fn wait_until_catching(pid: u32, sig: libc::c_int) {
    let status = format!("/proc/{pid}/status");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let Ok(text) = std::fs::read_to_string(&status) else {
            break;
        };
        let Some(mask) = text.lines().find_map(|l| l.strip_prefix("SigCgt:")) else {
            break;
        };
        let mask = u64::from_str_radix(mask.trim(), 16).unwrap_or(0);
        if mask & (1 << (sig - 1)) != 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_secs(1));
}

/// Waits until process `pid` is blocked writing to a pipe, as Linux's
/// /proc/PID/wchan tells; elsewhere, a second is plenty for it to fill one.
fn wait_until_writing(pid: u32) {
    let wchan = format!("/proc/{pid}/wchan");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match std::fs::read_to_string(&wchan) {
            Ok(w) if w.contains("pipe_write") => return,
            Ok(w) if w.is_empty() || w == "0" => break, // hidden
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_secs(1));
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    // Nobody reads the output: once the pipe to it is full, wscap blocks
    // writing, and the first Ctrl-C cannot get it to finish.
    let mut child = Command::new(env!("CARGO_BIN_EXE_wscap"))
        .args(["--format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let capture = many_frames(4000);
    // Written from a thread: the input pipe fills too. The pipe stays open.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&capture);
        stdin
    });
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    wait_until_catching(child.id(), libc::SIGINT);
    wait_until_writing(child.id());
    // SAFETY: kill(2) with a child's pid and a signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "stuck writing");
    let sent = Instant::now();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let deadline = Instant::now() + BOUND;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after the second Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    eprintln!("exited {:?} after the second SIGINT", sent.elapsed());
    assert_eq!(status.code(), Some(130));
    drop(feeder.join());
}
