//! Why a command failed, how corralctl says it in its own terms (its flags, its
//! commands) and the exit status that goes with it; see [`crate::cli::EXIT_HELP`].

use std::io;

use corral_client::{Error, UnauthenticatedReason};

/// The request failed for another reason (a server error).
pub const EXIT_FAILED: u8 = 1;
/// Usage error or invalid input; clap uses the same for the errors it finds.
pub const EXIT_USAGE: u8 = 2;
/// Not found.
pub const EXIT_NOT_FOUND: u8 = 3;
/// Conflict or failed precondition (including a txn whose compares failed).
pub const EXIT_CONFLICT: u8 = 4;
/// Unavailable: timeout, no member reachable, lost session, a write of unknown outcome.
pub const EXIT_UNAVAILABLE: u8 = 5;
/// Not allowed: not authenticated, or permission denied.
pub const EXIT_DENIED: u8 = 6;

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// A call of the client failed; `Call` says which, so that the error can be put in
    /// terms of the command line rather than of the API. (Boxed: the error is large,
    /// and every command returns a `Failure`.)
    Client(Box<Error>, Call),
    /// Bad input found by corralctl itself (a txn file, a command to run).
    Usage(String),
    /// An input (a value's file, stdin, a txn file) could not be read.
    Input { what: String, error: io::Error },
    /// Writing the output failed.
    Output(io::Error),
    /// A failure of corralctl's own work (a file it writes, a child process, a bug).
    Other(String),
    /// A failure already reported on stderr; only the exit status is left to set.
    Reported(u8),
    /// Success with another status than 0 (e.g. the status of the command `lock` ran).
    Exit(u8),
}

impl Failure {
    /// A failed call: `Failure::call(Call::Read)` as a `map_err` argument.
    pub fn call(call: Call) -> impl FnOnce(Error) -> Failure {
        move |e| Failure::Client(Box::new(e), call)
    }

    /// Reading `what` failed.
    pub fn input(what: impl Into<String>) -> impl FnOnce(io::Error) -> Failure {
        move |error| Failure::Input {
            what: what.into(),
            error,
        }
    }
}

/// What a failed call was. Calls that change nothing need no more than `Read`; a
/// write names how to check whether it was applied after all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// A read, or a call whose outcome needs no checking (lock, campaign, watch).
    Read,
    /// `create PATH`; with `-s` PATH is the prefix of the name.
    Create { path: String, sequential: bool },
    /// `put PATH`, with `--create` or not.
    Put { path: String, create: bool },
    /// `rm PATH`.
    Delete { path: String },
    /// `txn`.
    Txn,
    /// `auth enable`.
    EnableAuth,
    /// Any other write; `check` is the corralctl command that shows its effect.
    Write { check: String },
}

impl Call {
    /// The command that shows whether a write whose outcome is unknown was applied;
    /// `None` for reads.
    fn check(&self) -> Option<String> {
        Some(match self {
            Call::Read => return None,
            Call::Create {
                path,
                sequential: true,
            } => format!("`corralctl ls {}`", parent(path)),
            Call::Create { path, .. } => format!("`corralctl stat {path}`"),
            Call::Put { path, .. } => format!("`corralctl get {path}`"),
            Call::Delete { path } => format!("`corralctl stat {path}`"),
            Call::Txn => "reading the znodes it compares and changes".into(),
            Call::EnableAuth => "`corralctl auth status`".into(),
            Call::Write { check } => format!("`{check}`"),
        })
    }
}

/// The message and exit status for a failed call.
///
/// The server words its errors for the API ("set create_parents"); here the typed
/// error (never its text) decides how to say the same with corralctl's flags.
pub fn explain(e: &Error, call: &Call) -> (String, u8) {
    if e.outcome_unknown() {
        if let Some(check) = call.check() {
            // Timeout, a connection cut mid-call, or a leader lost after the write was
            // submitted: it may have been committed. A user who reads only "timed out"
            // would retry a non-idempotent write (a sequential create) and apply it twice.
            return (
                format!("{e}; the write may or may not have been applied: check with {check}"),
                EXIT_UNAVAILABLE,
            );
        }
    }
    // The path to create is the one the user typed where there is one (the error's may
    // name the parent instead); the parent missing is then its immediate parent, as a
    // missing ancestor means a missing parent.
    let message = match (e, call) {
        (Error::ParentNotFound { .. }, Call::Create { path, .. }) => format!(
            "cannot create {path}: parent {} does not exist; pass -p/--parents to create it",
            parent(path)
        ),
        (Error::ParentNotFound { .. }, Call::Put { path, .. }) => format!(
            "cannot create {path}: parent {parent} does not exist (put --create makes no \
             parents; `corralctl create -p {parent}` does)",
            parent = parent(path)
        ),
        (Error::ParentNotFound { path, .. }, Call::Txn) => format!(
            "cannot create {path}: parent {} does not exist; a create op makes missing \
             parents with \"parents\": true",
            parent(path)
        ),
        (
            Error::NotEmpty {
                path, num_children, ..
            },
            Call::Delete { .. },
        ) => format!(
            "znode {path} has {num_children} children; pass -r/--recursive to delete its \
             subtree"
        ),
        (
            Error::NotEmpty {
                path, num_children, ..
            },
            Call::Txn,
        ) => format!(
            "znode {path} has {num_children} children; a delete op deletes the subtree \
             with \"recursive\": true"
        ),
        (Error::LeaseNotFound { lease_id, .. }, _) => {
            let lease = lease_id.map_or_else(|| "the lease".into(), |id| format!("lease {id}"));
            format!("{lease} does not exist or has ended (`corralctl lease grant TTL` grants one)")
        }
        (
            Error::Unauthenticated {
                reason: UnauthenticatedReason::AuthRequired,
                ..
            },
            _,
        ) => "auth is enabled on the cluster: pass --user NAME (the password is asked for, or \
              --password / CORRALCTL_PASSWORD), or a client certificate with --cert and --key"
            .into(),
        (
            Error::Unauthenticated {
                reason: UnauthenticatedReason::BadCredentials,
                user,
                ..
            },
            _,
        ) => format!(
            "wrong user name or password{}",
            user.as_deref()
                .map_or_else(String::new, |u| format!(" for user {u}"))
        ),
        (Error::RootRequired { .. }, Call::EnableAuth) => {
            "auth cannot be enabled before the user root exists: add it first with \
             `corralctl user add root`"
                .into()
        }
        (
            Error::PermissionDenied {
                path: None,
                permission: Some(permission),
                user,
                ..
            },
            _,
        ) if permission == "root" => format!(
            "permission denied: only root may do this{}",
            user.as_deref()
                .map_or_else(String::new, |u| format!(" (you are {u})"))
        ),
        _ => e.to_string(),
    };
    (message, exit_status(e))
}

/// The exit status of a client error; see [`crate::cli::EXIT_HELP`].
pub fn exit_status(e: &Error) -> u8 {
    match e {
        Error::InvalidEndpoint { .. } | Error::InvalidArgument { .. } | Error::TlsConfig { .. } => {
            EXIT_USAGE
        }
        Error::NotFound { .. }
        | Error::ParentNotFound { .. }
        | Error::LeaseNotFound { .. }
        | Error::MemberNotFound { .. }
        | Error::NoLeader { .. }
        | Error::UserNotFound { .. }
        | Error::RoleNotFound { .. } => EXIT_NOT_FOUND,
        Error::AlreadyExists { .. }
        | Error::LeaseExists { .. }
        | Error::UserExists { .. }
        | Error::RoleExists { .. }
        | Error::AclVersionMismatch { .. }
        | Error::RootRequired { .. }
        | Error::VersionMismatch { .. }
        | Error::NotEmpty { .. }
        | Error::EphemeralParent { .. }
        | Error::FailedPrecondition { .. }
        | Error::Membership { .. }
        | Error::NotElectionLeader { .. }
        | Error::EntryGone { .. }
        | Error::RequestTooOld { .. }
        | Error::Compacted { .. } => EXIT_CONFLICT,
        Error::Unavailable { .. }
        | Error::Timeout { .. }
        | Error::Transport { .. }
        | Error::OutcomeUnknown { .. }
        | Error::WaitTimeout { .. }
        | Error::SessionLost { .. } => EXIT_UNAVAILABLE,
        Error::Unauthenticated { .. } | Error::PermissionDenied { .. } => EXIT_DENIED,
        _ => EXIT_FAILED,
    }
}

/// The parent of an absolute path (`/` for a child of the root, and for odd input).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}
