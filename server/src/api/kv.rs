//! `corral.v1.KV`: thin handlers over the Raft node: writes are proposed, reads go
//! through `RaftNode::read` (consistency, one snapshot, its revision).

use corral_proto::v1 as pb;
use corral_proto::v1::kv_server::Kv;
use tonic::{Request, Response, Status};

use super::access;
use super::convert;
use super::errors::ApiError;
use super::validate::{self, Limits};
use super::ApiContext;
use crate::acl::{default_acl, Perms};
use crate::raft::Consistency;
use crate::store::command::{Command, CommandResult, KvError, OpOutput, Output, SetAclCmd};
use crate::store::read;

/// The KV service.
pub struct KvService {
    cx: ApiContext,
}

impl KvService {
    /// KV service over `cx`.
    pub fn new(cx: ApiContext) -> Self {
        Self { cx }
    }

    fn limits(&self) -> Limits {
        Limits {
            max_data_bytes: self.cx.max_data_bytes,
        }
    }

    /// Proposes a write and returns its output and revision, or its error.
    async fn write(&self, command: Command) -> Result<(Output, i64), ApiError> {
        let CommandResult { revision, result } = self.cx.node.propose(command).await?;
        Ok((result?, revision))
    }
}

/// The request's read consistency, checked.
fn consistency(value: i32) -> Result<Consistency, ApiError> {
    Ok(match validate::consistency(value)? {
        pb::Consistency::Linearizable => Consistency::Linearizable,
        _ => Consistency::Serializable,
    })
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn create(
        &self,
        req: Request<pb::CreateRequest>,
    ) -> Result<Response<pb::CreateResponse>, Status> {
        let cmd = validate::create(req.get_ref(), self.limits())?;
        let cmd = match validate::acl(&req.get_ref().acl, true)? {
            Some(acl) => Command::CreateWithAcl(cmd, acl),
            None => Command::Create(cmd),
        };
        let cmd = self.cx.client_command(&req, cmd).await?;
        let (out, revision) = self.write(cmd).await?;
        let (path, stat) = out
            .into_op()
            .and_then(OpOutput::into_create)
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::CreateResponse {
            header: self.cx.header(revision),
            path,
            stat: Some(convert::stat(&stat)),
        }))
    }

    async fn put(&self, req: Request<pb::PutRequest>) -> Result<Response<pb::PutResponse>, Status> {
        let cmd = validate::put(req.get_ref(), self.limits())?;
        let cmd = self.cx.client_command(&req, Command::Put(cmd)).await?;
        let (out, revision) = self.write(cmd).await?;
        let (stat, prev) = out
            .into_op()
            .and_then(OpOutput::into_put)
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::PutResponse {
            header: self.cx.header(revision),
            stat: Some(convert::stat(&stat)),
            prev_node: prev.map(convert::node),
        }))
    }

    async fn get(&self, req: Request<pb::GetRequest>) -> Result<Response<pb::GetResponse>, Status> {
        let r = req.get_ref();
        let q = validate::get(r)?;
        let who = self.cx.who(&req).await?;
        let (node, revision) = self
            .cx
            .node
            .read(consistency(r.consistency)?, |tree| {
                access::require(tree, &who, &q.path, Perms::READ)?;
                read::get(tree, &q.path, q.stat_only)?.ok_or_else(|| {
                    ApiError::Kv(KvError::NodeNotFound {
                        path: q.path.clone(),
                    })
                })
            })
            .await?;
        Ok(Response::new(pb::GetResponse {
            header: self.cx.header(revision),
            node: Some(convert::node(node)),
        }))
    }

    async fn list(
        &self,
        req: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListResponse>, Status> {
        let r = req.get_ref();
        let q = validate::list(r)?;
        let who = self.cx.who(&req).await?;
        // A large page is a scan: read_scan keeps it off the async workers.
        let (page, revision) = self
            .cx
            .node
            .read_scan(consistency(r.consistency)?, move |tree| {
                access::require(tree, &who, &q.path, Perms::READ)?;
                let mut page = read::list(tree, &q)?;
                // Znodes the caller may not read are left out, not even named. The page
                // token still moves past them (next_after is the scan's position).
                if let Some(caller) = access::caller_in(tree, &who)? {
                    let mut kept = Vec::with_capacity(page.nodes.len());
                    for n in page.nodes {
                        if access::may_read(tree, Some(&caller), &n.path)? {
                            kept.push(n);
                        }
                    }
                    page.nodes = kept;
                }
                Ok::<_, ApiError>(page)
            })
            .await?;
        let mut resp = convert::list_page(page);
        resp.header = self.cx.header(revision);
        Ok(Response::new(resp))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let cmd = validate::delete(req.get_ref())?;
        let cmd = self.cx.client_command(&req, Command::Delete(cmd)).await?;
        let (out, revision) = self.write(cmd).await?;
        let deleted = out
            .into_op()
            .and_then(OpOutput::into_delete)
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::DeleteResponse {
            header: self.cx.header(revision),
            deleted,
        }))
    }

    async fn txn(&self, req: Request<pb::TxnRequest>) -> Result<Response<pb::TxnResponse>, Status> {
        let cmd = validate::txn(req.get_ref(), self.limits())?;
        let cmd = self.cx.client_command(&req, Command::Txn(cmd)).await?;
        let (out, revision) = self.write(cmd).await?;
        let (succeeded, results) = out.into_txn().map_err(ApiError::from)?;
        Ok(Response::new(pb::TxnResponse {
            header: self.cx.header(revision),
            succeeded,
            results: results.into_iter().map(convert::op_result).collect(),
        }))
    }

    async fn get_acl(
        &self,
        req: Request<pb::GetAclRequest>,
    ) -> Result<Response<pb::GetAclResponse>, Status> {
        let r = req.get_ref();
        let path = validate::path_field("path", &r.path)?;
        let who = self.cx.who(&req).await?;
        let ((acl, stat), revision) = self
            .cx
            .node
            .read(consistency(r.consistency)?, |tree| {
                let rec = tree
                    .node(&path)?
                    .ok_or_else(|| ApiError::Kv(KvError::NodeNotFound { path: path.clone() }))?;
                access::require(tree, &who, &path, Perms::ADMIN)?;
                let acl = tree.acl(&path)?.unwrap_or_else(default_acl);
                Ok::<_, ApiError>((acl, rec.stat))
            })
            .await?;
        Ok(Response::new(pb::GetAclResponse {
            header: self.cx.header(revision),
            acl: convert::acl(&acl),
            stat: Some(convert::stat(&stat)),
        }))
    }

    async fn set_acl(
        &self,
        req: Request<pb::SetAclRequest>,
    ) -> Result<Response<pb::SetAclResponse>, Status> {
        let r = req.get_ref();
        let path = validate::path_field("path", &r.path)?;
        let acl = validate::acl(&r.acl, false)?.unwrap_or_default();
        let cmd = Command::SetAcl(SetAclCmd {
            path,
            acl,
            expected_acl_version: r.expected_acl_version,
        });
        let cmd = self.cx.client_command(&req, cmd).await?;
        let (out, revision) = self.write(cmd).await?;
        let stat = out.into_stat().map_err(ApiError::from)?;
        Ok(Response::new(pb::SetAclResponse {
            header: self.cx.header(revision),
            stat: Some(convert::stat(&stat)),
        }))
    }
}
