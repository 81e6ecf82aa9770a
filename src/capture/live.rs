//! Live input: a pipe, FIFO, terminal or socket (`tcpdump -U -w - | wscap -`),
//! told apart from a regular file when it is opened.
//!
//! A regular file is read with plain blocking reads, in large blocks. A live
//! input is read only when `poll(2)` says it has bytes; otherwise the read
//! returns `WouldBlock` and the reader reports "nothing now" instead of
//! blocking, so its caller can flush its output while the input is idle and
//! notice a stop request (a signal) while it waits ([`Waiter::wait`]).
//!
//! Why `poll` before each read, rather than the alternatives:
//! * `O_NONBLOCK` on the descriptor would change the open file description,
//!   which standard input shares with the shell (a terminal) or the writer's
//!   side of a pipe: it would stay non-blocking for them after we exit.
//! * A reading thread handing chunks over a channel costs a copy of every
//!   byte and a thread that stays blocked in `read` after a stop.
//! * A blocking `read` cannot be interrupted: signal handlers are installed
//!   with `SA_RESTART`, so the kernel restarts it. `poll` is never restarted
//!   (signal(7)): a signal ends the wait at once with `EINTR`, and the
//!   timeout bounds the wait anyway.
//!
//! The extra `poll` is one system call per read of up to a pipe's capacity
//! (64 KiB), which does not show in the throughput.

use std::fs::File;
use std::io::{self, Read};
use std::time::Duration;

/// Opens standard input as a file of its own (a duplicate of descriptor
/// 0): `io::stdin()` reads through a buffer of its own, whose bytes `poll`
/// on the descriptor would not see.
pub(crate) fn stdin() -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        Ok(File::from(io::stdin().as_fd().try_clone_to_owned()?))
    }
    #[cfg(not(unix))]
    {
        Err(io::Error::other(
            "standard input cannot be opened as a file",
        ))
    }
}

/// The source to read `file` through, and the waiter when it is live.
pub(crate) fn classify(file: File) -> (Box<dyn Read + Send>, Option<Waiter>) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        if !regular {
            let waiter = Waiter {
                fd: file.as_raw_fd(),
            };
            return (Box::new(LiveFile { file, waiter }), Some(waiter));
        }
    }
    (Box::new(file), None)
}

/// A live input: reads only what is there, `WouldBlock` when nothing is.
#[cfg(unix)]
struct LiveFile {
    file: File,
    waiter: Waiter,
}

#[cfg(unix)]
impl Read for LiveFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.waiter.ready(Some(Duration::ZERO)) {
            // Readable, at its end (a closed pipe reads 0) or in error (the
            // read reports it).
            self.file.read(buf)
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

/// Waits for a live input to have bytes (or to end).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Waiter {
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
}

impl Waiter {
    /// Waits until the input is readable, at most `timeout` (`None`: no
    /// limit); returns early, not readable, when a signal arrives.
    pub fn wait(&self, timeout: Option<Duration>) {
        self.ready(timeout);
    }

    /// Whether the input is readable (has bytes, has ended or failed) within
    /// `timeout`.
    #[cfg(unix)]
    fn ready(&self, timeout: Option<Duration>) -> bool {
        let ms = timeout.map_or(-1, |t| {
            libc::c_int::try_from(t.as_millis()).unwrap_or(libc::c_int::MAX)
        });
        let mut fds = [libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: `fds` points to one initialised `pollfd`, valid for the
        // whole call. (The descriptor is the `LiveFile`'s, open while the
        // reader is; a closed one would only come back as POLLNVAL.)
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) };
        // POLLHUP (the writer closed) and POLLERR make the next read
        // return the end or the error; EINTR (n < 0) is "not yet".
        n > 0 && fds[0].revents != 0
    }

    #[cfg(not(unix))]
    fn ready(&self, _timeout: Option<Duration>) -> bool {
        true
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Instant;

    /// A pipe of our own: (read end as a classified source, write end).
    fn pipe() -> (Box<dyn Read + Send>, Option<Waiter>, File) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both descriptors were just created and are owned here.
        let (r, w) = unsafe {
            use std::os::fd::FromRawFd;
            (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1]))
        };
        let (source, waiter) = classify(r);
        (source, waiter, w)
    }

    #[test]
    fn a_pipe_reads_what_is_there_and_never_blocks() {
        let (mut source, waiter, mut w) = pipe();
        let waiter = waiter.expect("a pipe is live");
        let mut buf = [0u8; 64];
        let err = source.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        w.write_all(b"abc").unwrap();
        // Fewer bytes than asked: what is there, at once.
        assert_eq!(source.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        let started = Instant::now();
        waiter.wait(Some(Duration::from_millis(30)));
        assert!(started.elapsed() >= Duration::from_millis(25), "waited");
        drop(w);
        waiter.wait(None); // the closed writer makes it readable
        assert_eq!(source.read(&mut buf).unwrap(), 0, "the end");
    }

    #[test]
    fn a_regular_file_is_not_live() {
        let file = crate::test_util::TempFile::holding("live", b"x");
        let (_, waiter) = classify(file.open());
        assert!(waiter.is_none());
    }
}
