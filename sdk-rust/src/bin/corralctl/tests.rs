//! Unit tests of the command line, the renderers, the JSON mapping and the wording of
//! errors.

use std::time::Duration;

use clap::{CommandFactory, Parser};
use corral_client::{Error, Header, Member, Status};
use corral_proto::v1 as pb;
use serde_json::Value;

use crate::cli::*;
use crate::failure::*;
use crate::output::*;
use crate::{cluster, input, kv, protojson, wire};

/// Parses a command line (without the program name).
fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    Cli::try_parse_from(std::iter::once("corralctl").chain(args.iter().copied()))
        .map(|cli| cli.command)
}

#[test]
fn cli_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn durations_accept_the_documented_units() {
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
    assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    for bad in ["", "0", "0s", "s", "5 parsecs", "-1s", "1e400"] {
        assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn endpoints_flag_splits_on_commas() {
    let cli = Cli::try_parse_from([
        "corralctl",
        "--endpoints",
        "127.0.0.1:1,127.0.0.1:2",
        "get",
        "/a",
    ])
    .expect("valid command line");
    assert_eq!(cli.endpoints, ["127.0.0.1:1", "127.0.0.1:2"]);
}

#[test]
fn cluster_commands_parse() {
    assert!(matches!(
        parse(&["member", "add", "4", "127.0.0.1:2510"]),
        Ok(Command::Member(MemberCommand::Add { id: 4, ref peer_addr })) if peer_addr == "127.0.0.1:2510"
    ));
    assert!(matches!(
        parse(&["member", "promote", "4"]),
        Ok(Command::Member(MemberCommand::Promote { id: 4 }))
    ));
    assert!(matches!(
        parse(&["member", "remove", "4"]),
        Ok(Command::Member(MemberCommand::Remove { id: 4 }))
    ));
    assert!(matches!(
        parse(&["member", "list"]),
        Ok(Command::Member(MemberCommand::List))
    ));
    assert!(matches!(
        parse(&["transfer-leader", "2"]),
        Ok(Command::TransferLeader { id: 2 })
    ));
    assert!(matches!(
        parse(&["-o", "json", "status"]),
        Ok(Command::Status)
    ));
    for bad in [
        &["member", "add", "four", "127.0.0.1:2510"][..],
        &["member", "add", "4"],
        &["member", "promote", "-1"],
        &["transfer-leader"],
        &["member"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should be a usage error");
    }
}

fn member(id: u64, learner: bool) -> Member {
    Member {
        member_id: id,
        peer_addr: format!("127.0.0.1:{}", 2470 + 10 * id),
        is_learner: learner,
    }
}

#[test]
fn member_table_marks_the_leader_and_learners() {
    let members = [member(1, false), member(2, false), member(14, true)];
    assert_eq!(
        members_table(&members, Some(2)),
        "ID  PEER ADDR       ROLE\n\
         1   127.0.0.1:2480  voter\n\
         2   127.0.0.1:2490  leader\n\
         14  127.0.0.1:2610  learner\n"
    );
    assert!(!members_table(&members, None).contains("leader"));
}

fn status(member_id: u64, leader: Option<u64>) -> Status {
    Status {
        header: Header::default(),
        member_id,
        leader_id: leader,
        raft_term: 3,
        commit_index: 120,
        applied_index: 119,
        revision: 97,
        db_size_bytes: 3 * 1024 * 1024 / 2,
        version: "0.1.0".into(),
        last_log_index: 121,
        is_learner: false,
        snapshot_index: None,
        snapshot_installs: 0,
    }
}

#[test]
fn status_table_has_a_row_per_member() {
    let rows = [
        ("127.0.0.1:2479", status(1, Some(1))),
        ("127.0.0.1:2489", status(2, None)),
    ];
    assert_eq!(
        status_table(&rows),
        "ENDPOINT        ID  ROLE      LEADER  TERM  LAST LOG  COMMIT  APPLIED  SNAPSHOT  REVISION  DB SIZE  VERSION\n\
         127.0.0.1:2479  1   leader    1       3     121       120     119      -         97        1.5 MiB  0.1.0\n\
         127.0.0.1:2489  2   follower  none    3     121       120     119      -         97        1.5 MiB  0.1.0\n"
    );
    let json = cluster::status_json("127.0.0.1:2489", &rows[1].1)
        .map_err(|e| format!("{e:?}"))
        .and_then(|doc| protojson::to_value(&doc))
        .expect("mapped");
    assert_eq!(json["endpoint"], "127.0.0.1:2489");
    // The StatusResponse mapping: 64-bit integers as strings, 0 when none is known.
    assert_eq!(json["status"]["leaderId"], "0");
    assert_eq!(json["status"]["snapshotIndex"], "0");
    assert_eq!(
        json["status"]["dbSizeBytes"],
        (3 * 1024 * 1024 / 2).to_string()
    );
    assert_eq!(json["status"]["isLearner"], false);
}

#[test]
fn sizes_are_shown_in_binary_units() {
    assert_eq!(human_bytes(0), "0 B");
    assert_eq!(human_bytes(1023), "1023 B");
    assert_eq!(human_bytes(1024), "1.0 KiB");
    assert_eq!(human_bytes(1536), "1.5 KiB");
    assert_eq!(human_bytes(20 * 1024 * 1024), "20.0 MiB");
    assert_eq!(human_bytes(u64::MAX), "16384.0 PiB");
}

#[test]
fn ls_shows_names_of_children() {
    assert_eq!(name("/a/b"), "b");
    assert_eq!(name("/a"), "a");
    assert_eq!(name("/"), "/");
}

#[test]
fn new_commands_parse() {
    assert!(matches!(
        parse(&["lock", "/l", "--", "sh", "-c", "echo hi"]),
        Ok(Command::Lock(LockArgs { ref name, ref command, .. })) if name == "/l" && command == &["sh", "-c", "echo hi"]
    ));
    assert!(matches!(
        parse(&["lock", "/l", "--wait", "2s"]),
        Ok(Command::Lock(LockArgs { wait: Some(w), ref command, .. })) if w == Duration::from_secs(2) && command.is_empty()
    ));
    assert!(matches!(
        parse(&["create", "-e", "--lease", "7", "/e"]),
        Ok(Command::Create(CreateArgs {
            ephemeral: true,
            lease: Some(7),
            ..
        }))
    ));
    assert!(matches!(
        parse(&["watch", "-R", "--rev", "5", "--count", "3", "/w"]),
        Ok(Command::Watch(WatchArgs {
            recursive: true,
            rev: Some(5),
            count: Some(3),
            ..
        }))
    ));
    assert!(matches!(
        parse(&["lease", "grant", "30s"]),
        Ok(Command::Lease(LeaseCommand::Grant { ttl })) if ttl == Duration::from_secs(30)
    ));
    assert!(matches!(
        parse(&["elect", "-l", "/e"]),
        Ok(Command::Elect(ElectArgs {
            listen: true,
            value: None,
            ..
        }))
    ));
    assert!(matches!(
        parse(&["snapshot", "save", "/tmp/x.db"]),
        Ok(Command::Snapshot(SnapshotCommand::Save { .. }))
    ));
    assert!(matches!(
        parse(&["compact", "12"]),
        Ok(Command::Compact { revision: 12 })
    ));
    assert!(matches!(
        parse(&["completion", "bash"]),
        Ok(Command::Completion { .. })
    ));
    for bad in [
        &["create", "-e", "/e"][..],
        &["create", "--ttl", "5s", "--container", "/c"],
        &["watch", "-R", "--children", "/w"],
        &["elect", "/e"],
        &["lease", "grant", "0s"],
        &["completion", "tcsh"],
        &["get", "/a", "--bogus"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should be a usage error");
    }
}

fn node(path: &str) -> corral_client::Node {
    corral_client::Node {
        path: path.into(),
        ..Default::default()
    }
}

#[test]
fn tree_draws_children_under_their_parents_in_name_order() {
    // List order (byte order of full paths) puts /a-b before /a/c.
    let nodes = [
        node("/a"),
        node("/a-b"),
        node("/a/c"),
        node("/a/c/d"),
        node("/a/e"),
    ];
    assert_eq!(
        tree("/", &nodes),
        "/\n\
         ├── a\n\
         │   ├── c\n\
         │   │   └── d\n\
         │   └── e\n\
         └── a-b\n"
    );
    assert_eq!(tree("/a/c", &[node("/a/c/d")]), "/a/c\n└── d\n");
}

#[test]
fn event_lines_escape_control_characters() {
    let event = corral_client::Event {
        kind: corral_client::EventType::Updated,
        node: corral_client::Node {
            path: "/p".into(),
            data: b"a\nb".to_vec(),
            ..Default::default()
        },
        prev_node: None,
        revision: 9,
    };
    assert_eq!(event_line(&event), "9 UPDATED /p a\\nb");
}

// --- Values, revisions and versions on the command line ---

#[test]
fn negative_or_zero_watch_revisions_are_usage_errors() {
    // `--rev=-5` used to reach the client, and the watch silently started from now.
    for bad in ["--rev=-5", "--rev=0", "--rev=soon"] {
        let err = parse(&["watch", "/w", bad]).expect_err(bad);
        assert_eq!(err.exit_code(), 2, "{bad}");
        assert!(err.to_string().contains("revision"), "{bad}: {err}");
    }
    assert!(matches!(
        parse(&["watch", "/w", "--rev=1"]),
        Ok(Command::Watch(WatchArgs { rev: Some(1), .. }))
    ));
    assert!(parse(&["compact", "0"]).is_err());
}

#[test]
fn ids_and_versions_are_checked_before_any_call() {
    // Else the server would answer in terms of proto fields ("lease_id must be ≥ 1").
    for bad in [
        &["put", "/a", "v", "--expected-version=-1"][..],
        &["rm", "/a", "--expected-version=-2"],
        &["create", "-e", "--lease", "0", "/e"],
        &["lease", "revoke", "0"],
        &["lease", "ttl", "-3"],
        &["member", "remove", "0"],
        &["transfer-leader", "0"],
        // Exclusive in the API too ("create_if_missing and expected_version ...").
        &["put", "/a", "v", "--create", "--expected-version", "1"],
        // --lease without -e, the other way round from `create -e` without --lease.
        &["create", "--lease", "7", "/e"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should be a usage error");
    }
    assert!(parse(&["put", "/a", "v", "--expected-version", "0"]).is_ok());
}

#[test]
fn values_come_from_the_argument_stdin_or_a_file() {
    let value = |args: &[&str]| match parse(args) {
        Ok(Command::Put(PutArgs { value, .. }) | Command::Create(CreateArgs { value, .. })) => {
            (value.value, value.file)
        }
        other => panic!("{args:?}: {other:?}"),
    };
    assert_eq!(value(&["put", "/a", "text"]), (Some("text".into()), None));
    assert_eq!(value(&["put", "/a", "-"]), (Some("-".into()), None));
    assert_eq!(
        value(&["create", "/a", "--file", "/tmp/v"]),
        (None, Some("/tmp/v".into()))
    );
    assert_eq!(value(&["create", "/a"]), (None, None));
    assert!(
        parse(&["put", "/a", "text", "--file", "/tmp/v"]).is_err(),
        "a value and a file at once"
    );

    let path = std::env::temp_dir().join(format!("corralctl-unit-{}", std::process::id()));
    let all: Vec<u8> = (0..=255).collect();
    std::fs::write(&path, &all).expect("temp file");
    let read = input::value(ValueArgs {
        value: None,
        file: Some(path.clone()),
    });
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        read.ok().flatten(),
        Some(all),
        "every byte value, unchanged"
    );
    assert_eq!(
        input::value(ValueArgs {
            value: Some("text".into()),
            file: None,
        })
        .ok()
        .flatten(),
        Some(b"text".to_vec())
    );
}

#[test]
fn an_unreadable_input_is_reported_as_a_read_failure() {
    let missing = std::path::Path::new("/no/such/dir/value.bin");
    match input::read(missing) {
        Err(Failure::Input { what, error }) => {
            assert_eq!(what, "/no/such/dir/value.bin");
            assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an input failure, got {other:?}"),
    }
}

#[test]
fn get_adds_a_newline_unless_raw() {
    assert_eq!(kv::data_text(b"v1", false), b"v1\n");
    assert_eq!(kv::data_text(b"v1\n", false), b"v1\n");
    assert_eq!(kv::data_text(b"", false), b"\n");
    assert_eq!(kv::data_text(b"v1", true), b"v1");
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(kv::data_text(&all, true), all);
}

// --- Errors in the command line's terms ---

#[test]
fn a_missing_parent_names_the_parents_flag_not_the_proto_field() {
    let e = Error::ParentNotFound {
        path: "/a/b/c".into(),
        message:
            "cannot create /a/b/c: parent /a/b does not exist (set create_parents to create it)"
                .into(),
    };
    let create = Call::Create {
        path: "/a/b/c".into(),
        sequential: false,
    };
    let (message, code) = explain(&e, &create);
    assert_eq!(code, EXIT_NOT_FOUND);
    assert_eq!(
        message,
        "cannot create /a/b/c: parent /a/b does not exist; pass -p/--parents to create it"
    );
    let (message, _) = explain(
        &e,
        &Call::Put {
            path: "/a/b/c".into(),
            create: true,
        },
    );
    assert!(message.contains("corralctl create -p /a/b"), "{message}");
    let (message, _) = explain(&e, &Call::Txn);
    assert!(message.contains("\"parents\": true"), "{message}");
    for call in [create.clone(), Call::Txn] {
        assert!(!explain(&e, &call).0.contains("create_parents"));
    }
    // Whichever path the server names, the message is about the path typed.
    let naming_the_parent = Error::ParentNotFound {
        path: "/a/b".into(),
        message: String::new(),
    };
    assert!(explain(&naming_the_parent, &create)
        .0
        .starts_with("cannot create /a/b/c: parent /a/b does not exist"));
}

#[test]
fn a_non_empty_delete_names_the_recursive_flag() {
    let e = Error::NotEmpty {
        path: "/app".into(),
        num_children: 2,
        message: "znode /app has 2 children; delete them first or set recursive".into(),
    };
    let (message, code) = explain(
        &e,
        &Call::Delete {
            path: "/app".into(),
        },
    );
    assert_eq!(code, EXIT_CONFLICT);
    assert_eq!(
        message,
        "znode /app has 2 children; pass -r/--recursive to delete its subtree"
    );
    let (message, _) = explain(
        &Error::LeaseNotFound {
            lease_id: Some(12345),
            message: "lease 12345 does not exist (grant one with Lease/Grant)".into(),
        },
        &Call::Read,
    );
    assert!(
        message.starts_with("lease 12345 does not exist") && message.contains("lease grant"),
        "{message}"
    );
    assert!(!message.contains("Lease/Grant"), "{message}");
}

#[test]
fn a_write_of_unknown_outcome_says_it_may_have_been_applied() {
    let put = Call::Put {
        path: "/x".into(),
        create: false,
    };
    for e in [
        Error::OutcomeUnknown {
            message: "outcome unknown: leader lost".into(),
        },
        Error::Timeout {
            message: "the call's deadline passed".into(),
        },
        Error::Transport {
            message: "connection reset".into(),
        },
    ] {
        let (message, code) = explain(&e, &put);
        assert_eq!(code, EXIT_UNAVAILABLE, "{e:?}");
        assert!(
            message.starts_with(&e.to_string())
                && message.contains("may or may not have been applied")
                && message.contains("`corralctl get /x`"),
            "{message}"
        );
    }
    let timeout = Error::Timeout {
        message: "the call's deadline passed".into(),
    };
    let sequential = Call::Create {
        path: "/q/item-".into(),
        sequential: true,
    };
    assert!(explain(&timeout, &sequential)
        .0
        .contains("`corralctl ls /q`"));
    // A read that timed out changed nothing; it says only that it timed out.
    let (message, code) = explain(&timeout, &Call::Read);
    assert_eq!(
        (message.as_str(), code),
        ("timed out: the call's deadline passed", 5)
    );
}

#[test]
fn parents_of_paths() {
    assert_eq!(parent("/a/b"), "/a");
    assert_eq!(parent("/a"), "/");
    assert_eq!(parent("/"), "/");
}

// --- -o json: the proto3 JSON mapping ---

#[test]
fn every_printed_message_is_in_the_descriptors() {
    for name in protojson::PRINTED {
        let json = protojson::decode(name, &[])
            .and_then(|doc| protojson::to_value(&doc))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(json.is_object(), "{name}: {json}");
    }
    assert!(protojson::decode("corral.v1.NoSuchMessage", &[]).is_err());
}

#[test]
fn json_fields_come_in_the_protos_order() {
    let r = corral_client::GetResponse {
        header: Header::default(),
        node: sample_node(b"x".to_vec()),
    };
    let text = Printer::new(Format::Json)
        .render(Shown::message(&wire::get(&r), ""), false)
        .expect("rendered");
    let text = String::from_utf8(text).expect("UTF-8");
    let at = |key: &str| text.find(&format!("\"{key}\"")).unwrap_or(usize::MAX);
    let order = [
        "header",
        "clusterId",
        "memberId",
        "revision",
        "raftTerm",
        "node",
        "path",
        "data",
        "stat",
        "createRevision",
        "modRevision",
        "version",
        "ttlMs",
    ];
    for pair in order.windows(2) {
        assert!(
            at(pair[0]) < at(pair[1]),
            "{} before {} in {text}",
            pair[0],
            pair[1]
        );
    }
}

fn sample_node(data: Vec<u8>) -> corral_client::Node {
    corral_client::Node {
        path: "/a".into(),
        stat: corral_client::Stat {
            kind: corral_client::NodeKind::Ephemeral,
            lease_id: i64::MAX,
            data_length: data.len() as i64,
            ..Default::default()
        },
        data,
    }
}

#[test]
fn json_uses_camel_case_string_integers_base64_and_enum_names() {
    let r = corral_client::GetResponse {
        header: Header {
            cluster_id: u64::MAX,
            member_id: 1,
            revision: 7,
            raft_term: 2,
        },
        node: sample_node(vec![0, 1, 254, 255]),
    };
    let json = protojson::to_json(&wire::get(&r)).expect("mapped");
    // 2^64 - 1 is not exactly a double: as a JSON number jq would round it.
    assert_eq!(json["header"]["clusterId"], "18446744073709551615");
    assert_eq!(json["header"]["raftTerm"], "2");
    assert_eq!(json["node"]["data"], "AAH+/w==");
    assert_eq!(json["node"]["stat"]["leaseId"], i64::MAX.to_string());
    assert_eq!(
        json["node"]["stat"]["kind"],
        pb::NodeKind::Ephemeral.as_str_name()
    );
    // Defaults are printed too, so scripts get "0" rather than null.
    assert_eq!(json["node"]["stat"]["version"], "0");
    assert_eq!(json["node"]["stat"]["numChildren"], "0");
    assert!(json["node"]["stat"].get("num_children").is_none());
}

#[test]
fn json_leaves_unset_messages_out_and_names_event_types() {
    let put = corral_client::PutResponse {
        header: Header::default(),
        stat: corral_client::Stat::default(),
        prev_node: None,
    };
    let json = protojson::to_json(&wire::put(&put)).expect("mapped");
    assert!(json.get("prevNode").is_none(), "{json}");
    assert_eq!(json["stat"]["kind"], pb::NodeKind::Persistent.as_str_name());

    let event = corral_client::Event {
        kind: corral_client::EventType::Updated,
        node: sample_node(b"2".to_vec()),
        prev_node: Some(sample_node(b"1".to_vec())),
        revision: 42,
    };
    let json = protojson::to_json(&wire::event(&event)).expect("mapped");
    assert_eq!(json["type"], pb::EventType::Updated.as_str_name());
    assert_eq!(json["revision"], "42");
    assert_eq!(json["prevNode"]["data"], "MQ==");
}

#[test]
fn txn_results_map_to_the_oneof_arms() {
    let r = corral_client::TxnResponse {
        header: Header::default(),
        succeeded: false,
        results: vec![
            corral_client::OpResult::Get { node: None },
            corral_client::OpResult::Delete { deleted: 3 },
        ],
    };
    let json = protojson::to_json(&wire::txn(&r)).expect("mapped");
    assert_eq!(json["succeeded"], false);
    assert_eq!(json["results"][0], serde_json::json!({"get": {}}));
    assert_eq!(json["results"][1]["delete"]["deleted"], "3");
}

#[test]
fn the_printer_writes_the_text_or_the_mapping() {
    let r = corral_client::DeleteResponse {
        header: Header::default(),
        deleted: 5,
    };
    let shown = || Shown::message(&wire::delete(&r), "deleted 5\n");
    let table = Printer::new(Format::Table).render(shown(), true);
    assert_eq!(table.ok(), Some(b"deleted 5\n".to_vec()));
    let line = Printer::new(Format::Json)
        .render(shown(), false)
        .expect("rendered");
    let text = String::from_utf8(line).expect("UTF-8");
    assert!(
        text.ends_with('\n') && text.lines().count() == 1,
        "{text:?}"
    );
    let json: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(json["deleted"], "5");
    assert_eq!(json["header"]["revision"], "0");
}

#[test]
fn lease_ttls_outside_the_granted_range_are_usage_errors() {
    // The server would answer "ttl_ms must be between 1000 and 86400000".
    for bad in [
        &["lease", "grant", "500ms"][..],
        &["lease", "grant", "25h"],
        &["lock", "/l", "--ttl", "100ms"],
        &["elect", "/e", "v", "--ttl", "2000m"],
    ] {
        let err = parse(bad).expect_err("out of range");
        assert!(err.to_string().contains("lease TTL"), "{bad:?}: {err}");
    }
    assert!(matches!(
        parse(&["lease", "grant", "24h"]),
        Ok(Command::Lease(LeaseCommand::Grant { ttl })) if ttl == Duration::from_secs(86_400)
    ));
    assert!(parse(&["lease", "grant", "1s"]).is_ok());
}

// --- access: auth, users, roles, ACLs, TLS and credentials ---

#[test]
fn access_commands_parse() {
    match parse(&[
        "acl",
        "set",
        "/a",
        "user:bob=rw",
        "anyone=r",
        "--expected-acl-version",
        "3",
    ]) {
        Ok(Command::Acl(AclCommand::Set {
            path,
            entries,
            expected_acl_version,
        })) => {
            assert_eq!(path, "/a");
            let printed: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
            assert_eq!(printed, ["user:bob=rw", "anyone=r"]);
            assert_eq!(expected_acl_version, Some(3));
        }
        other => panic!("{other:?}"),
    }
    match parse(&[
        "create",
        "/t",
        "--acl",
        "role:t=rwcd",
        "--acl",
        "authenticated=r",
    ]) {
        Ok(Command::Create(args)) => {
            let printed: Vec<String> = args.acl.iter().map(|e| e.to_string()).collect();
            assert_eq!(printed, ["role:t=rwcd", "authenticated=r"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse(&["user", "add", "bob"]),
        Ok(Command::User(UserCommand::Add { ref name, new_password: None })) if name == "bob"
    ));
    assert!(matches!(
        parse(&["user", "passwd", "bob", "--new-password", "pw"]),
        Ok(Command::User(UserCommand::Passwd { new_password: Some(ref pw), .. })) if pw == "pw"
    ));
    assert!(matches!(
        parse(&["user", "grant-role", "bob", "ops"]),
        Ok(Command::User(UserCommand::GrantRole { ref name, ref role })) if name == "bob" && role == "ops"
    ));
    assert!(matches!(
        parse(&["auth", "status"]),
        Ok(Command::Auth(AuthCommand::Status))
    ));
    assert!(matches!(
        parse(&["role", "list"]),
        Ok(Command::Role(RoleCommand::List))
    ));
    let cli = Cli::try_parse_from([
        "corralctl",
        "--cacert",
        "/ca.pem",
        "--cert",
        "/c.pem",
        "--key",
        "/k.pem",
        "--user",
        "bob",
        "acl",
        "get",
        "/a",
    ])
    .expect("valid command line");
    assert_eq!(cli.cacert.as_deref(), Some(std::path::Path::new("/ca.pem")));
    assert_eq!(cli.user.as_deref(), Some("bob"));
    assert_eq!(cli.password, None);
    for bad in [
        &["acl", "set", "/a"][..],
        &["acl", "set", "/a", "bob=rw"],
        &["acl", "set", "/a", "user:bob"],
        &["acl", "set", "/a", "anyone=rx"],
        &[
            "acl",
            "set",
            "/a",
            "anyone=r",
            "--expected-acl-version",
            "-1",
        ],
        &["create", "/a", "--acl", "anyone"],
        &["user", "add"],
        &["user", "grant-role", "bob"],
        &["auth", "on"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should be a usage error");
    }
    let err = parse(&["acl", "set", "/a", "user:bob"]).expect_err("no permissions");
    assert!(err.to_string().contains("PRINCIPAL=PERMISSIONS"), "{err}");
}

#[test]
fn acl_text_is_what_acl_set_takes_back() {
    let acl: Vec<corral_client::AclEntry> = ["role:team-a=read,write", "anyone=r"]
        .iter()
        .map(|e| parse_acl_entry(e).expect("valid"))
        .collect();
    let text = crate::auth::acl_text(&acl);
    assert_eq!(text, "role:team-a=rw\nanyone=r\n");
    let again: Vec<_> = text
        .lines()
        .map(|l| parse_acl_entry(l).expect("parses back"))
        .collect();
    assert_eq!(again, acl);
}

#[test]
fn refused_calls_exit_6_and_say_how_to_get_in() {
    let required = Error::Unauthenticated {
        reason: corral_client::UnauthenticatedReason::AuthRequired,
        user: None,
        message: "auth is enabled: this call needs credentials".into(),
    };
    let (message, code) = explain(&required, &Call::Read);
    assert_eq!(code, EXIT_DENIED);
    assert!(
        message.contains("--user") && message.contains("--cert"),
        "{message}"
    );
    assert!(!message.contains("Bearer"), "API terms: {message}");
    let bad = Error::Unauthenticated {
        reason: corral_client::UnauthenticatedReason::BadCredentials,
        user: Some("bob".into()),
        message: "wrong user name or password for user bob".into(),
    };
    assert_eq!(
        explain(&bad, &Call::Read),
        (
            "wrong user name or password for user bob".into(),
            EXIT_DENIED
        )
    );
    let denied = Error::PermissionDenied {
        path: Some("/s".into()),
        permission: Some("read".into()),
        user: Some("bob".into()),
        message: "permission denied: user bob lacks the read permission on /s".into(),
    };
    assert_eq!(
        explain(&denied, &Call::Read),
        (
            "permission denied: user bob lacks the read permission on /s".into(),
            EXIT_DENIED
        )
    );
    let root_only = Error::PermissionDenied {
        path: None,
        permission: Some("root".into()),
        user: Some("bob".into()),
        message: "permission denied: only root may call this".into(),
    };
    let (message, code) = explain(&root_only, &Call::Read);
    assert_eq!(code, EXIT_DENIED);
    assert!(
        message.contains("only root") && message.contains("bob"),
        "{message}"
    );
}

#[test]
fn access_errors_get_the_exit_status_of_their_kind() {
    let root_required = Error::RootRequired {
        message: "auth cannot be enabled before the user root exists (add it with Auth/UserAdd)"
            .into(),
    };
    let (message, code) = explain(&root_required, &Call::EnableAuth);
    assert_eq!(code, EXIT_CONFLICT);
    assert!(message.contains("corralctl user add root"), "{message}");
    assert!(!message.contains("Auth/UserAdd"), "{message}");
    // Deleting root while auth is on: the server's words fit.
    let (message, _) = explain(&root_required, &Call::Read);
    assert_eq!(message, root_required.to_string());
    for (e, status) in [
        (
            Error::UserNotFound {
                user: "u".into(),
                message: "no user u".into(),
            },
            EXIT_NOT_FOUND,
        ),
        (
            Error::RoleNotFound {
                role: "r".into(),
                message: "no role r".into(),
            },
            EXIT_NOT_FOUND,
        ),
        (
            Error::UserExists {
                user: "u".into(),
                message: "u exists".into(),
            },
            EXIT_CONFLICT,
        ),
        (
            Error::AclVersionMismatch {
                path: "/a".into(),
                expected: 0,
                current: 1,
                message: "acl version".into(),
            },
            EXIT_CONFLICT,
        ),
        (
            Error::TlsConfig {
                message: "cannot read the CA certificate file /x".into(),
            },
            EXIT_USAGE,
        ),
    ] {
        assert_eq!(exit_status(&e), status, "{e:?}");
    }
}

/// A context for `args`, as `run` makes it.
fn ctx(args: &[&str]) -> crate::Ctx {
    let cli = Cli::try_parse_from(std::iter::once("corralctl").chain(args.iter().copied()))
        .expect("valid command line");
    crate::Ctx {
        out: Printer::new(cli.output),
        endpoints: cli.endpoints,
        timeout: cli.timeout,
        security: crate::Security {
            cacert: cli.cacert,
            cert: cli.cert,
            key: cli.key,
            server_name: cli.server_name,
            user: cli.user,
            password: cli.password,
        },
        login: std::sync::OnceLock::new(),
        client: tokio::sync::OnceCell::new(),
    }
}

#[test]
fn credentials_and_certificates_must_come_in_pairs() {
    let usage = |args: &[&str]| match ctx(args).builder(&["127.0.0.1:1".into()]) {
        Err(Failure::Usage(message)) => message,
        Ok(_) => panic!("{args:?} should be a usage error"),
        Err(other) => panic!("{args:?}: {other:?}"),
    };
    assert!(usage(&["--password", "x", "status"]).contains("--user"));
    assert!(usage(&["--cert", "/c.pem", "status"]).contains("--key"));
    assert!(usage(&["--key", "/k.pem", "status"]).contains("--cert"));
    assert!(ctx(&["--user", "bob", "--password", "pw", "status"])
        .builder(&["127.0.0.1:1".into()])
        .is_ok());
    assert!(
        ctx(&["--cacert", "/ca.pem", "--cert", "/c.pem", "--key", "/k.pem", "status"])
            .builder(&["127.0.0.1:1".into()])
            .is_ok()
    );
}

#[test]
fn auth_answers_print_as_their_messages() {
    let status = corral_client::AuthStatus {
        header: Header::default(),
        enabled: true,
        user: Some("bob".into()),
        roles: vec!["a".into()],
        token_ttl: Duration::from_secs(300),
    };
    let json = protojson::to_json(&wire::auth_status(&status)).expect("json");
    assert_eq!(json["user"], "bob");
    assert_eq!(json["tokenTtlMs"], "300000");
    assert_eq!(json["roles"], serde_json::json!(["a"]));
    let acl = corral_client::GetAclResponse {
        header: Header::default(),
        acl: vec![parse_acl_entry("user:bob=rwa").expect("valid")],
        stat: corral_client::Stat::default(),
    };
    let json = protojson::to_json(&wire::get_acl(&acl)).expect("json");
    assert_eq!(json["acl"][0]["principal"], "user:bob");
    assert_eq!(
        json["acl"][0]["permissions"],
        serde_json::json!(["READ", "WRITE", "ADMIN"])
    );
}
