//! The scenario-level assertions (`[[assert]]`): each is judged on what the run recorded — the trace
//! of every emulator call, the True API reqId log and the KKT's document journal — after the last step.
//!
//! Every assertion can fail: one about a step's receipt item needs that item to exist, so a POS that
//! never sells the code misses it instead of passing vacuously. A miss carries an explanation and the
//! trace excerpt that shows it.

use markcert_emulators::kkt::grading::{parse_1265, same_code};
use markcert_emulators::stack::Stack;
use markcert_emulators::trace::TraceFilter;

use super::record::{
    answered, concerns, events_after, excerpt, is_check_call, is_sell_of, printable, receipt_item, FoundItem,
    RunRecord, StepSpan,
};
use crate::scenario::{Assertion, StepRef};

/// What judging one assertion concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Judged {
    /// It holds.
    Holds,
    /// It does not hold: why, and the trace lines that show it.
    Misses { message: String, trace: Vec<String> },
    /// It cannot be judged (a step it names did not run, no KKT in this run, …).
    Error(String),
}

fn miss(message: impl Into<String>, trace: Vec<String>) -> Judged {
    Judged::Misses { message: message.into(), trace }
}

/// Everything an assertion is judged on.
pub(crate) struct Judge<'a> {
    /// The emulators of the run.
    pub stack: &'a Stack,
    /// The per-step record.
    pub record: &'a RunRecord,
    /// World time at the start of the scenario (excerpts show offsets from it).
    pub start_ms: i64,
}

/// Whether `value` matches a pattern (a trailing `*` is a prefix; otherwise exact).
fn pattern_matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => value == pattern,
    }
}

impl Judge<'_> {
    /// The trace events with `after < seq <= until`.
    fn window_events(&self, after: u64, until: u64) -> Vec<markcert_emulators::trace::TraceEvent> {
        events_after(self.stack, after).into_iter().take_while(|e| e.seq <= until).collect()
    }

    /// Judges `a`; `number` turns a step reference into a step number.
    pub(crate) fn judge(&self, a: &Assertion, number: impl Fn(&StepRef) -> Option<usize>) -> Judged {
        let step_code = |r: &StepRef| -> Result<(usize, String, StepSpan), Judged> {
            let n = number(r).ok_or_else(|| Judged::Error(format!("{}: {r} does not exist", a.name())))?;
            let code = self.record.codes.get(&n).map(|(c, _)| c.clone());
            let span = self.record.spans.get(&n).copied();
            match (code, span) {
                (Some(c), Some(s)) => Ok((n, c, s)),
                _ => Err(Judged::Error(format!("{}: {r} did not run or sent no code", a.name()))),
            }
        };
        match a {
            Assertion::CheckBeforeSell { step } => match step_code(step) {
                Ok((n, code, span)) => self.check_before_sell(n, &code, span),
                Err(j) => j,
            },
            Assertion::Receipt1265MatchesCheck { step } => match step_code(step) {
                Ok((n, code, span)) => self.with_item(n, &code, span, |item| self.matches_check(&code, span, item)),
                Err(j) => j,
            },
            Assertion::Receipt1265Shared { steps } => {
                let mut found = Vec::new();
                for r in steps {
                    match step_code(r) {
                        Ok(x) => found.push(x),
                        Err(j) => return j,
                    }
                }
                self.shared_1265(&found)
            }
            Assertion::Receipt1265Contains { step, text } => match step_code(step) {
                Ok((n, code, span)) => self.with_item(n, &code, span, |item| {
                    let values = values_1265(item);
                    if values.iter().any(|v| v.contains(text.as_str())) {
                        Judged::Holds
                    } else {
                        miss(
                            format!(
                                "no 1265 of the item in receipt #{} contains {text:?}; it has {}",
                                item.fdn,
                                describe_values(&values)
                            ),
                            Vec::new(),
                        )
                    }
                }),
                Err(j) => j,
            },
            Assertion::No1260 { step } => match step_code(step) {
                Ok((n, code, span)) => self.with_item(n, &code, span, |item| {
                    let values = values_1265(item);
                    if values.is_empty() {
                        Judged::Holds
                    } else {
                        miss(
                            format!(
                                "the item in receipt #{} carries tag 1260 (1265 {}), which a sale without a check \
                                 (emergency mode) must not have",
                                item.fdn,
                                describe_values(&values)
                            ),
                            Vec::new(),
                        )
                    }
                }),
                Err(j) => j,
            },
            Assertion::CodeNotInAnyReceipt { step } => match step_code(step) {
                Ok(_) if self.stack.kkt.is_none() => Judged::Error("this run has no KKT".into()),
                Ok((n, code, _)) => match receipt_item(self.stack, 0, &code) {
                    None => Judged::Holds,
                    Some(item) => miss(
                        format!(
                            "the code of step {n} is an item of receipt #{}: {}",
                            item.fdn,
                            printable(&code)
                        ),
                        self.code_excerpt(&code, 0),
                    ),
                },
                Err(j) => j,
            },
            Assertion::Calls { host, endpoint, status, from_step, to_step, count, min, max } => {
                let span_of = |r: &StepRef| number(r).and_then(|n| self.record.spans.get(&n)).copied();
                let (Some(first), Some(last)) = (span_of(from_step), span_of(to_step.as_ref().unwrap_or(from_step)))
                else {
                    return Judged::Error(format!("{}: a step of the window did not run", a.name()));
                };
                let calls: Vec<_> = self
                    .window_events(first.trace_before, last.trace_after)
                    .into_iter()
                    .filter(|e| pattern_matches(host, e.component.as_str()))
                    .filter(|e| endpoint.as_deref().is_none_or(|p| pattern_matches(p, e.path.as_str())))
                    .filter(|e| status.is_none_or(|s| e.status == s))
                    .collect();
                let n = calls.len() as u64;
                let ok = count.is_none_or(|c| n == c) && min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
                if ok {
                    Judged::Holds
                } else {
                    let want = [
                        count.map(|c| format!("exactly {c}")),
                        min.map(|m| format!("at least {m}")),
                        max.map(|m| format!("at most {m}")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                    let what = format!(
                        "{host}{}{}",
                        endpoint.as_deref().map(|e| format!(" {e}")).unwrap_or_default(),
                        status.map(|s| format!(" answered {s}")).unwrap_or_default()
                    );
                    miss(
                        format!("{n} call(s) to {what} from {from_step} to {}; expected {want}", to_step.as_ref().unwrap_or(from_step)),
                        excerpt(&self.window_events(first.trace_before, last.trace_after), self.start_ms),
                    )
                }
            }
            Assertion::FirstCheckHost { step, host } => {
                let Some(span) = number(step).and_then(|n| self.record.spans.get(&n)).copied() else {
                    return Judged::Error(format!("{}: {step} did not run", a.name()));
                };
                let events = self.window_events(span.trace_before, span.trace_after);
                let first = events
                    .iter()
                    .find(|e| e.path.as_str() == markcert_emulators::cdn::CODES_CHECK_PATH && e.component.as_str().starts_with("cdn-"));
                match first {
                    Some(e) if pattern_matches(host, e.component.as_str()) => Judged::Holds,
                    Some(e) => miss(
                        format!("the first codes/check of {step} went to {}, not {host}", e.component.as_str()),
                        excerpt(&events, self.start_ms),
                    ),
                    None => miss(format!("no codes/check reached a CDN host during {step}"), excerpt(&events, self.start_ms)),
                }
            }
            Assertion::Auth { scheme, from_step, endpoint } => {
                let Some(span) = number(from_step).and_then(|n| self.record.spans.get(&n)).copied() else {
                    return Judged::Error(format!("{}: {from_step} did not run", a.name()));
                };
                let last = super::record::trace_last(self.stack);
                let events = self.window_events(span.trace_before, last);
                let true_api: Vec<_> = events
                    .iter()
                    .filter(|e| e.path.as_str().starts_with("/api/v4/true-api/") && !e.path.as_str().contains("/auth/"))
                    .filter(|e| endpoint.as_deref().is_none_or(|p| pattern_matches(p, e.path.as_str())))
                    .collect();
                let want = scheme.trace_note();
                let wrong: Vec<_> =
                    true_api.iter().filter(|e| e.note.as_deref().is_none_or(|n| !n.split("; ").any(|p| p == want))).collect();
                match (true_api.is_empty(), wrong.first()) {
                    (true, _) => miss(format!("no True API call from {from_step} on to judge the credential of"), Vec::new()),
                    (false, None) => Judged::Holds,
                    (false, Some(e)) => miss(
                        format!(
                            "{} of {} True API call(s) from {from_step} on did not present {want}; first: {} {} ({})",
                            wrong.len(),
                            true_api.len(),
                            e.component.as_str(),
                            e.path.as_str(),
                            e.note.as_deref().unwrap_or("no credential noted")
                        ),
                        excerpt(&events, self.start_ms),
                    ),
                }
            }
            Assertion::NoCalls { host, endpoint, window, after_step } => {
                let Some(span) = number(after_step).and_then(|n| self.record.spans.get(&n)) else {
                    return Judged::Error(format!("{}: {after_step} did not run", a.name()));
                };
                let from = span.world_end_ms;
                let to = from.saturating_add(i64::try_from(window.ms).unwrap_or(i64::MAX));
                let filter =
                    TraceFilter { component: Some(host.clone()), path: endpoint.clone(), ..TraceFilter::default() };
                let calls: Vec<_> = self
                    .stack
                    .trace
                    .events(&filter)
                    .into_iter()
                    // After the step: later in the trace than its last event (the world clock has
                    // millisecond steps, so a call of the step itself can share its end instant).
                    .filter(|e| e.seq > span.trace_after && e.world_ms >= from && e.world_ms <= to)
                    .collect();
                match calls.first() {
                    None => Judged::Holds,
                    Some(first) => miss(
                        format!(
                            "{} call(s) reached {host} within {window} after {after_step}; first: {} {} (trace #{})",
                            calls.len(),
                            first.method.as_str(),
                            first.path.as_str(),
                            first.seq
                        ),
                        excerpt(&calls, self.start_ms),
                    ),
                }
            }
            Assertion::NoKktFindings {} => match &self.stack.kkt {
                None => Judged::Error("this run has no KKT".into()),
                Some(kkt) => {
                    let findings = kkt.findings();
                    if findings.is_empty() {
                        Judged::Holds
                    } else {
                        let list: Vec<String> = findings
                            .iter()
                            .map(|(seq, f)| format!("{} (document {seq}): {}", f.id, f.message))
                            .collect();
                        miss(list.join("; "), Vec::new())
                    }
                }
            },
            Assertion::KktFinding { id } => match &self.stack.kkt {
                None => Judged::Error("this run has no KKT".into()),
                Some(kkt) => {
                    if kkt.findings().iter().any(|(_, f)| f.id == id.as_str()) {
                        Judged::Holds
                    } else {
                        miss(format!("the KKT reported no finding {id}"), Vec::new())
                    }
                }
            },
        }
    }

    /// Runs `f` on the receipt item of step `n`'s code, or misses when there is none.
    fn with_item(
        &self,
        n: usize,
        code: &str,
        span: StepSpan,
        f: impl FnOnce(&FoundItem) -> Judged,
    ) -> Judged {
        if self.stack.kkt.is_none() {
            return Judged::Error("this run has no KKT".into());
        }
        match receipt_item(self.stack, span.docs_before, code) {
            Some(item) => f(&item),
            None => miss(
                format!("no receipt made after step {n} has an item with its code {}", printable(code)),
                self.code_excerpt(code, span.trace_before),
            ),
        }
    }

    /// The trace events about `code` (or of the KKT) after `since`, as excerpt lines.
    fn code_excerpt(&self, code: &str, since: u64) -> Vec<String> {
        let events: Vec<_> = events_after(self.stack, since)
            .into_iter()
            .filter(|e| concerns(e, code) || !super::record::kkt_tasks(e).is_empty())
            .collect();
        excerpt(&events, self.start_ms)
    }

    fn check_before_sell(&self, n: usize, code: &str, span: StepSpan) -> Judged {
        let events = events_after(self.stack, span.trace_before);
        let Some(sell) = events.iter().find(|e| is_sell_of(e, code)) else {
            return miss(
                format!(
                    "the code of step {n} was never sent to the KKT in an accepted sell / sellReturn task: {}",
                    printable(code)
                ),
                self.code_excerpt(code, span.trace_before),
            );
        };
        let checked = events
            .iter()
            .take_while(|e| e.seq < sell.seq)
            .any(|e| is_check_call(e) && answered(e) && concerns(e, code));
        if checked {
            Judged::Holds
        } else {
            miss(
                format!(
                    "the KKT was asked to sell the code of step {n} (trace #{}) with no answered permissive-mode \
                     check of that code (ТС ПИоТ, True API or ЛМ ЧЗ) since the step began",
                    sell.seq
                ),
                self.code_excerpt(code, span.trace_before),
            )
        }
    }

    /// The last ЛМ ЧЗ call after trace event `since` that answered with check `req_id`.
    fn lm_check(&self, req_id: &str, since: u64) -> Option<markcert_emulators::trace::TraceEvent> {
        let filter = TraceFilter {
            component: Some(markcert_emulators::lm::server::COMPONENT.into()),
            since_seq: Some(since),
            ..TraceFilter::default()
        };
        self.stack.trace.events(&filter).into_iter().rev().find(|e| e.req_id.as_deref() == Some(req_id))
    }

    /// The items of the steps `found` (number, code, span) carry one 1265 value, naming one check
    /// (True API or ЛМ ЧЗ) whose codes include all of theirs.
    fn shared_1265(&self, found: &[(usize, String, StepSpan)]) -> Judged {
        if self.stack.kkt.is_none() {
            return Judged::Error("this run has no KKT".into());
        }
        let mut values = Vec::new();
        for (n, code, span) in found {
            let Some(item) = receipt_item(self.stack, span.docs_before, code) else {
                return miss(
                    format!("no receipt made after step {n} has an item with its code {}", printable(code)),
                    self.code_excerpt(code, span.trace_before),
                );
            };
            match values_1265(&item).into_iter().next() {
                Some(v) => values.push((*n, v)),
                None => {
                    return miss(
                        format!("the item of step {n} in receipt #{} has no tag 1260 / 1265", item.fdn),
                        self.code_excerpt(code, span.trace_before),
                    )
                }
            }
        }
        let since = found.iter().map(|(_, _, s)| s.trace_before).min().unwrap_or(0);
        let check_calls = |req_id: Option<&str>| {
            let events: Vec<_> = events_after(self.stack, since)
                .into_iter()
                .filter(is_check_call)
                .filter(|e| {
                    req_id.is_none_or(|id| e.req_id.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(id)))
                })
                .collect();
            excerpt(&events, self.start_ms)
        };
        let first = &values[0].1;
        if values.iter().any(|(_, v)| v != first) {
            let list: Vec<String> = values.iter().map(|(n, v)| format!("step {n}: {v:?}")).collect();
            return miss(
                format!(
                    "the positions of one batch carry different 1265 values ({}); codes checked in one request \
                     share its one 1265 (true-api.md §12.2 rule 2), so they were not checked together or the \
                     stamps came from elsewhere",
                    list.join("; ")
                ),
                check_calls(None),
            );
        }
        let r = match parse_1265(first) {
            Ok(r) => r,
            Err(e) => return miss(format!("1265 {first:?} is malformed: {e}"), Vec::new()),
        };
        let covered: Vec<bool> = if let Some(online) = self.stack.reqlog.get(&r.req_id) {
            found.iter().map(|(_, code, _)| online.codes.iter().any(|c| same_code(c, code))).collect()
        } else {
            let Some(event) = self.lm_check(&r.req_id, since) else {
                return miss(
                    format!(
                        "the shared 1265 names check {}, which no True API host or ЛМ ЧЗ issued",
                        r.req_id
                    ),
                    check_calls(None),
                );
            };
            found.iter().map(|(_, code, _)| concerns(&event, code)).collect()
        };
        match found.iter().zip(&covered).find(|(_, c)| !**c) {
            None => Judged::Holds,
            Some(((n, code, _), _)) => miss(
                format!(
                    "the shared 1265 names check {}, whose codes do not include the code of step {n} ({})",
                    r.req_id,
                    printable(code)
                ),
                check_calls(Some(&r.req_id)),
            ),
        }
    }

    /// The item's 1265 names a check of this very code, made for this scan, with its exact time.
    fn matches_check(&self, code: &str, span: StepSpan, item: &FoundItem) -> Judged {
        let values = values_1265(item);
        let Some(value) = values.first() else {
            return miss(
                format!("the item in receipt #{} has no tag 1260 / 1265", item.fdn),
                self.code_excerpt(code, span.trace_before),
            );
        };
        let r = match parse_1265(value) {
            Ok(r) => r,
            Err(e) => {
                return miss(format!("1265 {value:?} of receipt #{} is malformed: {e}", item.fdn), Vec::new())
            }
        };
        let calls: Vec<_> = events_after(self.stack, span.trace_before)
            .into_iter()
            .filter(|e| {
                is_check_call(e) && e.req_id.as_deref().is_some_and(|id| id.eq_ignore_ascii_case(&r.req_id))
            })
            .collect();
        let trace = excerpt(&calls, self.start_ms);
        if let Some(online) = self.stack.reqlog.get(&r.req_id) {
            if !online.codes.iter().any(|c| same_code(c, code)) {
                return miss(
                    format!(
                        "1265 of receipt #{} names check {} of True API, which was made for other codes",
                        item.fdn, r.req_id
                    ),
                    trace,
                );
            }
            if calls.is_empty() {
                return miss(
                    format!(
                        "1265 of receipt #{} names check {}, made before this scan began",
                        item.fdn, r.req_id
                    ),
                    trace,
                );
            }
            if online.req_timestamp != r.time_ms {
                return miss(
                    format!(
                        "1265 of receipt #{} says Time={} but check {} has reqTimestamp {}",
                        item.fdn, r.time_ms, r.req_id, online.req_timestamp
                    ),
                    trace,
                );
            }
            if r.offline.is_some() {
                return miss(
                    format!("1265 of receipt #{} carries &Inst/&Ver for an online True API check", item.fdn),
                    trace,
                );
            }
            return Judged::Holds;
        }
        let Some(event) = self.lm_check(&r.req_id, span.trace_before) else {
            return miss(
                format!(
                    "1265 of receipt #{} names check {}, which no True API host or ЛМ ЧЗ issued during this scan",
                    item.fdn, r.req_id
                ),
                self.code_excerpt(code, span.trace_before),
            );
        };
        if !concerns(&event, code) {
            return miss(
                format!("1265 of receipt #{} names ЛМ ЧЗ check {}, made for other codes", item.fdn, r.req_id),
                trace,
            );
        }
        let started = event.world_ms.saturating_sub(i64::try_from(event.latency_us / 1000).unwrap_or(0) + 1);
        if !(started..=event.world_ms).contains(&r.time_ms) {
            return miss(
                format!(
                    "1265 of receipt #{} says Time={}, outside ЛМ ЧЗ check {} ({}..{})",
                    item.fdn, r.time_ms, r.req_id, started, event.world_ms
                ),
                trace,
            );
        }
        if r.offline.is_none() {
            return miss(
                format!(
                    "1265 of receipt #{} names ЛМ ЧЗ check {} without &Inst=…&Ver=… (true-api.md §12)",
                    item.fdn, r.req_id
                ),
                trace,
            );
        }
        Judged::Holds
    }
}

/// The 1265 values of an item's 1260 requisites.
fn values_1265(item: &FoundItem) -> Vec<String> {
    item.item.industry.iter().map(|r| r.value.clone()).collect()
}

fn describe_values(values: &[String]) -> String {
    if values.is_empty() {
        "none".into()
    } else {
        values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
    }
}
