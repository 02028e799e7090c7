//! The stdio transport: the SUT is a child process; the harness writes one JSON message per line
//! to its stdin and reads one JSON reply per line from its stdout. Its stderr is kept in a ring of
//! the last lines (quoted in violations) and, optionally, copied to a file (the run folder).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::error::{ProtocolViolation, ViolationKind};
use super::protocol::{excerpt, parse_reply, Message, Reply, Request};
use super::{AdapterClient, Timeouts};

/// Longest stdout line accepted (longer ones are a `not_json` violation).
const MAX_LINE: usize = 4 << 20;

/// How to start the SUT.
#[derive(Clone, Debug, Default)]
pub struct StdioOptions {
    /// Time limits.
    pub timeouts: Timeouts,
    /// Copy the SUT's stderr to this file (created or truncated).
    pub stderr_file: Option<PathBuf>,
    /// How many stderr lines to keep for violations (0 means 20).
    pub stderr_lines: usize,
}

/// The last lines a SUT wrote on stderr.
#[derive(Clone, Debug, Default)]
pub struct StderrRing {
    inner: Arc<Mutex<VecDeque<String>>>,
    cap: usize,
}

impl StderrRing {
    fn new(cap: usize) -> Self {
        StderrRing { inner: Arc::default(), cap: cap.max(1) }
    }

    fn push(&self, line: String) {
        let mut q = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() == self.cap {
            q.pop_front();
        }
        q.push_back(line);
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        let q = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        q.iter().cloned().collect()
    }
}

/// A SUT running as a child process.
#[derive(Debug)]
pub struct StdioAdapter {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    buf: Vec<u8>,
    stderr: StderrRing,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
    timeouts: Timeouts,
    next_id: u64,
}

/// Split a `--sut` command line into words: whitespace separates, single and double quotes group,
/// backslash escapes the next character outside single quotes.
pub fn split_command_line(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

impl StdioAdapter {
    /// Start `command_line` (split with [`split_command_line`], not through a shell).
    pub async fn spawn_command_line(
        command_line: &str,
        options: StdioOptions,
    ) -> Result<Self, ProtocolViolation> {
        let words = split_command_line(command_line);
        let Some((program, args)) = words.split_first() else {
            return Err(ViolationKind::Spawn("the SUT command line is empty".into()).into());
        };
        Self::spawn(program, args, options).await
    }

    /// Start `program` with `args`; stdin/stdout are piped, stderr is captured.
    pub async fn spawn(
        program: &str,
        args: &[String],
        options: StdioOptions,
    ) -> Result<Self, ProtocolViolation> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ViolationKind::Spawn(format!("{program}: {e}")))?;
        let mut file = match &options.stderr_file {
            Some(p) => Some(
                tokio::fs::File::create(p)
                    .await
                    .map_err(|e| ViolationKind::Spawn(format!("{}: {e}", p.display())))?,
            ),
            None => None,
        };
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or_else(|| ViolationKind::Spawn("no stdout pipe".into()))?;
        let stderr_pipe = child.stderr.take().ok_or_else(|| ViolationKind::Spawn("no stderr pipe".into()))?;
        let ring = StderrRing::new(if options.stderr_lines == 0 { 20 } else { options.stderr_lines });
        let ring2 = ring.clone();
        let stderr_task = tokio::spawn(async move {
            let mut r = BufReader::new(stderr_pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if let Some(f) = file.as_mut() {
                            let _ = f.write_all(&line).await;
                            let _ = f.flush().await;
                        }
                        let text = String::from_utf8_lossy(&line);
                        ring2.push(excerpt(text.trim_end_matches(['\n', '\r'])));
                    }
                }
            }
        });
        Ok(StdioAdapter {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            buf: Vec::new(),
            stderr: ring,
            stderr_task: Some(stderr_task),
            timeouts: options.timeouts,
            next_id: 1,
        })
    }

    /// The SUT's last stderr lines, oldest first.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.stderr.lines()
    }

    /// OS process id of the SUT, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Wait up to `grace` for the SUT to exit (after `shutdown_ok`), then kill it. Returns the exit
    /// status as text.
    pub async fn finish(mut self, grace: Duration) -> String {
        self.stdin.take();
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(s)) => s.to_string(),
            Ok(Err(e)) => format!("wait failed: {e}"),
            Err(_) => {
                let _ = self.child.kill().await;
                format!("killed after {:.1} s", grace.as_secs_f64())
            }
        };
        self.drain_stderr().await;
        status
    }

    async fn drain_stderr(&mut self) {
        if let Some(t) = self.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), t).await;
        }
    }

    async fn exit_status(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(1), self.child.wait()).await {
            Ok(Ok(s)) => s.to_string(),
            Ok(Err(e)) => format!("wait failed: {e}"),
            Err(_) => "still running, but its stdout is closed".into(),
        }
    }

    async fn violation(&mut self, kind: ViolationKind, req: &str) -> ProtocolViolation {
        if matches!(kind, ViolationKind::Exited { .. }) {
            self.drain_stderr().await;
        } else {
            // Give the SUT's stderr a moment to arrive (a crash usually prints after the garbage).
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ProtocolViolation { kind, request: Some(req.to_string()), stderr_tail: self.stderr_tail() }
    }

    async fn exchange(&mut self, msg: &Message) -> Result<Reply, ViolationKind> {
        let mut line = serde_json::to_vec(msg).map_err(|e| ViolationKind::Transport(e.to_string()))?;
        line.push(b'\n');
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(ViolationKind::Transport("the SUT's stdin is closed".into()));
        };
        let written = async {
            stdin.write_all(&line).await?;
            stdin.flush().await
        }
        .await;
        if written.is_err() {
            let status = self.exit_status().await;
            return Err(ViolationKind::Exited { status });
        }
        let (phase, limit) = self.timeouts.for_request(msg.id == 1);
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let read = tokio::time::timeout_at(deadline, self.read_line()).await;
            match read {
                Err(_) => return Err(ViolationKind::Timeout { phase, after: limit }),
                Ok(Err(kind)) => return Err(kind),
                Ok(Ok(None)) => {
                    let status = self.exit_status().await;
                    return Err(ViolationKind::Exited { status });
                }
                Ok(Ok(Some(raw))) => {
                    if raw.iter().all(|b| b.is_ascii_whitespace()) {
                        continue; // blank lines are tolerated
                    }
                    return parse_reply(&raw, msg.id, &msg.body);
                }
            }
        }
    }

    /// One stdout line without its terminator; `None` at end of stream. Cancel-safe: a partial
    /// line stays in `self.buf`.
    async fn read_line(&mut self) -> Result<Option<Vec<u8>>, ViolationKind> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let rest = self.buf.split_off(pos + 1);
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.pop();
                return Ok(Some(line));
            }
            if self.buf.len() > MAX_LINE {
                let head = String::from_utf8_lossy(&self.buf[..200]).into_owned();
                self.buf.clear();
                return Err(ViolationKind::NotJson {
                    line: excerpt(&head),
                    error: format!("line longer than {MAX_LINE} bytes"),
                });
            }
            let chunk = match self.stdout.fill_buf().await {
                Ok(c) => c,
                Err(e) => return Err(ViolationKind::Transport(format!("reading stdout: {e}"))),
            };
            if chunk.is_empty() {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(std::mem::take(&mut self.buf)));
            }
            let n = chunk.len();
            self.buf.extend_from_slice(chunk);
            self.stdout.consume(n);
        }
    }
}

impl AdapterClient for StdioAdapter {
    async fn request(&mut self, body: Request) -> Result<Reply, ProtocolViolation> {
        let msg = Message { id: self.next_id, body };
        self.next_id += 1;
        let req = format!("{} #{}", msg.body.type_name(), msg.id);
        match self.exchange(&msg).await {
            Ok(r) => Ok(r),
            Err(kind) => Err(self.violation(kind, &req).await),
        }
    }
}
