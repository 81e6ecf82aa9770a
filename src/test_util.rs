//! What the unit tests of several stages share.

use std::fs::File;
use std::path::{Path, PathBuf};

/// A file in the temporary directory, named for the process and the test
/// (`name`), removed when dropped.
pub(crate) struct TempFile(PathBuf);

impl TempFile {
    /// A name for a file a test will write (none is made).
    pub(crate) fn named(name: &str) -> TempFile {
        let file = format!("wscap-test-{}-{name}", std::process::id());
        TempFile(std::env::temp_dir().join(file))
    }

    /// A file holding `bytes`.
    pub(crate) fn holding(name: &str, bytes: &[u8]) -> TempFile {
        let f = TempFile::named(name);
        std::fs::write(&f.0, bytes).expect("write a temporary file");
        f
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn open(&self) -> File {
        File::open(&self.0).expect("open a temporary file")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Bytes from hex digits, whitespace between them ignored (test vectors
/// as RFCs print them: `8286 8441`).
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}
