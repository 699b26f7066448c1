//! `corral.v1.Lock`: thin handlers over `coord::lock`.

use corral_proto::v1 as pb;
use corral_proto::v1::lock_server::Lock;
use tonic::{Request, Response, Status};

use super::access;
use super::errors::ApiError;
use super::ApiContext;
use crate::acl::Perms;
use crate::coord;
use crate::store::path;

/// The Lock service.
pub struct LockService {
    cx: ApiContext,
}

impl LockService {
    /// Lock service over `cx`.
    pub fn new(cx: ApiContext) -> Self {
        Self { cx }
    }
}

/// Checks a lock or election name: a valid path other than the root.
pub fn check_name(field: &str, name: &str) -> Result<(), ApiError> {
    path::validate(name).map_err(|source| ApiError::InvalidPath {
        field: field.to_string(),
        source,
        path: name.to_string(),
    })?;
    if name == "/" {
        return Err(ApiError::InvalidArgument(format!(
            "{field} must not be \"/\"; use a path like \"/locks/db\""
        )));
    }
    Ok(())
}

/// Checks the lease of Unlock, Resign and Proclaim: the one the entry was taken with.
pub fn check_holder_lease(lease_id: i64, taken_by: &str) -> Result<(), ApiError> {
    if lease_id <= 0 {
        return Err(ApiError::InvalidArgument(format!(
            "lease_id must be ≥ 1 (got {lease_id}); pass the lease given to {taken_by}"
        )));
    }
    Ok(())
}

/// Checks the lease and wait arguments shared by Lock and Campaign.
pub fn check_lease_and_wait(lease_id: i64, wait_timeout_ms: i64) -> Result<(), ApiError> {
    if lease_id <= 0 {
        return Err(ApiError::InvalidArgument(format!(
            "lease_id must be ≥ 1 (got {lease_id}); grant one with Lease/Grant"
        )));
    }
    if wait_timeout_ms < 0 {
        return Err(ApiError::InvalidArgument(format!(
            "wait_timeout_ms must be ≥ 0 (got {wait_timeout_ms}); 0 waits until the call's deadline"
        )));
    }
    Ok(())
}

#[tonic::async_trait]
impl Lock for LockService {
    async fn lock(
        &self,
        req: Request<pb::LockRequest>,
    ) -> Result<Response<pb::LockResponse>, Status> {
        let who = self.cx.who(&req).await?;
        let r = req.into_inner();
        check_name("name", &r.name)?;
        check_lease_and_wait(r.lease_id, r.wait_timeout_ms)?;
        access::require_queue(
            &self.cx.node,
            &who,
            &r.name,
            r.lease_id,
            &[Perms::CREATE, Perms::READ],
        )
        .await?;
        let held = coord::lock::lock(self.cx.node.clone(), &r.name, r.lease_id, r.wait_timeout_ms)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::LockResponse {
            header: self.cx.header(self.cx.node.applied_revision()),
            key: held.key,
            fencing_token: held.fencing_token,
        }))
    }

    async fn unlock(
        &self,
        req: Request<pb::UnlockRequest>,
    ) -> Result<Response<pb::UnlockResponse>, Status> {
        let who = self.cx.who(&req).await?;
        let r = req.into_inner();
        check_name("key", &r.key)?;
        check_holder_lease(r.lease_id, "Lock")?;
        access::require_queue(&self.cx.node, &who, &r.key, r.lease_id, &[]).await?;
        coord::lock::unlock(&self.cx.node, &r.key, r.lease_id)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::UnlockResponse {
            header: self.cx.header(self.cx.node.applied_revision()),
        }))
    }
}
