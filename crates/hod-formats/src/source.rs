//! Local and in-memory [`ReadAt`] sources.

use hod_core::ReadAt;
use std::path::Path;

/// A local file read with positioned reads.
#[derive(Debug)]
pub struct FileSource {
    file: std::fs::File,
    size: u64,
}

impl FileSource {
    /// Opens a local file.
    ///
    /// # Errors
    /// The I/O error of opening it.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        Ok(FileSource { file, size })
    }
}

impl ReadAt for FileSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let len = len.min(self.size.saturating_sub(offset));
        let mut buf = vec![0; len as usize];
        self.file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }
}

/// An in-memory object (tests, fuzzing, small inline files).
#[derive(Debug, Clone)]
pub struct SliceSource<'a>(pub &'a [u8]);

impl ReadAt for SliceSource<'_> {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        let start = (offset as usize).min(self.0.len());
        let end = (offset.saturating_add(len) as usize).min(self.0.len());
        Ok(self.0[start..end].to_vec())
    }
}
