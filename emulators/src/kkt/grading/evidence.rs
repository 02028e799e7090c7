//! What the permissive-mode side saw, as the receipt grader needs it: which `reqId`s were issued, for
//! which codes, from which source, and what each code's answer was (spec `true-api.md` §4, §12,
//! `local-module.md` §6). The KKT device implements [`PermissiveEvidence`] from the True API reqId log
//! and the trace; [`MapEvidence`] is the in-memory implementation for tests and scripted scenarios.

use crate::decision::OfflineAnswer;
use crate::trueapi::CodeCheck;
use serde::Serialize;
use std::collections::HashMap;

/// Where an issued check came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckSource {
    /// True API (directly, or through a ТС ПИоТ with `isCheckedOffline: false`).
    Online,
    /// ЛМ ЧЗ (directly, or wrapped by a ТС ПИоТ): 1265 must carry `&Inst=<inst>&Ver=<version>`.
    Offline {
        /// The answer's `inst`.
        inst: String,
        /// The answer's `version`.
        version: String,
    },
    /// Emergency mode (203): no 1260 may be written from it.
    Emergency,
}

/// One check with a `reqId`: what tag 1265 must copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssuedCheck {
    /// `reqId` (lower-case hyphenated UUID).
    pub req_id: String,
    /// `reqTimestamp`, Unix ms.
    pub time_ms: i64,
    /// The codes of the request, as sent (full codes, or КИ for an ЛМ ЧЗ).
    pub codes: Vec<String>,
    /// Online, offline or emergency.
    pub source: CheckSource,
}

/// What one code's permissive-mode check answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "answer", rename_all = "snake_case")]
pub enum PermissiveAnswer {
    /// A True API per-code object.
    Online(CodeCheck),
    /// An ЛМ ЧЗ per-code object.
    Offline(OfflineAnswer),
    /// 203: emergency mode, no check.
    Emergency,
    /// No usable answer (514, request-level error, ЛМ ЧЗ unusable).
    Error,
}

/// The latest permissive-mode answer about a code, whatever its source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LastAnswer {
    /// When it was answered (or failed), Unix ms.
    pub time_ms: i64,
    /// Its `reqId`, when it had one.
    pub req_id: Option<String>,
    /// The answer.
    pub answer: PermissiveAnswer,
}

/// The grader's view of the permissive-mode checks. Codes are compared by [`same_code`].
pub trait PermissiveEvidence {
    /// The check that issued `req_id`, if any.
    fn issued(&self, req_id: &str) -> Option<IssuedCheck>;

    /// The answer about `code` in the check `req_id`, if that check covered it.
    fn answer(&self, req_id: &str, code: &str) -> Option<PermissiveAnswer>;

    /// The latest answer about `code` at or before `at_ms`, including emergency and failed checks,
    /// which have no `reqId` a receipt could name. Lets the grader judge positions without a usable
    /// 1265; the default knows nothing.
    fn last_answer(&self, code: &str, at_ms: i64) -> Option<LastAnswer> {
        let _ = (code, at_ms);
        None
    }
}

/// Whether two strings name the same marking code: equal, or with the same КИ (`codes.md` §9.4; an
/// ЛМ ЧЗ is sent the КИ only). A string that does not parse is its own КИ.
pub fn same_code(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let ki = |s: &str| {
        markcert_codes::parse(s.as_bytes()).map(|c| c.ki().to_string()).unwrap_or_else(|_| s.into())
    };
    ki(a) == ki(b)
}

/// In-memory [`PermissiveEvidence`].
#[derive(Clone, Debug, Default)]
pub struct MapEvidence {
    issued: HashMap<String, IssuedCheck>,
    answers: HashMap<String, Vec<(String, PermissiveAnswer)>>,
    history: Vec<(String, LastAnswer)>,
}

impl MapEvidence {
    /// Nothing recorded.
    pub fn new() -> Self {
        MapEvidence::default()
    }

    /// A True API check `req_id` at `time_ms` answering `answers` (one per code, keyed by `cis`).
    pub fn online(&mut self, req_id: &str, time_ms: i64, answers: Vec<CodeCheck>) -> &mut Self {
        let codes = answers.iter().map(|a| a.cis.clone()).collect();
        let answers = answers.into_iter().map(|a| (a.cis.clone(), PermissiveAnswer::Online(a))).collect();
        let check = IssuedCheck { req_id: req_id.into(), time_ms, codes, source: CheckSource::Online };
        self.record(check, answers)
    }

    /// An ЛМ ЧЗ check `req_id` at `time_ms` stamped `inst`/`version`, answering `answers`.
    pub fn offline(
        &mut self,
        req_id: &str,
        time_ms: i64,
        inst: &str,
        version: &str,
        answers: Vec<OfflineAnswer>,
    ) -> &mut Self {
        let codes = answers.iter().map(|a| a.cis.clone()).collect();
        let answers = answers.into_iter().map(|a| (a.cis.clone(), PermissiveAnswer::Offline(a))).collect();
        let source = CheckSource::Offline { inst: inst.into(), version: version.into() };
        self.record(IssuedCheck { req_id: req_id.into(), time_ms, codes, source }, answers)
    }

    /// A 203 for `code` at `time_ms` (no `reqId`).
    pub fn emergency(&mut self, code: &str, time_ms: i64) -> &mut Self {
        self.history
            .push((code.into(), LastAnswer { time_ms, req_id: None, answer: PermissiveAnswer::Emergency }));
        self
    }

    /// A check of `code` at `time_ms` that got no usable answer (514, errors).
    pub fn no_answer(&mut self, code: &str, time_ms: i64) -> &mut Self {
        self.history
            .push((code.into(), LastAnswer { time_ms, req_id: None, answer: PermissiveAnswer::Error }));
        self
    }

    /// Any issued check with its per-code answers `(code, answer)`.
    pub fn record(&mut self, check: IssuedCheck, answers: Vec<(String, PermissiveAnswer)>) -> &mut Self {
        for (code, answer) in &answers {
            let last = LastAnswer {
                time_ms: check.time_ms,
                req_id: Some(check.req_id.clone()),
                answer: answer.clone(),
            };
            self.history.push((code.clone(), last));
        }
        self.answers.insert(check.req_id.clone(), answers);
        self.issued.insert(check.req_id.clone(), check);
        self
    }
}

impl PermissiveEvidence for MapEvidence {
    fn issued(&self, req_id: &str) -> Option<IssuedCheck> {
        self.issued.get(req_id).cloned()
    }

    fn answer(&self, req_id: &str, code: &str) -> Option<PermissiveAnswer> {
        let answers = self.answers.get(req_id)?;
        answers.iter().find(|(c, _)| same_code(c, code)).map(|(_, a)| a.clone())
    }

    fn last_answer(&self, code: &str, at_ms: i64) -> Option<LastAnswer> {
        self.history
            .iter()
            .filter(|(c, last)| last.time_ms <= at_ms && same_code(c, code))
            .max_by_key(|(_, last)| last.time_ms)
            .map(|(_, last)| last.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MILK: &str = "0104612345000438215aZ;q0\u{1d}93Jm4t";

    #[test]
    fn codes_match_by_ki() {
        assert!(same_code(MILK, MILK));
        assert!(same_code(MILK, "0104612345000438215aZ;q0"));
        assert!(same_code("04612345000124Kx7;pQaAC/UZt9+", "04612345000124Kx7;pQa"));
        assert!(!same_code(MILK, "0104612345000438215aZ;q1\u{1d}93Jm4t"));
        assert!(!same_code("garbage", "other garbage"));
    }

    #[test]
    fn last_answer_is_the_latest_not_after() {
        let mut e = MapEvidence::new();
        e.no_answer(MILK, 100).emergency(MILK, 200);
        let ki = "0104612345000438215aZ;q0";
        e.offline("r1", 300, "i", "v", vec![OfflineAnswer { cis: ki.into(), ..OfflineAnswer::default() }]);
        assert_eq!(e.last_answer(MILK, 50), None);
        assert_eq!(e.last_answer(MILK, 150).map(|l| l.answer), Some(PermissiveAnswer::Error));
        assert_eq!(e.last_answer(MILK, 250).map(|l| l.answer), Some(PermissiveAnswer::Emergency));
        assert_eq!(e.last_answer(MILK, 300).and_then(|l| l.req_id), Some("r1".into()));
        assert!(matches!(e.answer("r1", MILK), Some(PermissiveAnswer::Offline(_))));
        assert_eq!(e.answer("r2", MILK), None);
        assert_eq!(
            e.issued("r1").map(|i| i.source),
            Some(CheckSource::Offline { inst: "i".into(), version: "v".into() })
        );
    }
}
