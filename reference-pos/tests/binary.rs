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
