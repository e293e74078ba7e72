//! Reading a small object whole: a manifest, a run record, a quota ledger, a day's definitions. The one way md
//! reads an object into memory; large objects (tick files) are streamed with [`ObjectSink::get`].

use bytes::{Bytes, BytesMut};
use futures::TryStreamExt as _;

use crate::{Error, ObjectSink, Result};

impl ObjectSink {
    /// Reads a whole object of at most `limit` bytes into memory; `None` when there is no such object.
    ///
    /// The limit is checked while the object streams in: at most `limit` bytes and one chunk are held before an
    /// object that is too large is refused.
    ///
    /// # Errors
    /// [`Error::TooLarge`] naming the object and the limit, [`Error::InvalidName`], [`Error::Store`] (also when
    /// reading fails midway).
    ///
    /// # Cancel safety
    /// Read-only: dropping the future has no effect on the store.
    pub async fn read_small(&self, name: &str, limit: u64) -> Result<Option<Bytes>> {
        let mut stream = match self.get(name).await {
            Ok(stream) => stream,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut body = BytesMut::new();
        while let Some(chunk) = stream.try_next().await? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(Error::TooLarge {
                    name: name.to_owned(),
                    store: self.label().to_owned(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body.freeze()))
    }
}
