//! The streaming converter: a `.csv.gz` byte stream in, a Parquet byte stream out, with the CPU work on three
//! threads (inflate, parse, encode) so that two cores are kept busy.
//!
//! ```text
//! input stream --(pumped by ParquetStream::poll_next)--> [pieces] --> inflate --[CSV blocks]--> parse
//!                                                                                                 |
//! ParquetStream <--[~1 MiB pieces, footer last]-- encode <--[Arrow batches]---------------------+
//! ```
//!
//! Every channel is bounded, so a slow consumer stops the encoder, which stops the parser and the inflater, which
//! stops the pumping of the input; a slow input starves them in turn. Memory stays bounded by the channel sizes,
//! two Arrow batches and one row group, whatever the file size.

use std::io::{BufRead, Read, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures::Stream;
use md_config::DataType;
use tardis_client::facts::{FactsScanner, FileFacts};
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

use arrow::array::RecordBatch;

use super::encode::{FileSpec, FileWriter, ParseSummary, RowSource};
use super::error::ConvertError;
use super::schema::Layout;
use super::{ConvertOptions, ConvertSummary, Partition};

/// Inflated CSV handed from the inflate thread to the encode thread at a time.
pub(crate) const BLOCK_BYTES: usize = 256 << 10;

/// Inflated blocks queued between the inflate and parse threads.
const BLOCK_SLOTS: usize = 3;

/// Arrow batches queued between the parse and encode threads.
const BATCH_SLOTS: usize = 1;

/// Compressed pieces queued for the inflate thread, each at most `PIECE_BYTES`.
const INPUT_SLOTS: usize = 16;

/// Input chunks are cut into pieces of at most this size, so the input queue holds at most 4 MiB.
const PIECE_BYTES: usize = 256 << 10;

/// Parquet chunks queued for the consumer.
const OUTPUT_SLOTS: usize = 2;

/// Parquet bytes are handed to the consumer in pieces of about this size as row groups are written.
const OUTPUT_CHUNK_BYTES: usize = 1 << 20;

type InputStream<E> = Pin<Box<dyn Stream<Item = Result<Bytes, E>> + Send>>;

/// What the stream hands the inflate thread.
#[derive(Debug)]
enum Input {
    Chunk(Bytes),
    End,
}

/// What the inflate thread hands the encode thread.
#[derive(Debug)]
enum Block {
    Data(Vec<u8>, usize),
    End,
    Failed(ConvertError),
}

/// What the parse thread hands the encode thread.
#[derive(Debug)]
enum Batch {
    /// Rows in file order (typed), or the next main rows in `timestamp` order (sorted).
    Data(RecordBatch),
    /// The main rows have ended; late rows follow (sorted).
    MainEnd,
    /// The next late rows, in `timestamp` order.
    Late(RecordBatch),
    End(ParseSummary),
    Failed(ConvertError),
}

/// What the encode thread hands the stream.
#[derive(Debug)]
enum Output {
    Chunk(Bytes),
    Done(ConvertSummary),
    Failed(ConvertError),
}

/// The Parquet bytes of one converted file, as a stream: each row group as it completes (in pieces of about 1 MiB),
/// then the footer.
///
/// Returned by [`convert`](super::convert). The stream yields `Ok` chunks that, concatenated, form one Parquet file;
/// it ends after the chunk holding the footer. If the conversion fails it yields one `Err` and ends, and no chunk
/// holding a footer has been yielded, so the concatenation of what was yielded is never a valid Parquet file.
///
/// An input error is yielded as it came, typed (`E`), and ends the stream; a conversion error is yielded as
/// `E::from(ConvertError)`.
///
/// The input stream is polled only while this stream is polled: keep polling it (hand chunks to an upload that
/// runs concurrently) to keep the conversion busy. Dropping the stream stops the conversion: the worker threads
/// notice within one block (256 KiB of CSV) and exit.
pub struct ParquetStream<E> {
    input: Option<InputStream<E>>,
    pending: Bytes,
    to_inflater: PollSender<Input>,
    from_encoder: mpsc::Receiver<Output>,
    cancel: Arc<AtomicBool>,
    done: bool,
    summary: Option<ConvertSummary>,
    facts: FactsHandle,
}

/// The facts of the file a conversion read ([`FileFacts`]: rows, first and last timestamps, rows out of order,
/// crossed and locked books), learnt by the inflate thread as the CSV streams by, before any sort: they describe the
/// file as Tardis sent it, exactly as a raw download's gzip check learns them. A handle outlives the stream, for a
/// consumer that hands the stream on (into a sink).
#[derive(Debug, Clone, Default)]
pub struct FactsHandle(Arc<OnceLock<FileFacts>>);

impl FactsHandle {
    /// Returns the facts once the whole file has been inflated, checked and scanned; `None` before, when the gzip
    /// failed, and when the conversion was asked not to learn them ([`ConvertOptions::file_facts`]). A consumer
    /// takes them only from a conversion that ended without error.
    pub fn get(&self) -> Option<FileFacts> {
        self.0.get().copied()
    }
}

impl<E> std::fmt::Debug for ParquetStream<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetStream")
            .field("done", &self.done)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl<E: From<ConvertError> + 'static> ParquetStream<E> {
    pub(crate) fn start<S>(
        input: S,
        data_type: DataType,
        partition: Partition,
        options: ConvertOptions,
    ) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    {
        let input: InputStream<E> = Box::pin(input);
        let cancel = Arc::new(AtomicBool::new(false));
        let (input_tx, input_rx) = mpsc::channel(INPUT_SLOTS);
        let (block_tx, block_rx) = std_mpsc::sync_channel(BLOCK_SLOTS);
        let (recycle_tx, recycle_rx) = std_mpsc::channel();
        let (batch_tx, batch_rx) = std_mpsc::sync_channel(BATCH_SLOTS);
        let (output_tx, output_rx) = mpsc::channel(OUTPUT_SLOTS);
        let (inflate_cancel, parse_cancel, encode_cancel) =
            (cancel.clone(), cancel.clone(), cancel.clone());
        let layout = Layout::new(data_type, options.schema);
        let rows =
            RowSource::new(FileSpec { layout: &layout, partition: &partition, options: &options });
        let facts = FactsHandle::default();
        let scan = options.file_facts.then(|| (FactsScanner::new(), facts.clone()));
        let spawn = |name: &str, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new().name(name.into()).spawn(work)
        };
        let spawned = spawn(
            "md-convert-inflate",
            Box::new(move || {
                inflate_worker(input_rx, &block_tx, &recycle_rx, &inflate_cancel, scan)
            }),
        )
        .and_then(|_| {
            spawn(
                "md-convert-parse",
                Box::new(move || {
                    parse_worker(rows, &block_rx, &recycle_tx, &batch_tx, &parse_cancel);
                }),
            )
        })
        .and_then(|_| {
            spawn(
                "md-convert-encode",
                Box::new(move || {
                    let file =
                        FileSpec { layout: &layout, partition: &partition, options: &options };
                    encode_worker(&batch_rx, &output_tx, &encode_cancel, file);
                }),
            )
        });
        let mut stream = ParquetStream {
            input: Some(input),
            pending: Bytes::new(),
            to_inflater: PollSender::new(input_tx),
            from_encoder: output_rx,
            cancel,
            done: false,
            summary: None,
            facts,
        };
        if spawned.is_err() {
            // Without the threads the output channel closes at once and the stream reports `Worker`.
            stream.input = None;
        }
        stream
    }

    /// Returns what was converted, once the stream has ended successfully.
    pub fn summary(&self) -> Option<ConvertSummary> {
        self.summary
    }

    /// Returns a handle to the facts of the file, which outlives the stream ([`FactsHandle::get`]).
    pub fn facts_handle(&self) -> FactsHandle {
        self.facts.clone()
    }

    /// Feeds the inflate thread from the input stream until the input or the queue is not ready; an input error is
    /// handed back as it came.
    fn pump(&mut self, cx: &mut Context<'_>) -> Result<(), E> {
        loop {
            let Some(input) = self.input.as_mut() else { return Ok(()) };
            match self.to_inflater.poll_reserve(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => {
                    // The workers have stopped; the output channel says why.
                    self.input = None;
                    return Ok(());
                }
                Poll::Pending => return Ok(()),
            }
            if !self.pending.is_empty() {
                let piece = self.pending.split_to(self.pending.len().min(PIECE_BYTES));
                let _closed = self.to_inflater.send_item(Input::Chunk(piece));
                continue;
            }
            match input.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => self.pending = bytes,
                Poll::Ready(Some(Err(error))) => {
                    self.input = None;
                    return Err(error);
                }
                Poll::Ready(None) => {
                    let _closed = self.to_inflater.send_item(Input::End);
                    self.input = None;
                }
                Poll::Pending => return Ok(()),
            }
        }
    }

    fn stop(&mut self) {
        self.done = true;
        self.input = None;
        self.cancel.store(true, Ordering::Relaxed);
        self.to_inflater.close();
        self.from_encoder.close();
    }
}

impl<E: From<ConvertError> + 'static> Stream for ParquetStream<E> {
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Err(error) = this.pump(cx) {
            this.stop();
            return Poll::Ready(Some(Err(error)));
        }
        match this.from_encoder.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Output::Chunk(bytes))) => Poll::Ready(Some(Ok(bytes))),
            Poll::Ready(Some(Output::Done(summary))) => {
                this.summary = Some(summary);
                this.stop();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Output::Failed(error))) => {
                this.stop();
                Poll::Ready(Some(Err(error.into())))
            }
            Poll::Ready(None) => {
                this.stop();
                Poll::Ready(Some(Err(ConvertError::Worker.into())))
            }
        }
    }
}

impl<E> Drop for ParquetStream<E> {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Reads the compressed pieces the stream sends, as a `BufRead` for the gzip decoder.
struct ChannelReader {
    input: mpsc::Receiver<Input>,
    current: Bytes,
    ended: bool,
}

impl BufRead for ChannelReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.current.is_empty() && !self.ended {
            match self.input.blocking_recv() {
                Some(Input::Chunk(bytes)) => self.current = bytes,
                Some(Input::End) => self.ended = true,
                None => return Err(std::io::Error::other("the conversion was cancelled")),
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, amount: usize) {
        self.current.advance(amount);
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let amount = available.len().min(buf.len());
        buf[..amount].copy_from_slice(&available[..amount]);
        self.consume(amount);
        Ok(amount)
    }
}

/// Fills `buf` from `reader` until it is full or the reader ends; returns how much was read.
pub(crate) fn fill(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(amount) => filled += amount,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// The error for a gzip failure after `uncompressed_bytes` of output.
pub(crate) fn gzip_error(uncompressed_bytes: u64, source: std::io::Error) -> ConvertError {
    ConvertError::Gzip { uncompressed_bytes, source }
}

fn inflate_worker(
    input: mpsc::Receiver<Input>,
    blocks: &std_mpsc::SyncSender<Block>,
    recycled: &std_mpsc::Receiver<Vec<u8>>,
    cancel: &AtomicBool,
    mut scan: Option<(FactsScanner, FactsHandle)>,
) {
    let reader = ChannelReader { input, current: Bytes::new(), ended: false };
    // The client's gzip decoder (ISA-L by default): every member's CRC-32 and size checked, an empty or cut input
    // refused.
    let mut decoder = tardis_client::gzip::GzipReader::new(reader);
    let mut uncompressed_bytes = 0u64;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let mut buf = recycled.try_recv().unwrap_or_else(|_| vec![0; BLOCK_BYTES]);
        let filled = match fill(&mut decoder, &mut buf) {
            Ok(filled) => filled,
            Err(source) => {
                if !cancel.load(Ordering::Relaxed) {
                    let _closed =
                        blocks.send(Block::Failed(gzip_error(uncompressed_bytes, source)));
                }
                return;
            }
        };
        uncompressed_bytes += filled as u64;
        if let Some((scanner, _)) = &mut scan {
            scanner.update(&buf[..filled]);
        }
        if filled > 0 && blocks.send(Block::Data(buf, filled)).is_err() {
            return;
        }
        if filled < BLOCK_BYTES {
            // The gzip ended whole (every member's CRC-32 and size checked): the facts are the file's.
            if let Some((scanner, handle)) = scan {
                let _set_once = handle.0.set(scanner.finish());
            }
            let _closed = blocks.send(Block::End);
            return;
        }
    }
}

fn parse_worker(
    mut rows: RowSource,
    blocks: &std_mpsc::Receiver<Block>,
    recycle: &std_mpsc::Sender<Vec<u8>>,
    batches: &std_mpsc::SyncSender<Batch>,
    cancel: &AtomicBool,
) {
    let failed = |error: ConvertError| {
        let _closed = batches.send(Batch::Failed(error));
    };
    let send_main = |rows: &mut RowSource| {
        rows.take_main().into_iter().all(|batch| batches.send(Batch::Data(batch)).is_ok())
    };
    loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        match blocks.recv() {
            Ok(Block::Data(buf, filled)) => {
                let pushed = rows.push(&buf[..filled]);
                let _closed = recycle.send(buf);
                if let Err(error) = pushed {
                    if let Some(error) = settle(error, blocks, recycle, cancel) {
                        failed(error);
                    }
                    return;
                }
                if !send_main(&mut rows) {
                    return;
                }
            }
            Ok(Block::End) => {
                let (parsed, late) = match rows.finish() {
                    Ok(finished) => finished,
                    Err(error) => return failed(error),
                };
                if !send_main(&mut rows) || batches.send(Batch::MainEnd).is_err() {
                    return;
                }
                if let Some(mut late) = late {
                    loop {
                        if cancel.load(Ordering::Relaxed) {
                            return;
                        }
                        match late.next_batch() {
                            Ok(Some(batch)) => {
                                if batches.send(Batch::Late(batch)).is_err() {
                                    return;
                                }
                            }
                            Ok(None) => break,
                            Err(error) => return failed(error),
                        }
                    }
                }
                let _closed = batches.send(Batch::End(parsed));
                return;
            }
            Ok(Block::Failed(error)) => return failed(error),
            Err(_) => return upstream_gone(cancel).map_or((), failed),
        }
    }
}

/// Decides what a bad row means. A byte damaged on the way can turn rows into garbage long before the gzip
/// member's CRC-32 is checked at its end, so a row error is only the file's fault if the gzip around it is intact:
/// reads (and drops) the rest of the CSV, then returns the gzip error if the damage shows, else the row's `error`.
/// Returns `None` when the conversion was cancelled meanwhile.
fn settle(
    error: ConvertError,
    blocks: &std_mpsc::Receiver<Block>,
    recycle: &std_mpsc::Sender<Vec<u8>>,
    cancel: &AtomicBool,
) -> Option<ConvertError> {
    loop {
        if cancel.load(Ordering::Relaxed) {
            return None;
        }
        match blocks.recv() {
            Ok(Block::Data(buf, _)) => {
                let _closed = recycle.send(buf);
            }
            Ok(Block::End) => return Some(error),
            Ok(Block::Failed(gzip)) => return Some(gzip),
            Err(_) => return (!cancel.load(Ordering::Relaxed)).then_some(ConvertError::Worker),
        }
    }
}

/// Sends the Parquet bytes to the stream in pieces of about 1 MiB as the writer produces them, so a row group is
/// never held twice (once encoded, once as bytes).
struct ChunkSender {
    buffer: Vec<u8>,
    output: mpsc::Sender<Output>,
}

impl ChunkSender {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let bytes = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(OUTPUT_CHUNK_BYTES),
        ));
        self.output
            .blocking_send(Output::Chunk(bytes))
            .map_err(|_| std::io::Error::other("the Parquet stream was dropped"))
    }
}

impl Write for ChunkSender {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= OUTPUT_CHUNK_BYTES {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

fn encode_worker(
    batches: &std_mpsc::Receiver<Batch>,
    output: &mpsc::Sender<Output>,
    cancel: &AtomicBool,
    file: FileSpec<'_>,
) {
    let failed = |error: ConvertError| {
        let _closed = output.blocking_send(Output::Failed(error));
    };
    let sender =
        ChunkSender { buffer: Vec::with_capacity(OUTPUT_CHUNK_BYTES), output: output.clone() };
    let mut writer = match FileWriter::new(file, sender) {
        Ok(writer) => writer,
        Err(error) => return failed(error),
    };
    loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let written = match batches.recv() {
            Ok(Batch::Data(batch)) => writer.write(&batch),
            Ok(Batch::MainEnd) => writer.end_main(),
            Ok(Batch::Late(batch)) => writer.write_late(&batch),
            Ok(Batch::End(parsed)) => {
                match writer.finish(parsed) {
                    Ok((_, summary)) => {
                        let _closed = output.blocking_send(Output::Done(summary));
                    }
                    Err(error) => failed(error),
                }
                return;
            }
            Ok(Batch::Failed(error)) => return failed(error),
            Err(_) => return upstream_gone(cancel).map_or((), failed),
        };
        if let Err(error) = written {
            return failed(error);
        }
    }
}

/// The stage before this one ended without a word: it died (a worker error), unless the conversion was cancelled.
fn upstream_gone(cancel: &AtomicBool) -> Option<ConvertError> {
    (!cancel.load(Ordering::Relaxed)).then_some(ConvertError::Worker)
}
