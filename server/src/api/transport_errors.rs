//! A layer on the client port that gives statuses tonic raises by itself (a request
//! that does not decode, or is over the size limit) the error table's form: they are
//! the client's fault, so INVALID_ARGUMENT with a reason, not INTERNAL ("failed to
//! decode Protobuf message") or OUT_OF_RANGE quoting the transport. Only responses
//! without the table's ErrorInfo are touched, so a status is told apart by its shape,
//! never by its text. Streams map their incoming errors with the same function.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::Status;
use tower::{Layer, Service};

use super::errors::{from_transport, TransportLimits};

/// The layer: wraps every service of the client port.
#[derive(Debug, Clone, Copy)]
pub struct TransportErrorsLayer {
    limits: TransportLimits,
}

impl TransportErrorsLayer {
    /// A layer naming `limits` in its messages.
    pub fn new(limits: TransportLimits) -> Self {
        Self { limits }
    }
}

impl<S> Layer<S> for TransportErrorsLayer {
    type Service = TransportErrors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TransportErrors {
            inner,
            limits: self.limits,
        }
    }
}

/// The service the layer makes.
#[derive(Debug, Clone)]
pub struct TransportErrors<S> {
    inner: S,
    limits: TransportLimits,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for TransportErrors<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let limits = self.limits;
        let response = self.inner.call(req);
        Box::pin(async move {
            let mut response = response.await?;
            rewrite(response.headers_mut(), limits);
            Ok(response)
        })
    }
}

/// Rewrites a trailers-only error response (status in the headers, as tonic sends an
/// error raised before the handler) that lacks the table's ErrorInfo.
fn rewrite(headers: &mut http::HeaderMap, limits: TransportLimits) {
    if headers.contains_key("grpc-status-details-bin") {
        return;
    }
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    let code = status.code();
    let mapped = from_transport(status, limits);
    if mapped.code() == code {
        return;
    }
    headers.remove("grpc-status");
    headers.remove("grpc-message");
    if let Err(e) = mapped.add_header(headers) {
        tracing::warn!("could not rewrite a transport error: {e}");
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;

    const LIMITS: TransportLimits = TransportLimits {
        message_bytes: 2 << 20,
        data_bytes: 1 << 20,
    };

    fn headers_of(status: &Status) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        status.add_header(&mut h).expect("headers");
        h
    }

    #[test]
    fn an_undecodable_request_becomes_invalid_argument() {
        let mut h = headers_of(&Status::internal(
            "failed to decode Protobuf message: invalid string value: data is not UTF-8 encoded",
        ));
        rewrite(&mut h, LIMITS);
        let s = Status::from_header_map(&h).expect("status");
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(
            s.get_details_error_info().expect("info").reason,
            "INVALID_ARGUMENT"
        );
        assert!(s.message().contains("UTF-8"), "{}", s.message());
    }

    #[test]
    fn a_request_over_the_transport_limit_becomes_data_too_large() {
        let mut h = headers_of(&Status::out_of_range(
            "Error, decoded message length too large: found 2097170 bytes, the limit is: 2097152 bytes",
        ));
        rewrite(&mut h, LIMITS);
        let s = Status::from_header_map(&h).expect("status");
        assert_eq!(s.code(), Code::InvalidArgument);
        let info = s.get_details_error_info().expect("info");
        assert_eq!(info.reason, "DATA_TOO_LARGE");
        assert_eq!(info.metadata["limit"], (1 << 20).to_string());
        assert!(
            s.message().contains("1048576 bytes per znode"),
            "{}",
            s.message()
        );
    }

    #[test]
    fn the_tables_own_statuses_are_left_alone() {
        let ours = super::super::errors::to_status(super::super::errors::ApiError::Internal(
            "a real bug".into(),
        ));
        let mut h = headers_of(&ours);
        let before = h.clone();
        rewrite(&mut h, LIMITS);
        assert_eq!(h, before);
    }
}
