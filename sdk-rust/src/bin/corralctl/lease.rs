//! `lease grant|keepalive|revoke|ttl|list`.

use crate::cli::LeaseCommand;
use crate::failure::{Call, Failure};
use crate::output::{table, Shown};
use crate::{interrupted, wire, Ctx};

pub async fn lease(ctx: &Ctx, command: LeaseCommand) -> Result<(), Failure> {
    let (client, out) = (ctx.client().await?, ctx.out);
    match command {
        LeaseCommand::Grant { ttl } => {
            let call = Call::Write {
                check: "corralctl lease list".into(),
            };
            let r = client.lease_grant(ttl).await.map_err(Failure::call(call))?;
            let text = format!("{}\n", r.lease_id);
            out.print(Shown::message(&wire::lease_grant(&r), text))
        }
        LeaseCommand::Keepalive { id, once } => {
            let mut keeper = client.lease_keep_alive(id);
            // One listener for the whole loop (see `watch`).
            let interrupt = interrupted();
            tokio::pin!(interrupt);
            loop {
                let ttl = keeper
                    .keep_alive()
                    .await
                    .map_err(Failure::call(Call::Read))?;
                let text = format!("lease {id} kept alive, ttl {}s\n", ttl.as_secs_f64());
                out.print_item(Shown::message(&wire::lease_keep_alive(id, ttl), text))?;
                if once {
                    return Ok(());
                }
                tokio::select! {
                    biased;
                    _ = &mut interrupt => return Ok(()),
                    _ = tokio::time::sleep(ttl / 3) => {}
                }
            }
        }
        LeaseCommand::Revoke { id } => {
            let call = Call::Write {
                check: format!("corralctl lease ttl {id}"),
            };
            let r = client.lease_revoke(id).await.map_err(Failure::call(call))?;
            let text = format!("revoked lease {id}, deleted {} znodes\n", r.deleted);
            out.print(Shown::message(&wire::lease_revoke(&r), text))
        }
        LeaseCommand::Ttl { id, nodes } => {
            let r = client
                .lease_time_to_live(id, nodes)
                .await
                .map_err(Failure::call(Call::Read))?;
            let mut text = format!(
                "lease {} ttl {}s remaining {}s\n",
                r.lease_id,
                r.ttl.as_secs_f64(),
                r.remaining.as_secs_f64()
            );
            for n in &r.nodes {
                text.push_str(&format!("  {n}\n"));
            }
            out.print(Shown::message(&wire::lease_ttl(&r), text))
        }
        LeaseCommand::List => {
            let r = client
                .lease_list()
                .await
                .map_err(Failure::call(Call::Read))?;
            let rows: Vec<Vec<String>> = r
                .leases
                .iter()
                .map(|l| vec![l.lease_id.to_string(), format!("{}s", l.ttl.as_secs_f64())])
                .collect();
            let text = table(&["LEASE", "TTL"], &rows);
            out.print(Shown::message(&wire::lease_list(&r), text))
        }
    }
}
