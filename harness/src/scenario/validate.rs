//! Semantic checks of a parsed [`Scenario`]: ids, step references, receipt order, world cases,
//! scanner profiles, fault rules, expectations. Each error points at the part it is about.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use markcert_codes::{groups, Layout};
use markcert_emulators::world::file::{self, WorldFile};

use super::error::ScenarioError;
use super::load::locate;
use super::model::{
    Assertion, At, CodeRef, Decision, FaultEvent, Feature, ReceiptKind, Role, Scenario, Step, StepRef,
};

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid { at: locate(self.file, self.text, span.start), message: message.into() }
    }
}

/// Case labels of the embedded default world, with the product group of each code.
/// Product group and layout of one labelled code of the default world.
type CodeKind = (Option<u16>, Option<Layout>);

/// The default world's labelled codes: case → the kind of each code, in world order.
fn default_cases() -> &'static HashMap<String, Vec<CodeKind>> {
    static CASES: OnceLock<HashMap<String, Vec<CodeKind>>> = OnceLock::new();
    CASES.get_or_init(|| {
        let mut cases: HashMap<String, Vec<CodeKind>> = HashMap::new();
        if let Ok(world) = markcert_emulators::world::default::default_world(0) {
            for code in world.codes() {
                if let Some(case) = &code.case {
                    let parsed = markcert_codes::parse(code.code.as_bytes()).ok();
                    let group = parsed.as_ref().and_then(|p| world.group_of(p.gtin()));
                    cases.entry(case.clone()).or_default().push((group, parsed.map(|p| p.layout())));
                }
            }
        }
        cases
    })
}

/// Checks a parsed scenario; `text` is its source (for positions), `base_dir` the folder a world
/// `base` path is relative to (`None`: the path is not opened).
pub fn validate(s: &Scenario, text: &str, base_dir: Option<&Path>) -> Result<(), ScenarioError> {
    let cx = Ctx { file: &s.source, text };
    check_metadata(&cx, s)?;
    let inline_cases = check_world(&cx, s, base_dir)?;
    let labels = check_steps(&cx, s, &inline_cases)?;
    let resolve = |r: &StepRef| -> Option<usize> {
        match r {
            StepRef::Number(n) => usize::try_from(*n).ok().filter(|n| (1..=s.steps.len()).contains(n)),
            StepRef::Label(l) => labels.get(l.as_str()).copied(),
        }
    };
    // Fault timeline.
    let set_names: HashSet<&str> = s
        .faults
        .iter()
        .filter_map(|f| f.get_ref().set.as_ref().and_then(|r| r.name.as_deref()))
        .chain(s.steps.iter().filter_map(|st| match st.get_ref() {
            Step::SetFault { rule, .. } => rule.name.as_deref(),
            _ => None,
        }))
        .collect();
    for (i, event) in s.faults.iter().enumerate() {
        let span = event.span();
        let FaultEvent { at, set, clear } = event.get_ref();
        let here = format!("fault {}", i + 1);
        if let At::Step(r) = at {
            let Some(n) = resolve(r) else {
                return Err(cx.err(span, format!("{here}: `at` refers to {r}, which does not exist")));
            };
            if let Some(b) = s.batch_of(n).filter(|b| s.batch_of(n - 1) == Some(*b)) {
                return Err(cx.err(
                    span,
                    format!("{here}: `at` refers to {r}, inside batch \"{b}\", which is sent at once: use its first step"),
                ));
            }
        }
        match (set, clear) {
            (Some(rule), None) => {
                rule.validate().map_err(|e| cx.err(span, format!("{here}: bad rule: {e}")))?
            }
            (None, Some(name)) if name == "*" || set_names.contains(name.as_str()) => {}
            (None, Some(name)) => {
                return Err(
                    cx.err(span, format!("{here}: `clear` names rule \"{name}\", which no `set` defines"))
                )
            }
            _ => return Err(cx.err(span, format!("{here}: give exactly one of `set` and `clear`"))),
        }
    }
    for (i, step) in s.steps.iter().enumerate() {
        if let Step::ClearFault { name: Some(name), .. } = step.get_ref() {
            if !set_names.contains(name.as_str()) {
                return Err(cx.err(
                    step.span(),
                    format!("step {}: clear_fault names rule \"{name}\", which no `set` defines", i + 1),
                ));
            }
        }
        if let Step::Return { of, .. } = step.get_ref() {
            match resolve(of) {
                Some(n) if n <= i && matches!(s.steps[n - 1].get_ref(), Step::Scan { .. }) => {}
                _ => {
                    return Err(cx.err(
                        step.span(),
                        format!("step {}: `of` must refer to an earlier scan step, not {of}", i + 1),
                    ))
                }
            }
        }
    }
    // Assertions.
    for (i, assertion) in s.asserts.iter().enumerate() {
        let a: &Assertion = assertion.get_ref();
        for (r, needs_code) in a.step_refs() {
            let Some(n) = resolve(r) else {
                return Err(cx.err(
                    assertion.span(),
                    format!("assert {} ({}): refers to {r}, which does not exist", i + 1, a.name()),
                ));
            };
            if needs_code && !s.steps[n - 1].get_ref().carries_code() {
                return Err(cx.err(
                    assertion.span(),
                    format!(
                        "assert {} ({}): {r} is a {} step; it must be a scan or return step",
                        i + 1,
                        a.name(),
                        s.steps[n - 1].get_ref().name()
                    ),
                ));
            }
        }
        if let Assertion::Receipt1265Shared { steps } = a {
            let batches: Vec<Option<&str>> =
                steps.iter().map(|r| resolve(r).and_then(|n| s.batch_of(n))).collect();
            if steps.len() < 2 || batches.iter().any(|b| b.is_none() || *b != batches[0]) {
                return Err(cx.err(
                    assertion.span(),
                    format!(
                        "assert {} (receipt_1265_shared): `steps` must name two or more scans of one batch",
                        i + 1
                    ),
                ));
            }
        }
        if let Assertion::KktFinding { id } = a {
            if id.trim().is_empty() {
                return Err(cx.err(assertion.span(), format!("assert {} (kkt_finding): empty id", i + 1)));
            }
        }
    }
    Ok(())
}

fn check_metadata(cx: &Ctx<'_>, s: &Scenario) -> Result<(), ScenarioError> {
    let id = s.id.get_ref();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(cx.err(s.id.span(), format!("id \"{id}\": use lowercase letters, digits and `-`")));
    }
    if s.title.trim().is_empty() {
        return Err(cx.err(s.id.span(), "title is empty"));
    }
    if s.roles.is_empty() {
        return Err(cx.err(s.id.span(), "roles is empty"));
    }
    if s.features.contains(&Feature::Tspiot) && s.features.contains(&Feature::Direct) {
        return Err(
            cx.err(s.id.span(), "features: a scenario runs in one mode, `tspiot` or `direct`, not both")
        );
    }
    if s.steps.is_empty() {
        return Err(cx.err(s.id.span(), "steps: a scenario needs at least one step"));
    }
    if let Some(patch) = &s.kkt {
        let ok = patch.is_object()
            && markcert_emulators::kkt::options::KktOptions::default().patched(patch).is_ok();
        if !ok {
            let why = markcert_emulators::kkt::options::KktOptions::default()
                .patched(patch)
                .err()
                .map_or("must be a table of KKT options".to_string(), |e| e.to_string());
            return Err(cx.err(
                s.id.span(),
                format!("kkt: {why} (the sections of docs/kkt.md: fn, ofd, oism, kkt, grading)"),
            ));
        }
    }
    check_option_patches(cx, s)?;
    for spanned in &s.steps {
        if let Some(role) = spanned.get_ref().role() {
            if !s.roles.contains(&role) {
                let r = if role == Role::Pos { "pos" } else { "tspiot" };
                return Err(cx.err(
                    spanned.span(),
                    format!(
                        "step `{}` drives a {r} implementation, but roles does not list \"{r}\"",
                        spanned.get_ref().name()
                    ),
                ));
            }
        }
    }
    if s.roles.contains(&Role::Pos) && s.roles.contains(&Role::Tspiot) {
        return Err(cx.err(s.id.span(), "roles: a scenario drives one role, \"pos\" or \"tspiot\""));
    }
    for case in &s.cases {
        let ok = !case.is_empty()
            && case
                .split('-')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        if !ok {
            return Err(cx.err(
                s.id.span(),
                format!("cases: \"{case}\" is not a case id of spec cases.md (upper case, e.g. BAN-EXPIRED)"),
            ));
        }
    }
    Ok(())
}

/// The `[tspiot]`, `[true_api]` and `[lm]` tables must patch the emulators' options into valid ones.
fn check_option_patches(cx: &Ctx<'_>, s: &Scenario) -> Result<(), ScenarioError> {
    use markcert_emulators::lm::options::LmOptions;
    use markcert_emulators::trueapi::TrueApiOptions;
    use markcert_emulators::tspiot::options::TsPiotOptions;
    if s.tspiot.is_some() && s.roles.contains(&Role::Tspiot) {
        return Err(cx.err(
            s.id.span(),
            "tspiot: in role \"tspiot\" the ТС ПИоТ is the implementation under test; its settings are not the scenario's",
        ));
    }
    if s.tspiot_tls && !(s.roles.contains(&Role::Pos) && s.features.contains(&Feature::Tspiot)) {
        return Err(cx.err(
            s.id.span(),
            "tspiot_tls: only a POS that works through the emulated ТС ПИоТ (role \"pos\", features = [\"tspiot\"]) talks to it over HTTPS",
        ));
    }
    type Check = fn(&serde_json::Value) -> Result<(), String>;
    let checks: [(&str, &Option<serde_json::Value>, Check); 3] = [
        ("tspiot", &s.tspiot, |p| crate::runner::options::patched(&TsPiotOptions::default(), p).map(drop)),
        ("true_api", &s.true_api, |p| {
            crate::runner::options::patched(&TrueApiOptions::default(), p).map(drop)
        }),
        ("lm", &s.lm, |p| crate::runner::options::patched(&LmOptions::default(), p).map(drop)),
    ];
    for (name, patch, check) in checks {
        if let Some(p) = patch {
            check(p).map_err(|e| cx.err(s.id.span(), format!("{name}: {e}")))?;
        }
    }
    Ok(())
}

/// Builds the inline additions as a world (so their shapes and codes are checked) and returns the
/// case labels they add.
fn check_world(
    cx: &Ctx<'_>,
    s: &Scenario,
    base_dir: Option<&Path>,
) -> Result<HashSet<String>, ScenarioError> {
    let Some(w) = &s.world else { return Ok(HashSet::new()) };
    // `toml` keeps no span for a table that may be implicit (`[[world.code]]` alone), so point at the
    // first line that opens it.
    let start = text_offset_of_world(cx.text);
    let span = start..start;
    if !w.is_default_base() {
        if w.base.trim().is_empty() {
            return Err(cx.err(span, "world.base: empty; write \"default\" or a world file path"));
        }
        if let Some(dir) = base_dir {
            let path = dir.join(&w.base);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                cx.err(span.clone(), format!("world.base: cannot read {}: {e}", path.display()))
            })?;
            file::load(&text, 0)
                .map_err(|e| cx.err(span.clone(), format!("world.base {}: {e}", path.display())))?;
        }
    }
    let extra = WorldFile { products: w.products.clone(), codes: w.codes.clone(), ..WorldFile::default() };
    let mut extra_toml = extra;
    extra_toml.store_inn = "7701000019".into();
    file::build(extra_toml, 0).map_err(|e| cx.err(span, format!("world: {e}")))?;
    Ok(w.codes.iter().filter_map(|c| c.case.clone()).collect())
}

/// Byte offset of the first line opening `[world]` or one of its sub-tables (0 when none).
fn text_offset_of_world(text: &str) -> usize {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with("[world") || t.starts_with("[[world") || t.starts_with("world") {
            return offset + (line.len() - t.len());
        }
        offset += line.len();
    }
    0
}

/// Checks each step and the receipt order; returns the step labels (label → step number).
fn check_steps<'a>(
    cx: &Ctx<'_>,
    s: &'a Scenario,
    inline_cases: &HashSet<String>,
) -> Result<HashMap<&'a str, usize>, ScenarioError> {
    let mut labels: HashMap<&str, usize> = HashMap::new();
    let mut open: Option<(ReceiptKind, usize)> = None;
    let profiles: HashSet<&str> =
        markcert_codes::distort::builtin_profiles().iter().map(|p| p.name.as_str()).collect();
    let default_base = s.world.as_ref().is_none_or(|w| w.is_default_base());
    for (i, spanned) in s.steps.iter().enumerate() {
        let n = i + 1;
        let step = spanned.get_ref();
        let err = |message: String| cx.err(spanned.span(), format!("step {n} ({}): {message}", step.name()));
        if let Some(id) = step.id() {
            if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(err(format!("id \"{id}\": must be non-empty and not start with a digit")));
            }
            if let Some(first) = labels.insert(id, n) {
                return Err(err(format!("duplicate step id \"{id}\" (also step {first})")));
            }
        }
        if let Some(expect) = step.expect() {
            if expect.decision == Decision::Accepted && expect.reason.is_some() {
                return Err(err("expect: a reason goes only with decision = \"rejected\"".into()));
            }
        }
        match step {
            Step::Open { kind, .. } => {
                if let Some((_, at)) = open {
                    return Err(err(format!("a receipt is already open (step {at})")));
                }
                if *kind == ReceiptKind::Return && !s.features.contains(&Feature::Returns) {
                    return Err(err("a return receipt needs `returns` in features".into()));
                }
                open = Some((*kind, n));
            }
            Step::Scan { scanner, .. } | Step::Return { scanner, .. } => {
                let Some((kind, _)) = open else { return Err(err("no receipt is open".into())) };
                if matches!(step, Step::Return { .. }) && kind != ReceiptKind::Return {
                    return Err(err("the open receipt is a sale; open one with kind = \"return\"".into()));
                }
                if let Some(p) = scanner {
                    if !profiles.contains(p.as_str()) {
                        return Err(err(format!(
                            "unknown scanner profile \"{p}\" (see `markcert codes profiles`)"
                        )));
                    }
                }
                if let Step::Scan { code, .. } = step {
                    check_code_ref(code, default_base, inline_cases).map_err(err)?;
                }
                if let Step::Scan { fraction: Some(f), .. } = step {
                    super::model::parse_fraction(f).map_err(err)?;
                    if !s.features.contains(&Feature::Fractional) {
                        return Err(err(format!("fraction {f}: needs `fractional` in features")));
                    }
                }
                if let Step::Scan { quantity: Some(q), .. } = step {
                    if !q.is_finite() || *q <= 0.0 {
                        return Err(err(format!("quantity {q}: must be a positive number")));
                    }
                    if q.fract() != 0.0
                        && !s.features.iter().any(|f| matches!(f, Feature::Fractional | Feature::Weighted))
                    {
                        return Err(err(format!(
                            "quantity {q}: needs `fractional` or `weighted` in features"
                        )));
                    }
                }
            }
            Step::Close { .. } | Step::Cancel { .. } => {
                let Some(_) = open.take() else { return Err(err("no receipt is open".into())) };
            }
            Step::AdvanceClock { by, .. } if by.ms == 0 => {
                return Err(err("by: must be longer than 0".into()))
            }
            Step::Wait { duration, .. } if duration.ms == 0 => {
                return Err(err("for: must be longer than 0".into()))
            }
            Step::SetFault { rule, .. } => rule.validate().map_err(|e| err(format!("bad rule: {e}")))?,
            Step::SetCode { code, set, .. } => {
                check_code_ref(code, default_base, inline_cases).map_err(err)?;
                if !set.is_object() {
                    return Err(err("set: must be a table (a merge patch of the code's record)".into()));
                }
            }
            Step::CdnList { hosts, .. } => {
                if let Some(n) = hosts.iter().find(|&&n| n == 0) {
                    return Err(err(format!("hosts: {n} is not a CDN host number (cdn-1 is 1)")));
                }
                if let Some((i, n)) = hosts.iter().enumerate().find(|(i, n)| hosts[..*i].contains(n)) {
                    return Err(err(format!("hosts: cdn-{n} is listed twice (entry {})", i + 1)));
                }
            }
            Step::Check { codes, raw, version, .. } => {
                if !(1..=3).contains(version) {
                    return Err(err(format!("version {version}: the ТС ПИоТ API has versions 1, 2 and 3")));
                }
                if codes.is_empty() && raw.is_empty() {
                    return Err(err("a check needs at least one entry in `codes` or `raw`".into()));
                }
                for code in codes {
                    check_code_ref(code, default_base, inline_cases).map_err(err)?;
                }
            }
            Step::Info { version, .. } if !(1..=3).contains(version) => {
                return Err(err(format!("version {version}: the ТС ПИоТ API has versions 1, 2 and 3")));
            }
            _ => {}
        }
    }
    check_batches(cx, s)?;
    if let Some((_, at)) = open {
        let last = &s.steps[s.steps.len() - 1];
        return Err(
            cx.err(last.span(), format!("the receipt opened at step {at} is never closed or cancelled"))
        );
    }
    Ok(labels)
}

/// Batches: consecutive `scan` steps with one label, at least two, feature `batch` declared, and a
/// label used by one run of steps only.
fn check_batches(cx: &Ctx<'_>, s: &Scenario) -> Result<(), ScenarioError> {
    let mut finished: HashMap<&str, usize> = HashMap::new();
    let mut run: Option<(&str, usize, usize)> = None; // label, first step, count
    for n in 1..=s.steps.len() + 1 {
        let label = s.batch_of(n);
        if let Some((open, first, count)) = run {
            if label == Some(open) {
                run = Some((open, first, count + 1));
                continue;
            }
            if count < 2 {
                return Err(cx.err(
                    s.steps[first - 1].span(),
                    format!("step {first} (scan): batch \"{open}\" has one scan; a batch needs at least two in a row"),
                ));
            }
            finished.insert(open, first);
            run = None;
        }
        let Some(label) = label else { continue };
        let err = |m: String| cx.err(s.steps[n - 1].span(), format!("step {n} (scan): {m}"));
        if label.trim().is_empty() {
            return Err(err("batch: the label must not be empty".into()));
        }
        if !s.features.contains(&Feature::Batch) {
            return Err(err(format!("batch \"{label}\": needs `batch` in features")));
        }
        if let Some(first) = finished.get(label) {
            return Err(err(format!(
                "batch \"{label}\" already ran from step {first}: the scans of a batch must be consecutive"
            )));
        }
        run = Some((label, n, 1));
    }
    Ok(())
}

fn check_code_ref(code: &CodeRef, default_base: bool, inline_cases: &HashSet<String>) -> Result<(), String> {
    let sel = match code {
        CodeRef::Literal(text) if text.is_empty() => return Err("code: empty literal".into()),
        CodeRef::Literal(_) => return Ok(()),
        CodeRef::Case(sel) => sel,
    };
    if sel.nth == Some(0) {
        return Err("code.nth: counts from 1".into());
    }
    let group = match &sel.group {
        Some(g) => Some(groups::by_code(g).ok_or_else(|| {
            let known: Vec<&str> = groups::all().iter().map(|g| g.code.as_str()).collect();
            format!("code.group: unknown product group \"{g}\" (known: {})", known.join(", "))
        })?),
        None => None,
    };
    let layout = match &sel.layout {
        Some(l) => {
            let layout = Layout::from_name(l).ok_or_else(|| {
                let known: Vec<&str> = Layout::ALL.iter().map(|l| l.name()).collect();
                format!("code.layout: unknown layout \"{l}\" (known: {})", known.join(", "))
            })?;
            if let Some(g) = group {
                if !g.layouts.contains(&layout) {
                    return Err(format!("code.layout: group \"{}\" has no codes of layout \"{l}\"", g.code));
                }
            }
            Some(layout)
        }
        None => None,
    };
    if inline_cases.contains(&sel.case) || !default_base {
        return Ok(());
    }
    let Some(codes) = default_cases().get(&sel.case) else {
        return Err(format!("code.case: no code of the default world has case \"{}\"", sel.case));
    };
    let matching = codes
        .iter()
        .filter(|(g, l)| {
            group.is_none_or(|want| *g == Some(want.id)) && layout.is_none_or(|want| *l == Some(want))
        })
        .count();
    let nth = sel.nth.unwrap_or(1) as usize;
    if matching >= nth {
        return Ok(());
    }
    let what = format!(
        "\"{}\" code{}{}",
        sel.case,
        group.map(|g| format!(" in group \"{}\"", g.code)).unwrap_or_default(),
        sel.layout.as_ref().map(|l| format!(" of layout \"{l}\"")).unwrap_or_default()
    );
    if matching == 0 {
        Err(format!("code: the default world has no {what}"))
    } else {
        Err(format!("code.nth: {nth} asked, but the default world has only {matching} {what}"))
    }
}
