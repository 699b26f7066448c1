//! `corral.v1.KV`: thin handlers over the Raft node: writes are proposed, reads go
//! through `RaftNode::read` (consistency, one snapshot, its revision).

use corral_proto::v1 as pb;
use corral_proto::v1::kv_server::Kv;
use tonic::{Request, Response, Status};

use super::convert;
use super::errors::ApiError;
use super::validate::{self, Limits};
use super::{with_request_id, ApiContext};
use crate::raft::Consistency;
use crate::store::command::{Command, CommandResult, KvError, OpOutput, Output};
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
        let cmd = with_request_id(&req, Command::Create(cmd))?;
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
        let cmd = with_request_id(&req, Command::Put(cmd))?;
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
        let (node, revision) = self
            .cx
            .node
            .read(consistency(r.consistency)?, |tree| {
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
        // A large page is a scan: read_scan keeps it off the async workers.
        let (page, revision) = self
            .cx
            .node
            .read_scan(consistency(r.consistency)?, move |tree| {
                read::list(tree, &q).map_err(ApiError::from)
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
        let cmd = with_request_id(&req, Command::Delete(cmd))?;
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
        let cmd = with_request_id(&req, Command::Txn(cmd))?;
        let (out, revision) = self.write(cmd).await?;
        let (succeeded, results) = out.into_txn().map_err(ApiError::from)?;
        Ok(Response::new(pb::TxnResponse {
            header: self.cx.header(revision),
            succeeded,
            results: results.into_iter().map(convert::op_result).collect(),
        }))
    }
}
