//! The cluster and maintenance commands: `member`, `status`, `transfer-leader`,
//! `snapshot save`, `compact`.

use std::path::Path;

use corral_client::{Error, MemberChangeResponse};
use corral_proto::v1 as pb;

use crate::cli::{MemberCommand, SnapshotCommand};
use crate::failure::{exit_status, Call, Failure};
use crate::output::{doc_of, human_bytes, members_table, status_table, Shown};
use crate::protojson::Doc;
use crate::{report, wire, Ctx};

/// How to see whether a membership change was applied after all.
fn member_change() -> Call {
    Call::Write {
        check: "corralctl member list".into(),
    }
}

pub async fn member(ctx: &Ctx, command: MemberCommand) -> Result<(), Failure> {
    let client = ctx.client().await?;
    let shown = match command {
        MemberCommand::List => {
            let r = client
                .member_list()
                .await
                .map_err(Failure::call(Call::Read))?;
            let text = members_table(&r.members, r.leader_id);
            Shown::message(&wire::member_list(&r), text)
        }
        MemberCommand::Add { id, peer_addr } => {
            let r = client
                .member_add(id, peer_addr)
                .await
                .map_err(Failure::call(member_change()))?;
            let added = wire::member_change(&r, |header, members| pb::MemberAddResponse {
                header,
                members,
            });
            Shown::message(&added, changed_text(&r))
        }
        MemberCommand::Promote { id } => {
            let r = client
                .member_promote(id)
                .await
                .map_err(Failure::call(member_change()))?;
            let promoted = wire::member_change(&r, |header, members| pb::MemberPromoteResponse {
                header,
                members,
            });
            Shown::message(&promoted, changed_text(&r))
        }
        MemberCommand::Remove { id } => {
            let r = client
                .member_remove(id)
                .await
                .map_err(Failure::call(member_change()))?;
            let removed = wire::member_change(&r, |header, members| pb::MemberRemoveResponse {
                header,
                members,
            });
            Shown::message(&removed, changed_text(&r))
        }
    };
    ctx.out.print(shown)
}

/// The members after a change (whoever leads is not part of the answer).
fn changed_text(r: &MemberChangeResponse) -> String {
    members_table(&r.members, None)
}

pub async fn transfer_leader(ctx: &Ctx, id: u64) -> Result<(), Failure> {
    let r = ctx
        .client()
        .await?
        .transfer_leader(id)
        .await
        .map_err(Failure::call(member_change()))?;
    let text = format!("leader is member {}\n", r.leader_id);
    ctx.out
        .print(Shown::message(&wire::transfer_leader(&r), text))
}

pub async fn compact(ctx: &Ctx, revision: i64) -> Result<(), Failure> {
    // Compacting again up to the same revision changes nothing, so a compaction of
    // unknown outcome is simply run again.
    let call = Call::Write {
        check: format!("corralctl compact {revision}"),
    };
    let r = ctx
        .client()
        .await?
        .compact(revision)
        .await
        .map_err(Failure::call(call))?;
    let text = format!("compacted up to revision {}\n", r.compact_revision);
    ctx.out.print(Shown::message(&wire::compact(&r), text))
}

pub async fn snapshot(ctx: &Ctx, command: SnapshotCommand) -> Result<(), Failure> {
    let SnapshotCommand::Save { file } = command;
    let client = ctx.client().await?;
    let partial = file.with_extension("part");
    let mut writer = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| Failure::Other(format!("cannot create {}: {e}", partial.display())))?;
    let saved = client.snapshot(&mut writer).await;
    drop(writer);
    let info = match saved {
        Ok(info) => info,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(match e {
                Error::Unsupported { message } => Failure::Other(format!(
                    "snapshot: not supported by this server ({message})"
                )),
                other => Failure::Client(Box::new(other), Call::Read),
            });
        }
    };
    std::fs::rename(&partial, &file)
        .map_err(|e| Failure::Other(format!("cannot rename to {}: {e}", file.display())))?;
    let text = format!("saved {} to {}\n", human_bytes(info.bytes), file.display());
    ctx.out.print(Shown::doc(
        snapshot_json(&file, &wire::header(&info.header), info.bytes)?,
        text,
    ))
}

/// `snapshot save`'s JSON: the snapshot is a stream of chunks, not one message, so this
/// is `{file, bytes, header}` with the header's mapping and `bytes` as a string, as
/// the mapping writes 64-bit integers.
pub fn snapshot_json(file: &Path, header: &pb::ResponseHeader, bytes: u64) -> Result<Doc, Failure> {
    Ok(Doc::Object(vec![
        ("file", Doc::Text(file.display().to_string())),
        ("bytes", Doc::Text(bytes.to_string())),
        ("header", doc_of(header)?),
    ]))
}

/// `status`'s JSON for one endpoint: `{endpoint, status}`, `status` being the
/// `corral.v1.StatusResponse` it answered.
pub fn status_json(endpoint: &str, status: &corral_client::Status) -> Result<Doc, Failure> {
    Ok(Doc::Object(vec![
        ("endpoint", Doc::Text(endpoint.into())),
        ("status", doc_of(&wire::status(status))?),
    ]))
}

/// `corralctl status`: one row (or JSON object) per endpoint, each asked on its own
/// connection; an endpoint that fails is reported on stderr and makes the exit status
/// that of its error once the others are printed.
pub async fn status(ctx: &Ctx) -> Result<(), Failure> {
    let endpoints = &ctx.endpoints;
    // All at once, so a member that does not answer delays the others by one timeout
    // at most, not one each.
    let mut asks = tokio::task::JoinSet::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        let builder = ctx.builder(std::slice::from_ref(endpoint))?;
        asks.spawn(async move {
            let answer = async { builder.connect().await?.status().await };
            (i, answer.await)
        });
    }
    let mut answers = Vec::new();
    while let Some(joined) = asks.join_next().await {
        answers.push(joined.map_err(|e| Failure::Other(format!("status task failed: {e}")))?);
    }
    answers.sort_by_key(|(i, _)| *i);
    let mut rows = Vec::new();
    let mut failed = None;
    for (i, answer) in answers {
        let endpoint = &endpoints[i];
        match answer {
            Ok(status) => rows.push((endpoint.as_str(), status)),
            Err(e @ Error::InvalidEndpoint { .. }) => {
                return Err(Failure::Client(Box::new(e), Call::Read))
            }
            Err(e) => {
                report(&format!("{endpoint}: {e}"));
                failed = Some(exit_status(&e));
            }
        }
    }
    let json = rows
        .iter()
        .map(|(endpoint, status)| status_json(endpoint, status))
        .collect::<Result<Vec<_>, _>>()?;
    // No table at all (not even its headings) when no endpoint answered.
    let text = if rows.is_empty() {
        String::new()
    } else {
        status_table(&rows)
    };
    ctx.out.print(Shown::doc(Doc::List(json), text))?;
    match failed {
        Some(code) => Err(Failure::Reported(code)),
        None => Ok(()),
    }
}
