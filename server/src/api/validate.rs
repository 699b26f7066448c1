//! Request validation: turns a proto request into a checked internal command, or refuses
//! it with INVALID_ARGUMENT before anything is proposed (bad input changes nothing).

use crate::acl::{check_name, Acl, AclEntry, Perms, Principal, MAX_ACL_ENTRIES};
use crate::auth::password::MAX_PASSWORD_BYTES;
use corral_proto::v1 as pb;

use super::errors::ApiError;
use crate::store::apply::SEQUENCE_DIGITS;
use crate::store::command::{
    CmpOp, CmpTarget, Compare, CreateCmd, DeleteCmd, GetQuery, ListQuery, PutCmd, TxnCmd, TxnOp,
};
use crate::store::path;
use crate::znode::NodeKind;

/// Default and largest `List` page sizes.
pub const DEFAULT_LIST_LIMIT: usize = 1000;
/// Largest `List` page.
pub const MAX_LIST_LIMIT: usize = 10_000;
/// Most ops in one Txn branch, and most compares.
pub const MAX_TXN_OPS: usize = 128;
/// Longest TTL of a TTL znode, in ms (365 days). Leases are capped too (a day): a TTL
/// this long is "keep for a year unless touched"; longer ones were accepted before and
/// overflowed the deadline, so the znode never expired.
pub const MAX_NODE_TTL_MS: i64 = 365 * 86_400_000;

/// Limits a request is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest znode data.
    pub max_data_bytes: usize,
}

fn check_path(field: &str, p: &str) -> Result<(), ApiError> {
    path::validate(p).map_err(|source| ApiError::InvalidPath {
        field: field.to_string(),
        source,
        path: p.to_string(),
    })
}

fn check_data(p: &str, data: &[u8], limits: Limits) -> Result<(), ApiError> {
    if data.len() > limits.max_data_bytes {
        return Err(ApiError::DataTooLarge {
            path: p.to_string(),
            size: data.len(),
            limit: limits.max_data_bytes,
        });
    }
    Ok(())
}

fn check_version(field: &str, v: Option<i64>) -> Result<(), ApiError> {
    match v {
        Some(v) if v < 0 => Err(ApiError::InvalidArgument(format!(
            "{field} must be ≥ 0 (got {v}); leave it unset to accept any version"
        ))),
        _ => Ok(()),
    }
}

/// Checks a Create.
pub fn create(r: &pb::CreateRequest, limits: Limits) -> Result<CreateCmd, ApiError> {
    if r.sequential {
        // The counter is appended, so "/queue/" is a valid prefix for "/queue/0000000001".
        let probe = format!("{}{}", r.path, "0".repeat(SEQUENCE_DIGITS));
        if r.path.is_empty() {
            check_path("path", &r.path)?;
        }
        check_path("path", &probe)?;
    } else {
        check_path("path", &r.path)?;
        if r.path == "/" {
            return Err(ApiError::InvalidArgument(
                "path: the root znode \"/\" always exists and cannot be created".into(),
            ));
        }
    }
    check_data(&r.path, &r.data, limits)?;
    if !(0..=MAX_NODE_TTL_MS).contains(&r.ttl_ms) {
        return Err(ApiError::InvalidArgument(format!(
            "ttl_ms must be between 0 (no TTL) and {MAX_NODE_TTL_MS} (365 days) (got {})",
            r.ttl_ms
        )));
    }
    if r.ephemeral && r.lease_id <= 0 {
        return Err(ApiError::InvalidArgument(
            "ephemeral znodes need a lease_id > 0 (grant one with Lease/Grant)".into(),
        ));
    }
    if !r.ephemeral && r.lease_id != 0 {
        return Err(ApiError::InvalidArgument(format!(
            "lease_id is {} but ephemeral is false; set ephemeral to bind the znode to the lease",
            r.lease_id
        )));
    }
    let kinds = [r.ephemeral, r.container, r.ttl_ms > 0]
        .iter()
        .filter(|k| **k)
        .count();
    if kinds > 1 {
        return Err(ApiError::InvalidArgument(
            "ephemeral, container and ttl_ms > 0 exclude each other; choose one kind".into(),
        ));
    }
    let kind = if r.ephemeral {
        NodeKind::Ephemeral
    } else if r.container {
        NodeKind::Container
    } else if r.ttl_ms > 0 {
        NodeKind::Ttl
    } else {
        NodeKind::Persistent
    };
    Ok(CreateCmd {
        path: r.path.clone(),
        data: r.data.clone(),
        kind,
        lease_id: r.lease_id,
        sequential: r.sequential,
        ttl_ms: r.ttl_ms,
        create_parents: r.create_parents,
    })
}

/// Checks a Put.
pub fn put(r: &pb::PutRequest, limits: Limits) -> Result<PutCmd, ApiError> {
    check_path("path", &r.path)?;
    check_data(&r.path, &r.data, limits)?;
    check_version("expected_version", r.expected_version)?;
    if r.create_if_missing && r.expected_version.is_some() {
        return Err(ApiError::InvalidArgument(
            "create_if_missing and expected_version exclude each other".into(),
        ));
    }
    if r.create_if_missing && r.path == "/" {
        return Err(ApiError::InvalidArgument(
            "path: the root znode \"/\" always exists".into(),
        ));
    }
    Ok(PutCmd {
        path: r.path.clone(),
        data: r.data.clone(),
        expected_version: r.expected_version,
        create_if_missing: r.create_if_missing,
        prev_node: r.prev_node,
    })
}

/// Checks a Delete.
pub fn delete(r: &pb::DeleteRequest) -> Result<DeleteCmd, ApiError> {
    check_path("path", &r.path)?;
    if r.path == "/" {
        return Err(ApiError::InvalidArgument(
            "path: the root znode \"/\" cannot be deleted; delete its children with recursive deletes".into(),
        ));
    }
    check_version("expected_version", r.expected_version)?;
    Ok(DeleteCmd {
        path: r.path.clone(),
        expected_version: r.expected_version,
        recursive: r.recursive,
    })
}

/// A checked path field, owned.
pub fn path_field(field: &str, p: &str) -> Result<String, ApiError> {
    check_path(field, p)?;
    Ok(p.to_string())
}

/// Checks a Get.
pub fn get(r: &pb::GetRequest) -> Result<GetQuery, ApiError> {
    check_path("path", &r.path)?;
    consistency(r.consistency)?;
    Ok(GetQuery {
        path: r.path.clone(),
        stat_only: r.stat_only,
    })
}

/// Checks a List.
pub fn list(r: &pb::ListRequest) -> Result<ListQuery, ApiError> {
    check_path("path", &r.path)?;
    consistency(r.consistency)?;
    let limit = match r.limit {
        0 => DEFAULT_LIST_LIMIT,
        n if n < 0 => {
            return Err(ApiError::InvalidArgument(format!(
                "limit must be ≥ 0 (got {n}); 0 means {DEFAULT_LIST_LIMIT}"
            )))
        }
        n if n as usize > MAX_LIST_LIMIT => {
            return Err(ApiError::InvalidArgument(format!(
                "limit {n} is above the maximum page size {MAX_LIST_LIMIT}; page with page_token"
            )))
        }
        n => n as usize,
    };
    if !r.page_token.is_empty() {
        let prefix = path::descendant_prefix(&r.path);
        if path::validate(&r.page_token).is_err() || !r.page_token.starts_with(&prefix) {
            return Err(ApiError::InvalidArgument(format!(
                "page_token {:?} does not belong to a listing of {}; pass next_page_token unchanged",
                r.page_token, r.path
            )));
        }
    }
    Ok(ListQuery {
        path: r.path.clone(),
        recursive: r.recursive,
        with_data: r.with_data,
        limit,
        after: r.page_token.clone(),
    })
}

/// Checks the read consistency is a known value; unset (`CONSISTENCY_UNSPECIFIED`)
/// means LINEARIZABLE.
pub fn consistency(value: i32) -> Result<pb::Consistency, ApiError> {
    match pb::Consistency::try_from(value) {
        Ok(pb::Consistency::Unspecified) => Ok(pb::Consistency::Linearizable),
        Ok(c) => Ok(c),
        Err(_) => Err(ApiError::InvalidArgument(format!(
            "consistency {value} is unknown; use LINEARIZABLE (1) or SERIALIZABLE (2)"
        ))),
    }
}

/// Checks a Txn.
pub fn txn(r: &pb::TxnRequest, limits: Limits) -> Result<TxnCmd, ApiError> {
    if r.compares.len() > MAX_TXN_OPS
        || r.success.len() > MAX_TXN_OPS
        || r.failure.len() > MAX_TXN_OPS
    {
        return Err(ApiError::InvalidArgument(format!(
            "a Txn takes at most {MAX_TXN_OPS} compares and {MAX_TXN_OPS} ops per branch"
        )));
    }
    let compares = r
        .compares
        .iter()
        .enumerate()
        .map(|(i, c)| compare(i, c))
        .collect::<Result<Vec<_>, _>>()?;
    let success = ops("success", &r.success, limits)?;
    let failure = ops("failure", &r.failure, limits)?;
    Ok(TxnCmd {
        compares,
        success,
        failure,
    })
}

fn compare(i: usize, c: &pb::Compare) -> Result<Compare, ApiError> {
    use pb::compare::{Result as R, Target as T};
    check_path(&format!("compares[{i}].path"), &c.path)?;
    let op = match R::try_from(c.result) {
        Ok(R::Equal | R::Unspecified) => CmpOp::Equal,
        Ok(R::NotEqual) => CmpOp::NotEqual,
        Ok(R::Greater) => CmpOp::Greater,
        Ok(R::Less) => CmpOp::Less,
        Err(_) => {
            return Err(ApiError::InvalidArgument(format!(
                "compares[{i}].result {} is unknown",
                c.result
            )))
        }
    };
    let target = match &c.target {
        None => {
            return Err(ApiError::InvalidArgument(format!(
                "compares[{i}] sets no target; set one of exists, version, mod_revision, create_revision, data, num_children"
            )))
        }
        Some(T::Exists(b)) => {
            if matches!(op, CmpOp::Greater | CmpOp::Less) {
                return Err(ApiError::InvalidArgument(format!(
                    "compares[{i}]: exists only takes EQUAL or NOT_EQUAL"
                )));
            }
            CmpTarget::Exists(*b)
        }
        Some(T::Version(v)) => CmpTarget::Version(*v),
        Some(T::ModRevision(v)) => CmpTarget::ModRevision(*v),
        Some(T::CreateRevision(v)) => CmpTarget::CreateRevision(*v),
        Some(T::Data(d)) => CmpTarget::Data(d.clone()),
        Some(T::NumChildren(v)) => CmpTarget::NumChildren(*v),
    };
    Ok(Compare {
        path: c.path.clone(),
        op,
        target,
    })
}

fn ops(branch: &str, branch_ops: &[pb::Op], limits: Limits) -> Result<Vec<TxnOp>, ApiError> {
    use pb::op::Op as O;
    branch_ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let at = |e: ApiError| prefix_error(&format!("{branch}[{i}]"), e);
            match &op.op {
                None => Err(ApiError::InvalidArgument(format!(
                    "{branch}[{i}] sets no op; set one of create, put, delete, get, list"
                ))),
                Some(O::Create(r)) => create(r, limits)
                    .and_then(|c| {
                        Ok(match acl(&r.acl, true)? {
                            Some(a) => TxnOp::CreateWithAcl(c, a),
                            None => TxnOp::Create(c),
                        })
                    })
                    .map_err(at),
                Some(O::Put(r)) => put(r, limits).map(TxnOp::Put).map_err(at),
                Some(O::Delete(r)) => delete(r).map(TxnOp::Delete).map_err(at),
                Some(O::Get(r)) => get(r).map(TxnOp::Get).map_err(at),
                Some(O::List(r)) => {
                    if !r.page_token.is_empty() {
                        return Err(ApiError::InvalidArgument(format!(
                            "{branch}[{i}]: list inside a Txn returns the first page only; page_token is not allowed"
                        )));
                    }
                    list(r).map(TxnOp::List).map_err(at)
                }
            }
        })
        .collect()
}

/// Says which op of a Txn an error belongs to.
fn prefix_error(at: &str, e: ApiError) -> ApiError {
    match e {
        ApiError::InvalidPath {
            field,
            source,
            path,
        } => ApiError::InvalidPath {
            field: format!("{at}.{field}"),
            source,
            path,
        },
        ApiError::InvalidArgument(m) => ApiError::InvalidArgument(format!("{at}: {m}")),
        other => other,
    }
}

/// An ACL from the request: `None` when empty and `empty_ok` (a create copies its
/// parent's); at most [`MAX_ACL_ENTRIES`] entries, each a valid principal with at least
/// one permission.
pub fn acl(entries: &[pb::AclEntry], empty_ok: bool) -> Result<Option<Acl>, ApiError> {
    if entries.is_empty() {
        if empty_ok {
            return Ok(None);
        }
        return Err(ApiError::InvalidArgument(
            "acl must have at least one entry (e.g. {\"principal\": \"anyone\", \"permissions\": [\"READ\"]})".into(),
        ));
    }
    if entries.len() > MAX_ACL_ENTRIES {
        return Err(ApiError::InvalidArgument(format!(
            "acl has {} entries; at most {MAX_ACL_ENTRIES} are allowed",
            entries.len()
        )));
    }
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let principal = Principal::parse(&e.principal)
            .map_err(|why| ApiError::InvalidArgument(format!("acl[{i}]: {why}")))?;
        if e.permissions.is_empty() {
            return Err(ApiError::InvalidArgument(format!(
                "acl[{i}] ({principal}) grants no permission; give at least one of READ, WRITE, CREATE, DELETE, ADMIN"
            )));
        }
        let mut perms = Perms::default();
        for &p in &e.permissions {
            let bit = match pb::Permission::try_from(p) {
                Ok(pb::Permission::Read) => Perms::READ,
                Ok(pb::Permission::Write) => Perms::WRITE,
                Ok(pb::Permission::Create) => Perms::CREATE,
                Ok(pb::Permission::Delete) => Perms::DELETE,
                Ok(pb::Permission::Admin) => Perms::ADMIN,
                _ => {
                    return Err(ApiError::InvalidArgument(format!(
                        "acl[{i}] ({principal}): permission {p} is not one of READ, WRITE, CREATE, DELETE, ADMIN"
                    )))
                }
            };
            perms = perms.union(bit);
        }
        out.push(AclEntry { principal, perms });
    }
    Ok(Some(out))
}

/// A user or role name field, checked.
pub fn name(field: &str, value: &str) -> Result<(), ApiError> {
    check_name(value).map_err(|why| ApiError::InvalidArgument(format!("{field}: {why}")))
}

/// A password field, checked (not its strength: that is the operator's policy).
pub fn password(value: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::InvalidArgument(format!(
            "password must be 1 to {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}
