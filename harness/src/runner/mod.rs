//! The runner: executes scenarios against a system under test and gives each a verdict.
//!
//! For every scenario [`run_scenario`] starts a fresh, isolated emulator [`Stack`] (own ports,
//! world, trace and clock; the default world plus the scenario's inline additions, or a world file),
//! spawns a fresh SUT (stdio: one process per scenario) or reuses the HTTP SUT, drives it through
//! the steps ([`lane`]), judges the assertions ([`assertions`], over the [`record`] of the run) and
//! returns a [`ScenarioResult`] ([`verdict`]); with a run folder it leaves the scenario's trace, KKT
//! documents and SUT stderr there. [`run_suite`] runs up to `jobs` scenarios at once and returns the
//! results in suite order. Code references become concrete codes in [`resolve`];
//! [`known_failing`] excuses listed cases; [`mutation`] measures the suite against deliberate mutants.

pub(crate) mod assertions;
pub mod certify;
pub mod known_failing;
pub mod lane;
pub mod mutation;
pub mod options;
pub mod record;
pub mod resolve;
pub(crate) mod tspiot;
pub mod verdict;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use markcert_emulators::clock::WorldClock;
use markcert_emulators::stack::Stack;
use markcert_emulators::trace::Trace;
use markcert_emulators::tspiot::mutant::TsPiotMutant;
use markcert_emulators::world::{default::default_world, file, World};

use crate::adapter::protocol::Shutdown;
use crate::adapter::{Adapter, AdapterClient, HttpAdapter, Request, StdioAdapter, StdioOptions, Timeouts};
use crate::scenario::{Role, Scenario, WorldSpec};

use verdict::Verdict;
pub use verdict::{Failure, Outcome, ScenarioResult, Summary};

/// Where the SUT is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sut {
    /// A command line started once per scenario (stdio transport).
    Command(String),
    /// A program and its arguments started once per scenario (stdio transport; no splitting).
    Program {
        /// The executable.
        program: std::path::PathBuf,
        /// Its arguments.
        args: Vec<String>,
        /// How the reports name it.
        label: String,
    },
    /// Role `pos`: a URL each adapter message is POSTed to (HTTP transport). Role `tspiot`: the base
    /// URL of the ТС ПИоТ's POS API, already bound to the upstreams (see `docs/scenarios.md`).
    Url(String),
    /// Role `tspiot`: the emulated ТС ПИоТ of each scenario's stack (the reference implementation),
    /// or one of its deliberate mutants.
    EmulatedTspiot {
        /// A mutant's name (`markcert certify --role tspiot --list-mutants`), or `None` for the reference.
        mutant: Option<String>,
    },
}

impl Sut {
    /// How the reports name the SUT.
    pub fn describe(&self) -> String {
        match self {
            Sut::Command(c) => format!("stdio: {c}"),
            Sut::Program { label, .. } => format!("stdio: {label}"),
            Sut::Url(u) => format!("http: {u}"),
            Sut::EmulatedTspiot { mutant: None } => "emulated ТС ПИоТ (reference)".into(),
            Sut::EmulatedTspiot { mutant: Some(m) } => format!("emulated ТС ПИоТ, mutant {m}"),
        }
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The SUT.
    pub sut: Sut,
    /// Start-up and step time limits.
    pub timeouts: Timeouts,
    /// Seed for everything random (scanner distortions).
    pub seed: u64,
    /// Cap on real-time `wait` steps (never above [`lane::MAX_WAIT`]).
    pub max_wait: Duration,
    /// Scenarios run at once (at least 1).
    pub jobs: usize,
    /// The run folder, if the run leaves its evidence on disk.
    pub run_folder: Option<crate::report::folder::RunFolder>,
    /// The role under test: only scenarios of this role run.
    pub role: Role,
    /// Slack added to every time limit an answer is graded against (`grading.timing_tolerance_ms`).
    pub timing_tolerance_ms: u64,
    /// Role `tspiot` with [`Sut::Url`]: the emulators listen on fixed ports from this one (True API
    /// discovery on it, CDN host `i` on it + `i`, the ЛМ ЧЗ on it + 10, the KKT on it + 20), so an
    /// implementation that is already running can be configured with them once.
    pub upstream_port: u16,
}

/// Default of [`RunOptions::upstream_port`].
pub const DEFAULT_UPSTREAM_PORT: u16 = 18400;

impl RunOptions {
    /// Defaults for `sut`: default timeouts, seed 1, waits up to 60 s.
    pub fn new(sut: Sut) -> Self {
        RunOptions {
            sut,
            timeouts: Timeouts::default(),
            seed: 1,
            max_wait: lane::MAX_WAIT,
            jobs: 1,
            run_folder: None,
            role: Role::Pos,
            timing_tolerance_ms: tspiot::DEFAULT_TIMING_TOLERANCE_MS,
            upstream_port: DEFAULT_UPSTREAM_PORT,
        }
    }
}

/// Harness-side errors while preparing or running a scenario (they become `error` outcomes).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scenario's world could not be built.
    #[error("world: {0}")]
    World(String),
    /// The emulators could not start.
    #[error("the emulators could not start: {0}")]
    Stack(#[from] markcert_emulators::stack::StackError),
    /// A code reference or scanner profile could not be resolved.
    #[error("{0}")]
    Resolve(String),
}

/// Whether `id` matches a `*` glob (`*` matches any run of characters, everything else itself).
pub fn glob_match(pattern: &str, id: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == id;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !id.starts_with(first) || id.len() < first.len() + last.len() || !id.ends_with(last) {
        return false;
    }
    let mut rest = &id[first.len()..id.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(pos) => rest = &rest[pos + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Builds the scenario's world: the base (default, or a world file next to the scenario file) plus
/// the inline products and codes.
pub fn build_world(s: &Scenario, now_ms: i64) -> Result<World, RunError> {
    let spec =
        s.world.clone().unwrap_or_else(|| WorldSpec { base: "default".into(), ..WorldSpec::default() });
    let mut world = if spec.is_default_base() {
        default_world(now_ms).map_err(|e| RunError::World(e.to_string()))?
    } else {
        let dir = Path::new(&s.source).parent().unwrap_or(Path::new("."));
        let path = dir.join(&spec.base);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| RunError::World(format!("cannot read {}: {e}", path.display())))?;
        file::load(&text, now_ms).map_err(|e| RunError::World(format!("{}: {e}", path.display())))?
    };
    if spec.products.is_empty() && spec.codes.is_empty() {
        return Ok(world);
    }
    let extra = file::WorldFile {
        store_inn: world.store_inn.clone(),
        products: spec.products,
        codes: spec.codes,
        ..file::WorldFile::default()
    };
    let extra = file::build(extra, now_ms).map_err(|e| RunError::World(format!("inline world: {e}")))?;
    for p in extra.products() {
        world
            .add_product(p.clone())
            .map_err(|e| RunError::World(format!("inline product {}: {e}", p.gtin)))?;
    }
    for c in extra.codes() {
        world.add_code(c.clone()).map_err(|e| RunError::World(format!("inline code: {e}")))?;
    }
    Ok(world)
}

async fn start_sut(
    opts: &RunOptions,
    stderr_file: Option<PathBuf>,
) -> Result<Adapter, crate::adapter::ProtocolViolation> {
    let o = StdioOptions { timeouts: opts.timeouts, stderr_file, ..StdioOptions::default() };
    match &opts.sut {
        Sut::Command(cmd) => Ok(Adapter::Stdio(StdioAdapter::spawn_command_line(cmd, o).await?)),
        Sut::Program { program, args, .. } => {
            Ok(Adapter::Stdio(StdioAdapter::spawn(&program.to_string_lossy(), args, o).await?))
        }
        Sut::Url(url) => Ok(Adapter::Http(HttpAdapter::new(url.clone(), opts.timeouts)?)),
        Sut::EmulatedTspiot { .. } => {
            Err(crate::adapter::ProtocolViolation::new(crate::adapter::error::ViolationKind::Spawn(
                "the emulated ТС ПИоТ has no adapter (it runs inside the stack)".into(),
            )))
        }
    }
}

/// Runs one scenario on a fresh stack and a fresh SUT.
pub async fn run_scenario(s: &Scenario, opts: &RunOptions) -> ScenarioResult {
    let started = Instant::now();
    let mut verdict = Verdict::default();
    let mut stderr_tail = Vec::new();
    let dir = match &opts.run_folder {
        Some(folder) => match folder.scenario_dir(s.id.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                verdict.error(None, format!("setup: cannot create the scenario folder: {e}"));
                None
            }
        },
        None => None,
    };
    if opts.run_folder.is_none() || dir.is_some() {
        run_inner(s, opts, dir.as_deref(), &mut verdict, &mut stderr_tail).await;
    }
    let outcome = verdict.outcome(s.level);
    if outcome != Outcome::Error {
        stderr_tail.clear();
    }
    let result = ScenarioResult {
        id: s.id.get_ref().clone(),
        outcome,
        level: s.level,
        failures: verdict.into_failures(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        stderr_tail,
        known_failing: None,
    };
    if let Some(dir) = &dir {
        let text = serde_json::to_string_pretty(&result).unwrap_or_default();
        // Best effort: a full disk does not change the verdict (the run-level report says where it is).
        let _ = std::fs::write(dir.join("result.json"), text);
    }
    result
}

/// Writes the scenario's trace (NDJSON) and KKT documents (JSON) into `dir`.
fn write_evidence(stack: &Stack, dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut trace = std::io::BufWriter::new(std::fs::File::create(dir.join("trace.ndjson"))?);
    for e in stack.trace.events(&markcert_emulators::trace::TraceFilter::default()) {
        serde_json::to_writer(&mut trace, &e)?;
        trace.write_all(b"\n")?;
    }
    trace.flush()?;
    if let Some(kkt) = &stack.kkt {
        let docs = kkt.documents(&markcert_emulators::kkt::device::DocumentQuery::default());
        std::fs::write(dir.join("documents.json"), serde_json::to_string_pretty(&docs)?)?;
    }
    Ok(())
}

/// A private temporary directory, removed on drop.
struct CaDir(std::path::PathBuf);

impl CaDir {
    fn create() -> std::io::Result<CaDir> {
        let dir = std::env::temp_dir().join(format!("markcert-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        Ok(CaDir(dir))
    }
}

impl Drop for CaDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn run_inner(
    s: &Scenario,
    opts: &RunOptions,
    dir: Option<&Path>,
    verdict: &mut Verdict,
    stderr_tail: &mut Vec<String>,
) {
    let clock = WorldClock::real();
    let world = match build_world(s, clock.now_ms()) {
        Ok(w) => w,
        Err(e) => return verdict.error(None, format!("setup: {e}")),
    };
    let trace = Trace::in_memory(100_000);
    let mut stack_options = match options::stack_options(s) {
        Ok(o) => o,
        Err(e) => return verdict.error(None, format!("setup: {e}")),
    };
    // The ТС ПИоТ's certificate lives in a directory of this run, removed when the run ends.
    let tls_dir = match s.tspiot_tls.then(CaDir::create).transpose() {
        Ok(d) => d,
        Err(e) => {
            return verdict.error(None, format!("setup: a directory for the ТС ПИоТ's certificate: {e}"))
        }
    };
    if let (Some(d), Some(t)) = (&tls_dir, stack_options.tspiot.as_mut()) {
        t.tls_ca_pem = Some(d.0.join("tspiot-ca.pem"));
    }
    if let Some(after) = &s.xapikey_cutoff_after {
        stack_options.xapikey_cutoff_ms =
            clock.now_ms().saturating_add(i64::try_from(after.ms).unwrap_or(i64::MAX));
    }
    if opts.role == Role::Tspiot {
        match &opts.sut {
            Sut::EmulatedTspiot { mutant } => {
                let t = stack_options.tspiot.get_or_insert_with(Default::default);
                t.options.mutant = match mutant.as_deref().map(|m| (m, TsPiotMutant::from_name(m))) {
                    None => None,
                    Some((_, Some(m))) => Some(m),
                    Some((m, None)) => {
                        return verdict.error(None, format!("setup: no ТС ПИоТ mutant is called \"{m}\""))
                    }
                };
            }
            Sut::Url(_) => {
                // An implementation that is already running: the upstreams it was configured with.
                let p = opts.upstream_port;
                stack_options.tspiot = None;
                stack_options.true_api_port = Some(p);
                stack_options.lm_port = p.checked_add(10);
                if let Some(k) = stack_options.kkt.as_mut() {
                    k.port = p.checked_add(20);
                }
            }
            // The implementation under test plays the ТС ПИоТ: the stack has none of its own.
            _ => stack_options.tspiot = None,
        }
    }
    let broken_fn = stack_options
        .kkt
        .as_ref()
        .is_some_and(|k| k.options.fn_m.auth == markcert_emulators::kkt::options::FnAuthMode::Broken);
    let stack = match Stack::start(world, clock, trace, stack_options).await {
        Ok(st) => st,
        Err(e) => return verdict.error(None, format!("setup: {}", RunError::from(e))),
    };
    if broken_fn {
        // `fn.auth = broken` also breaks the emulated ТС ПИоТ's own ФН channel (it signs in-process).
        if let Some(signer) = &stack.fn_signer {
            signer.set_broken(true);
        }
    }
    let stderr_file = dir.map(|d| d.join("sut-stderr.log"));
    match (opts.role, &opts.sut) {
        (Role::Tspiot, Sut::EmulatedTspiot { .. }) => {
            let base = stack.endpoints.tspiot.as_ref().map(|t| t.url.clone()).unwrap_or_default();
            run_against_tspiot(s, opts, &stack, &base, verdict).await;
        }
        (Role::Tspiot, Sut::Url(url)) => run_against_tspiot(s, opts, &stack, url, verdict).await,
        (Role::Pos, Sut::EmulatedTspiot { .. }) => {
            verdict.error(None, "setup: the emulated ТС ПИоТ is a SUT of role tspiot, not pos");
        }
        (role, _) => run_with_adapter(s, opts, &stack, role, stderr_file, verdict, stderr_tail).await,
    }
    if let Some(dir) = dir {
        if let Err(e) = write_evidence(&stack, dir) {
            verdict.error(None, format!("writing the scenario's evidence to {}: {e}", dir.display()));
        }
    }
    stack.shutdown().await;
}

/// Role `tspiot` against a ТС ПИоТ whose POS API is at `base`.
async fn run_against_tspiot(
    s: &Scenario,
    opts: &RunOptions,
    stack: &Stack,
    base: &str,
    verdict: &mut Verdict,
) {
    let target = match tspiot::TspiotTarget::new(base) {
        Ok(t) => t,
        Err(e) => return verdict.error(None, format!("setup: {e}")),
    };
    let result = {
        let mut lane = lane::Lane::new(s, stack, opts, verdict);
        let r = lane.run_steps(lane::Driver::Tspiot(&target)).await;
        if r.is_ok() {
            lane.check_assertions();
        }
        r
    };
    settle(result, verdict, &mut Vec::new());
}

/// A SUT behind the adapter protocol: a POS, or (role `tspiot`) an adapter that starts a ТС ПИоТ
/// and answers `init` with its URL.
async fn run_with_adapter(
    s: &Scenario,
    opts: &RunOptions,
    stack: &Stack,
    role: Role,
    stderr_file: Option<PathBuf>,
    verdict: &mut Verdict,
    stderr_tail: &mut Vec<String>,
) {
    let mut sut = match start_sut(opts, stderr_file).await {
        Ok(a) => a,
        Err(v) => {
            *stderr_tail = v.stderr_tail.clone();
            verdict.error(None, v.to_string());
            return;
        }
    };
    let result = {
        let mut lane = lane::Lane::new(s, stack, opts, verdict);
        let r = match role {
            Role::Pos => lane.run(&mut sut).await,
            Role::Tspiot => match lane.init_tspiot(&mut sut).await {
                Ok(url) => match tspiot::TspiotTarget::new(&url) {
                    Ok(target) => lane.run_steps(lane::Driver::Tspiot(&target)).await,
                    Err(e) => Err(lane::Stop::Harness(format!("init: tspiot_url: {e}"))),
                },
                Err(e) => Err(e),
            },
        };
        if r.is_ok() {
            lane.check_assertions();
        }
        r
    };
    let violated = settle(result, verdict, stderr_tail);
    if !violated {
        // Best effort: a SUT that mishandles shutdown does not change the verdict.
        let _ = sut.request(Request::Shutdown(Shutdown {})).await;
    }
    let tail = sut.stderr_tail();
    if let Adapter::Stdio(stdio) = sut {
        let _ = stdio.finish(Duration::from_secs(2)).await;
    }
    if stderr_tail.is_empty() {
        *stderr_tail = tail;
    }
}

/// Records how the steps ended; true when the SUT broke the protocol.
fn settle(result: Result<(), lane::Stop>, verdict: &mut Verdict, stderr_tail: &mut Vec<String>) -> bool {
    match result {
        Ok(()) => false,
        Err(lane::Stop::Skip(why)) => {
            verdict.skipped = Some(why);
            false
        }
        Err(lane::Stop::Harness(why)) => {
            verdict.error(None, why);
            false
        }
        Err(lane::Stop::Violation(v)) => {
            verdict.error(None, v.to_string());
            *stderr_tail = v.stderr_tail.clone();
            true
        }
    }
}

/// Runs `scenarios`, up to `opts.jobs` at once (each on its own stack and SUT); `progress` is called
/// as each one ends. The results come back in the order of `scenarios`.
pub async fn run_suite(
    scenarios: &[Scenario],
    opts: &RunOptions,
    mut progress: impl FnMut(&ScenarioResult),
) -> Vec<ScenarioResult> {
    use futures_util::stream::{self, StreamExt};
    let mut runs = stream::iter(scenarios.iter().enumerate())
        .map(|(i, s)| async move { (i, run_scenario(s, opts).await) })
        .buffer_unordered(opts.jobs.max(1));
    let mut out: Vec<Option<ScenarioResult>> = vec![None; scenarios.len()];
    while let Some((i, r)) = runs.next().await {
        progress(&r);
        out[i] = Some(r);
    }
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_whole_ids() {
        assert!(glob_match("*", "sale-normal"));
        assert!(glob_match("sale-*", "sale-normal"));
        assert!(glob_match("*-milk", "expired-milk"));
        assert!(glob_match("e*d*k", "expired-milk"));
        assert!(!glob_match("sale", "sale-normal"));
        assert!(!glob_match("*-milk", "sale-normal"));
        assert!(!glob_match("a*a", "a"));
    }
}
