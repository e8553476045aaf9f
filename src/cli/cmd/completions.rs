//! `quorum-check completions SHELL`: clap_complete's script, repaired where
//! it does not work for a hyphenated binary name.

use clap_complete::Shell;

/// The script as it should be sourced. clap_complete's bash script names
/// the states of its subcommands two ways for a binary called `a-b`: it
/// sets `cmd="a__b__subcmd__check"` but matches `a__subcmd__b__subcmd__check)`,
/// so nothing after a subcommand completes. One spelling is made the other.
pub fn fix(shell: Shell, script: &[u8]) -> Vec<u8> {
    match shell {
        Shell::Bash => String::from_utf8_lossy(script)
            .replace("quorum__subcmd__check", "quorum__check")
            .into_bytes(),
        _ => script.to_vec(),
    }
}
