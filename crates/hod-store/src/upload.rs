//! Uploading local files: one request for small files, a streamed multipart upload for large ones.

use std::path::Path as FsPath;

use bytes::Bytes;
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use crate::{Store, StoreError};

/// Files up to this size are sent in one request; larger ones as a multipart upload.
pub const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
/// Part size of multipart uploads (S3 wants at least 5 MiB and at most 10 000 parts).
const PART_SIZE: u64 = 8 * 1024 * 1024;
/// Parts grow beyond [`PART_SIZE`] so that a file never needs more parts than this.
const MAX_PARTS: u64 = 9_000;
/// Parts uploaded at once; memory held is about this many parts.
const PARTS_IN_FLIGHT: usize = 4;
/// Bytes read from the file per read call.
const READ_BUF: usize = 1024 * 1024;

impl Store {
    /// Uploads a local file as `key` and returns the number of bytes sent.
    ///
    /// Files up to [`MULTIPART_THRESHOLD`] go in one atomic put. Larger ones are streamed as a
    /// multipart upload (8 MiB parts, 4 in flight, so memory stays at ~32 MiB whatever the file
    /// size); the object appears only when the upload completes (S3 completes atomically, a
    /// local folder renames a staged `key#N` file, memory swaps the entry). On error the upload
    /// is aborted; if the caller drops the future instead, S3 keeps the orphan parts (invisible
    /// to readers) until a bucket lifecycle rule removes them.
    ///
    /// # Errors
    /// [`StoreError::LocalFile`] when the file cannot be read; backend errors naming `key`.
    pub async fn put_file(&self, key: &str, path: &FsPath) -> Result<u64, StoreError> {
        let object = self.path(key)?;
        let local_err = |source| StoreError::LocalFile {
            store: self.url().to_owned(),
            key: key.to_owned(),
            path: path.to_owned(),
            source,
        };
        let mut file = tokio::fs::File::open(path).await.map_err(local_err)?;
        let len = file.metadata().await.map_err(local_err)?.len();
        if len <= MULTIPART_THRESHOLD {
            let mut data = Vec::with_capacity(len as usize);
            file.read_to_end(&mut data).await.map_err(local_err)?;
            let sent = data.len() as u64;
            self.os()
                .put(&object, PutPayload::from(Bytes::from(data)))
                .await
                .map_err(|e| self.error(key, "put_file", None, e))?;
            return Ok(sent);
        }
        let part = PART_SIZE.max(len.div_ceil(MAX_PARTS)) as usize;
        let upload = self
            .os()
            .put_multipart(&object)
            .await
            .map_err(|e| self.error(key, "put_file", None, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, part);
        let mut buf = vec![0u8; READ_BUF];
        let mut sent = 0u64;
        loop {
            let step = match writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                Ok(()) => file.read(&mut buf).await.map_err(local_err),
                Err(e) => Err(self.error(key, "put_file", None, e)),
            };
            match step {
                Ok(0) => break,
                Ok(n) => {
                    writer.write(&buf[..n]);
                    sent += n as u64;
                }
                Err(e) => {
                    // Best effort: the upload is already failing, report the first error.
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
        }
        writer
            .finish()
            .await
            .map_err(|e| self.error(key, "put_file", None, e))?;
        Ok(sent)
    }
}
