//! Apply with auth on: the state machine's own checks, through the same entry point
//! the Raft log uses. Refused commands change nothing and take no revision.

use crate::acl::{AclEntry, Perms, Principal};
use crate::store::apply::apply_command;
use crate::store::command::{
    AuthCmd, Command, CommandResult, CreateCmd, DeleteCmd, KvError, SetAclCmd,
};
use crate::store::db::{Db, Sync};
use crate::store::overlay::Overlay;
use crate::znode::NodeKind;

fn create(path: &str) -> CreateCmd {
    CreateCmd {
        path: path.into(),
        data: vec![],
        kind: NodeKind::Persistent,
        lease_id: 0,
        sequential: false,
        ttl_ms: 0,
        create_parents: false,
    }
}

fn as_user(user: Option<&str>, command: Command) -> Command {
    Command::As {
        user: user.map(str::to_string),
        command: Box::new(command),
    }
}

fn auth(cmd: AuthCmd) -> Command {
    Command::Auth(cmd)
}

fn user_add(name: &str) -> Command {
    auth(AuthCmd::UserAdd {
        name: name.into(),
        password_hash: format!("hash-of-{name}"),
    })
}

#[test]
fn auth_changes_follow_the_rules_and_checks_start_with_enable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Sync::Never).expect("db");
    let reader = db.reader();
    let mut tree = Overlay::new(&reader);
    let mut apply =
        |c: Command| -> CommandResult { apply_command(&mut tree, 1, &c).expect("storage") };
    let enable = || {
        auth(AuthCmd::Enable {
            token_key: vec![1; 32],
        })
    };
    // Enable is refused until root exists.
    assert!(matches!(
        apply(enable()).result,
        Err(KvError::RootRequired(_))
    ));
    for name in ["root", "alice", "bob"] {
        apply(user_add(name)).result.expect("user add");
    }
    assert!(matches!(
        apply(user_add("bob")).result,
        Err(KvError::UserExists { .. })
    ));
    apply(auth(AuthCmd::RoleAdd {
        name: "team-a".into(),
    }))
    .result
    .expect("role add");
    apply(auth(AuthCmd::UserGrantRole {
        name: "bob".into(),
        role: "team-a".into(),
    }))
    .result
    .expect("grant");
    apply(Command::Create(create("/team-a")))
        .result
        .expect("create");
    apply(Command::SetAcl(SetAclCmd {
        path: "/team-a".into(),
        acl: vec![AclEntry {
            principal: Principal::Role("team-a".into()),
            perms: Perms::CREATE,
        }],
        expected_acl_version: Some(0),
    }))
    .result
    .expect("set acl");
    // Auth off: a client's command runs unchecked, even for alice.
    apply(as_user(
        Some("alice"),
        Command::Create(create("/team-a/off")),
    ))
    .result
    .expect("create while auth is off");
    apply(as_user(None, enable())).result.expect("enable");
    let revision = apply(Command::Compact { revision: 1 }).revision;

    // Now: anonymous refused, alice refused, bob (role team-a) allowed, root allowed.
    let r = apply(as_user(None, Command::Create(create("/team-a/anon"))));
    assert_eq!(r.result, Err(KvError::AuthRequired));
    assert_eq!(r.revision, revision);
    let r = apply(as_user(Some("alice"), Command::Create(create("/team-a/a"))));
    assert_eq!(
        r.result,
        Err(KvError::PermissionDenied {
            path: "/team-a".into(),
            permission: "create".into(),
            user: "alice".into(),
        })
    );
    assert_eq!(r.revision, revision, "a refused command takes no revision");
    apply(as_user(Some("bob"), Command::Create(create("/team-a/b"))))
        .result
        .expect("bob creates");
    // The new znode copied /team-a's ACL: bob may not delete children of /team-a/b, nor
    // /team-a/b itself (no delete on /team-a).
    let r = apply(as_user(
        Some("bob"),
        Command::Delete(DeleteCmd {
            path: "/team-a/b".into(),
            expected_version: None,
            recursive: false,
        }),
    ));
    assert!(matches!(r.result, Err(KvError::PermissionDenied { .. })));
    // Server-made commands (not wrapped) are not checked.
    apply(Command::Delete(DeleteCmd {
        path: "/team-a/b".into(),
        expected_version: None,
        recursive: false,
    }))
    .result
    .expect("unchecked delete");
    // Only root manages users; a user may change their own password only.
    let r = apply(as_user(Some("alice"), user_add("mallory")));
    assert!(matches!(r.result, Err(KvError::PermissionDenied { .. })));
    let change = |name: &str| {
        auth(AuthCmd::UserChangePassword {
            name: name.into(),
            password_hash: "new".into(),
        })
    };
    apply(as_user(Some("alice"), change("alice")))
        .result
        .expect("own password");
    assert!(matches!(
        apply(as_user(Some("alice"), change("bob"))).result,
        Err(KvError::PermissionDenied { .. })
    ));
    // Root cannot be deleted while auth is on; deleting a role takes it from users.
    assert!(matches!(
        apply(as_user(
            Some("root"),
            auth(AuthCmd::UserDelete {
                name: "root".into()
            })
        ))
        .result,
        Err(KvError::RootRequired(_))
    ));
    apply(as_user(
        Some("root"),
        auth(AuthCmd::RoleDelete {
            name: "team-a".into(),
        }),
    ))
    .result
    .expect("role delete");
    let state = tree.auth().expect("auth state");
    assert!(state.users["bob"].roles.is_empty());
    // Credential changes give fresh generations, never reused.
    let gens: Vec<i64> = state.users.values().map(|u| u.generation).collect();
    let mut unique = gens.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), gens.len(), "generations {gens:?}");
    assert!(state.users["alice"].generation > state.users["bob"].generation);
}
