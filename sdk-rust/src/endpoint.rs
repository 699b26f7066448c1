//! Parsing of the endpoints a client is given: `host:port`, `http://host:port` or
//! `https://host:port`, with the scheme and the port (2479) optional. A client with TLS
//! settings dials every endpoint over TLS, so a bare `host:port` means https then.

use tonic::transport::Uri;

use crate::error::{Error, Result};

/// Port of a member's client API when an endpoint names none.
pub const DEFAULT_PORT: u16 = 2479;

/// Normalises one endpoint to `http://host:port`, or `https://host:port` when `tls`.
///
/// Accepts `127.0.0.1:2479`, `localhost`, `[::1]:2479`, `http://host:port`,
/// `https://host:port` and a trailing `/`. Rejects a scheme that disagrees with `tls`
/// (one client does not mix plaintext and TLS members, and https needs a CA to verify
/// the server), other schemes, paths, queries and anything that is not a host.
pub(crate) fn parse_endpoint(endpoint: &str, tls: bool) -> Result<Uri> {
    let invalid = |message: &str| Error::InvalidEndpoint {
        endpoint: endpoint.to_string(),
        message: message.to_string(),
    };
    let trimmed = endpoint.trim();
    if trimmed.is_empty() {
        return Err(invalid("empty endpoint"));
    }
    let scheme = if tls { "https" } else { "http" };
    let with_scheme = match trimmed.split_once("://") {
        Some((given, _)) if given == scheme => trimmed.to_string(),
        Some(("https", _)) => {
            return Err(invalid(
                "https needs the CA that signed the server's certificate: set \
                 ClientBuilder::tls_ca_file (corralctl --cacert)",
            ))
        }
        Some(("http", _)) => {
            return Err(invalid(
                "plaintext http, but the client is configured for TLS; use host:port \
                 or https://host:port",
            ))
        }
        Some((scheme, _)) => {
            return Err(invalid(&format!(
                "unsupported scheme {scheme:?}; use host:port, http://host:port or \
                 https://host:port"
            )))
        }
        None => format!("{scheme}://{trimmed}"),
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
    format!("{scheme}://{}:{port}", authority.host())
        .parse()
        .map_err(|e| invalid(&format!("not a host:port ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(endpoint: &str) -> String {
        parse_endpoint(endpoint, false)
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
    fn with_tls_bare_and_https_endpoints_are_dialled_over_tls() {
        let tls = |e: &str| {
            parse_endpoint(e, true)
                .unwrap_or_else(|err| panic!("{e:?} should parse: {err}"))
                .to_string()
        };
        assert_eq!(tls("127.0.0.1:2479"), "https://127.0.0.1:2479/");
        assert_eq!(tls("https://localhost:9000/"), "https://localhost:9000/");
        assert_eq!(tls("localhost"), "https://localhost:2479/");
        assert_eq!(tls("[::1]:2479"), "https://[::1]:2479/");
    }

    #[test]
    fn the_scheme_must_agree_with_the_tls_settings() {
        let err = parse_endpoint("http://127.0.0.1:2479", true).expect_err("http with TLS");
        assert!(err.to_string().contains("configured for TLS"), "{err}");
        let err = parse_endpoint("https://127.0.0.1:2479", false).expect_err("https without CA");
        assert!(err.to_string().contains("CA"), "{err}");
        assert!(parse_endpoint("grpc://127.0.0.1:2479", true).is_err());
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
            match parse_endpoint(bad, false) {
                Err(Error::InvalidEndpoint { endpoint, message }) => {
                    assert_eq!(endpoint, bad);
                    assert!(!message.is_empty());
                }
                other => panic!("{bad:?} should be rejected, got {other:?}"),
            }
        }
    }
}
