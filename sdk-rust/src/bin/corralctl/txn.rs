//! `txn`: runs a transaction read as JSON ([`crate::txnfile`]) and prints the branch
//! that ran with its results; exits 4 when the compares failed.

use std::path::Path;

use corral_client::{OpResult, TxnResponse};

use crate::cli::TxnArgs;
use crate::failure::{Call, Failure, EXIT_CONFLICT};
use crate::output::{printable, Shown};
use crate::{input, txnfile, wire, Ctx};

pub async fn txn(ctx: &Ctx, args: TxnArgs) -> Result<(), Failure> {
    let file = args.file.as_deref().unwrap_or(Path::new("-"));
    let bytes = input::read(file)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Failure::Usage(format!(
            "{} is not UTF-8 text (binary data goes in data_base64)",
            describe(file)
        ))
    })?;
    let txn = txnfile::parse(&text).map_err(Failure::Usage)?;
    let r = ctx
        .client()
        .await?
        .txn(txn)
        .await
        .map_err(Failure::call(Call::Txn))?;
    ctx.out
        .print(Shown::message(&wire::txn(&r), results_text(&r)))?;
    if !r.succeeded {
        return Err(Failure::Exit(EXIT_CONFLICT));
    }
    Ok(())
}

/// `stdin` or the file's name, for messages.
fn describe(file: &Path) -> String {
    if file.as_os_str() == "-" {
        "stdin".into()
    } else {
        file.display().to_string()
    }
}

/// `SUCCEEDED revision=R` or `FAILED revision=R`, then one line per result.
pub fn results_text(r: &TxnResponse) -> String {
    let mut text = format!(
        "{} revision={}\n",
        if r.succeeded { "SUCCEEDED" } else { "FAILED" },
        r.header.revision
    );
    for result in &r.results {
        let line = match result {
            OpResult::Create { path, .. } => format!("created {path}"),
            OpResult::Put { stat, .. } => format!("put version={}", stat.version),
            OpResult::Delete { deleted } => format!("deleted {deleted}"),
            OpResult::Get { node: Some(n) } => format!("get {} {}", n.path, printable(&n.data)),
            OpResult::Get { node: None } => "get (absent)".into(),
            OpResult::List { nodes, more } => {
                let mut line = format!(
                    "list {} znodes{}",
                    nodes.len(),
                    if *more { " (more)" } else { "" }
                );
                for n in nodes {
                    line.push_str(&format!("\n  {}", n.path));
                }
                line
            }
            _ => "(unknown result)".into(),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}
