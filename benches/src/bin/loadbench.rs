//! `markcert-loadbench`: parses the command line and wires [`markcert_benches::load`] together —
//! `run` (compare the targets), `soak` (watch one target's memory) and the hidden `serve-target` (the
//! child process of a target). Prints the report, writes `--json`, and exits by this ladder:
//!
//! - 0: the run completed and no request failed;
//! - 1: the run completed but requests failed (or a target exited uncleanly, or a soak was aborted);
//! - 2: bad command line;
//! - 3: the run could not be carried out (a target did not start, a phase hung, I/O).

use anyhow::Context;
use clap::Parser;
use markcert_benches::load::cli::{Cli, Command, RunArgs, ServeTargetArgs, SoakArgs};
use markcert_benches::load::{bench, printer, soak, targets, workload};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// The same allocator as the `markcert` binary, for every target (hyper, emulator, wiremock) alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run(cli.run));
    let result = match command {
        Command::Run(a) => run(&a),
        Command::Soak(a) => soak(&a),
        Command::ServeTarget(a) => serve_target(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("markcert-loadbench: {e:#}");
            ExitCode::from(3)
        }
    }
}

fn usage(e: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    eprintln!("markcert-loadbench: {e}");
    Ok(ExitCode::from(2))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the tokio runtime")
}

fn bodies() -> anyhow::Result<Arc<[hyper::body::Bytes]>> {
    let now = markcert_emulators::clock::WorldClock::real().now_ms();
    Ok(workload::request_bodies(now)?.into())
}

fn write_json(path: Option<&Path>, report: &impl serde::Serialize) -> anyhow::Result<()> {
    if let Some(path) = path {
        let text = serde_json::to_string_pretty(report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn run(a: &RunArgs) -> anyhow::Result<ExitCode> {
    let plan = match a.plan() {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    let exe = std::env::current_exe().context("locating this executable")?;
    let bodies = bodies()?;
    let report = runtime()?.block_on(bench::run(&exe, &plan, bodies, &mut |l| eprintln!("{l}")))?;
    print!("{}", printer::render_run(&report));
    write_json(a.load.json.as_deref(), &report)?;
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn soak(a: &SoakArgs) -> anyhow::Result<ExitCode> {
    let plan = match a.plan() {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    let exe = std::env::current_exe().context("locating this executable")?;
    let bodies = bodies()?;
    let report = runtime()?.block_on(soak::run(&exe, &plan, bodies, &mut |l| eprintln!("{l}")))?;
    print!("{}", printer::render_soak(&report));
    write_json(a.load.json.as_deref(), &report)?;
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn serve_target(a: &ServeTargetArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(targets::serve(a.kind, &a.emulator.options()))?;
    Ok(ExitCode::SUCCESS)
}
