//! The znode commands: `get`, `put`, `create`, `ls`, `tree`, `rm`, `stat`.

use corral_client::{
    Consistency, CreateOptions, DeleteOptions, GetOptions, ListOptions, PutOptions,
};

use crate::cli::{CreateArgs, GetArgs, LsArgs, PutArgs, RmArgs, StatArgs, TreeArgs};
use crate::failure::{Call, Failure};
use crate::input;
use crate::output::{self, Shown};
use crate::{wire, Ctx};

fn consistency(serializable: bool) -> Consistency {
    if serializable {
        Consistency::Serializable
    } else {
        Consistency::Linearizable
    }
}

/// `get`'s text: the data, then a newline unless it ends with one, so a terminal
/// prompt does not follow it on the same line; with `--raw`, the data and nothing else.
pub fn data_text(data: &[u8], raw: bool) -> Vec<u8> {
    let mut text = data.to_vec();
    if !raw && !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    text
}

pub async fn get(ctx: &Ctx, args: GetArgs) -> Result<(), Failure> {
    if args.raw && ctx.out.is_json() {
        return Err(Failure::Usage(
            "--raw writes the data alone; it does not go with -o json".into(),
        ));
    }
    let options = GetOptions::new().consistency(consistency(args.serializable));
    let r = ctx
        .client()
        .await?
        .get(args.path, options)
        .await
        .map_err(Failure::call(Call::Read))?;
    ctx.out.print(Shown::message(
        &wire::get(&r),
        data_text(&r.node.data, args.raw),
    ))
}

pub async fn put(ctx: &Ctx, args: PutArgs) -> Result<(), Failure> {
    // The input is read before connecting, so a missing file is reported as such
    // whether or not a server answers.
    let data = input::value(args.value)?.ok_or_else(|| {
        Failure::Usage("put needs the new data: VALUE, `-` to read stdin, or --file PATH".into())
    })?;
    let mut options = PutOptions::new();
    if let Some(v) = args.expected_version {
        options = options.expected_version(v);
    }
    if args.create {
        options = options.create_if_missing();
    }
    let call = Call::Put {
        path: args.path.clone(),
        create: args.create,
    };
    let r = ctx
        .client()
        .await?
        .put(args.path, data, options)
        .await
        .map_err(Failure::call(call))?;
    let text = format!(
        "OK version={} revision={}\n",
        r.stat.version, r.header.revision
    );
    ctx.out.print(Shown::message(&wire::put(&r), text))
}

pub async fn create(ctx: &Ctx, args: CreateArgs) -> Result<(), Failure> {
    // Before connecting, as for put.
    let data = input::value(args.value)?.unwrap_or_default();
    let mut options = CreateOptions::new();
    if args.sequential {
        options = options.sequential();
    }
    if args.parents {
        options = options.create_parents();
    }
    if let Some(lease) = args.lease {
        // clap makes --lease and -e/--ephemeral come together.
        options = options.ephemeral(lease);
    }
    if let Some(ttl) = args.ttl {
        options = options.ttl(ttl);
    }
    if args.container {
        options = options.container();
    }
    if !args.acl.is_empty() {
        options = options.acl(args.acl);
    }
    let call = Call::Create {
        path: args.path.clone(),
        sequential: args.sequential,
    };
    let r = ctx
        .client()
        .await?
        .create(args.path, data, options)
        .await
        .map_err(Failure::call(call))?;
    let text = format!("{}\n", r.path);
    ctx.out.print(Shown::message(&wire::create(&r), text))
}

pub async fn ls(ctx: &Ctx, args: LsArgs) -> Result<(), Failure> {
    let mut options = ListOptions::new().consistency(consistency(args.serializable));
    if args.recursive {
        options = options.recursive();
    }
    let r = ctx
        .client()
        .await?
        .list_all(args.path, options)
        .await
        .map_err(Failure::call(Call::Read))?;
    let mut text = String::new();
    for n in &r.nodes {
        text.push_str(if args.recursive {
            &n.path
        } else {
            output::name(&n.path)
        });
        text.push('\n');
    }
    ctx.out.print(Shown::message(&wire::list(&r), text))
}

/// `tree`: the text is a drawing; the JSON is the subtree's listing, as `ls -R` gives.
pub async fn tree(ctx: &Ctx, args: TreeArgs) -> Result<(), Failure> {
    let read = consistency(args.serializable);
    let client = ctx.client().await?;
    // The root must exist; an empty listing alone would not say so.
    client
        .get(&args.path, GetOptions::new().stat_only().consistency(read))
        .await
        .map_err(Failure::call(Call::Read))?;
    let r = client
        .list_all(&args.path, ListOptions::new().recursive().consistency(read))
        .await
        .map_err(Failure::call(Call::Read))?;
    let text = output::tree(&args.path, &r.nodes);
    ctx.out.print(Shown::message(&wire::list(&r), text))
}

pub async fn rm(ctx: &Ctx, args: RmArgs) -> Result<(), Failure> {
    let mut options = DeleteOptions::new();
    if args.recursive {
        options = options.recursive();
    }
    if let Some(v) = args.expected_version {
        options = options.expected_version(v);
    }
    let call = Call::Delete {
        path: args.path.clone(),
    };
    let r = ctx
        .client()
        .await?
        .delete(args.path, options)
        .await
        .map_err(Failure::call(call))?;
    let text = format!("deleted {}\n", r.deleted);
    ctx.out.print(Shown::message(&wire::delete(&r), text))
}

pub async fn stat(ctx: &Ctx, args: StatArgs) -> Result<(), Failure> {
    let options = GetOptions::new()
        .consistency(consistency(args.serializable))
        .stat_only();
    let r = ctx
        .client()
        .await?
        .get(args.path, options)
        .await
        .map_err(Failure::call(Call::Read))?;
    ctx.out
        .print(Shown::message(&wire::get(&r), output::stat_text(&r.node)))
}
