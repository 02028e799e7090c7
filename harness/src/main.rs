//! The `markcert` command line: parses arguments and calls the `markcert` library. No behaviour of
//! its own lives here.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use markcert::codes_cli::{self, DistortOutput, InspectOptions};
use markcert_codes::{Ai8005Semantics, CodeOptions};
use std::io::{self, Write};
use std::process::ExitCode;

/// Conformance harness for POS software and ТС ПИоТ modules under the «Честный знак» permissive mode.
#[derive(Parser)]
#[command(name = "markcert", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Marking codes: inspect, generate, distort as a scanner would.
    #[command(subcommand)]
    Codes(CodesCommand),
    /// Start the emulators on loopback and run until Ctrl+C / SIGTERM.
    Serve(ServeArgs),
    /// Scenarios: list the embedded suite, show one, check files.
    #[command(subcommand)]
    Scenarios(ScenariosCommand),
    /// Run the embedded scenario suite against a system under test and give a verdict per scenario.
    Certify(CertifyArgs),
    /// The built-in reference POS on stdin/stdout (adapter protocol, stdio transport); `certify`
    /// without --sut runs this.
    #[command(hide = true)]
    ReferencePos {
        /// `--mutant NAME` (a deliberate defect), `--list-mutants`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Args)]
struct CertifyArgs {
    /// The role under test: `pos` (a POS program) or `tspiot` (a ТС ПИоТ implementation; the harness
    /// plays the POS and emulates the True API, the ЛМ ЧЗ and the KKT around it).
    #[arg(long, value_enum, default_value_t = RoleArg::Pos)]
    role: RoleArg,
    /// The SUT as a command line (stdio transport; one process per scenario). Role `tspiot`: an
    /// adapter that starts the ТС ПИоТ and answers `init` with `tspiot_url`. Without --sut and
    /// --sut-url the built-in reference (POS, or the emulated ТС ПИоТ) is certified.
    #[arg(long, conflicts_with = "sut_url")]
    sut: Option<String>,
    /// Role `pos`: a URL each adapter message is POSTed to (HTTP transport). Role `tspiot`: the base
    /// URL of the ТС ПИоТ's POS API.
    #[arg(long)]
    sut_url: Option<String>,
    /// Role `tspiot` without --sut/--sut-url: certify this deliberate mutant of the emulated ТС ПИоТ
    /// (`--list-tspiot-mutants`).
    #[arg(long, conflicts_with_all = ["sut", "sut_url"])]
    tspiot_mutant: Option<String>,
    /// List the mutants of the emulated ТС ПИоТ and exit.
    #[arg(long)]
    list_tspiot_mutants: bool,
    /// Slack added to every time limit an answer is graded against (`grading.timing_tolerance_ms`).
    #[arg(long, default_value_t = 50)]
    timing_tolerance_ms: u64,
    /// Role `tspiot` with --sut-url: the emulators listen on fixed loopback ports from this one (True
    /// API discovery PORT, CDN hosts PORT+1…PORT+3, ЛМ ЧЗ PORT+10, KKT PORT+20); scenarios run one at
    /// a time.
    #[arg(long, default_value_t = markcert::runner::DEFAULT_UPSTREAM_PORT)]
    upstream_port: u16,
    /// Scenario folder (every *.toml in it) instead of the embedded suite.
    #[arg(long)]
    suite: Option<std::path::PathBuf>,
    /// Run only scenarios whose id matches this glob (`*` matches anything).
    #[arg(long)]
    filter: Option<String>,
    /// Scenario profile: `default` (fast), `long` (cases needing real time, ≥ 15 min each) or `all`.
    #[arg(long, value_enum, default_value_t = ProfileArg::Default)]
    profile: ProfileArg,
    /// Scenarios run at once, each on its own emulators and SUT process (default: the number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Write the JSON report (schema markcert-report/1) here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Write the JUnit XML report here.
    #[arg(long)]
    junit: Option<std::path::PathBuf>,
    /// The run folder (reports, and per scenario its trace, KKT documents and SUT stderr); default
    /// markcert-runs/<timestamp>/ with a markcert-runs/latest link.
    #[arg(long, conflicts_with = "no_report_dir")]
    report_dir: Option<std::path::PathBuf>,
    /// Leave no run folder.
    #[arg(long)]
    no_report_dir: bool,
    /// Cases known to fail, one `GLOB REASON` per line: they do not fail the run, but one that passes does.
    #[arg(long)]
    known_failing: Option<std::path::PathBuf>,
    /// Seed for everything random (scanner distortions).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Step timeout in seconds (every reply after the first).
    #[arg(long, default_value_t = 5.0)]
    step_timeout: f64,
    /// Start-up timeout in seconds (the reply to `init`).
    #[arg(long, default_value_t = 10.0)]
    startup_timeout: f64,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Measure the suite instead: run it against the reference POS and each of its deliberate mutants,
    /// print the matrix (mutant → the MUST scenarios that catch it) and write it here as JSON. Exit 0
    /// when the reference passes everything and every mutant is caught.
    #[arg(long, conflicts_with_all = ["sut", "sut_url"])]
    mutation_report: Option<std::path::PathBuf>,
    /// With --mutation-report: only the mutants whose name matches this glob.
    #[arg(long, requires = "mutation_report")]
    mutants: Option<String>,
    /// With --mutation-report: stop each mutant's run at its first catch (fast; partial killer lists).
    #[arg(long, requires = "mutation_report")]
    first_catch: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RoleArg {
    Pos,
    Tspiot,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ProfileArg {
    Default,
    Long,
    All,
}

#[derive(Subcommand)]
enum ScenariosCommand {
    /// List the embedded suite: id, level, required features, title.
    List,
    /// Print one scenario (an embedded id or a file) as the harness reads it, as JSON.
    Show {
        /// Embedded scenario id, or a path to a scenario file.
        scenario: String,
    },
    /// Load and validate scenario files; exit status 1 when any is invalid.
    Check {
        /// Scenario files (TOML).
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// World file (TOML); the embedded default world when absent.
    #[arg(long)]
    world: Option<std::path::PathBuf>,
    /// Write the endpoints JSON here once every listener is ready.
    #[arg(long)]
    endpoints_file: Option<std::path::PathBuf>,
    /// Number of True API CDN hosts.
    #[arg(long, default_value_t = 3)]
    cdn_hosts: usize,
    /// Address to bind; loopback unless you say otherwise.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Append every request and response to this NDJSON file.
    #[arg(long)]
    trace_file: Option<std::path::PathBuf>,
    /// X-API-KEY cut-off instant (RFC 3339); after it only fiscal-accumulator tokens work.
    /// Default: 2026-10-01T00:00:00+03:00 (spec README §5).
    #[arg(long)]
    xapikey_cutoff: Option<String>,
    /// ЛМ ЧЗ state at start: `ready` (initialised and synced, like a running store) or
    /// `not-configured` (fresh installation: call /init first).
    #[arg(long, value_enum, default_value_t = LmStartArg::Ready)]
    lm_state: LmStartArg,
    /// ЛМ ЧЗ port (the real module uses 5995); ephemeral when absent.
    #[arg(long)]
    lm_port: Option<u16>,
    /// ЛМ ЧЗ settings: a TOML file with the `lm.*` keys of the spec (login, password,
    /// init_duration_s, sync_interval_s, time_unit, version_policy, …); see docs/emulators.md.
    #[arg(long)]
    lm_config: Option<std::path::PathBuf>,
    /// Do not start the ТС ПИоТ.
    #[arg(long)]
    no_tspiot: bool,
    /// ТС ПИоТ POS API port (the real one uses 51401); ephemeral when absent.
    #[arg(long)]
    tspiot_port: Option<u16>,
    /// ТС ПИоТ admin API port (the real one uses 51077); ephemeral when absent.
    #[arg(long)]
    tspiot_admin_port: Option<u16>,
    /// Serve the ТС ПИоТ POS API over HTTPS with a self-signed certificate; its PEM is written next to
    /// the endpoints file as tspiot-ca.pem (and named in the endpoints file).
    #[arg(long)]
    tspiot_tls: bool,
    /// ТС ПИоТ settings: a TOML file with the `tspiot.*` keys (budgets, client_info = "strict",
    /// inst_placement, timestamp_as_string, auth, …); see docs/emulators.md.
    #[arg(long)]
    tspiot_config: Option<std::path::PathBuf>,
    /// Do not start the KKT.
    #[arg(long)]
    no_kkt: bool,
    /// KKT ATOL web API port (the ATOL driver uses 16732); ephemeral when absent.
    #[arg(long)]
    kkt_port: Option<u16>,
    /// KKT controls: a TOML file with the [fn], [ofd], [oism], [kkt] keys of the spec (kkt.md §9:
    /// marking_flag, autonomous, keys, reachable, answer, latency_ms, timeout_ms, …); see docs/kkt.md.
    #[arg(long)]
    kkt_config: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LmStartArg {
    Ready,
    NotConfigured,
}

#[derive(Subcommand)]
enum CodesCommand {
    /// Read codes from stdin, one per line, and print one JSON object per line.
    Inspect(InspectArgs),
    /// Print valid synthetic codes of a layout, one per line (⟨GS⟩ written as \u001d).
    Gen(GenArgs),
    /// Read codes from stdin and print what a scanner profile would deliver for each.
    Distort(DistortArgs),
    /// List the built-in scanner profiles as JSON lines.
    Profiles,
}

#[derive(Args)]
struct InspectArgs {
    /// Read leniently: strip transport artefacts, restore lost ⟨GS⟩, revert keyboard layout and
    /// Caps Lock where unambiguous; list the repairs.
    #[arg(long)]
    repair: bool,
    /// Read `\u001d` and `<GS>` (also `\xHH`, `\\`) in the input text as the bytes they stand for.
    #[arg(long)]
    escapes: bool,
    /// Packs in a tobacco block, for the per-pack price.
    #[arg(long, default_value_t = 10)]
    pack_count: u32,
    /// Meaning of AI 8005 in block codes (spec codes.md §6.6).
    #[arg(long, value_enum, default_value_t = Ai8005Arg::SumKopecks)]
    ai8005: Ai8005Arg,
    /// Classify 44-character signatures by the CRC32 heuristic (spec codes.md §9.2).
    #[arg(long)]
    crc32_rule: bool,
    /// Exit with status 1 when any line is not a valid code.
    #[arg(long)]
    check: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Ai8005Arg {
    /// The sum of the pack MRPs in kopecks.
    SumKopecks,
    /// The per-pack price in roubles × 1000.
    PackRubX1000,
}

#[derive(Args)]
struct GenArgs {
    /// Layout: tobacco-pack, tobacco-block, milk, beer, s13-93, s13-44, s13-88, s20-44, ki-only, or all.
    #[arg(long)]
    layout: String,
    /// How many codes (per layout).
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// Seed of the generator; the same seed gives the same codes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args)]
struct DistortArgs {
    /// Scanner profile (see `markcert codes profiles`).
    #[arg(long)]
    profile: String,
    /// Seed for the random parts of a profile (keystroke loss, …).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output form.
    #[arg(long, value_enum, default_value_t = OutputArg::Escaped)]
    output: OutputArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputArg {
    /// Escaped text (⟨GS⟩ as \u001d, control bytes as \u00XX, invalid UTF-8 as \xHH).
    Escaped,
    /// Raw bytes, one delivery per line.
    Raw,
    /// JSON: the delivered text (`text_hex` when not UTF-8) and the key events of keyboard profiles.
    Json,
}

/// The emulators allocate on every request; mimalloc keeps that off the profile of a load test.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        // A closed pipe (`markcert codes gen | head`) ends output early; that is not a failure.
        Err(e) if e.chain().any(is_broken_pipe) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("markcert: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let code = match cli.command {
        Command::Codes(CodesCommand::Inspect(a)) => {
            let opts = InspectOptions {
                repair: a.repair,
                escapes: a.escapes,
                pack_count: Some(a.pack_count),
                code_options: CodeOptions {
                    ai8005_semantics: match a.ai8005 {
                        Ai8005Arg::SumKopecks => Ai8005Semantics::SumKopecks,
                        Ai8005Arg::PackRubX1000 => Ai8005Semantics::PackRubX1000,
                    },
                    crc32_rule: a.crc32_rule,
                    ..CodeOptions::default()
                },
            };
            let input = codes_cli::read_stdin().context("reading standard input")?;
            let s = codes_cli::run_inspect(&input, &mut out, &opts).context("writing output")?;
            if a.check && s.valid < s.lines {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Codes(CodesCommand::Gen(a)) => {
            codes_cli::run_gen(&a.layout, a.count, a.seed, &mut out)?;
            ExitCode::SUCCESS
        }
        Command::Codes(CodesCommand::Distort(a)) => {
            let input = codes_cli::read_stdin().context("reading standard input")?;
            let output = match a.output {
                OutputArg::Escaped => DistortOutput::Escaped,
                OutputArg::Raw => DistortOutput::Raw,
                OutputArg::Json => DistortOutput::Json,
            };
            codes_cli::run_distort(&input, &a.profile, a.seed, output, &mut out)?;
            ExitCode::SUCCESS
        }
        Command::Serve(a) => {
            let opts = markcert::serve::ServeOptions {
                world: a.world,
                endpoints_file: a.endpoints_file,
                cdn_hosts: a.cdn_hosts,
                bind: a.bind,
                trace_file: a.trace_file,
                xapikey_cutoff_ms: a
                    .xapikey_cutoff
                    .as_deref()
                    .map(markcert_emulators::clock::parse_iso)
                    .transpose()
                    .context("--xapikey-cutoff")?,
                lm: match &a.lm_config {
                    None => Default::default(),
                    Some(path) => markcert::serve::load_lm_options(path)?,
                },
                lm_start: match a.lm_state {
                    LmStartArg::Ready => markcert::serve::LmStart::Ready,
                    LmStartArg::NotConfigured => markcert::serve::LmStart::NotConfigured,
                },
                lm_port: a.lm_port,
                tspiot: !a.no_tspiot,
                tspiot_options: match &a.tspiot_config {
                    None => Default::default(),
                    Some(path) => markcert::serve::load_options(path)?,
                },
                tspiot_port: a.tspiot_port,
                tspiot_admin_port: a.tspiot_admin_port,
                tspiot_tls: a.tspiot_tls,
                kkt: !a.no_kkt,
                kkt_options: match &a.kkt_config {
                    None => Default::default(),
                    Some(path) => markcert::serve::load_options(path)?,
                },
                kkt_port: a.kkt_port,
            };
            let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            rt.block_on(markcert::serve::serve(opts, |e| {
                eprint!("{}", markcert::serve::render_table(e));
            }))?;
            ExitCode::SUCCESS
        }
        Command::Codes(CodesCommand::Profiles) => {
            codes_cli::run_profiles(&mut out)?;
            ExitCode::SUCCESS
        }
        Command::Certify(a) => {
            use markcert::runner::certify::{certify, CertifyOptions, ReportDir};
            use markcert::runner::Sut;
            let secs = |name: &str, v: f64| {
                std::time::Duration::try_from_secs_f64(v)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .with_context(|| format!("{name}: a positive number of seconds"))
            };
            use markcert_emulators::tspiot::mutant::TsPiotMutant;
            if a.list_tspiot_mutants {
                for m in TsPiotMutant::ALL {
                    writeln!(out, "{:<22} {}", m.name(), m.describe())?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            let role = match a.role {
                RoleArg::Pos => markcert::scenario::Role::Pos,
                RoleArg::Tspiot => markcert::scenario::Role::Tspiot,
            };
            if a.tspiot_mutant.is_some() && role != markcert::scenario::Role::Tspiot {
                anyhow::bail!("--tspiot-mutant needs --role tspiot");
            }
            let sut = match (a.sut, a.sut_url) {
                (Some(c), _) => Sut::Command(c),
                (None, Some(u)) => Sut::Url(u),
                (None, None) if role == markcert::scenario::Role::Tspiot => {
                    Sut::EmulatedTspiot { mutant: a.tspiot_mutant.clone() }
                }
                (None, None) => Sut::Program {
                    program: std::env::current_exe().context("locating the markcert binary")?,
                    args: vec!["reference-pos".into()],
                    label: "markcert reference-pos (built-in reference POS)".into(),
                },
            };
            let opts = CertifyOptions {
                suite: a.suite,
                filter: a.filter,
                profile: match a.profile {
                    ProfileArg::Default => Some(markcert::scenario::Profile::Default),
                    ProfileArg::Long => Some(markcert::scenario::Profile::Long),
                    ProfileArg::All => None,
                },
                jobs: a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                json: a.json,
                junit: a.junit,
                report_dir: match (a.report_dir, a.no_report_dir) {
                    (_, true) => ReportDir::Off,
                    (Some(d), false) => ReportDir::At(d),
                    (None, false) => ReportDir::default(),
                },
                known_failing: a.known_failing,
                seed: a.seed,
                timeouts: markcert::adapter::Timeouts {
                    startup: secs("--startup-timeout", a.startup_timeout)?,
                    step: secs("--step-timeout", a.step_timeout)?,
                },
                progress: !a.no_progress,
                role,
                timing_tolerance_ms: a.timing_tolerance_ms,
                upstream_port: a.upstream_port,
                ..CertifyOptions::new(sut)
            };
            let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let result = match &a.mutation_report {
                None => rt.block_on(certify(&opts, &mut out)),
                Some(report) => {
                    let exe = std::env::current_exe().context("locating the markcert binary")?;
                    let target =
                        |name: &str, description: &str, extra: &[&str]| markcert::runner::mutation::Target {
                            name: name.into(),
                            description: description.into(),
                            sut: Sut::Program {
                                program: exe.clone(),
                                args: std::iter::once("reference-pos")
                                    .chain(extra.iter().copied())
                                    .map(String::from)
                                    .collect(),
                                label: format!("markcert reference-pos {}", extra.join(" ")),
                            },
                        };
                    let wanted = |name: &str| {
                        a.mutants.as_deref().is_none_or(|g| markcert::runner::glob_match(g, name))
                    };
                    let (reference, mutants): (_, Vec<_>) = if role == markcert::scenario::Role::Tspiot {
                        let emulated = |name: &str, description: &str, mutant: Option<&str>| {
                            markcert::runner::mutation::Target {
                                name: name.into(),
                                description: description.into(),
                                sut: Sut::EmulatedTspiot { mutant: mutant.map(String::from) },
                            }
                        };
                        (
                            emulated("reference", "the emulated ТС ПИоТ, unmutated", None),
                            TsPiotMutant::ALL
                                .iter()
                                .filter(|m| wanted(m.name()))
                                .map(|m| emulated(m.name(), m.describe(), Some(m.name())))
                                .collect(),
                        )
                    } else {
                        (
                            target("reference", "the reference POS, unmutated", &[]),
                            markcert_reference_pos::mutant::all()
                                .iter()
                                .map(|(_, i)| i)
                                .filter(|i| wanted(i.name))
                                .map(|i| target(i.name, i.description, &["--mutant", i.name]))
                                .collect(),
                        )
                    };
                    rt.block_on(markcert::runner::certify::mutation(
                        &opts,
                        reference,
                        &mutants,
                        a.first_catch,
                        report,
                        &mut out,
                    ))
                }
            };
            match result {
                Ok(code) => ExitCode::from(code as u8),
                Err(e) => {
                    out.flush().context("writing output")?;
                    eprintln!("markcert certify: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            }
        }
        Command::ReferencePos { args } => {
            out.flush().context("writing output")?;
            drop(out);
            return Ok(ExitCode::from(markcert_reference_pos::main_with_args(args)));
        }
        Command::Scenarios(ScenariosCommand::List) => {
            markcert::scenarios_cli::run_list(&mut out)?;
            ExitCode::SUCCESS
        }
        Command::Scenarios(ScenariosCommand::Show { scenario }) => {
            markcert::scenarios_cli::run_show(&scenario, &mut out)?;
            ExitCode::SUCCESS
        }
        Command::Scenarios(ScenariosCommand::Check { files }) => {
            if markcert::scenarios_cli::run_check(&files, &mut out)? == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    };
    out.flush().context("writing output")?;
    Ok(code)
}
