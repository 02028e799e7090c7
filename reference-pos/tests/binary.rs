//! The `markcert-reference-pos` binary over the stdio transport: one reply line per message on
//! stdout, logs on stderr only, exit status 0 after `shutdown` and at the end of input.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(input: &str) -> (std::process::ExitStatus, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_markcert-reference-pos"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status, String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn replies_on_stdout_logs_on_stderr_exit_zero() {
    let (status, stdout, stderr) = run(
        "not json\n{\"id\":1,\"type\":\"open_receipt\",\"lane\":\"l\",\"kind\":\"sale\"}\n{\"id\":2,\"type\":\"shutdown\"}\n\
         {\"id\":3,\"type\":\"shutdown\"}\n",
    );
    assert!(status.success(), "{status}; stderr: {stderr}");
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[0]["type"], "error");
    assert_eq!(lines[1]["code"], "not_initialised");
    assert_eq!(lines[2], serde_json::json!({"in_reply_to":2,"type":"shutdown_ok"}));
    assert!(stderr.contains("[markcert-reference-pos]"), "logs go to stderr: {stderr:?}");
}

#[test]
fn end_of_input_is_a_clean_exit() {
    let (status, stdout, _) = run("");
    assert!(status.success());
    assert!(stdout.is_empty());
}

fn run_args(args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_markcert-reference-pos"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary starts");
    (out.status, String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn list_mutants_prints_name_tab_description_lines() {
    let (status, stdout, _) = run_args(&["--list-mutants"]);
    assert_eq!(status.code(), Some(0));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() >= 22, "{stdout}");
    for line in &lines {
        let (name, description) = line.split_once('\t').expect("name<TAB>description");
        assert!(markcert_reference_pos::Mutant::from_name(name).is_some(), "{name}");
        assert!(!description.is_empty());
    }
}

#[test]
fn an_unknown_mutant_exits_2_naming_the_valid_ones() {
    let (status, stdout, stderr) = run_args(&["--mutant", "sell-everything"]);
    assert_eq!(status.code(), Some(2));
    assert!(stdout.is_empty());
    assert!(stderr.contains("sell-everything") && stderr.contains("ignore-expiry"), "{stderr}");
    assert_eq!(run_args(&["--bogus"]).0.code(), Some(2));
}

#[test]
fn a_mutant_speaks_the_protocol_like_the_reference() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_markcert-reference-pos"))
        .args(["--mutant", "accept-all"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child.stdin.take().unwrap().write_all(b"{\"id\":1,\"type\":\"shutdown\"}\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "{\"in_reply_to\":1,\"type\":\"shutdown_ok\"}\n");
}
