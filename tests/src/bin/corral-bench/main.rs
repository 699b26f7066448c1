//! `corral-bench`: one workload against Corral, etcd or ZooKeeper, with the same clients,
//! keys and values for each, printing latency percentiles and throughput as a table or
//! JSON. `scripts/bench.sh` runs it against all three; `docs/benchmarks.md` explains the
//! workloads.
//!
//! Exit status: 0 after a run (even one with failed requests: see `errors`), 1 when the
//! run could not be carried out (e.g. the target is unreachable), 2 for bad flags.

mod args;
mod corral;
mod driver;
mod etcd;
mod etcdpb;
mod stats;
mod workload;
mod zk;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use crate::args::{Cli, Output};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            print!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's first line says what is wrong; usage follows with --help.
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or("bad arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("corral-bench: {first} (see --help)");
            return ExitCode::from(2);
        }
    };
    let config = match cli.validate() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("corral-bench: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("corral-bench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(workload::run(&config)) {
        Ok(summary) => {
            match config.output {
                Output::Table => print!("{}", summary.table()),
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&summary).expect("summary serializes")
                ),
            }
            // Sessions and streams still open are torn down with the runtime; do not wait
            // for servers to acknowledge their closing.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("corral-bench: {e:#}");
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            ExitCode::FAILURE
        }
    }
}
