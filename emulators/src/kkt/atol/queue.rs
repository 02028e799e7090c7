//! The request queue of the ATOL-compatible web server (`kkt.md` §10.1): requests `{uuid, request}`
//! are stored, run task by task on their device, and their results kept for polling.
//!
//! Two layers:
//! - [`RequestStore`], plain data: the requests by uuid, each task's status and outcome, the queue
//!   numbers, and the bound on finished requests (the oldest finished are dropped first; requests
//!   still waiting or running are never dropped). It decides what runs next and what a failure does
//!   to the tasks after it (they become `blocked`).
//! - [`Queue`], the store plus one worker per device (a tokio task fed by a channel): requests of one
//!   device run one at a time in arrival order, and their tasks in order. The worker calls the
//!   [`TaskRunner`] on the blocking pool, so a slow device never stalls the HTTP side; a `GET` right
//!   after the `POST` may see `wait` or `inProgress`.
//!
//! Decisions where the spec is silent:
//! - `number` is a per-server counter of accepted requests, from 1.
//! - uuids are unique across devices; a uuid whose request was dropped from the bounded store may be
//!   used again. A uuid is any non-empty string of at most [`MAX_UUID_LEN`] bytes.
//! - A task that does not parse is an `error` (code from [`Task::from_json`]) and blocks the rest.
//! - A runner that panics leaves its task `interrupted` (code 6) and blocks the rest.
//! - Cancelling turns the tasks still `wait` into `canceled`; a running task finishes.

use super::error::{AtolError, NO_ERROR_DESCRIPTION};
use super::wire::Task;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::{mpsc, oneshot};

/// Runs tasks on the emulated device. The web layer knows nothing of the device logic: it parses,
/// queues and reports; this does the work.
pub trait TaskRunner: Send + Sync + 'static {
    /// Runs one task on the device (called serially per device, in order). Ok(result JSON or Null)
    /// or a driver error.
    fn run(&self, device_id: &str, task: &Task) -> Result<Value, AtolError>;
}

/// Any suitable closure is a runner.
impl<F> TaskRunner for F
where
    F: Fn(&str, &Task) -> Result<Value, AtolError> + Send + Sync + 'static,
{
    fn run(&self, device_id: &str, task: &Task) -> Result<Value, AtolError> {
        self(device_id, task)
    }
}

/// Finished requests kept unless configured otherwise.
pub const DEFAULT_MAX_REQUESTS_KEPT: usize = 10_000;

/// Longest uuid accepted, in bytes.
pub const MAX_UUID_LEN: usize = 256;

/// Status of one task (§10.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TaskStatus {
    /// Queued.
    Wait,
    /// Running.
    InProgress,
    /// Finished successfully.
    Ready,
    /// Failed.
    Error,
    /// Stopped by the device.
    Interrupted,
    /// Not run because an earlier task of the request failed.
    Blocked,
    /// Cancelled.
    Canceled,
}

impl TaskStatus {
    /// The task will not change any more.
    pub fn is_final(self) -> bool {
        !matches!(self, TaskStatus::Wait | TaskStatus::InProgress)
    }
}

/// `error` of one result: `{"code":0,"description":"Ошибок нет"}` when it went well.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: u16,
    pub description: String,
}

impl From<&AtolError> for ErrorBody {
    fn from(e: &AtolError) -> ErrorBody {
        ErrorBody { code: e.code, description: e.description.clone() }
    }
}

/// One entry of `results`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    pub status: TaskStatus,
    pub error: ErrorBody,
    /// Only with `flat_error_fields`: a copy of `error.code`.
    #[serde(rename = "errorCode", default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u16>,
    /// Only with `flat_error_fields`: a copy of `error.description`.
    #[serde(rename = "errorDescription", default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// The task's result; `null` until it is `ready` (and for tasks without a result).
    pub result: Value,
}

/// The answer of `GET /api/v2/requests/{uuid}`: one result per task, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultsEnvelope {
    pub results: Vec<TaskResult>,
}

impl ResultsEnvelope {
    /// Every task has reached a final status.
    pub fn is_finished(&self) -> bool {
        self.results.iter().all(|r| r.status.is_final())
    }
}

/// The 201 answer of `POST /api/v2/requests`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub number: u64,
    pub uuid: String,
    /// Always false: the emulated queue is never blocked.
    pub is_blocked: bool,
    #[serde(rename = "blockedUUID")]
    pub blocked_uuid: String,
}

/// Why a request was refused or not found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The uuid is already in use.
    #[error("request {0:?} already exists")]
    Conflict(String),
    /// No device of that id.
    #[error("unknown device {0:?}")]
    UnknownDevice(String),
    /// No request of that uuid (never submitted, or dropped from the bounded store).
    #[error("request {0:?} not found")]
    NotFound(String),
    /// Nothing left to cancel: every task has started or finished.
    #[error("request {0:?} has no waiting task to cancel")]
    NothingToCancel(String),
    /// The device's worker has stopped (the server is shutting down).
    #[error("device {0:?} is not running")]
    DeviceStopped(String),
}

/// One task of a stored request.
#[derive(Debug)]
struct Slot {
    /// The parsed task, or why it did not parse.
    task: Result<Task, AtolError>,
    status: TaskStatus,
    /// Set once the task has run: its result, or its error.
    outcome: Option<Result<Value, AtolError>>,
}

#[derive(Debug)]
struct StoredRequest {
    number: u64,
    device: String,
    slots: Vec<Slot>,
    /// Counted among the finished requests (done once).
    finished: bool,
}

/// What a worker does next for a request.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Run task `index`.
    Run { index: usize, task: Task },
    /// Nothing left to run; the request is finished.
    Done,
}

/// How one run of the runner ended.
#[derive(Debug)]
enum Outcome {
    Finished(Result<Value, AtolError>),
    /// The runner panicked.
    Interrupted(AtolError),
}

/// The requests and their tasks (no execution).
#[derive(Debug)]
pub struct RequestStore {
    requests: HashMap<String, StoredRequest>,
    /// uuids of finished requests, oldest first.
    finished: VecDeque<String>,
    max_finished: usize,
    next_number: u64,
}

impl RequestStore {
    /// An empty store keeping at most `max_finished` finished requests.
    pub fn new(max_finished: usize) -> RequestStore {
        RequestStore { requests: HashMap::new(), finished: VecDeque::new(), max_finished, next_number: 1 }
    }

    /// Store a request for `device`; its tasks start `wait`. Returns its queue number.
    pub fn insert(
        &mut self,
        uuid: &str,
        device: &str,
        tasks: Vec<Result<Task, AtolError>>,
    ) -> Result<u64, QueueError> {
        if self.requests.contains_key(uuid) {
            return Err(QueueError::Conflict(uuid.to_string()));
        }
        let number = self.next_number;
        self.next_number += 1;
        let slots =
            tasks.into_iter().map(|task| Slot { task, status: TaskStatus::Wait, outcome: None }).collect();
        self.requests.insert(
            uuid.to_string(),
            StoredRequest { number, device: device.to_string(), slots, finished: false },
        );
        Ok(number)
    }

    /// Requests stored (waiting, running and finished).
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// No request stored.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// The queue number and device of a stored request.
    pub fn info(&self, uuid: &str) -> Option<(u64, &str)> {
        self.requests.get(uuid).map(|r| (r.number, r.device.as_str()))
    }

    /// Start the next waiting task of `uuid` (it becomes `inProgress`), or finish the request. A task
    /// that did not parse fails here, and blocks the rest.
    pub fn start_next(&mut self, uuid: &str) -> Step {
        let Some(req) = self.requests.get_mut(uuid) else { return Step::Done };
        while let Some(index) = req.slots.iter().position(|s| s.status == TaskStatus::Wait) {
            match req.slots[index].task.clone() {
                Ok(task) => {
                    req.slots[index].status = TaskStatus::InProgress;
                    return Step::Run { index, task };
                }
                Err(e) => fail(req, index, TaskStatus::Error, e),
            }
        }
        if !req.finished {
            req.finished = true;
            self.finish(uuid);
        }
        Step::Done
    }

    /// Record the outcome of task `index` of `uuid`: `ready`, or `error` and the rest `blocked`.
    pub fn complete(&mut self, uuid: &str, index: usize, outcome: Result<Value, AtolError>) {
        let Some(req) = self.requests.get_mut(uuid) else { return };
        match outcome {
            Ok(v) => {
                if let Some(slot) = req.slots.get_mut(index) {
                    slot.status = TaskStatus::Ready;
                    slot.outcome = Some(Ok(v));
                }
            }
            Err(e) => fail(req, index, TaskStatus::Error, e),
        }
    }

    /// Task `index` of `uuid` was stopped by the device: `interrupted`, the rest `blocked`.
    pub fn interrupt(&mut self, uuid: &str, index: usize, error: AtolError) {
        if let Some(req) = self.requests.get_mut(uuid) {
            fail(req, index, TaskStatus::Interrupted, error);
        }
    }

    /// Cancel the tasks of `uuid` still waiting. Returns how many were cancelled.
    pub fn cancel(&mut self, uuid: &str) -> Result<usize, QueueError> {
        let req = self.requests.get_mut(uuid).ok_or_else(|| QueueError::NotFound(uuid.to_string()))?;
        let mut n = 0;
        for slot in req.slots.iter_mut().filter(|s| s.status == TaskStatus::Wait) {
            slot.status = TaskStatus::Canceled;
            n += 1;
        }
        if n == 0 {
            return Err(QueueError::NothingToCancel(uuid.to_string()));
        }
        Ok(n)
    }

    /// The results of `uuid`, with the flat `errorCode`/`errorDescription` copies when `flat`.
    pub fn envelope(&self, uuid: &str, flat: bool) -> Option<ResultsEnvelope> {
        let req = self.requests.get(uuid)?;
        let results = req
            .slots
            .iter()
            .map(|s| {
                let (error, result) = match &s.outcome {
                    Some(Ok(v)) => {
                        (ErrorBody { code: 0, description: NO_ERROR_DESCRIPTION.into() }, v.clone())
                    }
                    Some(Err(e)) => (ErrorBody::from(e), Value::Null),
                    None => (ErrorBody { code: 0, description: String::new() }, Value::Null),
                };
                TaskResult {
                    status: s.status,
                    error_code: flat.then_some(error.code),
                    error_description: flat.then(|| error.description.clone()),
                    error,
                    result,
                }
            })
            .collect();
        Some(ResultsEnvelope { results })
    }

    /// The request is finished: remember it, and drop the oldest finished ones over the bound.
    fn finish(&mut self, uuid: &str) {
        self.finished.push_back(uuid.to_string());
        while self.finished.len() > self.max_finished {
            if let Some(old) = self.finished.pop_front() {
                self.requests.remove(&old);
            }
        }
    }
}

/// Task `index` failed with `status`: record the error and block every task still waiting after it.
fn fail(req: &mut StoredRequest, index: usize, status: TaskStatus, error: AtolError) {
    if let Some(slot) = req.slots.get_mut(index) {
        slot.status = status;
        slot.outcome = Some(Err(error));
    }
    for slot in req.slots.iter_mut().skip(index + 1).filter(|s| s.status == TaskStatus::Wait) {
        slot.status = TaskStatus::Blocked;
    }
}

/// What a device's worker is asked to do.
enum Job {
    /// Run the stored request of this uuid.
    Request(String),
    /// Run one task outside the store (the `operations/*` routes) and send back its outcome.
    Direct(Task, oneshot::Sender<Result<Value, AtolError>>),
}

/// The store plus one worker per device. Needs a tokio runtime; the workers stop when the `Queue`
/// is dropped (after the job they are running).
pub struct Queue {
    store: Arc<Mutex<RequestStore>>,
    workers: HashMap<String, mpsc::UnboundedSender<Job>>,
    devices: Vec<String>,
}

impl Queue {
    /// Start one worker per device. `devices` should not be empty (the server checks it).
    pub fn start(devices: Vec<String>, runner: Arc<dyn TaskRunner>, max_finished: usize) -> Queue {
        let store = Arc::new(Mutex::new(RequestStore::new(max_finished)));
        let mut workers = HashMap::new();
        for device in &devices {
            if workers.contains_key(device) {
                continue;
            }
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(worker(device.clone(), Arc::clone(&store), Arc::clone(&runner), rx));
            workers.insert(device.clone(), tx);
        }
        Queue { store, workers, devices }
    }

    /// The configured devices (the first is the default).
    pub fn devices(&self) -> &[String] {
        &self.devices
    }

    /// The device `id` names, or the default one when `None`.
    pub fn device(&self, id: Option<&str>) -> Result<&str, QueueError> {
        let found = match id {
            None => self.devices.first(),
            Some(id) => self.devices.iter().find(|d| d.as_str() == id),
        };
        found.map(String::as_str).ok_or_else(|| QueueError::UnknownDevice(id.unwrap_or_default().to_string()))
    }

    /// Queue a request on `device`; its tasks start running at once, in order.
    pub fn submit(
        &self,
        device: &str,
        uuid: &str,
        tasks: Vec<Result<Task, AtolError>>,
    ) -> Result<Accepted, QueueError> {
        let tx = self.workers.get(device).ok_or_else(|| QueueError::UnknownDevice(device.to_string()))?;
        let number = self.lock().insert(uuid, device, tasks)?;
        if tx.send(Job::Request(uuid.to_string())).is_err() {
            // The worker is gone (shutting down): the request stays `wait`.
            return Err(QueueError::DeviceStopped(device.to_string()));
        }
        Ok(Accepted { number, uuid: uuid.to_string(), is_blocked: false, blocked_uuid: String::new() })
    }

    /// The results of `uuid` so far.
    pub fn results(&self, uuid: &str, flat: bool) -> Option<ResultsEnvelope> {
        self.lock().envelope(uuid, flat)
    }

    /// Cancel what is still waiting in `uuid`; returns the results after cancelling.
    pub fn cancel(&self, uuid: &str, flat: bool) -> Result<ResultsEnvelope, QueueError> {
        let mut store = self.lock();
        store.cancel(uuid)?;
        store.envelope(uuid, flat).ok_or_else(|| QueueError::NotFound(uuid.to_string()))
    }

    /// Run one task on `device` after everything queued before it, outside the store.
    pub async fn run_now(&self, device: &str, task: Task) -> Result<Result<Value, AtolError>, QueueError> {
        let tx = self.workers.get(device).ok_or_else(|| QueueError::UnknownDevice(device.to_string()))?;
        let (reply, answer) = oneshot::channel();
        tx.send(Job::Direct(task, reply)).map_err(|_| QueueError::DeviceStopped(device.to_string()))?;
        answer.await.map_err(|_| QueueError::DeviceStopped(device.to_string()))
    }

    /// Requests stored (waiting, running and finished).
    pub fn stored(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, RequestStore> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One device: jobs one at a time, in arrival order.
async fn worker(
    device: String,
    store: Arc<Mutex<RequestStore>>,
    runner: Arc<dyn TaskRunner>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) {
    let lock = || store.lock().unwrap_or_else(PoisonError::into_inner);
    while let Some(job) = jobs.recv().await {
        match job {
            Job::Request(uuid) => loop {
                let step = lock().start_next(&uuid);
                let Step::Run { index, task } = step else { break };
                match run(&runner, &device, task).await {
                    Outcome::Finished(outcome) => lock().complete(&uuid, index, outcome),
                    Outcome::Interrupted(e) => lock().interrupt(&uuid, index, e),
                }
            },
            Job::Direct(task, reply) => {
                let outcome = match run(&runner, &device, task).await {
                    Outcome::Finished(o) => o,
                    Outcome::Interrupted(e) => Err(e),
                };
                let _ = reply.send(outcome);
            }
        }
    }
}

/// Run one task on the blocking pool.
async fn run(runner: &Arc<dyn TaskRunner>, device: &str, task: Task) -> Outcome {
    let runner = Arc::clone(runner);
    let device = device.to_string();
    match tokio::task::spawn_blocking(move || runner.run(&device, &task)).await {
        Ok(outcome) => Outcome::Finished(outcome),
        Err(e) => {
            Outcome::Interrupted(AtolError::internal(format!("the device stopped during the task: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok_tasks(n: usize) -> Vec<Result<Task, AtolError>> {
        (0..n).map(|_| Ok(Task::PingIsm)).collect()
    }

    fn statuses(s: &RequestStore, uuid: &str) -> Vec<TaskStatus> {
        s.envelope(uuid, false).unwrap().results.iter().map(|r| r.status).collect()
    }

    #[test]
    fn tasks_run_in_order_and_a_failure_blocks_the_rest() {
        use TaskStatus::*;
        let mut s = RequestStore::new(10);
        assert_eq!(s.insert("a", "d", ok_tasks(3)).unwrap(), 1);
        assert_eq!(s.insert("b", "d", ok_tasks(1)).unwrap(), 2);
        assert_eq!(s.insert("a", "d", ok_tasks(1)), Err(QueueError::Conflict("a".into())));
        assert_eq!(statuses(&s, "a"), [Wait, Wait, Wait]);
        assert_eq!(s.start_next("a"), Step::Run { index: 0, task: Task::PingIsm });
        assert_eq!(statuses(&s, "a"), [InProgress, Wait, Wait]);
        s.complete("a", 0, Ok(json!({"x":1})));
        assert_eq!(s.start_next("a"), Step::Run { index: 1, task: Task::PingIsm });
        s.complete("a", 1, Err(AtolError::mark_not_checked()));
        assert_eq!(s.start_next("a"), Step::Done);
        assert_eq!(statuses(&s, "a"), [Ready, Error, Blocked]);
        let env = serde_json::to_value(s.envelope("a", false).unwrap()).unwrap();
        assert_eq!(
            env,
            json!({"results":[
                {"status":"ready","error":{"code":0,"description":"Ошибок нет"},"result":{"x":1}},
                {"status":"error","error":{"code":420,"description":"mark not checked"},"result":null},
                {"status":"blocked","error":{"code":0,"description":""},"result":null}]})
        );
    }

    #[test]
    fn unparsed_tasks_fail_without_running() {
        use TaskStatus::*;
        let mut s = RequestStore::new(10);
        let tasks = vec![Ok(Task::PingIsm), Err(AtolError::not_supported("x")), Ok(Task::PingIsm)];
        s.insert("a", "d", tasks).unwrap();
        assert!(matches!(s.start_next("a"), Step::Run { index: 0, .. }));
        s.complete("a", 0, Ok(Value::Null));
        assert_eq!(s.start_next("a"), Step::Done);
        assert_eq!(statuses(&s, "a"), [Ready, Error, Blocked]);
    }

    #[test]
    fn cancel_and_interrupt() {
        use TaskStatus::*;
        let mut s = RequestStore::new(10);
        s.insert("a", "d", ok_tasks(3)).unwrap();
        assert!(matches!(s.start_next("a"), Step::Run { index: 0, .. }));
        assert_eq!(s.cancel("a"), Ok(2));
        assert_eq!(s.cancel("a"), Err(QueueError::NothingToCancel("a".into())));
        s.complete("a", 0, Ok(Value::Null));
        assert_eq!(s.start_next("a"), Step::Done);
        assert_eq!(statuses(&s, "a"), [Ready, Canceled, Canceled]);
        s.insert("b", "d", ok_tasks(2)).unwrap();
        assert!(matches!(s.start_next("b"), Step::Run { index: 0, .. }));
        s.interrupt("b", 0, AtolError::internal("power"));
        assert_eq!(statuses(&s, "b"), [Interrupted, Blocked]);
        assert_eq!(s.cancel("zz"), Err(QueueError::NotFound("zz".into())));
    }

    #[test]
    fn flat_error_fields() {
        let mut s = RequestStore::new(10);
        s.insert("a", "d", ok_tasks(1)).unwrap();
        let v = serde_json::to_value(s.envelope("a", true).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"results":[{"status":"wait","error":{"code":0,"description":""},
                "errorCode":0,"errorDescription":"","result":null}]})
        );
    }

    #[test]
    fn only_finished_requests_are_dropped_oldest_first() {
        let mut s = RequestStore::new(2);
        for u in ["a", "b", "c", "d"] {
            s.insert(u, "d", ok_tasks(1)).unwrap();
        }
        for u in ["b", "a", "c"] {
            assert!(matches!(s.start_next(u), Step::Run { .. }));
            s.complete(u, 0, Ok(Value::Null));
            assert_eq!(s.start_next(u), Step::Done);
        }
        // b finished first and went; a and c stay; d (still waiting) is never dropped.
        assert!(s.envelope("b", false).is_none());
        assert!(s.envelope("a", false).is_some() && s.envelope("c", false).is_some());
        assert!(s.envelope("d", false).is_some());
        assert_eq!(s.len(), 3);
        // A dropped uuid may be used again.
        assert!(s.insert("b", "d", ok_tasks(1)).is_ok());
    }
}
