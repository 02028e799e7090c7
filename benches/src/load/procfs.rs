//! Readings from `/proc`: a process's resident memory (`VmRSS` of `/proc/<pid>/status`) and CPU time
//! (`utime + stime` of `/proc/<pid>/stat`), the machine's CPU time (`/proc/stat`) and load average
//! (`/proc/loadavg`). Linux only; elsewhere every reading is `None`.
//!
//! Must not: fail or panic: a reading that cannot be taken is `None` and the report says so.

/// `VmRSS` of process `pid`, in bytes.
pub fn vm_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

/// The `VmRSS:` line of a `/proc/<pid>/status` text, in bytes (the kernel writes kB = KiB).
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => value.checked_mul(1024),
        Some(_) => None,
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux architecture we run on).
pub const USER_HZ: u64 = 100;

/// CPU time (user + system) that process `pid` has used so far, in µs (10 ms resolution).
pub fn cpu_time_us(pid: u32) -> Option<u64> {
    parse_stat_cpu_us(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in µs. Fields are counted after the `)` that ends
/// the command name (which may itself contain spaces and parentheses).
pub fn parse_stat_cpu_us(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ")": state is field 3, utime field 14, stime field 15 → indexes 11 and 12 here.
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)?.checked_mul(1_000_000 / USER_HZ)
}

/// CPU time of the whole machine so far, µs: `(busy, total)` summed over every CPU, where busy is
/// everything but idle and iowait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineCpu {
    pub busy_us: u64,
    pub total_us: u64,
}

/// The machine's CPU time now.
pub fn machine_cpu() -> Option<MachineCpu> {
    parse_proc_stat(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The `cpu` line of a `/proc/stat` text (user nice system idle iowait irq softirq steal …).
pub fn parse_proc_stat(text: &str) -> Option<MachineCpu> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> =
        line.split_whitespace().skip(1).take(8).map(|f| f.parse().ok()).collect::<Option<_>>()?;
    let total: u64 = ticks.iter().sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    let us = 1_000_000 / USER_HZ;
    Some(MachineCpu { busy_us: (total - idle) * us, total_us: total * us })
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> Option<[f64; 3]> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

/// The first three fields of a `/proc/loadavg` text.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    Some([it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?])
}

/// Logical CPUs available to this process.
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\tx\nVmPeak:\t  20000 kB\nVmRSS:\t    1234 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert_eq!(parse_vm_rss("VmRSS:\t12 MB\n"), None);
    }

    #[test]
    fn cpu_time_is_utime_plus_stime() {
        let stat = "4242 (serve (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 3 0 100 200 300";
        assert_eq!(parse_stat_cpu_us(stat), Some(300 * 10_000));
        assert_eq!(parse_stat_cpu_us("4242 (x"), None);
        if cfg!(target_os = "linux") {
            assert!(cpu_time_us(std::process::id()).is_some());
        }
    }

    #[test]
    fn machine_cpu_from_proc_stat() {
        let text = "cpu  100 5 45 800 50 0 0 0 0 0\ncpu0 50 2 20 400 25 0 0 0 0 0\n";
        assert_eq!(
            parse_proc_stat(text),
            Some(MachineCpu { busy_us: 150 * 10_000, total_us: 1000 * 10_000 })
        );
        assert_eq!(parse_proc_stat("cpu0 1 2 3\n"), None);
    }

    #[test]
    fn loadavg_has_three_figures() {
        assert_eq!(parse_loadavg("0.81 1.45 1.82 2/345 6789\n"), Some([0.81, 1.45, 1.82]));
        assert_eq!(parse_loadavg("0.81 x"), None);
    }

    #[test]
    fn own_process_has_a_resident_size() {
        if cfg!(target_os = "linux") {
            assert!(vm_rss_bytes(std::process::id()).is_some_and(|b| b > 0));
        }
    }
}
