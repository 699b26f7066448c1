//! Access control on znodes: ACL entries, the caller as apply and reads see it, and the
//! one decision function. Part of the data model every layer shares (like `znode`, it
//! imports nothing else from the crate): apply checks writes against the state they
//! apply to (so no check can race a change of ACL, user or role), reads against the
//! view they read, and the watch hub filters events by the ACL they carry.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A set of permissions, ZooKeeper's cdrwa as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Perms(pub u8);

impl Perms {
    /// Read data and stat, list children, watch.
    pub const READ: Perms = Perms(1);
    /// Set data.
    pub const WRITE: Perms = Perms(2);
    /// Create children.
    pub const CREATE: Perms = Perms(4);
    /// Delete children.
    pub const DELETE: Perms = Perms(8);
    /// Read and change the ACL.
    pub const ADMIN: Perms = Perms(16);
    /// Every permission.
    pub const ALL: Perms = Perms(31);

    /// Whether every permission of `other` is in `self`.
    pub fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union.
    pub fn union(self, other: Perms) -> Perms {
        Perms(self.0 | other.0)
    }

    /// The permission's name in errors and metadata (`read`, ...), for a single one.
    pub fn name(self) -> &'static str {
        match self {
            Perms::READ => "read",
            Perms::WRITE => "write",
            Perms::CREATE => "create",
            Perms::DELETE => "delete",
            Perms::ADMIN => "admin",
            _ => "several",
        }
    }
}

/// Who an ACL entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Principal {
    /// One user, by name.
    User(String),
    /// Every user holding the role.
    Role(String),
    /// Every caller with valid credentials.
    Authenticated,
    /// Every caller, even anonymous.
    Anyone,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User(n) => write!(f, "user:{n}"),
            Principal::Role(n) => write!(f, "role:{n}"),
            Principal::Authenticated => f.write_str("authenticated"),
            Principal::Anyone => f.write_str("anyone"),
        }
    }
}

impl Principal {
    /// Parses `user:NAME`, `role:NAME`, `authenticated` or `anyone`.
    pub fn parse(text: &str) -> Result<Principal, String> {
        match text {
            "authenticated" => return Ok(Principal::Authenticated),
            "anyone" => return Ok(Principal::Anyone),
            _ => {}
        }
        let bad =
            || format!("principal {text:?} must be user:NAME, role:NAME, authenticated or anyone");
        let (kind, name) = text.split_once(':').ok_or_else(bad)?;
        check_name(name).map_err(|why| format!("principal {text:?}: {why}"))?;
        match kind {
            "user" => Ok(Principal::User(name.to_string())),
            "role" => Ok(Principal::Role(name.to_string())),
            _ => Err(bad()),
        }
    }
}

/// Checks a user or role name: 1 to 128 characters, letters, digits and `- _ . @`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 128 {
        return Err("a name must be 1 to 128 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
    {
        return Err(format!(
            "name {name:?} may hold only letters, digits and - _ . @"
        ));
    }
    Ok(())
}

/// One ACL entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclEntry {
    /// Who.
    pub principal: Principal,
    /// What they may do.
    pub perms: Perms,
}

/// A znode's access control list. A znode without a stored ACL has [`default_acl`].
pub type Acl = Vec<AclEntry>;

/// Most entries in one ACL.
pub const MAX_ACL_ENTRIES: usize = 64;

/// The ACL of a znode that never had one set (the root of a new cluster, and what its
/// descendants copy): everyone may do everything, as ZooKeeper's OPEN_ACL_UNSAFE. Only
/// matters once auth is enabled.
pub fn default_acl() -> Acl {
    vec![AclEntry {
        principal: Principal::Anyone,
        perms: Perms::ALL,
    }]
}

/// The caller of a command or read, resolved against the auth state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// User name; `None` for an anonymous caller.
    pub user: Option<String>,
    /// The user's roles.
    pub roles: BTreeSet<String>,
}

/// Name of the user that may do everything.
pub const ROOT: &str = "root";

impl Caller {
    /// Whether this is the root user.
    pub fn is_root(&self) -> bool {
        self.user.as_deref() == Some(ROOT)
    }

    /// The user name for messages (`anonymous` when none).
    pub fn name(&self) -> &str {
        self.user.as_deref().unwrap_or("anonymous")
    }

    /// The permissions `acl` grants this caller (`None` is the default ACL).
    pub fn perms_in(&self, acl: Option<&Acl>) -> Perms {
        if self.is_root() {
            return Perms::ALL;
        }
        let Some(acl) = acl else {
            return Perms::ALL;
        };
        acl.iter()
            .filter(|e| match &e.principal {
                Principal::Anyone => true,
                Principal::Authenticated => self.user.is_some(),
                Principal::User(n) => self.user.as_deref() == Some(n.as_str()),
                Principal::Role(r) => self.roles.contains(r),
            })
            .fold(Perms::default(), |p, e| p.union(e.perms))
    }

    /// Whether `acl` grants this caller `perm`.
    pub fn may(&self, acl: Option<&Acl>, perm: Perms) -> bool {
        self.perms_in(acl).contains(perm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user: Option<&str>, roles: &[&str]) -> Caller {
        Caller {
            user: user.map(str::to_string),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn entries_grant_to_whom_they_name() {
        let acl = vec![
            AclEntry {
                principal: Principal::User("alice".into()),
                perms: Perms::WRITE,
            },
            AclEntry {
                principal: Principal::Role("team-a".into()),
                perms: Perms::READ,
            },
            AclEntry {
                principal: Principal::Authenticated,
                perms: Perms::CREATE,
            },
        ];
        let alice = caller(Some("alice"), &[]);
        assert!(alice.may(Some(&acl), Perms::WRITE));
        assert!(alice.may(Some(&acl), Perms::CREATE));
        assert!(!alice.may(Some(&acl), Perms::READ));
        let bob = caller(Some("bob"), &["team-a"]);
        assert!(bob.may(Some(&acl), Perms::READ));
        assert!(!bob.may(Some(&acl), Perms::WRITE));
        let anon = caller(None, &[]);
        assert_eq!(anon.perms_in(Some(&acl)), Perms::default());
        assert!(caller(Some(ROOT), &[]).may(Some(&acl), Perms::ADMIN));
        // No stored ACL: the default, open to all.
        assert!(anon.may(None, Perms::ALL));
        assert!(anon.may(Some(&default_acl()), Perms::DELETE));
    }

    #[test]
    fn principals_parse_and_print_back() {
        for text in [
            "user:bob",
            "role:team-a",
            "authenticated",
            "anyone",
            "user:a@b.c",
        ] {
            assert_eq!(Principal::parse(text).expect(text).to_string(), text);
        }
        for bad in ["", "user:", "group:x", "user:a b", "anyone:x", "role:\u{0}"] {
            assert!(Principal::parse(bad).is_err(), "{bad:?}");
        }
    }
}
