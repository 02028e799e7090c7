//! Reports of a run: the terminal summary ([`terminal_line`], [`terminal_totals`]), the versioned
//! JSON report ([`json`]), the JUnit XML report ([`junit`]) and the per-run folder ([`folder`]).

pub mod folder;
pub mod json;
pub mod junit;

use crate::runner::{ScenarioResult, Summary};

/// One line for a scenario: outcome, id, duration and its first failure, if any.
pub fn terminal_line(r: &ScenarioResult) -> String {
    let mut line = format!("{:<5} {} ({} ms)", r.outcome.as_str().to_uppercase(), r.id, r.duration_ms);
    if let Some(f) = r.failures.first() {
        let first_line = f.message.lines().next().unwrap_or("");
        let at = f.step.map(|s| format!("step {s}: ")).unwrap_or_default();
        if f.expected.is_empty() {
            line.push_str(&format!(" — {at}{first_line}"));
        } else {
            line.push_str(&format!(" — {at}expected {}, got {}", f.expected, f.actual));
            if !first_line.is_empty() {
                line.push_str(&format!(" ({first_line})"));
            }
        }
        if r.failures.len() > 1 {
            line.push_str(&format!(" [+{} more]", r.failures.len() - 1));
        }
    }
    if let Some(reason) = &r.known_failing {
        line.push_str(&format!(" [known failing: {reason}]"));
    }
    line
}

/// The totals line.
pub fn terminal_totals(results: &[ScenarioResult]) -> String {
    let s = Summary::of(results);
    format!(
        "{} scenario(s): {} pass, {} fail, {} warn, {} skip, {} error{}",
        results.len(),
        s.pass,
        s.fail,
        s.warn,
        s.skip,
        s.error,
        if s.known_failing > 0 { format!(", {} known failing", s.known_failing) } else { String::new() }
    )
}
