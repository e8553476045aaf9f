//! The `quorum-check` binary: load `.env`, parse flags, run, map to an exit code.
//! Nothing here panics on a closed or full stdout/stderr: every write is fallible.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use quorum_check::{
    ExitStatus,
    cli::{cli_error, dotenv, is_help_or_version, logging, parse_cli, print_error, run},
};

fn main() -> ExitCode {
    // .env first (its values feed the flags), but a broken one must not stop
    // --help, --version, completions or man.
    let dotenv = dotenv::load();
    let (cli, prefer) = match parse_cli() {
        Ok(parsed) => parsed,
        Err(e) if is_help_or_version(&e) => return cli_error(e),
        Err(e) => {
            if let Err(message) = dotenv {
                print_error(&format!("cannot load .env: {message}"));
                return ExitStatus::Usage.into();
            }
            return cli_error(e);
        }
    };
    if let Err(message) = dotenv
        && cli.command.needs_configuration()
    {
        print_error(&format!("cannot load .env: {message}"));
        return ExitStatus::Usage.into();
    }
    logging::init(cli.verbose, cli.log_format, cli.color);
    // serve answers probes while a check decodes: two workers, so that one
    // check's CPU work cannot hold up /healthz. Everything else runs on one thread.
    let runtime = if matches!(cli.command, quorum_check::cli::Command::Serve(_)) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            print_error(&format!("cannot start the async runtime: {e}"));
            return ExitStatus::Usage.into();
        }
    };
    let outcome = runtime.block_on(run(cli, prefer));
    // Do not wait for stragglers (a DNS lookup on a blocking thread, a pooled
    // connection): the report is out, the deadline promise holds.
    runtime.shutdown_background();
    match outcome {
        Ok(status) => status.into(),
        Err(e) => {
            print_error(&quorum_check::cli::one_line(&e));
            ExitStatus::Usage.into()
        }
    }
}
