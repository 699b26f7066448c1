//! `watch`: one line (or one JSON `corral.v1.Event`) per change until Ctrl-C or
//! `--count`.

use corral_client::{EventType, WatchOptions};

use crate::cli::{EventKind, WatchArgs};
use crate::failure::{Call, Failure};
use crate::output::{self, Shown};
use crate::{interrupted, wire, Ctx};

/// The watch options the flags ask for.
pub fn options(args: &WatchArgs) -> WatchOptions {
    let mut options = WatchOptions::new();
    if args.recursive {
        options = options.subtree();
    }
    if args.children {
        options = options.children();
    }
    if let Some(rev) = args.rev {
        // ≥ 1, checked by the command line.
        options = options.start_revision(rev);
    }
    if args.prev {
        options = options.prev_node();
    }
    for kind in &args.exclude {
        options = options.exclude(match kind {
            EventKind::Created => EventType::Created,
            EventKind::Updated => EventType::Updated,
            EventKind::Deleted => EventType::Deleted,
        });
    }
    options
}

pub async fn watch(ctx: &Ctx, args: WatchArgs) -> Result<(), Failure> {
    let options = options(&args);
    let mut watcher = ctx
        .client()
        .await?
        .watch(args.path, options)
        .await
        .map_err(Failure::call(Call::Read))?;
    let mut printed = 0u64;
    // One listener for the whole loop, polled first: a Ctrl-C that comes while events
    // are being printed is kept for the next turn instead of killing the process.
    let interrupt = interrupted();
    tokio::pin!(interrupt);
    while args.count.is_none_or(|c| printed < c) {
        let event = tokio::select! {
            biased;
            _ = &mut interrupt => return Ok(()),
            event = watcher.next() => event,
        };
        let Some(event) = event else {
            return Ok(());
        };
        let event = event.map_err(Failure::call(Call::Read))?;
        let text = format!("{}\n", output::event_line(&event));
        ctx.out
            .print_item(Shown::message(&wire::event(&event), text))?;
        printed += 1;
    }
    Ok(())
}
