//! Access control lists on znodes: who ([`Principal`]) may do what ([`Permissions`]),
//! their text syntax (`user:bob=rw`), and the KV calls that read and replace a znode's
//! ACL ([`Client::get_acl`], [`Client::set_acl`]).
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use corral_client::{AclEntry, CreateOptions, Permissions, Principal};
//! // Team A reads and writes, everyone else reads; parsed from corralctl's syntax or built.
//! let acl = vec![
//!     "role:team-a=rwcd".parse::<AclEntry>()?,
//!     AclEntry::new(Principal::Anyone, Permissions::READ),
//! ];
//! client.create("/team-a", "", CreateOptions::new().acl(acl)).await?;
//! let current = client.get_acl("/team-a").await?;
//! // Replace it only if nobody changed it since it was read.
//! let admins = vec!["user:alice=rwcda".parse::<AclEntry>()?];
//! client.set_acl("/team-a", admins, Some(current.stat.acl_version)).await?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::str::FromStr;

use corral_proto::v1 as pb;

use crate::client::{kv, Client};
use crate::error::{Error, Result};
use crate::retry::Retry;
use crate::types::{required, wire_header, FromWire, Header, Stat};

/// Something that cannot be parsed as a [`Principal`], a [`Permission`], a set of
/// [`Permissions`] or an [`AclEntry`]. Converts into
/// [`Error::InvalidArgument`] with `?` in functions returning the client's
/// [`Result`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct ParseAclError {
    what: &'static str,
    input: String,
    reason: String,
}

impl ParseAclError {
    fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        ParseAclError {
            what,
            input: input.to_string(),
            reason: reason.into(),
        }
    }

    /// The text that could not be parsed.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl From<ParseAclError> for Error {
    fn from(e: ParseAclError) -> Error {
        Error::InvalidArgument {
            reason: crate::InvalidReason::InvalidArgument,
            path: None,
            message: e.to_string(),
        }
    }
}

/// Who an [`AclEntry`] is about. Written `user:NAME`, `role:NAME`, `authenticated`
/// (anyone with valid credentials) or `anyone` (even without credentials).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Principal {
    /// One user, by name (with mTLS, a certificate's CN is a user name too).
    User(String),
    /// Every user granted the role.
    Role(String),
    /// Any caller with a valid token or client certificate.
    Authenticated,
    /// Every caller, even one without credentials.
    Anyone,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User(name) => write!(f, "user:{name}"),
            Principal::Role(name) => write!(f, "role:{name}"),
            Principal::Authenticated => f.write_str("authenticated"),
            Principal::Anyone => f.write_str("anyone"),
        }
    }
}

impl FromStr for Principal {
    type Err = ParseAclError;

    /// `user:NAME`, `role:NAME`, `authenticated` or `anyone` (the kinds in any case;
    /// the name as given). The server checks the name's characters; here it must only
    /// be non-empty and free of spaces, control characters and `=`, which would make
    /// the entry syntax ambiguous.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| ParseAclError::new("principal", text, reason);
        let trimmed = text.trim();
        let principal = match trimmed.split_once(':') {
            Some((kind, name)) if kind.eq_ignore_ascii_case("user") => {
                Principal::User(check_name(name).map_err(invalid)?)
            }
            Some((kind, name)) if kind.eq_ignore_ascii_case("role") => {
                Principal::Role(check_name(name).map_err(invalid)?)
            }
            None if trimmed.eq_ignore_ascii_case("authenticated") => Principal::Authenticated,
            None if trimmed.eq_ignore_ascii_case("anyone") => Principal::Anyone,
            _ => {
                return Err(invalid(
                    "a principal is user:NAME, role:NAME, authenticated or anyone",
                ))
            }
        };
        Ok(principal)
    }
}

/// A user or role name as a principal may hold it.
fn check_name(name: &str) -> Result<String, &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '=')
    {
        return Err("a name has no spaces, control characters or '='");
    }
    Ok(name.to_string())
}

/// One thing a principal may do to a znode (ZooKeeper's `r w c d a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Read the znode's data and stat, list its children, watch it (`r`).
    Read,
    /// Set the znode's data (`w`).
    Write,
    /// Create children of the znode (`c`).
    Create,
    /// Delete children of the znode (`d`).
    Delete,
    /// Read and change the znode's ACL (`a`).
    Admin,
}

impl Permission {
    /// Every permission, in the order [`Permissions`] prints them (`rwcda`).
    pub const ALL: [Permission; 5] = [
        Permission::Read,
        Permission::Write,
        Permission::Create,
        Permission::Delete,
        Permission::Admin,
    ];

    /// Its name as the API spells it in error metadata: `read`, `write`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Create => "create",
            Permission::Delete => "delete",
            Permission::Admin => "admin",
        }
    }

    /// Its letter: `r`, `w`, `c`, `d` or `a`.
    pub fn letter(self) -> char {
        match self {
            Permission::Read => 'r',
            Permission::Write => 'w',
            Permission::Create => 'c',
            Permission::Delete => 'd',
            Permission::Admin => 'a',
        }
    }

    fn from_letter(letter: char) -> Option<Permission> {
        Permission::ALL
            .into_iter()
            .find(|p| p.letter() == letter.to_ascii_lowercase())
    }

    fn from_name(name: &str) -> Option<Permission> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name))
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    pub(crate) fn to_pb(self) -> pb::Permission {
        match self {
            Permission::Read => pb::Permission::Read,
            Permission::Write => pb::Permission::Write,
            Permission::Create => pb::Permission::Create,
            Permission::Delete => pb::Permission::Delete,
            Permission::Admin => pb::Permission::Admin,
        }
    }

    fn from_pb(value: i32) -> Option<Permission> {
        Some(match pb::Permission::try_from(value).ok()? {
            pb::Permission::Read => Permission::Read,
            pb::Permission::Write => Permission::Write,
            pb::Permission::Create => Permission::Create,
            pb::Permission::Delete => Permission::Delete,
            pb::Permission::Admin => Permission::Admin,
            pb::Permission::Unspecified => return None,
        })
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = ParseAclError;

    /// A name (`read`, `write`, `create`, `delete`, `admin`) or a letter (`r w c d a`),
    /// in any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let mut chars = trimmed.chars();
        let letter = match (chars.next(), chars.next()) {
            (Some(c), None) => Permission::from_letter(c),
            _ => None,
        };
        letter
            .or_else(|| Permission::from_name(trimmed))
            .ok_or_else(|| {
                ParseAclError::new(
                    "permission",
                    text,
                    "a permission is read, write, create, delete or admin (or r, w, c, d, a)",
                )
            })
    }
}

/// A set of [`Permission`]s.
///
/// Written as letters in the order `rwcda` (`rw`, `rwcda`); parsed from letters in any
/// order (`wr`), from comma-separated names (`read,write`), a mix (`rw,admin`), or
/// `all`. The empty set prints as `-`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Permissions(u8);

impl Permissions {
    /// No permission.
    pub const NONE: Permissions = Permissions(0);
    /// Read only.
    pub const READ: Permissions = Permissions(1 << Permission::Read as u8);
    /// Write only.
    pub const WRITE: Permissions = Permissions(1 << Permission::Write as u8);
    /// Create children only.
    pub const CREATE: Permissions = Permissions(1 << Permission::Create as u8);
    /// Delete children only.
    pub const DELETE: Permissions = Permissions(1 << Permission::Delete as u8);
    /// Change the ACL only.
    pub const ADMIN: Permissions = Permissions(1 << Permission::Admin as u8);
    /// Every permission.
    pub const ALL: Permissions = Permissions(0b1_1111);

    /// Whether `permission` is in the set.
    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    /// The set with `permission` added.
    pub fn with(self, permission: Permission) -> Permissions {
        Permissions(self.0 | permission.bit())
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The permissions in the set, in the order `rwcda`.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }
}

impl From<Permission> for Permissions {
    fn from(permission: Permission) -> Permissions {
        Permissions::NONE.with(permission)
    }
}

impl FromIterator<Permission> for Permissions {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Permissions {
        iter.into_iter().fold(Permissions::NONE, Permissions::with)
    }
}

impl std::ops::BitOr for Permissions {
    type Output = Permissions;

    fn bitor(self, other: Permissions) -> Permissions {
        Permissions(self.0 | other.0)
    }
}

impl std::ops::BitOr<Permission> for Permissions {
    type Output = Permissions;

    fn bitor(self, other: Permission) -> Permissions {
        self.with(other)
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        self.iter().try_for_each(|p| write!(f, "{}", p.letter()))
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permissions({self})")
    }
}

impl FromStr for Permissions {
    type Err = ParseAclError;

    /// See [`Permissions`] for the syntax. `-` is the empty set; an empty text is an
    /// error, so a forgotten value is not taken for "no permission".
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| ParseAclError::new("permissions", text, reason);
        let trimmed = text.trim();
        if trimmed == "-" {
            return Ok(Permissions::NONE);
        }
        if trimmed.is_empty() {
            return Err(invalid(
                "no permission given (use letters like rw, names like read,write, or all)".into(),
            ));
        }
        let mut set = Permissions::NONE;
        for part in trimmed.split(',').map(str::trim) {
            if part.eq_ignore_ascii_case("all") {
                set = Permissions::ALL;
            } else if let Some(p) = Permission::from_name(part) {
                set = set.with(p);
            } else if part.is_empty() {
                return Err(invalid("an empty item between commas".into()));
            } else {
                // Letters: every character must be one, so a misspelt name ("raed")
                // is an error rather than "r" plus garbage.
                for c in part.chars() {
                    let p = Permission::from_letter(c).ok_or_else(|| {
                        invalid(format!(
                            "{part:?} is neither a permission name (read, write, create, \
                             delete, admin, all) nor letters from rwcda"
                        ))
                    })?;
                    set = set.with(p);
                }
            }
        }
        Ok(set)
    }
}

/// One entry of a znode's ACL: a principal and what it may do. Written
/// `PRINCIPAL=PERMISSIONS`: `user:bob=rw`, `role:team-a=r`, `anyone=r`,
/// `authenticated=rwcd`, `user:ops=read,write,admin`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclEntry {
    /// Who.
    pub principal: Principal,
    /// What they may do; the server requires at least one permission.
    pub permissions: Permissions,
}

impl AclEntry {
    /// An entry granting `permissions` to `principal`.
    pub fn new(principal: Principal, permissions: impl Into<Permissions>) -> AclEntry {
        AclEntry {
            principal,
            permissions: permissions.into(),
        }
    }

    pub(crate) fn to_pb(&self) -> pb::AclEntry {
        pb::AclEntry {
            principal: self.principal.to_string(),
            permissions: self.permissions.iter().map(|p| p.to_pb() as i32).collect(),
        }
    }

    /// The client's entry for the wire's; an entry the client cannot represent is an
    /// invalid response, never silently narrowed (a SetAcl of what was read must not
    /// drop a permission).
    pub(crate) fn from_pb(entry: pb::AclEntry) -> Result<AclEntry> {
        let principal =
            entry
                .principal
                .parse()
                .map_err(|e: ParseAclError| Error::InvalidResponse {
                    message: format!("ACL entry: {e}"),
                })?;
        let permissions = entry
            .permissions
            .iter()
            .map(|&value| {
                Permission::from_pb(value).ok_or_else(|| Error::InvalidResponse {
                    message: format!("ACL entry of {principal}: unknown permission {value}"),
                })
            })
            .collect::<Result<Permissions>>()?;
        Ok(AclEntry {
            principal,
            permissions,
        })
    }
}

impl fmt::Display for AclEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.principal, self.permissions)
    }
}

impl FromStr for AclEntry {
    type Err = ParseAclError;

    /// `PRINCIPAL=PERMISSIONS`, see [`AclEntry`]; at least one permission.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((principal, permissions)) = text.split_once('=') else {
            return Err(ParseAclError::new(
                "ACL entry",
                text,
                "expected PRINCIPAL=PERMISSIONS, e.g. user:bob=rw or anyone=r",
            ));
        };
        let entry = AclEntry {
            principal: principal.parse()?,
            permissions: permissions.parse()?,
        };
        if entry.permissions.is_empty() {
            return Err(ParseAclError::new(
                "ACL entry",
                text,
                "an entry grants at least one permission",
            ));
        }
        Ok(entry)
    }
}

/// Result of [`Client::get_acl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAclResponse {
    /// Header; `revision` is the applied revision the read saw.
    pub header: Header,
    /// The entries, in the order they were set.
    pub acl: Vec<AclEntry>,
    /// Stat of the znode; `stat.acl_version` is what [`Client::set_acl`]'s
    /// `expected_acl_version` compares with.
    pub stat: Stat,
}

/// Result of [`Client::set_acl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetAclResponse {
    /// Header; `revision` is the revision of the change.
    pub header: Header,
    /// Stat of the znode after the change (`acl_version` incremented).
    pub stat: Stat,
}

impl FromWire<pb::GetAclResponse> for GetAclResponse {
    fn from_wire(r: pb::GetAclResponse) -> Result<Self> {
        Ok(GetAclResponse {
            header: wire_header(r.header)?,
            acl: r
                .acl
                .into_iter()
                .map(AclEntry::from_pb)
                .collect::<Result<_>>()?,
            stat: Stat::from_wire(required(r.stat, "stat")?)?,
        })
    }
}

impl FromWire<pb::SetAclResponse> for SetAclResponse {
    fn from_wire(r: pb::SetAclResponse) -> Result<Self> {
        Ok(SetAclResponse {
            header: wire_header(r.header)?,
            stat: Stat::from_wire(required(r.stat, "stat")?)?,
        })
    }
}

impl Client {
    /// Reads a znode's ACL (linearizably). Needs the `admin` permission on it when
    /// auth is enabled. Fails with [`Error::NotFound`] and [`Error::PermissionDenied`].
    pub async fn get_acl(&self, path: impl Into<String>) -> Result<GetAclResponse> {
        let path = path.into();
        let request = pb::GetAclRequest {
            path: path.clone(),
            consistency: pb::Consistency::Linearizable.into(),
        };
        self.call(&path, Retry::Safe, request, |channel, r| async move {
            kv(channel).get_acl(r).await
        })
        .await
    }

    /// Replaces a znode's ACL with `acl` (1 to 64 entries), only if its `acl_version`
    /// is `expected_acl_version` when one is given (compare-and-set). Needs `admin` on
    /// the znode. Fails with [`Error::NotFound`], [`Error::PermissionDenied`],
    /// [`Error::AclVersionMismatch`] and [`Error::InvalidArgument`] (no entry, an
    /// entry without permissions).
    pub async fn set_acl(
        &self,
        path: impl Into<String>,
        acl: impl IntoIterator<Item = AclEntry>,
        expected_acl_version: Option<i64>,
    ) -> Result<SetAclResponse> {
        let path = path.into();
        let request = pb::SetAclRequest {
            path: path.clone(),
            acl: acl.into_iter().map(|e| e.to_pb()).collect(),
            expected_acl_version,
        };
        self.call(
            &path,
            Retry::WithRequestId,
            request,
            |channel, r| async move { kv(channel).set_acl(r).await },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(text: &str) -> Permissions {
        text.parse()
            .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    #[test]
    fn principals_parse_and_print_the_same() {
        for (text, principal) in [
            ("user:bob", Principal::User("bob".into())),
            ("role:team-a", Principal::Role("team-a".into())),
            ("authenticated", Principal::Authenticated),
            ("anyone", Principal::Anyone),
            (
                "user:bob@example.com",
                Principal::User("bob@example.com".into()),
            ),
        ] {
            assert_eq!(text.parse::<Principal>(), Ok(principal.clone()), "{text}");
            assert_eq!(principal.to_string(), text);
        }
        // Kinds in any case, names as given, spaces around ignored.
        assert_eq!(
            " USER:Bob ".parse::<Principal>(),
            Ok(Principal::User("Bob".into()))
        );
        assert_eq!("Anyone".parse::<Principal>(), Ok(Principal::Anyone));
    }

    #[test]
    fn malformed_principals_are_rejected_with_the_input() {
        for bad in [
            "",
            "bob",
            "user:",
            "role:",
            "user",
            "group:x",
            "anyone:x",
            "user:a b",
            "user:a=b",
            "user:a\u{7}",
        ] {
            let err = bad
                .parse::<Principal>()
                .expect_err(&format!("{bad:?} should be rejected"));
            assert_eq!(err.input(), bad);
            assert!(err.to_string().contains("principal"), "{err}");
        }
    }

    #[test]
    fn permissions_parse_from_letters_names_mixes_and_all() {
        assert_eq!(perms("r"), Permissions::READ);
        assert_eq!(perms("rw"), Permissions::READ | Permissions::WRITE);
        assert_eq!(perms("wr"), perms("rw"));
        assert_eq!(perms("RWCDA"), Permissions::ALL);
        assert_eq!(perms("rwcda"), Permissions::ALL);
        assert_eq!(perms("all"), Permissions::ALL);
        assert_eq!(perms("read,write"), perms("rw"));
        assert_eq!(perms("read, admin"), Permissions::READ | Permissions::ADMIN);
        assert_eq!(perms("rw,admin"), perms("rwa"));
        assert_eq!(perms("create"), Permissions::CREATE);
        assert_eq!(perms("delete"), Permissions::DELETE);
        // A single letter that is also a permission's initial is the letter.
        assert_eq!(perms("a"), Permissions::ADMIN);
        assert_eq!(perms("d"), Permissions::DELETE);
        assert_eq!(perms("rr"), Permissions::READ);
        assert_eq!(perms("-"), Permissions::NONE);
    }

    #[test]
    fn malformed_permissions_are_rejected() {
        for bad in [
            "",
            " ",
            "x",
            "rwx",
            "raed",
            "read,",
            ",r",
            "r,,w",
            "readwrite",
        ] {
            let err = bad
                .parse::<Permissions>()
                .expect_err(&format!("{bad:?} should be rejected"));
            assert_eq!(err.input(), bad);
        }
    }

    #[test]
    fn permissions_print_as_letters_in_rwcda_order() {
        assert_eq!(Permissions::ALL.to_string(), "rwcda");
        assert_eq!(perms("ar").to_string(), "ra");
        assert_eq!(perms("dc").to_string(), "cd");
        assert_eq!(Permissions::NONE.to_string(), "-");
        assert_eq!(format!("{:?}", perms("wr")), "Permissions(rw)");
        let listed: Vec<Permission> = perms("adw").iter().collect();
        assert_eq!(
            listed,
            [Permission::Write, Permission::Delete, Permission::Admin]
        );
    }

    #[test]
    fn single_permissions_parse_by_name_or_letter() {
        assert_eq!("read".parse::<Permission>(), Ok(Permission::Read));
        assert_eq!("W".parse::<Permission>(), Ok(Permission::Write));
        assert_eq!("Admin".parse::<Permission>(), Ok(Permission::Admin));
        assert!("rw".parse::<Permission>().is_err());
        assert!("".parse::<Permission>().is_err());
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
            assert_eq!(p.letter().to_string().parse::<Permission>(), Ok(p));
        }
    }

    #[test]
    fn entries_parse_and_print_in_the_corralctl_syntax() {
        for (text, printed) in [
            ("user:bob=rw", "user:bob=rw"),
            ("role:team-a=r", "role:team-a=r"),
            ("anyone=r", "anyone=r"),
            ("authenticated=rwcd", "authenticated=rwcd"),
            ("user:ops=read,write,admin", "user:ops=rwa"),
            ("user:root=all", "user:root=rwcda"),
        ] {
            let entry: AclEntry = text
                .parse()
                .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"));
            assert_eq!(entry.to_string(), printed);
            assert_eq!(printed.parse::<AclEntry>(), Ok(entry));
        }
        assert_eq!(
            "user:bob=rw".parse::<AclEntry>(),
            Ok(AclEntry::new(
                Principal::User("bob".into()),
                Permissions::READ | Permission::Write
            ))
        );
    }

    #[test]
    fn malformed_entries_say_what_is_wrong() {
        for (bad, says) in [
            ("user:bob", "PRINCIPAL=PERMISSIONS"),
            ("anyone", "PRINCIPAL=PERMISSIONS"),
            ("user:bob=", "permissions"),
            ("user:bob=-", "at least one permission"),
            ("bob=rw", "principal"),
            ("=rw", "principal"),
            ("user:bob=rwx", "permissions"),
            ("user:bob=rw=r", "permissions"),
        ] {
            let err = bad
                .parse::<AclEntry>()
                .expect_err(&format!("{bad:?} should be rejected"));
            assert!(err.to_string().contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn entries_round_trip_through_the_wire_form() {
        let entry: AclEntry = "role:team-a=rcd".parse().expect("valid");
        let wire = entry.to_pb();
        assert_eq!(wire.principal, "role:team-a");
        assert_eq!(
            wire.permissions,
            [
                pb::Permission::Read as i32,
                pb::Permission::Create as i32,
                pb::Permission::Delete as i32
            ]
        );
        assert_eq!(AclEntry::from_pb(wire), Ok(entry));
    }

    #[test]
    fn wire_entries_the_client_cannot_represent_are_invalid_responses() {
        let unknown_permission = pb::AclEntry {
            principal: "anyone".into(),
            permissions: vec![pb::Permission::Read as i32, 42],
        };
        assert!(matches!(
            AclEntry::from_pb(unknown_permission),
            Err(Error::InvalidResponse { .. })
        ));
        let unknown_principal = pb::AclEntry {
            principal: "group:x".into(),
            permissions: vec![pb::Permission::Read as i32],
        };
        assert!(matches!(
            AclEntry::from_pb(unknown_principal),
            Err(Error::InvalidResponse { .. })
        ));
    }

    #[test]
    fn parse_errors_become_invalid_argument_errors() {
        let err: Error = "nope".parse::<AclEntry>().expect_err("invalid").into();
        assert!(
            matches!(err, Error::InvalidArgument { ref message, .. } if message.contains("nope")),
            "{err:?}"
        );
    }
}
