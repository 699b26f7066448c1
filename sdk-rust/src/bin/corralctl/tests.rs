//! Unit tests of the command line and the renderers.

use std::time::Duration;

use clap::{CommandFactory, Parser};
use corral_client::{Header, Member, Status};

use crate::cli::*;
use crate::output::*;

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
    let parse = |args: &[&str]| {
        Cli::try_parse_from(std::iter::once("corralctl").chain(args.iter().copied()))
            .map(|cli| cli.command)
    };
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
    let json = status_json("127.0.0.1:2489", &rows[1].1);
    assert_eq!(json["leader_id"], 0);
    assert_eq!(json["snapshot_index"], 0);
    assert_eq!(json["endpoint"], "127.0.0.1:2489");
    assert_eq!(json["db_size_bytes"], 3 * 1024 * 1024 / 2);
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
    let parse = |args: &[&str]| {
        Cli::try_parse_from(std::iter::once("corralctl").chain(args.iter().copied()))
            .map(|cli| cli.command)
    };
    assert!(matches!(
        parse(&["lock", "/l", "--", "sh", "-c", "echo hi"]),
        Ok(Command::Lock { ref name, ref command, .. }) if name == "/l" && command == &["sh", "-c", "echo hi"]
    ));
    assert!(matches!(
        parse(&["lock", "/l", "--wait", "2s"]),
        Ok(Command::Lock { wait: Some(w), ref command, .. }) if w == Duration::from_secs(2) && command.is_empty()
    ));
    assert!(matches!(
        parse(&["create", "-e", "--lease", "7", "/e"]),
        Ok(Command::Create {
            ephemeral: true,
            lease: Some(7),
            ..
        })
    ));
    assert!(matches!(
        parse(&["watch", "-R", "--rev", "5", "--count", "3", "/w"]),
        Ok(Command::Watch {
            recursive: true,
            rev: Some(5),
            count: Some(3),
            ..
        })
    ));
    assert!(matches!(
        parse(&["lease", "grant", "30s"]),
        Ok(Command::Lease(LeaseCommand::Grant { ttl })) if ttl == Duration::from_secs(30)
    ));
    assert!(matches!(
        parse(&["elect", "-l", "/e"]),
        Ok(Command::Elect {
            listen: true,
            value: None,
            ..
        })
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
