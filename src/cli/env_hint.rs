//! `QUORUM_*` variables that no flag reads: a misspelt one (`QUORUM_RPC_URL`
//! for `QUORUM_RPC_URLS`) would otherwise be ignored in silence and the run
//! fail for another reason ("no nodes configured"). Each gets a warning on
//! stderr naming the closest variable of ours; only names are printed, never
//! a value (it may hold an API key).

use std::collections::BTreeSet;

use clap::CommandFactory;

use super::Cli;

/// Every environment variable a flag of any subcommand reads.
pub fn known_names() -> BTreeSet<String> {
    fn walk(cmd: &clap::Command, names: &mut BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env() {
                names.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, names);
        }
    }
    let mut names = BTreeSet::new();
    walk(&Cli::command(), &mut names);
    names
}

/// One warning line per `QUORUM_*` name in `set` that is not in `known`,
/// with the closest known name when one is near.
pub fn warnings<'a>(set: impl IntoIterator<Item = &'a str>, known: &BTreeSet<String>) -> Vec<String> {
    let mut unknown: Vec<&str> = set
        .into_iter()
        .filter(|name| name.starts_with("QUORUM_") && !known.contains(*name))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    unknown
        .into_iter()
        .map(|name| {
            let shown = crate::sanitize::escape(name);
            match closest(name, known) {
                Some(near) => format!(
                    "quorum-check: warning: {shown} is not a quorum-check variable (ignored): did you mean {near}?"
                ),
                None => format!("quorum-check: warning: {shown} is not a quorum-check variable (ignored)"),
            }
        })
        .collect()
}

/// The known name nearest to `name`, if a few edits away.
fn closest<'k>(name: &str, known: &'k BTreeSet<String>) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), k))
        .filter(|(distance, k)| *distance <= (k.len() / 4).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k.as_str())
}

/// Prints the warnings for the process's environment (`.env` loaded).
pub fn warn_unknown() {
    let set: Vec<String> = std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()).collect();
    for line in warnings(set.iter().map(String::as_str), &known_names()) {
        super::eprint_line(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_variable_is_named_with_ours() {
        let known = known_names();
        assert!(
            known.contains("QUORUM_RPC_URLS") && known.contains("QUORUM_TX"),
            "{known:?}"
        );
        let lines = warnings(
            [
                "QUORUM_RPC_URL",
                "QUORUM_TX",
                "PATH",
                "QUORUM_COMPLETELY_UNRELATED_THING",
            ],
            &known,
        );
        assert_eq!(
            lines,
            [
                "quorum-check: warning: QUORUM_COMPLETELY_UNRELATED_THING is not a quorum-check variable (ignored)",
                "quorum-check: warning: QUORUM_RPC_URL is not a quorum-check variable (ignored): did you mean QUORUM_RPC_URLS?",
            ]
        );
    }
}
