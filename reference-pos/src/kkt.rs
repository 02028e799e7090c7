//! The KKT through the ATOL driver's JSON web API (kkt.md §7, §10): the request queue
//! (`POST /api/v2/requests`, poll `GET /api/v2/requests/{uuid}` until every task is final), the shift
//! (open when closed, close and reopen when older than 24 h), the marking check of one code
//! (`beginMarkingCodeValidation` → poll `getMarkingCodeValidationStatus` until `ready` →
//! `acceptMarkingCode`, or `declineMarkingCode` when the sale is banned after all), `sell` /
//! `sellReturn`, and clearing the table of checked codes when a receipt is dropped. The ФН's
//! refusals of a check (no marking flag, notification store full, code table full, keys) become a
//! cashier's message saying what to do ([`refusal_message`]), and the fill level of the notification
//! store is read after every accepted check (`checkImcWorkState`) so that more than 90 % is reported
//! ([`NoticeFill`], kkt.md §6.3, §11.4).
//!
//! Owns the ATOL wire of the POS side and the order of the calls; what goes into a receipt is
//! `receipt.rs`'s business.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::check::{base, excerpt};
use crate::error::KktError;
use crate::log;
use crate::options::{Options, Timeouts};
use crate::protocol::KktEndpoint;

/// ATOL driver error: validation in progress.
const VALIDATION_IN_PROGRESS: i64 = 401;
/// ATOL driver error: invalid state (a finished check neither accepted nor declined).
const INVALID_STATE: i64 = 410;
/// ATOL driver error: marking work denied (ФН registered without the marking flag, 0x32).
const MARKING_DENIED: i64 = 406;
/// ATOL driver error: marking work temporarily blocked (ФН 0x34: send or unload notifications).
const TEMPORARILY_BLOCKED: i64 = 407;
/// ATOL driver error: the table of checked codes is full (ФН 0x35).
const TABLE_FULL: i64 = 408;
/// ATOL driver error: unsent notifications (ФН 0x34 caused by the notification store).
const UNSENT_NOTIFICATIONS: i64 = 417;
/// ATOL driver error: keys update required.
const KEYS_UPDATE_REQUIRED: i64 = 418;
/// ATOL driver error: keys service error.
const KEYS_SERVICE_ERROR: i64 = 419;
/// ATOL driver error: keys update timeout.
const KEYS_UPDATE_TIMEOUT: i64 = 425;
/// libfptr: shift exceeded 24 hours.
pub const SHIFT_EXPIRED: i64 = 68;
/// libfptr: shift closed.
pub const SHIFT_CLOSED: i64 = 73;
/// Time given to the short follow-up tasks (accept, decline, cancel) of a check.
const FOLLOW_UP: Duration = Duration::from_millis(800);

/// One task's outcome in a results envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskResult {
    /// `status`: `ready`, `error`, `blocked`, …
    pub status: String,
    /// `error.code` (or the flat `errorCode`).
    pub code: i64,
    /// `error.description`.
    pub description: String,
    /// `result`.
    pub result: Value,
}

impl TaskResult {
    /// Read one entry of `results`.
    pub fn from_json(v: &Value) -> TaskResult {
        let error = v.get("error");
        let code = error
            .and_then(|e| e.get("code"))
            .or_else(|| v.get("errorCode"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let description = error
            .and_then(|e| e.get("description"))
            .or_else(|| v.get("errorDescription"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        TaskResult {
            status: v.get("status").and_then(Value::as_str).unwrap_or("").to_string(),
            code,
            description,
            result: v.get("result").cloned().unwrap_or(Value::Null),
        }
    }

    /// A status after which the task changes no more.
    pub fn is_final(&self) -> bool {
        matches!(
            self.status.as_str(),
            "ready" | "error" | "interrupted" | "blocked" | "canceled" | "cancelled"
        )
    }

    /// The result of a `ready` task, else the driver error.
    pub fn into_result(self) -> Result<Value, KktError> {
        if self.status == "ready" {
            return Ok(self.result);
        }
        let description = match (self.status.as_str(), self.description.is_empty()) {
            ("error", false) => self.description,
            (status, true) => format!("task {status}"),
            (status, false) => format!("task {status}: {}", self.description),
        };
        Err(KktError::Driver { code: self.code, description })
    }
}

/// What the KKT check of one code ended in.
#[derive(Clone, Debug, PartialEq)]
pub enum KktCheck {
    /// Accepted: `itemInfoCheckResult` (tag 2106) as the KKT returned it, to copy into the position.
    Accepted {
        /// The five flags, verbatim.
        check_result: Value,
        /// A note for the log (`driverError` of the poll, ОИСМ status).
        note: Option<String>,
    },
    /// Declined by the POS after the KKT's answer (ОИСМ: sale suspended).
    Declined {
        /// Why.
        message: String,
    },
    /// The KKT could not check the code.
    Failed {
        /// Why.
        message: String,
    },
}

/// Fill level of the ФН's notification store, `checkImcWorkState` → `fm.noticeFreeMemory` (kkt.md
/// §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NoticeFill {
    /// `less50`.
    Less50,
    /// `50to80`.
    From50To80,
    /// `80to90`.
    From80To90,
    /// `more90`: the cashier is warned.
    More90,
    /// `outOfMemory`: marked sales are blocked until notifications are sent or unloaded.
    Full,
}

impl NoticeFill {
    /// The ATOL name, or `None` for an unknown one.
    pub fn from_atol(name: &str) -> Option<NoticeFill> {
        Some(match name {
            "less50" => NoticeFill::Less50,
            "50to80" => NoticeFill::From50To80,
            "80to90" => NoticeFill::From80To90,
            "more90" => NoticeFill::More90,
            "outOfMemory" => NoticeFill::Full,
            _ => return None,
        })
    }

    /// Read from a `checkImcWorkState` result.
    pub fn of_work_state(result: &Value) -> Option<NoticeFill> {
        result.pointer("/fm/noticeFreeMemory").and_then(Value::as_str).and_then(NoticeFill::from_atol)
    }

    /// The cashier's alert: from more than 90 % on (kkt.md §11.4 "SHOULD alert").
    pub fn alert(self) -> Option<&'static str> {
        match self {
            NoticeFill::More90 => Some(
                "память уведомлений ФН заполнена более чем на 90 %: проверьте связь с ОФД и передайте \
                 уведомления, иначе продажа маркированных товаров будет заблокирована",
            ),
            NoticeFill::Full => Some(
                "память уведомлений ФН заполнена: продажа маркированных товаров заблокирована до передачи \
                 или выгрузки уведомлений",
            ),
            NoticeFill::Less50 | NoticeFill::From50To80 | NoticeFill::From80To90 => None,
        }
    }
}

/// The cashier's message for a check the KKT refused to begin (`e`): what the refusal means and what
/// to do about it (kkt.md §6.4, §8.5, §10.5).
pub fn refusal_message(e: &KktError) -> String {
    let advice = match e.driver_code() {
        Some(MARKING_DENIED) => {
            "ФН не зарегистрирован для работы с маркированными товарами: продажа маркированных товаров \
             невозможна, нужна перерегистрация ККТ"
        }
        Some(TEMPORARILY_BLOCKED | UNSENT_NOTIFICATIONS) => {
            "работа с маркировкой заблокирована: память уведомлений ФН заполнена, передайте уведомления в \
             ОФД или выгрузите их"
        }
        Some(TABLE_FULL) => {
            "таблица проверенных кодов ФН заполнена: закройте этот чек и пробейте товар следующим чеком"
        }
        Some(KEYS_UPDATE_REQUIRED | KEYS_SERVICE_ERROR | KEYS_UPDATE_TIMEOUT) => {
            "ключи проверки кодов в ФН не обновлены: обратитесь в сервисную службу"
        }
        _ => return format!("ККТ отказала в проверке кода: {e}"),
    };
    format!("ККТ отказала в проверке кода ({e}): {advice}")
}

/// The marking check parameters of one code (kkt.md §10.2).
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationRequest {
    /// Base64 of the canonical code's bytes.
    pub imc: String,
    /// ATOL `itemEstimatedStatus` name.
    pub status: &'static str,
    /// `itemQuantity` + `itemUnits` (measured goods, statuses 2 and 4 only).
    pub measured: Option<(f64, String)>,
    /// `itemFractionalAmount` (`"n/m"`).
    pub fraction: Option<String>,
}

impl ValidationRequest {
    /// The `beginMarkingCodeValidation` task.
    pub fn task(&self) -> Value {
        let mut params = json!({
            "imcType": "auto",
            "imc": self.imc,
            "itemEstimatedStatus": self.status,
            "imcModeProcessing": 0,
        });
        if let Some((q, unit)) = &self.measured {
            params["itemQuantity"] = json!(q);
            params["itemUnits"] = json!(unit);
        }
        if let Some(f) = &self.fraction {
            params["itemFractionalAmount"] = json!(f);
        }
        json!({"type": "beginMarkingCodeValidation", "params": params})
    }
}

/// The KKT of the lane.
#[derive(Clone, Debug)]
pub struct Kkt {
    http: reqwest::Client,
    url: String,
    device_id: Option<String>,
    timeouts: Timeouts,
    cashier: String,
    log: bool,
}

impl Kkt {
    /// A client of the ATOL web API at `endpoint`.
    pub fn new(http: reqwest::Client, endpoint: &KktEndpoint, opts: &Options) -> Kkt {
        Kkt {
            http,
            url: base(&endpoint.url).to_string(),
            device_id: endpoint.device_id.clone().filter(|d| !d.is_empty()),
            timeouts: opts.timeouts.clone(),
            cashier: opts.cashier.clone(),
            log: opts.log,
        }
    }

    fn say(&self, msg: &str) {
        if self.log {
            log(msg);
        }
    }

    /// Queue `tasks` as one request and wait until every task is final (or `deadline`).
    pub async fn request(&self, tasks: Vec<Value>, deadline: Instant) -> Result<Vec<TaskResult>, KktError> {
        let uuid = uuid::Uuid::new_v4().to_string();
        let query = match &self.device_id {
            Some(d) => format!("?deviceID={d}"),
            None => String::new(),
        };
        let remaining = |now: Instant| deadline.saturating_duration_since(now).min(self.timeouts.kkt_http);
        let sent = self
            .http
            .post(format!("{}/api/v2/requests{query}", self.url))
            .json(&json!({"uuid": uuid, "request": tasks}))
            .timeout(remaining(Instant::now()).max(Duration::from_millis(50)))
            .send()
            .await
            .map_err(|e| KktError::Unreachable(e.to_string()))?;
        let status = sent.status().as_u16();
        if !(200..300).contains(&status) {
            let body = sent.text().await.unwrap_or_default();
            return Err(KktError::Http { status, body: excerpt(&body) });
        }
        let name =
            tasks.first().and_then(|t| t.get("type")).and_then(Value::as_str).unwrap_or("?").to_string();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(KktError::Timeout(name));
            }
            let got = self
                .http
                .get(format!("{}/api/v2/requests/{uuid}", self.url))
                .timeout(remaining(now).max(Duration::from_millis(20)))
                .send()
                .await
                .map_err(|e| KktError::Unreachable(e.to_string()))?;
            let status = got.status().as_u16();
            let body = got.text().await.unwrap_or_default();
            if status != 200 {
                return Err(KktError::Http { status, body: excerpt(&body) });
            }
            let v: Value = serde_json::from_str(&body).map_err(|e| KktError::BadAnswer(e.to_string()))?;
            let results: Vec<TaskResult> = v
                .get("results")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(TaskResult::from_json).collect())
                .unwrap_or_default();
            if results.len() == tasks.len() && results.iter().all(TaskResult::is_final) {
                return Ok(results);
            }
            tokio::time::sleep(
                self.timeouts.kkt_poll.min(deadline.saturating_duration_since(Instant::now())),
            )
            .await;
        }
    }

    /// One task; its result when `ready`.
    pub async fn task(&self, task: Value, deadline: Instant) -> Result<Value, KktError> {
        let mut results = self.request(vec![task], deadline).await?;
        match results.pop() {
            Some(r) => r.into_result(),
            None => Err(KktError::BadAnswer("no result".into())),
        }
    }

    fn operator(&self) -> Value {
        json!({"name": self.cashier})
    }

    /// An open shift younger than 24 h: open one when closed, close and reopen an expired one.
    pub async fn ensure_shift(&self) -> Result<(), KktError> {
        let deadline = Instant::now() + self.timeouts.kkt_task;
        let status = self.task(json!({"type": "getShiftStatus"}), deadline).await?;
        let state =
            status.pointer("/shiftStatus/state").and_then(Value::as_str).unwrap_or("closed").to_string();
        match state.as_str() {
            "opened" => Ok(()),
            "expired" => {
                self.say("the shift is older than 24 h: closing it and opening a new one");
                let close = json!({"type": "closeShift", "operator": self.operator()});
                let open = json!({"type": "openShift", "operator": self.operator()});
                for r in self.request(vec![close, open], deadline).await? {
                    r.into_result()?;
                }
                Ok(())
            }
            _ => {
                self.say("opening a shift");
                self.task(json!({"type": "openShift", "operator": self.operator()}), deadline)
                    .await
                    .map(|_| ())
            }
        }
    }

    /// `beginMarkingCodeValidation`, recovering once from a check left over (cancel it) or from a
    /// keys update requirement (`updateFnmKeys`).
    async fn begin(&self, r: &ValidationRequest, deadline: Instant) -> Result<Value, KktError> {
        match self.task(r.task(), deadline).await {
            Err(e) if matches!(e.driver_code(), Some(VALIDATION_IN_PROGRESS | INVALID_STATE)) => {
                self.say(&format!("a previous marking check is still open ({e}): cancelling it"));
                self.task(json!({"type": "cancelMarkingCodeValidation"}), deadline).await?;
                self.task(r.task(), deadline).await
            }
            Err(e) if e.driver_code() == Some(KEYS_UPDATE_REQUIRED) => {
                self.say("the ФН needs a keys update: running updateFnmKeys");
                self.task(json!({"type": "updateFnmKeys"}), deadline).await?;
                self.task(r.task(), deadline).await
            }
            other => other,
        }
    }

    /// Poll `getMarkingCodeValidationStatus` until `ready` (or `deadline`).
    async fn poll_until_ready(&self, deadline: Instant) -> Result<Value, KktError> {
        loop {
            let status = self.task(json!({"type": "getMarkingCodeValidationStatus"}), deadline).await?;
            if status.get("ready").and_then(Value::as_bool) == Some(true) {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(KktError::Timeout("getMarkingCodeValidationStatus".into()));
            }
            tokio::time::sleep(
                self.timeouts.kkt_poll.min(deadline.saturating_duration_since(Instant::now())),
            )
            .await;
        }
    }

    /// The KKT check of one code the permissive-mode decision allowed: begin → poll until ready →
    /// accept; decline when the ОИСМ says the sale is suspended (2109 = 3) and `decline_sale_stopped`.
    pub async fn validate(
        &self,
        r: &ValidationRequest,
        deadline: Instant,
        decline_sale_stopped: bool,
    ) -> KktCheck {
        match self.start(r, deadline).await {
            Ok(status) => self.finish(status, decline_sale_stopped).await,
            Err(failed) => failed,
        }
    }

    /// The first half of [`Kkt::validate`]: begin → poll until ready; the ready status, or the
    /// failure (a check that did not become ready is cancelled).
    pub async fn start(&self, r: &ValidationRequest, deadline: Instant) -> Result<Value, KktCheck> {
        if let Err(e) = self.begin(r, deadline).await {
            return Err(KktCheck::Failed { message: refusal_message(&e) });
        }
        match self.poll_until_ready(deadline).await {
            Ok(s) => Ok(s),
            Err(e) => {
                let follow = Instant::now() + FOLLOW_UP;
                if let Err(c) = self.task(json!({"type": "cancelMarkingCodeValidation"}), follow).await {
                    self.say(&format!("cancelMarkingCodeValidation failed: {c}"));
                }
                Err(KktCheck::Failed {
                    message: format!("ККТ не завершила проверку кода: {e}")
                })
            }
        }
    }

    /// The second half of [`Kkt::validate`]: from the ready `status`, accept the code, or decline it
    /// when the ОИСМ suspended its sale (and `decline_sale_stopped`).
    pub async fn finish(&self, status: Value, decline_sale_stopped: bool) -> KktCheck {
        let driver_error = status.get("driverError").filter(|d| !d.is_null());
        let driver_code = driver_error.and_then(|d| d.get("code")).and_then(Value::as_i64);
        let follow = Instant::now() + FOLLOW_UP;
        if driver_code == Some(403) {
            return KktCheck::Failed { message: "ККТ: проверка кода отменена".into() };
        }
        let item_status = status.pointer("/onlineValidation/markOperatorItemStatus").and_then(Value::as_str);
        if decline_sale_stopped && item_status == Some("itemSaleStopped") {
            return match self.task(json!({"type": "declineMarkingCode"}), follow).await {
                Ok(_) => KktCheck::Declined {
                    message: "ОИСМ: реализация товара приостановлена (2109 = 3)".into(),
                },
                Err(e) => KktCheck::Failed {
                    message: format!("ОИСМ приостановил продажу; отказ не принят ККТ: {e}"),
                },
            };
        }
        match self.task(json!({"type": "acceptMarkingCode"}), follow).await {
            Ok(accepted) => {
                let check_result = accepted
                    .get("itemInfoCheckResult")
                    .or_else(|| status.pointer("/onlineValidation/itemInfoCheckResult"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let note = driver_error
                    .map(|d| format!("KKT check finished with driverError {d}"))
                    .or_else(|| item_status.map(|s| format!("ОИСМ: {s}")));
                let alert = self.notice_alert(Instant::now() + FOLLOW_UP).await;
                let note = match (note, alert) {
                    (Some(n), Some(a)) => Some(format!("{n}; ВНИМАНИЕ: {a}")),
                    (None, Some(a)) => Some(format!("ВНИМАНИЕ: {a}")),
                    (n, None) => n,
                };
                KktCheck::Accepted { check_result, note }
            }
            Err(e) => KktCheck::Failed { message: format!("ККТ не приняла код: {e}") },
        }
    }

    /// The fill level of the ФН's notification store (`checkImcWorkState`).
    pub async fn notice_fill(&self, deadline: Instant) -> Result<Option<NoticeFill>, KktError> {
        let state = self.task(json!({"type": "checkImcWorkState"}), deadline).await?;
        Ok(NoticeFill::of_work_state(&state))
    }

    /// The cashier's alert about the notification store, if it is more than 90 % full (a KKT that
    /// cannot tell gives none).
    pub async fn notice_alert(&self, deadline: Instant) -> Option<&'static str> {
        match self.notice_fill(deadline).await {
            Ok(fill) => fill.and_then(NoticeFill::alert),
            Err(e) => {
                self.say(&format!("checkImcWorkState failed: {e}"));
                None
            }
        }
    }

    /// Register a receipt (`sell` / `sellReturn` task); the fiscal document number (1040). A closed
    /// or expired shift is fixed and the receipt sent once more.
    pub async fn sell(&self, task: Value) -> Result<u64, KktError> {
        if let Err(e) = self.ensure_shift().await {
            self.say(&format!("could not prepare the shift: {e}"));
        }
        let deadline = Instant::now() + self.timeouts.kkt_task;
        let result = match self.task(task.clone(), deadline).await {
            Err(e) if matches!(e.driver_code(), Some(SHIFT_EXPIRED | SHIFT_CLOSED)) => {
                self.ensure_shift().await?;
                self.task(task, Instant::now() + self.timeouts.kkt_task).await?
            }
            other => other?,
        };
        result.pointer("/fiscalParams/fiscalDocumentNumber").and_then(Value::as_u64).ok_or_else(|| {
            KktError::BadAnswer(format!(
                "no fiscalParams.fiscalDocumentNumber in {}",
                excerpt(&result.to_string())
            ))
        })
    }

    /// Drop every accepted code and any check in progress (B3h), when a receipt is abandoned.
    pub async fn clear_checks(&self) -> Result<(), KktError> {
        let deadline = Instant::now() + self.timeouts.kkt_task;
        self.task(json!({"type": "clearMarkingCodeValidationResult"}), deadline).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use markcert_codes::Layout;

    #[test]
    fn results_read_nested_and_flat_errors() {
        let ok = TaskResult::from_json(
            &json!({"status":"ready","error":{"code":0,"description":"Ошибок нет"},"result":{"x":1}}),
        );
        assert!(ok.is_final());
        assert_eq!(ok.into_result().unwrap(), json!({"x":1}));
        let err = TaskResult::from_json(
            &json!({"status":"error","error":{"code":420,"description":"mark not checked"}}),
        );
        assert_eq!(err.clone().into_result().unwrap_err().driver_code(), Some(420));
        let flat = TaskResult::from_json(
            &json!({"status":"error","errorCode":73,"errorDescription":"shift closed"}),
        );
        assert_eq!(flat.into_result().unwrap_err().driver_code(), Some(73));
        let waiting = TaskResult::from_json(&json!({"status":"inProgress"}));
        assert!(!waiting.is_final());
        let blocked = TaskResult::from_json(&json!({"status":"blocked","error":{"code":0,"description":""}}));
        assert!(blocked.is_final());
        assert!(blocked.into_result().unwrap_err().to_string().contains("blocked"));
        assert_eq!(TaskResult::from_json(&json!(7)).status, "");
    }

    /// The KKT of an in-process emulator stack (default world, real clock), with `change` applied to
    /// its options, and `n` in-circulation dairy codes of the world.
    async fn emulated(
        change: impl FnOnce(&mut markcert_emulators::kkt::options::KktOptions),
        n: usize,
    ) -> (markcert_emulators::stack::Stack, Kkt, Vec<ValidationRequest>) {
        use markcert_emulators::clock::WorldClock;
        use markcert_emulators::stack::{Stack, StackOptions};
        use markcert_emulators::trace::Trace;
        let clock = WorldClock::real();
        let world = markcert_emulators::world::default::default_world(clock.now_ms()).unwrap();
        let stack =
            Stack::start(world, clock, Trace::in_memory(10_000), StackOptions::default()).await.unwrap();
        let device = stack.kkt.as_ref().unwrap();
        let mut o = device.options();
        change(&mut o);
        device.set_options(o).unwrap();
        let endpoint: KktEndpoint =
            serde_json::from_value(serde_json::to_value(&stack.endpoints.kkt).unwrap()).unwrap();
        let kkt = Kkt::new(crate::check::http_client(), &endpoint, &Options::default());
        let requests = {
            let w = stack.world.read().unwrap();
            w.codes()
                .into_iter()
                .filter(|c| c.case.as_deref() == Some("in-circulation"))
                .filter(|c| {
                    markcert_codes::parse(c.code.as_bytes()).is_ok_and(|p| p.layout() == Layout::Milk)
                })
                .take(n)
                .map(|c| ValidationRequest {
                    imc: base64::engine::general_purpose::STANDARD.encode(c.code.as_bytes()),
                    status: "itemPieceSold",
                    measured: None,
                    fraction: None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(requests.len(), n, "dairy codes in the default world");
        kkt.ensure_shift().await.unwrap();
        (stack, kkt, requests)
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(4)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_over_90_percent_is_reported_after_the_accept() {
        let (stack, kkt, r) = emulated(|o| o.fn_m.notice_level = Some(3), 1).await;
        assert_eq!(kkt.notice_fill(soon()).await.unwrap(), Some(NoticeFill::More90));
        match kkt.validate(&r[0], soon(), true).await {
            KktCheck::Accepted { note: Some(note), .. } => {
                assert!(
                    note.contains("ВНИМАНИЕ: память уведомлений ФН заполнена более чем на 90 %"),
                    "{note}"
                )
            }
            other => panic!("{other:?}"),
        }
        stack.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_ordinary_store_gives_no_alert() {
        let (stack, kkt, r) = emulated(|_| {}, 1).await;
        assert_eq!(kkt.notice_fill(soon()).await.unwrap(), Some(NoticeFill::Less50));
        match kkt.validate(&r[0], soon(), true).await {
            KktCheck::Accepted { note, .. } => assert!(!note.unwrap_or_default().contains("ВНИМАНИЕ")),
            other => panic!("{other:?}"),
        }
        stack.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_checks_say_why() {
        let refused = |check: KktCheck| match check {
            KktCheck::Failed { message } => message,
            other => panic!("{other:?}"),
        };
        let (stack, kkt, r) = emulated(|o| o.fn_m.notice_level = Some(4), 1).await;
        let message = refused(kkt.validate(&r[0], soon(), true).await);
        assert!(message.contains("память уведомлений ФН заполнена"), "{message}");
        stack.shutdown().await;

        let (stack, kkt, r) = emulated(|o| o.fn_m.marking_flag = false, 1).await;
        let message = refused(kkt.validate(&r[0], soon(), true).await);
        assert!(message.contains("error 406") && message.contains("не зарегистрирован"), "{message}");
        stack.shutdown().await;

        let (stack, kkt, r) = emulated(|o| o.fn_m.km_table_capacity = 1, 2).await;
        assert!(matches!(kkt.validate(&r[0], soon(), true).await, KktCheck::Accepted { .. }));
        let message = refused(kkt.validate(&r[1], soon(), true).await);
        assert!(message.contains("error 408") && message.contains("следующим чеком"), "{message}");
        stack.shutdown().await;
    }

    #[test]
    fn notice_fill_levels_and_alerts() {
        let state = |name: &str| json!({"fm":{"status":"noImcForCheck","noticeFreeMemory":name},"ecr":{}});
        let levels = [
            ("less50", NoticeFill::Less50),
            ("50to80", NoticeFill::From50To80),
            ("80to90", NoticeFill::From80To90),
            ("more90", NoticeFill::More90),
            ("outOfMemory", NoticeFill::Full),
        ];
        for (name, level) in levels {
            assert_eq!(NoticeFill::of_work_state(&state(name)), Some(level), "{name}");
            assert_eq!(level.alert().is_some(), level >= NoticeFill::More90, "{name}");
        }
        assert_eq!(NoticeFill::of_work_state(&state("half")), None);
        assert_eq!(NoticeFill::of_work_state(&json!({"fm":{}})), None);
        assert_eq!(NoticeFill::of_work_state(&json!(null)), None);
        assert!(NoticeFill::More90.alert().unwrap().contains("90 %"));
        assert!(NoticeFill::Full.alert().unwrap().contains("заблокирована"));
    }

    #[test]
    fn refusals_tell_the_cashier_what_to_do() {
        let driver = |code| KktError::Driver { code, description: "x".into() };
        assert!(refusal_message(&driver(406)).contains("не зарегистрирован для работы с маркированными"));
        for code in [407, 417] {
            let m = refusal_message(&driver(code));
            assert!(m.contains("память уведомлений ФН заполнена"), "{code}: {m}");
            assert!(m.contains(&format!("error {code}")), "{code}: {m}");
        }
        assert!(refusal_message(&driver(408)).contains("следующим чеком"));
        for code in [418, 419, 425] {
            assert!(refusal_message(&driver(code)).contains("ключи проверки"), "{code}");
        }
        assert_eq!(refusal_message(&driver(409)), "ККТ отказала в проверке кода: error 409: x");
        let timeout = KktError::Timeout("beginMarkingCodeValidation".into());
        assert!(refusal_message(&timeout).starts_with("ККТ отказала в проверке кода: the begin"));
    }

    #[test]
    fn begin_task_shapes() {
        let piece =
            ValidationRequest { imc: "QQ==".into(), status: "itemPieceSold", measured: None, fraction: None };
        assert_eq!(
            piece.task(),
            json!({"type":"beginMarkingCodeValidation","params":{"imcType":"auto","imc":"QQ==",
                "itemEstimatedStatus":"itemPieceSold","imcModeProcessing":0}})
        );
        let beer = ValidationRequest {
            measured: Some((0.5, "liter".into())),
            status: "itemDryForSale",
            ..piece.clone()
        };
        assert_eq!(beer.task()["params"]["itemQuantity"], json!(0.5));
        assert_eq!(beer.task()["params"]["itemUnits"], json!("liter"));
        let part = ValidationRequest { fraction: Some("1/10".into()), status: "itemPieceForSale", ..piece };
        assert_eq!(part.task()["params"]["itemFractionalAmount"], json!("1/10"));
    }
}
