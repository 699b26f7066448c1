//! The KV API's basic contract against a real single-node server: create/get/put
//! stats and revisions, sequential names, Txn atomicity, listing order and paging,
//! recursive delete, create_parents and serializable reads.

use anyhow::Result;
use corral_client::{
    Client, Compare, Consistency, CreateOptions, DeleteOptions, Error, GetOptions, ListOptions,
    NodeKind, Op, OpResult, PutOptions, Txn,
};
use corral_tests::Server;

async fn start() -> Result<(Server, Client)> {
    let server = Server::start().await?;
    let client = server.client().await?;
    Ok((server, client))
}

fn paths(nodes: &[corral_client::Node]) -> Vec<&str> {
    nodes.iter().map(|n| n.path.as_str()).collect()
}

#[tokio::test]
async fn create_then_get_returns_the_data_and_a_stat_at_the_create_revision() -> Result<()> {
    let (_server, c) = start().await?;
    let created = c.create("/hello", "world", None).await?;
    let rev = created.header.revision;
    assert!(rev > 0, "a write gets a positive revision, got {rev}");
    assert_eq!(created.path, "/hello");
    let stat = created.stat;
    assert_eq!(stat.create_revision, rev);
    assert_eq!(stat.mod_revision, rev);
    assert_eq!(stat.children_revision, rev);
    assert_eq!(stat.version, 0);
    assert_eq!(stat.children_version, 0);
    assert_eq!(stat.data_length, 5);
    assert_eq!(stat.num_children, 0);
    assert_eq!(stat.lease_id, 0);
    assert_eq!(stat.kind, NodeKind::Persistent);
    assert!(
        stat.ctime_ms > 0 && stat.mtime_ms == stat.ctime_ms,
        "{stat:?}"
    );

    let got = c.get("/hello", None).await?;
    assert_eq!(got.node.path, "/hello");
    assert_eq!(got.node.data, b"world");
    assert_eq!(got.node.stat, stat);
    assert!(
        got.header.revision >= rev,
        "a read sees at least the last write"
    );

    let stat_only = c.get("/hello", GetOptions::new().stat_only()).await?;
    assert!(stat_only.node.data.is_empty());
    assert_eq!(stat_only.node.stat, stat);
    Ok(())
}

#[tokio::test]
async fn put_with_stale_expected_version_fails_with_the_current_version_and_changes_nothing(
) -> Result<()> {
    let (_server, c) = start().await?;
    let created = c.create("/cas", "v0", None).await?;
    let put = c
        .put("/cas", "v1", PutOptions::new().expected_version(0))
        .await?;
    assert_eq!(put.stat.version, 1);
    assert_eq!(put.stat.mod_revision, put.header.revision);
    assert_eq!(put.stat.create_revision, created.header.revision);
    assert!(put.header.revision > created.header.revision);

    let err = c
        .put("/cas", "v2", PutOptions::new().expected_version(0))
        .await
        .expect_err("a put at a stale version must fail");
    match err {
        Error::VersionMismatch {
            path,
            expected,
            current,
            ..
        } => {
            assert_eq!(path, "/cas");
            assert_eq!(expected, 0);
            assert_eq!(current, 1);
        }
        other => panic!("expected VersionMismatch, got {other:?}"),
    }

    let got = c.get("/cas", None).await?;
    assert_eq!(got.node.data, b"v1");
    assert_eq!(got.node.stat, put.stat);
    Ok(())
}

#[tokio::test]
async fn sequential_creates_get_strictly_increasing_ten_digit_suffixes() -> Result<()> {
    let (_server, c) = start().await?;
    c.create("/q", "", None).await?;
    let mut created = Vec::new();
    let mut last: Option<u64> = None;
    for i in 0..20 {
        let r = c
            .create(
                "/q/job-",
                format!("job {i}"),
                CreateOptions::new().sequential(),
            )
            .await?;
        let suffix = r
            .path
            .strip_prefix("/q/job-")
            .unwrap_or_else(|| panic!("{} does not extend the requested prefix", r.path));
        assert!(
            suffix.len() == 10 && suffix.bytes().all(|b| b.is_ascii_digit()),
            "suffix of {} is not 10 zero-padded digits",
            r.path
        );
        let n: u64 = suffix.parse()?;
        if let Some(prev) = last {
            assert!(n > prev, "{} does not come after counter {prev}", r.path);
        }
        last = Some(n);
        assert_eq!(
            c.get(&r.path, None).await?.node.data,
            format!("job {i}").as_bytes()
        );
        created.push(r.path);
    }
    let listed = c.list_all("/q", None).await?;
    assert_eq!(
        paths(&listed.nodes),
        created,
        "children are the created paths, in order"
    );
    Ok(())
}

#[tokio::test]
async fn txn_with_a_failing_compare_applies_no_success_op_and_runs_the_failure_branch() -> Result<()>
{
    let (_server, c) = start().await?;
    c.create("/t", "x", None).await?;
    c.create("/t2", "keep", None).await?;
    let txn = Txn::new()
        .when([Compare::exists("/t"), Compare::version("/t").eq(5)])
        .and_then([
            Op::put("/t", "changed", None),
            Op::create("/s", "s", None),
            Op::delete("/t2", None),
        ])
        .or_else([Op::get("/t", None), Op::create("/t/else", "e", None)]);
    let r = c.txn(txn).await?;
    assert!(!r.succeeded);
    assert_eq!(
        r.results.len(),
        2,
        "one result per failure op: {:?}",
        r.results
    );
    match &r.results[0] {
        OpResult::Get { node: Some(node) } => assert_eq!(node.data, b"x"),
        other => panic!("expected the get of /t, got {other:?}"),
    }
    match &r.results[1] {
        OpResult::Create { path, stat } => {
            assert_eq!(path, "/t/else");
            assert_eq!(stat.create_revision, r.header.revision);
        }
        other => panic!("expected the create of /t/else, got {other:?}"),
    }

    let t = c.get("/t", None).await?.node;
    assert_eq!((t.data.as_slice(), t.stat.version), (&b"x"[..], 0));
    assert!(matches!(
        c.get("/s", None).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(c.get("/t2", None).await?.node.data, b"keep");
    assert_eq!(c.get("/t/else", None).await?.node.data, b"e");
    Ok(())
}

#[tokio::test]
async fn txn_success_applies_every_op_at_one_revision() -> Result<()> {
    let (_server, c) = start().await?;
    c.create("/u", "0", None).await?;
    let before = c.create("/w", "", None).await?.header.revision;
    let txn = Txn::new()
        .when([
            Compare::exists("/u"),
            Compare::version("/u").eq(0),
            Compare::data("/u").eq("0"),
            Compare::not_exists("/v"),
        ])
        .and_then([
            Op::put("/u", "1", None),
            Op::create("/u/c", "c", None),
            Op::create("/v", "v", None),
            Op::delete("/w", None),
        ]);
    let r = c.txn(txn).await?;
    assert!(r.succeeded);
    let rev = r.header.revision;
    assert!(
        rev > before,
        "the txn's revision {rev} must follow {before}"
    );
    assert_eq!(r.results.len(), 4);
    assert!(
        matches!(&r.results[0], OpResult::Put { stat, .. } if stat.mod_revision == rev && stat.version == 1),
        "{:?}",
        r.results[0]
    );
    assert!(
        matches!(&r.results[1], OpResult::Create { path, stat } if path == "/u/c" && stat.create_revision == rev),
        "{:?}",
        r.results[1]
    );
    assert!(
        matches!(&r.results[2], OpResult::Create { path, stat } if path == "/v" && stat.create_revision == rev),
        "{:?}",
        r.results[2]
    );
    assert_eq!(r.results[3], OpResult::Delete { deleted: 1 });

    let u = c.get("/u", None).await?.node;
    assert_eq!(u.data, b"1");
    assert_eq!(u.stat.mod_revision, rev);
    assert_eq!(u.stat.num_children, 1);
    assert_eq!(u.stat.children_revision, rev);
    assert_eq!(c.get("/u/c", None).await?.node.stat.create_revision, rev);
    assert_eq!(c.get("/v", None).await?.node.stat.create_revision, rev);
    assert!(matches!(
        c.get("/w", None).await,
        Err(Error::NotFound { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn list_returns_children_in_path_order_in_pages_of_the_limit() -> Result<()> {
    let (_server, c) = start().await?;
    c.create("/l", "", None).await?;
    for name in ["c", "a", "e", "b", "d"] {
        c.create(format!("/l/{name}"), format!("data {name}"), None)
            .await?;
    }
    c.create("/l/a/grandchild", "", None).await?;
    let expected = ["/l/a", "/l/b", "/l/c", "/l/d", "/l/e"];

    let mut pages = Vec::new();
    let mut options = ListOptions::new().limit(2);
    loop {
        let page = c.list("/l", options.clone()).await?;
        pages.push(paths(&page.nodes).join(" "));
        match page.next_page_token {
            Some(token) => options = options.page_token(token),
            None => break,
        }
        assert!(
            pages.len() <= 3,
            "more pages than 5 children need: {pages:?}"
        );
    }
    assert_eq!(pages, ["/l/a /l/b", "/l/c /l/d", "/l/e"]);

    let all = c.list_all("/l", ListOptions::new().limit(2)).await?;
    assert_eq!(paths(&all.nodes), expected);
    assert!(
        all.nodes.iter().all(|n| n.data.is_empty()),
        "data only when asked"
    );
    assert_eq!(all.nodes[0].stat.num_children, 1);

    let one_page = c.list("/l", ListOptions::new().with_data()).await?;
    assert_eq!(paths(&one_page.nodes), expected);
    assert_eq!(one_page.next_page_token, None);
    for node in &one_page.nodes {
        let got = c.get(&node.path, None).await?.node;
        assert_eq!(node, &got, "a listed znode equals the znode read alone");
    }
    Ok(())
}

#[tokio::test]
async fn recursive_list_returns_the_subtree_in_byte_order_of_full_paths() -> Result<()> {
    let (_server, c) = start().await?;
    // "/r/a-1" sorts between "/r/a" and "/r/a/x" because '-' < '/' in bytes.
    let created = [
        "/r",
        "/r/b",
        "/r/a",
        "/r/a/x",
        "/r/a-1",
        "/r/a/x/deep",
        "/r/b/y",
    ];
    for path in created {
        c.create(path, path, None).await?;
    }
    let mut expected: Vec<&str> = created[1..].to_vec();
    expected.sort();

    let all = c
        .list_all("/r", ListOptions::new().recursive().with_data())
        .await?;
    assert_eq!(
        paths(&all.nodes),
        expected,
        "the subtree, without /r itself"
    );
    assert!(all.nodes.iter().all(|n| n.data == n.path.as_bytes()));

    let mut paged = Vec::new();
    let mut options = ListOptions::new().recursive().limit(2);
    loop {
        let page = c.list("/r", options.clone()).await?;
        assert!(
            page.nodes.len() <= 2,
            "page over the limit: {:?}",
            paths(&page.nodes)
        );
        paged.extend(page.nodes.into_iter().map(|n| n.path));
        match page.next_page_token {
            Some(token) => options = options.page_token(token),
            None => break,
        }
        assert!(
            paged.len() <= expected.len(),
            "paging does not end: {paged:?}"
        );
    }
    assert_eq!(paged, expected);

    let children = c.list_all("/r", None).await?;
    assert_eq!(paths(&children.nodes), ["/r/a", "/r/a-1", "/r/b"]);
    Ok(())
}

#[tokio::test]
async fn recursive_delete_reports_how_many_znodes_it_deleted() -> Result<()> {
    let (_server, c) = start().await?;
    for path in ["/d", "/d/a", "/d/a/b", "/d/c", "/d/c/e", "/leaf"] {
        c.create(path, "", None).await?;
    }
    let r = c.delete("/d", DeleteOptions::new().recursive()).await?;
    assert_eq!(r.deleted, 5);
    for path in ["/d", "/d/a", "/d/a/b", "/d/c", "/d/c/e"] {
        assert!(
            matches!(c.get(path, None).await, Err(Error::NotFound { .. })),
            "{path} survived the recursive delete"
        );
    }
    let leaf = c.delete("/leaf", None).await?;
    assert_eq!(leaf.deleted, 1);
    assert!(leaf.header.revision > r.header.revision);
    Ok(())
}

#[tokio::test]
async fn create_parents_creates_missing_ancestors_as_empty_persistent_znodes() -> Result<()> {
    let (_server, c) = start().await?;
    let err = c
        .create("/x/y", "", None)
        .await
        .expect_err("the parent /x is missing");
    assert!(matches!(err, Error::ParentNotFound { .. }), "{err:?}");
    assert!(matches!(
        c.get("/x", None).await,
        Err(Error::NotFound { .. })
    ));

    let r = c
        .create("/p/q/r", "leaf", CreateOptions::new().create_parents())
        .await?;
    assert_eq!(r.path, "/p/q/r");
    let rev = r.header.revision;
    for (path, children) in [("/p", 1), ("/p/q", 1)] {
        let node = c.get(path, None).await?.node;
        assert!(node.data.is_empty(), "{path} should be empty");
        assert_eq!(node.stat.kind, NodeKind::Persistent);
        assert_eq!(node.stat.num_children, children);
        assert_eq!(
            node.stat.create_revision, rev,
            "{path} is created by the same write"
        );
    }
    assert_eq!(c.get("/p/q/r", None).await?.node.data, b"leaf");

    // Existing ancestors are kept as they are.
    c.put("/p", "mine", None).await?;
    c.create("/p/q2/r", "", CreateOptions::new().create_parents())
        .await?;
    assert_eq!(c.get("/p", None).await?.node.data, b"mine");
    Ok(())
}

#[tokio::test]
async fn serializable_reads_return_the_written_data() -> Result<()> {
    let (_server, c) = start().await?;
    let created = c.create("/s", "local", None).await?;
    let serializable = GetOptions::new().consistency(Consistency::Serializable);
    let got = c.get("/s", serializable).await?;
    assert_eq!(got.node.data, b"local");
    assert_eq!(got.node.stat, created.stat);
    let listed = c.list_all("/", ListOptions::new().serializable()).await?;
    assert!(paths(&listed.nodes).contains(&"/s"), "{listed:?}");
    Ok(())
}
