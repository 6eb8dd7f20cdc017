//! The gateway's CPU time, from `/proc/<pid>/stat`: user plus system time (fields 14 and 15,
//! `utime` and `stime`), in clock ticks, turned into milliseconds with `sysconf(_SC_CLK_TCK)`.
//! A tick is usually 10 ms, so a figure per operation wants a round of at least a few seconds.

/// `utime + stime` of a `/proc/<pid>/stat` line, in clock ticks.
///
/// The second field is the process name in parentheses, and the name may itself hold spaces and
/// parentheses (`(a) b (c)`): the fields after it are counted from the *last* `)` of the line.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name: state is field 3, so utime (field 14) is the 12th word and stime the 13th.
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`); `None` if the system does not say.
pub fn ticks_per_second() -> Option<u64> {
    // SAFETY: sysconf takes a constant name and reads no memory of ours.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|&t| t > 0)
}

/// The process's CPU time so far (user + system), milliseconds.
pub fn read_cpu_ms(pid: u32) -> Result<f64, String> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let ticks = cpu_ticks(&text).ok_or_else(|| format!("{path}: no utime and stime"))?;
    let per_second = ticks_per_second().ok_or("sysconf(_SC_CLK_TCK) gave nothing")?;
    Ok(ticks as f64 * 1000.0 / per_second as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_summed() {
        let stat = "4242 (gateway) S 1 4242 4242 0 -1 4194560 2000 0 0 0 731 129 0 0 20 0 3 0 \
1234 246508000 10309 18446744073709551615 1 1 0 0 0 0 0 4096 17638 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(cpu_ticks(stat), Some(731 + 129));
    }

    #[test]
    fn a_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let stat = "77 (a) b (c)) R 1 77 77 0 -1 0 0 0 0 0 5 7 0 0 20 0 1 0 1 0 0";
        assert_eq!(cpu_ticks(stat), Some(12));
    }

    #[test]
    fn a_short_or_garbled_line_gives_none() {
        assert_eq!(cpu_ticks("77 (x) R 1 2 3"), None);
        assert_eq!(cpu_ticks("77 x R 1 77 77 0 -1 0 0 0 0 0 5 7"), None);
        assert_eq!(cpu_ticks("77 (x) R 1 77 77 0 -1 0 0 0 0 0 five 7 0"), None);
    }

    #[test]
    fn there_is_a_clock_tick() {
        assert!(ticks_per_second().is_some_and(|t| t >= 10));
    }
}
