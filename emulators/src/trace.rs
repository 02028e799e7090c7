//! The trace: every request an emulator received and what it answered — host, endpoint, status,
//! latency, the `reqId` issued, the codes concerned and the fault applied.
//!
//! Owns: the sequence numbers (`seq`: from 1, strictly increasing, no gaps), a bounded in-memory ring
//! of the newest events, and an optional NDJSON file that gets every event, one JSON object per line in
//! `seq` order, from a dedicated writer thread.
//!
//! "Nothing lost under load" means: the file, when configured, has every event; the ring has the newest
//! `ring_capacity` and counts what it pushed out ([`Trace::evicted`]); [`Trace::total`] counts every
//! event ever recorded. When the writer falls behind, a full queue slows recorders down instead of
//! dropping events.
//!
//! How: `record` takes one lock to number the event and push it (an `Arc`, no copy) onto the ring and
//! onto the writer's queue, so both are in seq order. The writer thread takes the whole queue at once
//! every [`BATCH_INTERVAL`] (sooner when it fills up or a `flush` asks), serializes it outside the
//! lock through a `BufWriter` and flushes the file after each batch; recorders never wake it per event.
//!
//! Must not: decide anything about a call (answers and faults are decided elsewhere and only noted
//! here); serialize or touch the file on the recording thread; hold its lock for more than a push;
//! panic on I/O failure — a write error is kept and reported by every later [`Trace::flush`].

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::system_now_ms;

/// Immutable text of a trace event, shared: cloning it is a reference-count increment, so a host
/// hands its name, address and paths to every event without copying them. Compares, derefs and
/// serialises as a plain string.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Arc<str>);

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Texts that occur in almost every event (HTTP methods, the True API paths), allocated once.
static WELL_KNOWN: std::sync::LazyLock<Vec<Text>> = std::sync::LazyLock::new(|| {
    [
        "POST",
        "GET",
        "PUT",
        "PATCH",
        "DELETE",
        "/api/v4/true-api/codes/check",
        "/api/v4/true-api/cdn/health/check",
        "/api/v4/true-api/cdn/info",
    ]
    .into_iter()
    .map(|t| Text(Arc::from(t)))
    .collect()
});

impl Text {
    /// `s` as a text, shared with every other event when it is a well-known method or path.
    pub fn interned(s: &str) -> Text {
        match WELL_KNOWN.iter().find(|t| &*t.0 == s) {
            Some(t) => t.clone(),
            None => Text::from(s),
        }
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Arc::from(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Arc::from(s))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text(Arc::from(s.as_str()))
    }
}

impl From<Arc<str>> for Text {
    fn from(s: Arc<str>) -> Self {
        Text(s)
    }
}

impl From<&Arc<str>> for Text {
    fn from(s: &Arc<str>) -> Self {
        Text(Arc::clone(s))
    }
}

impl From<&Text> for Text {
    fn from(s: &Text) -> Self {
        s.clone()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        **self == *other.0
    }
}

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Text::from)
    }
}

/// The codes of a trace event: shared with the reqId log, so a checked request's codes are stored
/// once. Compares with a `Vec<String>` or an array of strings.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Codes(Arc<[String]>);

impl Codes {
    /// No codes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The shared slice (cloning it copies no code).
    pub fn shared(&self) -> Arc<[String]> {
        Arc::clone(&self.0)
    }
}

impl std::ops::Deref for Codes {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Debug for Codes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<Arc<[String]>> for Codes {
    fn from(c: Arc<[String]>) -> Self {
        Codes(c)
    }
}

impl From<Vec<String>> for Codes {
    fn from(c: Vec<String>) -> Self {
        Codes(c.into())
    }
}

impl PartialEq<Vec<String>> for Codes {
    fn eq(&self, other: &Vec<String>) -> bool {
        *self.0 == **other
    }
}

impl<const N: usize> PartialEq<[String; N]> for Codes {
    fn eq(&self, other: &[String; N]) -> bool {
        *self.0 == *other
    }
}

impl<const N: usize> PartialEq<[&str; N]> for Codes {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.0.len() == N && self.0.iter().zip(other).all(|(a, b)| a == b)
    }
}

impl Serialize for Codes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Codes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d).map(Codes::from)
    }
}

/// Events kept in memory unless configured otherwise.
pub const DEFAULT_RING_CAPACITY: usize = 100_000;

/// Events queued for the file writer before recorders wait for it (backpressure, never dropping).
pub const QUEUE_BOUND: usize = 65_536;
/// Queue length at which the writer takes a batch before [`BATCH_INTERVAL`] is up.
const WAKE_WRITER_AT: usize = 4_096;
/// Longest an event waits in the queue when the writer is not woken otherwise: how far the file lags
/// behind the ring.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(10);
/// Ring slots allocated up front; a larger ring grows on demand.
const RING_PREALLOCATION: usize = 1 << 17;
const FILE_BUFFER_BYTES: usize = 64 * 1024;

/// One call to an emulator and its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Position in the trace, set by [`Trace::record`] (any value given is replaced).
    pub seq: u64,
    /// World clock when the request arrived, Unix ms.
    pub world_ms: i64,
    /// System clock when the request arrived, Unix ms.
    pub wall_ms: i64,
    /// Which emulator answered: `true-api-discovery`, `cdn-1`, `local-module`, `tspiot`, `kkt`,
    /// `control`, …
    pub component: Text,
    /// The listen address that took the request.
    pub host: Text,
    pub method: Text,
    pub path: Text,
    /// HTTP status sent; 0 when none was (connection dropped or left hanging by a fault).
    pub status: u16,
    pub latency_us: u64,
    /// The `reqId` issued in the answer, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_id: Option<String>,
    /// Full codes concerned, ⟨GS⟩ as the real 0x1D character (`\u001d` in JSON).
    #[serde(default, skip_serializing_if = "Codes::is_empty")]
    pub codes: Codes,
    /// Name of the fault applied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl TraceEvent {
    /// A call that arrived now: `wall_ms` and `world_ms` are both set from the system clock; a caller
    /// whose world clock may have been moved sets [`TraceEvent::world_ms`] from it.
    pub fn new(component: impl Into<Text>, method: impl Into<Text>, path: impl Into<Text>) -> Self {
        let now = system_now_ms();
        TraceEvent {
            seq: 0,
            world_ms: now,
            wall_ms: now,
            component: component.into(),
            host: Text::default(),
            method: method.into(),
            path: path.into(),
            status: 0,
            latency_us: 0,
            req_id: None,
            codes: Codes::default(),
            fault: None,
            note: None,
        }
    }

    pub fn world_ms(mut self, world_ms: i64) -> Self {
        self.world_ms = world_ms;
        self
    }

    pub fn host(mut self, host: impl Into<Text>) -> Self {
        self.host = host.into();
        self
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Latency in whole microseconds (saturating).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self
    }

    pub fn req_id(mut self, req_id: impl Into<String>) -> Self {
        self.req_id = Some(req_id.into());
        self
    }

    /// Adds one code.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        let mut all = self.codes.to_vec();
        all.push(code.into());
        self.codes = all.into();
        self
    }

    /// Adds several codes.
    pub fn codes<I>(mut self, codes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let mut all = self.codes.to_vec();
        all.extend(codes.into_iter().map(Into::into));
        self.codes = all.into();
        self
    }

    /// Sets the codes to a shared slice (no copy: the reqId log may hold the same slice).
    pub fn shared_codes(mut self, codes: Arc<[String]>) -> Self {
        self.codes = codes.into();
        self
    }

    pub fn fault(mut self, fault: impl Into<String>) -> Self {
        self.fault = Some(fault.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// Where the trace keeps events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceConfig {
    /// Newest events kept in memory.
    pub ring_capacity: usize,
    /// NDJSON file receiving every event; created, or truncated if it exists.
    pub ndjson: Option<PathBuf>,
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig { ring_capacity: DEFAULT_RING_CAPACITY, ndjson: None }
    }
}

/// Which events a query returns. Every field is optional, so a query string can carry it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TraceFilter {
    /// Only this component (exact match).
    pub component: Option<String>,
    /// Only this path (exact match).
    pub path: Option<String>,
    /// Only events after this seq (exclusive: pass the last seq seen to get what is new).
    pub since_seq: Option<u64>,
    /// At most this many events, the oldest matching first.
    pub limit: Option<usize>,
}

impl TraceFilter {
    fn matches(&self, event: &TraceEvent) -> bool {
        self.component.as_deref().is_none_or(|c| c == event.component)
            && self.path.as_deref().is_none_or(|p| p == event.path)
    }
}

/// What went wrong with the NDJSON file.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot create trace file {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the trace file writer for {path}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file lacks events from some point on; the ring still has the newest.
    #[error("writing trace file {path} failed; the file is incomplete")]
    Write {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("the trace file writer for {path} has stopped")]
    WriterGone { path: PathBuf },
}

/// The trace of every call. Clones share one trace; dropping the last one writes what is still queued,
/// flushes the file and joins the writer thread (errors at that point are lost: call [`Trace::flush`]
/// first to see them).
#[derive(Clone)]
pub struct Trace {
    shared: Arc<Shared>,
    /// Present when a file is configured; its drop stops the writer.
    writer: Option<Arc<WriterGuard>>,
}

/// What recorders, readers and the writer thread share.
struct Shared {
    state: Mutex<State>,
    ring_capacity: usize,
    /// The next seq; advanced only while `state` is locked, so ring and queue order is seq order.
    next_seq: AtomicU64,
    evicted: AtomicU64,
    /// The writer waits here for a batch, a flush request or the end.
    wake_writer: Condvar,
    /// Recorders wait here while the queue to the writer is full.
    room: Condvar,
    /// `flush` callers wait here for `flushed_through` to reach their seq.
    flushed: Condvar,
}

struct State {
    /// Events in seq order, contiguous: pushed at the back, evicted from the front, cleared whole.
    ring: VecDeque<Arc<TraceEvent>>,
    /// Events not yet taken by the writer, in seq order; always empty without a running writer.
    queue: Vec<Arc<TraceEvent>>,
    writer_running: bool,
    /// The writer waits with an empty queue: the next event must wake it.
    writer_idle: bool,
    recorders_waiting: usize,
    flushers_waiting: usize,
    /// Highest seq a `flush` call waits for.
    flush_wanted: u64,
    /// Every event up to this seq is in the file and the file flushed (or skipped after a failure).
    flushed_through: u64,
    /// The first write error; nothing is written after it.
    failure: Option<Arc<io::Error>>,
    /// The last handle is gone: write what is queued and stop.
    closing: bool,
}

impl Trace {
    /// A trace as configured. With a file, creates (or truncates) it now, so a bad path fails here.
    pub fn new(config: TraceConfig) -> Result<Trace, TraceError> {
        let shared = Arc::new(Shared::new(config.ring_capacity));
        let writer = match config.ndjson {
            Some(path) => Some(Arc::new(WriterGuard::start(Arc::clone(&shared), path)?)),
            None => None,
        };
        Ok(Trace { shared, writer })
    }

    /// A trace kept in memory only.
    pub fn in_memory(ring_capacity: usize) -> Trace {
        Trace { shared: Arc::new(Shared::new(ring_capacity)), writer: None }
    }

    /// Appends `event` and returns the seq it was given. Cheap: one short critical section; waits only
    /// when the file writer is [`QUEUE_BOUND`] events behind.
    pub fn record(&self, event: TraceEvent) -> u64 {
        let shared = &*self.shared;
        let mut event = Arc::new(event);
        let mut state = shared.lock();
        while state.writer_running && state.queue.len() >= QUEUE_BOUND {
            state.recorders_waiting += 1;
            shared.wake_writer.notify_one();
            state = shared.room.wait(state).unwrap_or_else(PoisonError::into_inner);
            state.recorders_waiting -= 1;
        }
        let seq = shared.next_seq.fetch_add(1, Ordering::AcqRel);
        if let Some(fresh) = Arc::get_mut(&mut event) {
            fresh.seq = seq;
        }
        if state.writer_running {
            state.queue.push(Arc::clone(&event));
            let queued = state.queue.len();
            if (queued == 1 && state.writer_idle) || queued == WAKE_WRITER_AT {
                shared.wake_writer.notify_one();
            }
        }
        state.ring.push_back(event);
        let pushed_out = if state.ring.len() > shared.ring_capacity { state.ring.pop_front() } else { None };
        if pushed_out.is_some() {
            shared.evicted.fetch_add(1, Ordering::AcqRel);
        }
        drop(state);
        drop(pushed_out);
        seq
    }

    /// Events in the ring that pass `filter`, in seq order.
    pub fn events(&self, filter: &TraceFilter) -> Vec<TraceEvent> {
        let limit = filter.limit.unwrap_or(usize::MAX);
        let picked: Vec<Arc<TraceEvent>> = {
            let state = self.shared.lock();
            let ring = &state.ring;
            let start = match (filter.since_seq, ring.front()) {
                (Some(since), Some(first)) if since >= first.seq => {
                    usize::try_from(since - first.seq + 1).unwrap_or(usize::MAX).min(ring.len())
                }
                _ => 0,
            };
            ring.range(start..).filter(|e| filter.matches(e)).take(limit).cloned().collect()
        };
        picked.iter().map(|e| TraceEvent::clone(e)).collect()
    }

    /// Empties the ring. Seq numbers, [`Trace::total`], [`Trace::evicted`] and the file go on.
    pub fn clear(&self) {
        let old = std::mem::take(&mut self.shared.lock().ring);
        drop(old);
    }

    /// Events ever recorded.
    pub fn total(&self) -> u64 {
        self.shared.next_seq.load(Ordering::Acquire) - 1
    }

    /// Seq of the latest event recorded, if any.
    pub fn last_seq(&self) -> Option<u64> {
        let total = self.total();
        (total > 0).then_some(total)
    }

    /// Events pushed out of the ring by newer ones (not counting [`Trace::clear`]).
    pub fn evicted(&self) -> u64 {
        self.shared.evicted.load(Ordering::Acquire)
    }

    /// The NDJSON file, if one is configured.
    pub fn ndjson_path(&self) -> Option<&Path> {
        self.writer.as_ref().map(|w| w.path.as_path())
    }

    /// Waits until every event recorded before the call is written and flushed to the file. Reports
    /// the first write error, on this and every later call. Without a file, returns at once.
    pub fn flush(&self) -> Result<(), TraceError> {
        let Some(writer) = &self.writer else { return Ok(()) };
        let shared = &*self.shared;
        let mut state = shared.lock();
        let through = self.total();
        if state.flushed_through < through {
            state.flush_wanted = state.flush_wanted.max(through);
            shared.wake_writer.notify_one();
            state.flushers_waiting += 1;
            while state.flushed_through < through && state.writer_running {
                state = shared.flushed.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            state.flushers_waiting -= 1;
        }
        match &state.failure {
            Some(source) => Err(TraceError::Write { path: writer.path.clone(), source: Arc::clone(source) }),
            None if state.flushed_through < through => {
                Err(TraceError::WriterGone { path: writer.path.clone() })
            }
            None => Ok(()),
        }
    }
}

impl Default for Trace {
    /// In memory, [`DEFAULT_RING_CAPACITY`] events.
    fn default() -> Trace {
        Trace::in_memory(DEFAULT_RING_CAPACITY)
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("total", &self.total())
            .field("evicted", &self.evicted())
            .field("ring_capacity", &self.shared.ring_capacity)
            .field("ndjson", &self.ndjson_path())
            .finish()
    }
}

impl Shared {
    fn new(ring_capacity: usize) -> Shared {
        Shared {
            state: Mutex::new(State {
                ring: VecDeque::with_capacity(ring_capacity.min(RING_PREALLOCATION)),
                queue: Vec::new(),
                writer_running: false,
                writer_idle: false,
                recorders_waiting: 0,
                flushers_waiting: 0,
                flush_wanted: 0,
                flushed_through: 0,
                failure: None,
                closing: false,
            }),
            ring_capacity,
            next_seq: AtomicU64::new(1),
            evicted: AtomicU64::new(0),
            wake_writer: Condvar::new(),
            room: Condvar::new(),
            flushed: Condvar::new(),
        }
    }

    /// The state stays consistent even if a holder panicked: every change under the lock is a push,
    /// a pop, a swap or a counter.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Owns the writer thread; dropped with the last [`Trace`] handle.
struct WriterGuard {
    shared: Arc<Shared>,
    path: PathBuf,
    thread: Option<JoinHandle<()>>,
}

impl WriterGuard {
    fn start(shared: Arc<Shared>, path: PathBuf) -> Result<WriterGuard, TraceError> {
        let file = File::create(&path).map_err(|source| TraceError::Open { path: path.clone(), source })?;
        let writer = NdjsonWriter {
            shared: Arc::clone(&shared),
            out: BufWriter::with_capacity(FILE_BUFFER_BYTES, file),
            failure: None,
        };
        shared.lock().writer_running = true;
        let spawned =
            std::thread::Builder::new().name("markcert-trace-writer".into()).spawn(move || writer.run());
        match spawned {
            Ok(thread) => Ok(WriterGuard { shared, path, thread: Some(thread) }),
            Err(source) => {
                shared.lock().writer_running = false;
                Err(TraceError::Spawn { path, source })
            }
        }
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake_writer.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: takes the queue in batches, serializes each event as one line, flushes the file
/// after every batch and tells waiting `flush` calls how far it got.
struct NdjsonWriter {
    shared: Arc<Shared>,
    out: BufWriter<File>,
    failure: Option<Arc<io::Error>>,
}

impl NdjsonWriter {
    fn run(mut self) {
        let shared = Arc::clone(&self.shared);
        let _stopped = WriterStopped(&shared);
        let mut batch = Vec::new();
        loop {
            let (through, closing) = {
                let mut state = shared.lock();
                while !(state.closing
                    || state.flush_wanted > state.flushed_through
                    || state.queue.len() >= WAKE_WRITER_AT)
                {
                    if state.queue.is_empty() {
                        state.writer_idle = true;
                        state = shared.wake_writer.wait(state).unwrap_or_else(PoisonError::into_inner);
                        state.writer_idle = false;
                    } else {
                        let (woken, wait) = shared
                            .wake_writer
                            .wait_timeout(state, BATCH_INTERVAL)
                            .unwrap_or_else(PoisonError::into_inner);
                        state = woken;
                        if wait.timed_out() {
                            break;
                        }
                    }
                }
                std::mem::swap(&mut state.queue, &mut batch);
                if state.recorders_waiting > 0 {
                    shared.room.notify_all();
                }
                // Every seq taken so far is either written already or in `batch`.
                (shared.next_seq.load(Ordering::Acquire) - 1, state.closing)
            };
            self.write(&mut batch);
            let mut state = shared.lock();
            state.flushed_through = through;
            if state.failure.is_none() {
                state.failure.clone_from(&self.failure);
            }
            if state.flushers_waiting > 0 {
                shared.flushed.notify_all();
            }
            if closing && state.queue.is_empty() {
                drop(state);
                return;
            }
        }
    }

    /// Writes and empties `batch`, then flushes the file; after the first error only empties it.
    fn write(&mut self, batch: &mut Vec<Arc<TraceEvent>>) {
        for event in batch.drain(..) {
            if self.failure.is_none() {
                let written = serde_json::to_writer(&mut self.out, &*event)
                    .map_err(io::Error::from)
                    .and_then(|()| self.out.write_all(b"\n"));
                if let Err(error) = written {
                    self.failure = Some(Arc::new(error));
                }
            }
        }
        if self.failure.is_none() {
            if let Err(error) = self.out.flush() {
                self.failure = Some(Arc::new(error));
            }
        }
    }
}

/// Marks the writer stopped however its thread ends, so nobody waits for it any longer.
struct WriterStopped<'a>(&'a Shared);

impl Drop for WriterStopped<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.writer_running = false;
        state.queue.clear();
        self.0.room.notify_all();
        self.0.flushed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(component: &str, path: &str) -> TraceEvent {
        TraceEvent::new(component, "POST", path).status(200)
    }

    fn seqs(events: &[TraceEvent]) -> Vec<u64> {
        events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn record_assigns_seq_from_one() {
        let trace = Trace::default();
        assert_eq!(trace.last_seq(), None);
        assert_eq!(trace.record(call("cdn-1", "/a").req_id("x")), 1);
        assert_eq!(trace.record(call("cdn-1", "/a")), 2);
        assert_eq!(trace.total(), 2);
        assert_eq!(trace.last_seq(), Some(2));
        let events = trace.events(&TraceFilter::default());
        assert_eq!(seqs(&events), [1, 2]);
        assert_eq!(events[0].req_id.as_deref(), Some("x"));
    }

    #[test]
    fn ring_keeps_the_newest_and_counts_the_rest() {
        let trace = Trace::in_memory(3);
        for _ in 0..10 {
            trace.record(call("cdn-1", "/a"));
        }
        assert_eq!(seqs(&trace.events(&TraceFilter::default())), [8, 9, 10]);
        assert_eq!(trace.evicted(), 7);
        assert_eq!(trace.total(), 10);
    }

    #[test]
    fn zero_capacity_keeps_nothing_in_memory() {
        let trace = Trace::in_memory(0);
        assert_eq!(trace.record(call("cdn-1", "/a")), 1);
        assert!(trace.events(&TraceFilter::default()).is_empty());
        assert_eq!(trace.evicted(), 1);
    }

    #[test]
    fn filter_by_component_path_since_and_limit() {
        let trace = Trace::in_memory(4);
        trace.record(call("cdn-1", "/check")); // 1, evicted later
        trace.record(call("cdn-1", "/check")); // 2
        trace.record(call("cdn-2", "/check")); // 3
        trace.record(call("cdn-1", "/cdn/info")); // 4
        trace.record(call("local-module", "/check")); // 5
        let get = |f: TraceFilter| seqs(&trace.events(&f));
        let component = |c: &str| Some(c.to_string());

        assert_eq!(get(TraceFilter::default()), [2, 3, 4, 5]);
        assert_eq!(get(TraceFilter { component: component("cdn-1"), ..Default::default() }), [2, 4]);
        assert_eq!(get(TraceFilter { path: component("/check"), ..Default::default() }), [2, 3, 5]);
        assert_eq!(
            get(TraceFilter {
                component: component("cdn-1"),
                path: component("/check"),
                ..Default::default()
            }),
            [2]
        );
        assert_eq!(get(TraceFilter { since_seq: Some(0), ..Default::default() }), [2, 3, 4, 5]);
        assert_eq!(get(TraceFilter { since_seq: Some(3), ..Default::default() }), [4, 5]);
        assert_eq!(get(TraceFilter { since_seq: Some(5), ..Default::default() }), Vec::<u64>::new());
        assert_eq!(get(TraceFilter { since_seq: Some(u64::MAX), ..Default::default() }), Vec::<u64>::new());
        assert_eq!(get(TraceFilter { limit: Some(2), ..Default::default() }), [2, 3]);
        assert_eq!(get(TraceFilter { limit: Some(0), ..Default::default() }), Vec::<u64>::new());
        assert_eq!(
            get(TraceFilter {
                path: component("/check"),
                since_seq: Some(2),
                limit: Some(1),
                ..Default::default()
            }),
            [3]
        );
    }

    #[test]
    fn filter_reads_from_a_query_string_shape() {
        let filter: TraceFilter =
            serde_json::from_str(r#"{"component":"cdn-1","since_seq":10}"#).expect("filter parses");
        assert_eq!(
            filter,
            TraceFilter { component: Some("cdn-1".into()), since_seq: Some(10), ..Default::default() }
        );
        let empty: TraceFilter = serde_json::from_str("{}").expect("empty filter parses");
        assert_eq!(empty, TraceFilter::default());
    }

    #[test]
    fn clear_empties_the_ring_but_seq_goes_on() {
        let trace = Trace::in_memory(2);
        for _ in 0..3 {
            trace.record(call("cdn-1", "/a"));
        }
        trace.clear();
        assert!(trace.events(&TraceFilter::default()).is_empty());
        assert_eq!(trace.total(), 3);
        assert_eq!(trace.evicted(), 1);
        assert_eq!(trace.record(call("cdn-1", "/a")), 4);
        assert_eq!(seqs(&trace.events(&TraceFilter { since_seq: Some(1), ..Default::default() })), [4]);
    }

    #[test]
    fn record_replaces_a_given_seq() {
        let trace = Trace::default();
        let mut event = call("cdn-1", "/a");
        event.seq = 99;
        assert_eq!(trace.record(event), 1);
        assert_eq!(seqs(&trace.events(&TraceFilter::default())), [1]);
    }

    #[test]
    fn event_json_carries_gs_as_an_escape_and_omits_empty_fields() {
        let mut event = TraceEvent::new("cdn-1", "POST", "/api/v4/true-api/codes/check")
            .world_ms(1_767_225_600_000)
            .host("127.0.0.1:8443")
            .status(200)
            .latency(Duration::from_micros(1_500))
            .code("0104600439931256215!abcd\u{1d}93dGVz");
        event.wall_ms = 1_767_225_600_001;
        event.seq = 7;
        let json = serde_json::to_string(&event).expect("event serializes");
        assert_eq!(
            json,
            r#"{"seq":7,"world_ms":1767225600000,"wall_ms":1767225600001,"component":"cdn-1","host":"127.0.0.1:8443","method":"POST","path":"/api/v4/true-api/codes/check","status":200,"latency_us":1500,"codes":["0104600439931256215!abcd\u001d93dGVz"]}"#
        );
        let back: TraceEvent = serde_json::from_str(&json).expect("event parses");
        assert_eq!(back, event);
    }
}
