//! The `quorum-check` binary: load `.env`, parse flags, run, map to an exit code.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use quorum_check::{EXIT_USAGE, logging, parse_cli, run};

fn main() -> ExitCode {
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        {
            // dotenvy's message quotes the offending line, which may hold a key.
            let what = match e {
                dotenvy::Error::LineParse(_, at) => {
                    format!("syntax error at character {at} of a line")
                }
                dotenvy::Error::Io(io) => io.to_string(),
                _ => "unreadable".to_string(),
            };
            eprintln!("quorum-check: error: cannot load .env: {what}");
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let (cli, prefer) = match parse_cli() {
        Ok(parsed) => parsed,
        Err(e) => return quorum_check::cli_error(e),
    };
    logging::init(cli.verbose, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("quorum-check: error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let outcome = runtime.block_on(run(cli, prefer));
    // Do not wait for stragglers (a DNS lookup on a blocking thread, a pooled
    // connection): the report is out, the deadline promise holds.
    runtime.shutdown_background();
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("quorum-check: error: {}", quorum_check::one_line(&e));
            ExitCode::from(EXIT_USAGE)
        }
    }
}
