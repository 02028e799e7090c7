//! The KKT through the ATOL driver's JSON web API (kkt.md §7, §10): the request queue
//! (`POST /api/v2/requests`, poll `GET /api/v2/requests/{uuid}` until every task is final), the shift
//! (open when closed, close and reopen when older than 24 h), the marking check of one code
//! (`beginMarkingCodeValidation` → poll `getMarkingCodeValidationStatus` until `ready` →
//! `acceptMarkingCode`, or `declineMarkingCode` when the sale is banned after all), `sell` /
//! `sellReturn`, and clearing the table of checked codes when a receipt is dropped.
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
/// ATOL driver error: keys update required.
const KEYS_UPDATE_REQUIRED: i64 = 418;
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
            return Err(KktCheck::Failed {
                message: format!("ККТ отказала в проверке кода: {e}")
            });
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
                KktCheck::Accepted { check_result, note }
            }
            Err(e) => KktCheck::Failed { message: format!("ККТ не приняла код: {e}") },
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
