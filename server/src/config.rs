//! One configuration schema for flags, `CORRAL_*` environment variables and the TOML
//! file. Precedence: flag > environment > file > default. `validate` names the field
//! and the rule for every refusal.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::tls::{PeerTlsFiles, ServerTlsFiles};

/// Largest `max-data-bytes`: a znode's data plus framing must fit one 4 MiB gRPC message.
pub const MAX_DATA_BYTES_LIMIT: u64 = 3 << 20;

/// Server configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Config {
    /// This member's Raft id (≥ 1).
    pub node_id: u64,
    /// Where RocksDB and snapshots live.
    pub data_dir: PathBuf,
    /// gRPC client API address.
    pub client_addr: String,
    /// Raft peer address (must match this member's entry in `initial-cluster`).
    pub peer_addr: String,
    /// HTTP address for metrics and health.
    pub http_addr: String,
    /// Initial members as `id=peer-address,...`; empty means just this member.
    pub initial_cluster: String,
    /// Join an existing cluster: do not bootstrap; wait to be added with MemberAdd.
    pub join: bool,
    /// Largest znode data, in bytes.
    pub max_data_bytes: u64,
    /// Leader heartbeat interval, ms.
    pub heartbeat_interval_ms: u64,
    /// Lower bound of the randomized election timeout, ms.
    pub election_timeout_min_ms: u64,
    /// Upper bound of the randomized election timeout, ms.
    pub election_timeout_max_ms: u64,
    /// Build a snapshot after this many log entries since the last one.
    pub snapshot_every_entries: u64,
    /// Log entries kept behind the latest snapshot.
    pub logs_to_keep: u64,
    /// Most client commands batched into one log entry.
    pub max_batch: usize,
    /// Event history kept for watches: at most this many revisions back.
    pub history_retain_revisions: i64,
    /// Event history kept for watches: at most this old, ms.
    pub history_retain_ms: u64,
    /// Results of requests with a request id are kept this long after the client's
    /// last request, ms (retries within it are answered, not re-applied).
    pub request_id_window_ms: u64,
    /// Skip fsync. UNSAFE: acknowledged writes can be lost on a crash; tests only.
    pub unsafe_no_fsync: bool,
    /// Dial these members at these addresses instead of the peer addresses in the
    /// membership: `id=host:port,...`. For port forwarding between networks, and how
    /// the fault tests put a controllable proxy on every link between two members.
    pub peer_routes: String,
    /// Serve `PUT /debug/disk-delay-ms` on the HTTP port, which makes every fsync this
    /// long slower. UNSAFE: for fault-injection tests only, never in production.
    pub unsafe_fault_injection: bool,
    /// Log filter (tracing `EnvFilter` syntax), e.g. "info" or "corral_server=debug".
    pub log_filter: String,
    /// Lifetime of the auth tokens this member issues, ms (1 s to 1 day).
    pub auth_token_ttl_ms: u64,
    /// PEM certificate chain (leaf first) served on the client and HTTP ports; with
    /// `tls-key`, turns TLS on for both. Unset: plaintext.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls-cert`.
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle: clients of the client and HTTP ports must present a certificate
    /// signed by one of these (mTLS). Needs `tls-cert`.
    pub tls_client_ca: Option<PathBuf>,
    /// PEM certificate chain this member presents to other members, serving and
    /// dialling; with `peer-tls-key` and `peer-tls-ca`, turns mutual TLS on for the
    /// peer port. Unset: plaintext.
    pub peer_tls_cert: Option<PathBuf>,
    /// PEM private key of `peer-tls-cert`.
    pub peer_tls_key: Option<PathBuf>,
    /// PEM CA bundle every member's peer certificate must be signed by.
    pub peer_tls_ca: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            node_id: 1,
            data_dir: PathBuf::from("./corral-data"),
            client_addr: "127.0.0.1:2479".into(),
            peer_addr: "127.0.0.1:2480".into(),
            http_addr: "127.0.0.1:2481".into(),
            initial_cluster: String::new(),
            join: false,
            max_data_bytes: 1 << 20,
            heartbeat_interval_ms: 150,
            election_timeout_min_ms: 750,
            election_timeout_max_ms: 1500,
            snapshot_every_entries: 10_000,
            logs_to_keep: 1_000,
            max_batch: 1024,
            history_retain_revisions: 100_000,
            history_retain_ms: 3_600_000,
            request_id_window_ms: 600_000,
            unsafe_no_fsync: false,
            peer_routes: String::new(),
            unsafe_fault_injection: false,
            log_filter: "info,openraft=warn".into(),
            auth_token_ttl_ms: 5 * 60 * 1000,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            peer_tls_cert: None,
            peer_tls_key: None,
            peer_tls_ca: None,
        }
    }
}

/// A configuration value that breaks a rule.
#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    /// One field's value is invalid.
    #[error("{field} ({value}): {rule}")]
    Invalid {
        /// Field name as written in the TOML file / flag.
        field: &'static str,
        /// The offending value.
        value: String,
        /// The rule it breaks.
        rule: String,
    },
    /// The TOML file could not be read or parsed.
    #[error("config file {path}: {reason}")]
    File {
        /// File path.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

fn invalid(field: &'static str, value: impl ToString, rule: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        value: value.to_string(),
        rule: rule.into(),
    }
}

impl Config {
    /// Reads a TOML file (unknown keys are refused so typos do not pass silently).
    pub fn from_toml_file(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_toml_str(&text).map_err(|reason| ConfigError::File {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Parses TOML text.
    pub fn from_toml_str(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The initial members (id → peer address), defaulting to just this member.
    pub fn initial_members(&self) -> Result<BTreeMap<u64, String>, ConfigError> {
        if self.initial_cluster.trim().is_empty() {
            return Ok(BTreeMap::from([(self.node_id, self.peer_addr.clone())]));
        }
        parse_member_list("initial-cluster", &self.initial_cluster)
    }

    /// The peer routes (id → address to dial instead of the membership's).
    pub fn peer_routes(&self) -> Result<BTreeMap<u64, String>, ConfigError> {
        if self.peer_routes.trim().is_empty() {
            return Ok(BTreeMap::new());
        }
        parse_member_list("peer-routes", &self.peer_routes)
    }

    /// The client and HTTP ports' TLS files, if TLS is on (after [`Config::validate`]).
    pub fn client_tls(&self) -> Option<ServerTlsFiles> {
        Some(ServerTlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
            client_ca: self.tls_client_ca.clone(),
        })
    }

    /// The peer port's mutual-TLS files, if it is on (after [`Config::validate`]).
    pub fn peer_tls(&self) -> Option<PeerTlsFiles> {
        Some(PeerTlsFiles {
            cert: self.peer_tls_cert.clone()?,
            key: self.peer_tls_key.clone()?,
            ca: self.peer_tls_ca.clone()?,
        })
    }

    /// TLS settings that make sense only together. The files themselves are checked
    /// when the member starts (`tls::ServerTls::load`, `tls::PeerTls::load`).
    fn validate_tls(&self) -> Result<(), ConfigError> {
        let shown = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        let given = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| !p.as_os_str().is_empty());
        let client = [
            ("tls-cert", &self.tls_cert),
            ("tls-key", &self.tls_key),
            ("tls-client-ca", &self.tls_client_ca),
        ];
        let peer = [
            ("peer-tls-cert", &self.peer_tls_cert),
            ("peer-tls-key", &self.peer_tls_key),
            ("peer-tls-ca", &self.peer_tls_ca),
        ];
        for (field, value) in client.iter().chain(peer.iter()) {
            if value.is_some() && !given(value) {
                return Err(invalid(field, "\"\"", "must name a file, or be left out"));
            }
        }
        match (given(&self.tls_cert), given(&self.tls_key)) {
            (true, false) => {
                return Err(invalid(
                    "tls-cert",
                    shown(&self.tls_cert),
                    "needs tls-key, the certificate's private key",
                ))
            }
            (false, true) => {
                return Err(invalid(
                    "tls-key",
                    shown(&self.tls_key),
                    "needs tls-cert, the certificate of this key",
                ))
            }
            _ => {}
        }
        if given(&self.tls_client_ca) && !given(&self.tls_cert) {
            return Err(invalid(
                "tls-client-ca",
                shown(&self.tls_client_ca),
                "needs tls-cert and tls-key: client certificates are asked for only over TLS",
            ));
        }
        let peer_given = peer.iter().filter(|(_, v)| given(v)).count();
        if peer_given > 0 && peer_given < peer.len() {
            let (field, value) = peer
                .iter()
                .find(|(_, v)| given(v))
                .copied()
                .unwrap_or(peer[0]);
            let missing: Vec<&str> = peer
                .iter()
                .filter(|(_, v)| !given(v))
                .map(|(f, _)| *f)
                .collect();
            return Err(invalid(
                field,
                shown(value),
                format!(
                    "peer TLS is mutual and needs peer-tls-cert, peer-tls-key and peer-tls-ca \
                     together; missing: {}",
                    missing.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// Checks every rule; the first broken one is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.node_id == 0 {
            return Err(invalid("node-id", self.node_id, "must be ≥ 1"));
        }
        for (field, value) in [
            ("client-addr", &self.client_addr),
            ("peer-addr", &self.peer_addr),
            ("http-addr", &self.http_addr),
        ] {
            value
                .parse::<SocketAddr>()
                .map_err(|_| invalid(field, value, "must be ip:port, e.g. 127.0.0.1:2479"))?;
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data-dir", "\"\"", "must not be empty"));
        }
        if self.max_data_bytes == 0 || self.max_data_bytes > MAX_DATA_BYTES_LIMIT {
            return Err(invalid(
                "max-data-bytes",
                self.max_data_bytes,
                format!("must be between 1 and {MAX_DATA_BYTES_LIMIT}"),
            ));
        }
        if !(1000..=86_400_000).contains(&self.auth_token_ttl_ms) {
            return Err(invalid(
                "auth-token-ttl-ms",
                self.auth_token_ttl_ms,
                "must be between 1000 (1 s) and 86400000 (1 day)",
            ));
        }
        if self.election_timeout_min_ms >= self.election_timeout_max_ms {
            return Err(invalid(
                "election-timeout-min-ms",
                self.election_timeout_min_ms,
                format!(
                    "must be < election-timeout-max-ms ({})",
                    self.election_timeout_max_ms
                ),
            ));
        }
        if self.heartbeat_interval_ms == 0
            || self.heartbeat_interval_ms >= self.election_timeout_min_ms
        {
            return Err(invalid(
                "heartbeat-interval-ms",
                self.heartbeat_interval_ms,
                format!(
                    "must be > 0 and < election-timeout-min-ms ({})",
                    self.election_timeout_min_ms
                ),
            ));
        }
        if self.snapshot_every_entries == 0 {
            return Err(invalid("snapshot-every-entries", 0, "must be ≥ 1"));
        }
        if self.history_retain_revisions < 1 {
            return Err(invalid(
                "history-retain-revisions",
                self.history_retain_revisions,
                "must be ≥ 1",
            ));
        }
        if self.history_retain_ms < 1000 {
            return Err(invalid(
                "history-retain-ms",
                self.history_retain_ms,
                "must be ≥ 1000",
            ));
        }
        if self.request_id_window_ms < 1000 {
            return Err(invalid(
                "request-id-window-ms",
                self.request_id_window_ms,
                "must be ≥ 1000",
            ));
        }
        if self.max_batch == 0 {
            return Err(invalid("max-batch", 0, "must be ≥ 1"));
        }
        self.peer_routes()?;
        self.validate_tls()?;
        let members = self.initial_members()?;
        match members.get(&self.node_id) {
            None => {
                return Err(invalid(
                    "initial-cluster",
                    &self.initial_cluster,
                    format!("must list this member (node-id {})", self.node_id),
                ))
            }
            Some(addr) if *addr != self.peer_addr => {
                return Err(invalid(
                    "initial-cluster",
                    &self.initial_cluster,
                    format!(
                        "lists {addr} for node {} but peer-addr is {}",
                        self.node_id, self.peer_addr
                    ),
                ))
            }
            Some(_) => {}
        }
        Ok(())
    }
}

/// Parses `id=ip:port,...` (the `field` names the setting in errors).
fn parse_member_list(
    field: &'static str,
    text: &str,
) -> Result<BTreeMap<u64, String>, ConfigError> {
    let mut members = BTreeMap::new();
    for part in text.split(',') {
        let part = part.trim();
        let (id, addr) = part
            .split_once('=')
            .ok_or_else(|| invalid(field, part, "each member must be written id=host:port"))?;
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| invalid(field, part, "member id must be a positive integer"))?;
        if id == 0 {
            return Err(invalid(field, part, "member id must be ≥ 1"));
        }
        let addr = addr.trim();
        addr.parse::<SocketAddr>().map_err(|_| {
            invalid(
                field,
                part,
                "peer address must be ip:port, e.g. 127.0.0.1:2480",
            )
        })?;
        if members.insert(id, addr.to_string()).is_some() {
            return Err(invalid(field, part, "member id listed twice"));
        }
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn example_file_loads_and_validates() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let cfg = Config::from_toml_file(&path).expect("example parses");
        assert_eq!(cfg.validate(), Ok(()));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Config::from_toml_str("nod-id = 3").unwrap_err();
        assert!(err.contains("nod-id"), "{err}");
    }

    #[test]
    fn errors_name_field_and_rule() {
        let cfg = Config {
            election_timeout_min_ms: 150,
            election_timeout_max_ms: 100,
            ..Config::default()
        };
        assert_eq!(
            cfg.validate().unwrap_err().to_string(),
            "election-timeout-min-ms (150): must be < election-timeout-max-ms (100)"
        );
        let cfg = Config {
            initial_cluster: "1=127.0.0.1:2480,2=nothere".into(),
            ..Config::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("initial-cluster (2=nothere)"));
        let cfg = Config {
            node_id: 3,
            initial_cluster: "1=127.0.0.1:2480,2=127.0.0.1:2490".into(),
            ..Config::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("must list this member"));
        let cfg = Config {
            client_addr: "localhost".into(),
            ..Config::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("client-addr (localhost)"));
    }

    #[test]
    fn initial_cluster_parses() {
        let cfg = Config {
            node_id: 2,
            peer_addr: "127.0.0.1:2490".into(),
            initial_cluster: "1=127.0.0.1:2480, 2=127.0.0.1:2490,3=127.0.0.1:2500".into(),
            ..Config::default()
        };
        assert_eq!(cfg.validate(), Ok(()));
        assert_eq!(cfg.initial_members().unwrap().len(), 3);
    }

    #[test]
    fn tls_settings_that_belong_together_are_checked_together() {
        let path = |p: &str| Some(PathBuf::from(p));
        let ok = Config {
            tls_cert: path("c.pem"),
            tls_key: path("k.pem"),
            tls_client_ca: path("ca.pem"),
            peer_tls_cert: path("pc.pem"),
            peer_tls_key: path("pk.pem"),
            peer_tls_ca: path("pca.pem"),
            ..Config::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        assert!(ok.client_tls().is_some() && ok.peer_tls().is_some());
        assert!(Config::default().client_tls().is_none() && Config::default().peer_tls().is_none());
        for (cfg, starts) in [
            (
                Config {
                    tls_key: None,
                    ..ok.clone()
                },
                "tls-cert (c.pem): needs tls-key",
            ),
            (
                Config {
                    tls_cert: None,
                    tls_client_ca: None,
                    ..ok.clone()
                },
                "tls-key (k.pem): needs tls-cert",
            ),
            (
                Config {
                    tls_cert: None,
                    tls_key: None,
                    ..ok.clone()
                },
                "tls-client-ca (ca.pem): needs tls-cert",
            ),
            (
                Config {
                    peer_tls_ca: None,
                    ..ok.clone()
                },
                "peer-tls-cert (pc.pem): peer TLS is mutual",
            ),
            (
                Config {
                    peer_tls_cert: None,
                    peer_tls_key: None,
                    ..ok.clone()
                },
                "peer-tls-ca (pca.pem): peer TLS is mutual",
            ),
            (
                Config {
                    tls_cert: path(""),
                    ..ok.clone()
                },
                "tls-cert (\"\"): must name a file",
            ),
        ] {
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.starts_with(starts), "{err}");
        }
    }

    #[test]
    fn tls_settings_come_from_the_toml_file() {
        let cfg = Config::from_toml_str(
            "tls-cert = \"/etc/corral/tls.crt\"\ntls-key = \"/etc/corral/tls.key\"\n\
             peer-tls-cert = \"p.crt\"\npeer-tls-key = \"p.key\"\npeer-tls-ca = \"ca.crt\"\n",
        )
        .expect("parses");
        assert_eq!(cfg.tls_cert, Some(PathBuf::from("/etc/corral/tls.crt")));
        assert_eq!(cfg.validate(), Ok(()));
        assert_eq!(cfg.peer_tls().map(|p| p.ca), Some(PathBuf::from("ca.crt")));
    }

    #[test]
    fn peer_routes_parse_and_are_checked() {
        let cfg = Config {
            peer_routes: "2=127.0.0.1:3001, 3=127.0.0.1:3002".into(),
            ..Config::default()
        };
        assert_eq!(cfg.validate(), Ok(()));
        assert_eq!(
            cfg.peer_routes().unwrap().get(&3).map(String::as_str),
            Some("127.0.0.1:3002")
        );
        let cfg = Config {
            peer_routes: "2=nowhere".into(),
            ..Config::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("peer-routes (2=nowhere)"));
    }
}
