//! Parsing of the endpoints a client is given: `host:port`, `http://host:port`, with
//! the scheme and the port (2479) optional.

use tonic::transport::Uri;

use crate::error::{Error, Result};

/// Port of a member's client API when an endpoint names none.
pub const DEFAULT_PORT: u16 = 2479;

/// Normalises one endpoint to `http://host:port`.
///
/// Accepts `127.0.0.1:2479`, `localhost`, `[::1]:2479`, `http://host:port` and a
/// trailing `/`. Rejects other schemes (TLS is not supported yet), paths, queries
/// and anything that is not a host.
pub(crate) fn parse_endpoint(endpoint: &str) -> Result<Uri> {
    let invalid = |message: &str| Error::InvalidEndpoint {
        endpoint: endpoint.to_string(),
        message: message.to_string(),
    };
    let trimmed = endpoint.trim();
    if trimmed.is_empty() {
        return Err(invalid("empty endpoint"));
    }
    let with_scheme = match trimmed.split_once("://") {
        Some(("http", _)) => trimmed.to_string(),
        Some(("https", _)) => return Err(invalid("TLS (https) is not supported yet; use http")),
        Some((scheme, _)) => {
            return Err(invalid(&format!(
                "unsupported scheme {scheme:?}; use http://host:port or host:port"
            )))
        }
        None => format!("http://{trimmed}"),
    };
    let uri: Uri = with_scheme
        .parse()
        .map_err(|e| invalid(&format!("not a host:port ({e})")))?;
    let Some(authority) = uri.authority() else {
        return Err(invalid("missing host"));
    };
    if authority.host().is_empty() {
        return Err(invalid("missing host"));
    }
    if authority.as_str().contains('@') {
        return Err(invalid("user info is not supported"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(invalid("an endpoint is host:port, without a path"));
    }
    // `host()` is a prefix of the authority (user info is rejected above).
    let port = match &authority.as_str()[authority.host().len()..] {
        "" => DEFAULT_PORT,
        rest => rest
            .strip_prefix(':')
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|&p| p != 0)
            .ok_or_else(|| invalid("the port must be a number from 1 to 65535"))?,
    };
    format!("http://{}:{port}", authority.host())
        .parse()
        .map_err(|e| invalid(&format!("not a host:port ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(endpoint: &str) -> String {
        parse_endpoint(endpoint)
            .unwrap_or_else(|e| panic!("{endpoint:?} should parse: {e}"))
            .to_string()
    }

    #[test]
    fn accepts_host_port_with_or_without_scheme() {
        assert_eq!(ok("127.0.0.1:2479"), "http://127.0.0.1:2479/");
        assert_eq!(ok("http://127.0.0.1:2489"), "http://127.0.0.1:2489/");
        assert_eq!(ok(" http://127.0.0.1:2489/ "), "http://127.0.0.1:2489/");
        assert_eq!(ok("corral-0.corral:9000"), "http://corral-0.corral:9000/");
        assert_eq!(ok("[::1]:2479"), "http://[::1]:2479/");
    }

    #[test]
    fn missing_port_defaults_to_2479() {
        assert_eq!(ok("localhost"), "http://localhost:2479/");
        assert_eq!(ok("http://10.0.0.1"), "http://10.0.0.1:2479/");
    }

    #[test]
    fn rejects_what_is_not_a_plain_http_endpoint() {
        for bad in [
            "",
            "   ",
            "https://127.0.0.1:2479",
            "ftp://127.0.0.1:2479",
            "http://127.0.0.1:2479/v1",
            "http://127.0.0.1:2479?x=1",
            "http://user@127.0.0.1:2479",
            "127.0.0.1:notaport",
            "127.0.0.1:0",
            "127.0.0.1:",
            "127.0.0.1:70000",
            "http://",
        ] {
            match parse_endpoint(bad) {
                Err(Error::InvalidEndpoint { endpoint, message }) => {
                    assert_eq!(endpoint, bad);
                    assert!(!message.is_empty());
                }
                other => panic!("{bad:?} should be rejected, got {other:?}"),
            }
        }
    }
}
