//! `corralctl`: the command-line client for Corral, built on `corral-client`.
//!
//! This file parses the command line, hands the command to its module and turns the
//! outcome into an exit status ([`cli::EXIT_HELP`], docs/corralctl.md). Every error is
//! one line on stderr, `corralctl: <message>`; nothing here panics on bad input.

mod auth;
mod cli;
mod cluster;
mod elect;
mod failure;
mod input;
mod kv;
mod lease;
mod lock;
mod output;
mod protojson;
mod txn;
mod txnfile;
mod watch;
mod wire;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use corral_client::{Client, ClientBuilder};
use tokio::sync::OnceCell;

use cli::{Cli, Command};
use failure::{explain, Call, Failure, EXIT_FAILED, EXIT_USAGE};
use output::Printer;

/// Writes `corralctl: <message>` as one line on stderr.
fn report(message: &str) {
    let line = message.replace(['\n', '\r'], " ");
    // Nothing sensible is left to do if stderr is gone too.
    let _ = writeln!(io::stderr(), "corralctl: {line}");
}

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        report(&format!("internal error (please report it): {info}"));
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(format!("cannot start: {e}")))
        .and_then(|runtime| runtime.block_on(run(cli)));
    let (message, code) = match result {
        Ok(()) => return ExitCode::SUCCESS,
        Err(Failure::Exit(code)) | Err(Failure::Reported(code)) => return ExitCode::from(code),
        // The reader went away (`corralctl ls -R / | head`): not an error.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            return ExitCode::SUCCESS
        }
        Err(Failure::Output(e)) => (format!("cannot write output: {e}"), EXIT_FAILED),
        Err(Failure::Input { what, error }) => (format!("cannot read {what}: {error}"), EXIT_USAGE),
        Err(Failure::Client(e, call)) => explain(&e, &call),
        Err(Failure::Usage(message)) => (message, EXIT_USAGE),
        Err(Failure::Other(message)) => (message, EXIT_FAILED),
    };
    report(&message);
    ExitCode::from(code)
}

/// Prints clap's answer: `--help` and `--version` in full (exit 0); a usage error as
/// its first line only, with a pointer to `--help` (exit 2).
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        report("a command is required (see corralctl --help)");
        return ExitCode::from(EXIT_USAGE);
    }
    report(&format!("{} (see corralctl --help)", usage_line(&e)));
    ExitCode::from(EXIT_USAGE)
}

/// clap's first paragraph, which says what is wrong (and, for missing arguments,
/// which); its tips and usage follow after a blank line.
fn usage_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let first: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let first = first.join(" ");
    first.strip_prefix("error: ").unwrap_or(&first).to_string()
}

/// What every command gets: the printer for its output, and the client, connected
/// on first use so that a command reads its input (a file, stdin) first and reports a
/// missing file as such whether or not a member answers.
pub struct Ctx {
    pub out: Printer,
    pub endpoints: Vec<String>,
    pub timeout: Duration,
    security: Security,
    /// The user and password, once asked for (a command connecting to several
    /// members asks once).
    login: OnceLock<Result<Option<(String, String)>, String>>,
    client: OnceCell<Client>,
}

/// The TLS and credential options of the command line.
struct Security {
    cacert: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    server_name: Option<String>,
    user: Option<String>,
    password: Option<String>,
}

impl Ctx {
    /// The client, connected to the first endpoint that accepts.
    pub async fn client(&self) -> Result<&Client, Failure> {
        self.client
            .get_or_try_init(|| async {
                self.builder(&self.endpoints)?
                    .connect()
                    .await
                    .map_err(Failure::call(Call::Read))
            })
            .await
    }

    /// A client builder for `endpoints` with the timeout, TLS and credentials of the
    /// command line; asks for the password on the terminal the first time if needed.
    pub fn builder(&self, endpoints: &[String]) -> Result<ClientBuilder, Failure> {
        let s = &self.security;
        let mut builder = Client::builder(endpoints)
            .timeout(self.timeout)
            .connect_timeout(self.timeout);
        if let Some(ca) = &s.cacert {
            builder = builder.tls_ca_file(ca);
        }
        match (&s.cert, &s.key) {
            (Some(cert), Some(key)) => builder = builder.tls_identity_files(cert, key),
            (None, None) => {}
            _ => {
                return Err(Failure::Usage(
                    "--cert and --key go together (the client certificate and its key)".into(),
                ))
            }
        }
        if let Some(name) = &s.server_name {
            builder = builder.tls_domain(name);
        }
        let login = self.login.get_or_init(|| match (&s.user, &s.password) {
            (Some(user), Some(password)) => Ok(Some((user.clone(), password.clone()))),
            (Some(user), None) => input::password(
                &format!("Password for {user}: "),
                "pass --password or set CORRALCTL_PASSWORD",
            )
            .map(|password| Some((user.clone(), password)))
            .map_err(|e| format!("--user {user} needs a password: {e}")),
            (None, Some(_)) => Err("--password (or CORRALCTL_PASSWORD) needs --user".into()),
            (None, None) => Ok(None),
        });
        match login {
            Ok(Some((user, password))) => Ok(builder.credentials(user, password)),
            Ok(None) => Ok(builder),
            Err(message) => Err(Failure::Usage(message.clone())),
        }
    }
}

/// Runs one command.
async fn run(cli: Cli) -> Result<(), Failure> {
    let ctx = Ctx {
        out: Printer::new(cli.output),
        endpoints: cli.endpoints,
        timeout: cli.timeout,
        security: Security {
            cacert: cli.cacert,
            cert: cli.cert,
            key: cli.key,
            server_name: cli.server_name,
            user: cli.user,
            password: cli.password,
        },
        login: OnceLock::new(),
        client: OnceCell::new(),
    };
    let ctx = &ctx;
    match cli.command {
        Command::Get(args) => kv::get(ctx, args).await,
        Command::Put(args) => kv::put(ctx, args).await,
        Command::Create(args) => kv::create(ctx, args).await,
        Command::Ls(args) => kv::ls(ctx, args).await,
        Command::Tree(args) => kv::tree(ctx, args).await,
        Command::Rm(args) => kv::rm(ctx, args).await,
        Command::Stat(args) => kv::stat(ctx, args).await,
        Command::Watch(args) => watch::watch(ctx, args).await,
        Command::Txn(args) => txn::txn(ctx, args).await,
        Command::Lease(command) => lease::lease(ctx, command).await,
        Command::Lock(args) => lock::lock(ctx, args).await,
        Command::Elect(args) => elect::elect(ctx, args).await,
        Command::Member(command) => cluster::member(ctx, command).await,
        // Asks each endpoint itself, on its own connection.
        Command::Status => cluster::status(ctx).await,
        Command::TransferLeader { id } => cluster::transfer_leader(ctx, id).await,
        Command::Snapshot(command) => cluster::snapshot(ctx, command).await,
        Command::Compact { revision } => cluster::compact(ctx, revision).await,
        Command::Auth(command) => auth::auth(ctx, command).await,
        Command::User(command) => auth::user(ctx, command).await,
        Command::Role(command) => auth::role(ctx, command).await,
        Command::Acl(command) => auth::acl(ctx, command).await,
        Command::Completion { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "corralctl", &mut script);
            output::write_stdout(&script).map_err(Failure::Output)
        }
    }
}

/// Resolves on Ctrl-C (or never, if the signal cannot be listened for). The handler is
/// installed when the future is first polled, and catches every Ctrl-C from then on
/// while the future lives: a loop keeps one and polls it first.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests;
