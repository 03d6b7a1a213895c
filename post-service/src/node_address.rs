//! The node's address and the TLS files of the service (spec §4-5), checked before anything is dialled.
//!
//! ```text
//! host:port            -> http://host:port (plaintext)
//! http://host:port     -> plaintext; refused when TLS files are given (the reference silently ignored them)
//! https://host:port    -> TLS; needs --ca-cert, --cert and --key; the name checked is --domain or the host
//! anything://...       -> refused
//! ```

use std::path::{Path, PathBuf};

use crate::Error;

/// The files of a TLS connection to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA that signed the node's certificate (PEM).
    pub ca_cert: PathBuf,
    /// The service's client certificate (PEM).
    pub cert: PathBuf,
    /// The key of the client certificate (PEM).
    pub key: PathBuf,
}

/// A checked node address, with the TLS settings when it is `https://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddress {
    uri: String,
    host: String,
    tls: Option<(TlsFiles, String)>,
}

impl NodeAddress {
    /// Checks `address` (see the module doc) against the TLS flags.
    ///
    /// # Errors
    /// [`Error::Address`] for a scheme other than http/https, a missing host or port, `http://` with
    /// TLS files, `https://` without all three files, or `--domain` without TLS.
    pub fn parse(
        address: &str,
        ca_cert: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
        domain: Option<&str>,
    ) -> Result<Self, Error> {
        let bad = |reason: String| Error::Address { address: address.to_owned(), reason };
        let (scheme, rest) = match address.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("http".to_owned(), address),
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(bad("expected scheme://host:port with nothing after the port".into()));
        }
        let host = host_of(authority).ok_or_else(|| bad("the host or the port is missing".into()))?;
        let given = [ca_cert.is_some(), cert.is_some(), key.is_some()];
        match scheme.as_str() {
            "http" => {
                if given.iter().any(|g| *g) || domain.is_some() {
                    return Err(bad("TLS flags (--ca-cert, --cert, --key, --domain) need an https:// address; \
                                    http:// would connect in plaintext"
                        .into()));
                }
                Ok(NodeAddress { uri: format!("http://{authority}"), host, tls: None })
            }
            "https" => {
                let (Some(ca_cert), Some(cert), Some(key)) = (ca_cert, cert, key) else {
                    return Err(bad("an https:// address needs --ca-cert, --cert and --key, all three".into()));
                };
                let files = TlsFiles { ca_cert: ca_cert.to_owned(), cert: cert.to_owned(), key: key.to_owned() };
                let domain = domain.map_or_else(|| host.clone(), str::to_owned);
                Ok(NodeAddress { uri: format!("https://{authority}"), host, tls: Some((files, domain)) })
            }
            other => Err(bad(format!("the scheme {other:?} is not supported; use http:// or https://"))),
        }
    }

    /// The URI dialled, with its scheme.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The host part (without brackets for IPv6).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TLS files and the name checked against the node's certificate, for `https://`.
    pub fn tls(&self) -> Option<(&TlsFiles, &str)> {
        self.tls.as_ref().map(|(files, domain)| (files, domain.as_str()))
    }
}

impl std::fmt::Display for NodeAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.uri)
    }
}

/// The host of `host:port` or `[v6]:port`, when both parts are present and the port is a number.
fn host_of(authority: &str) -> Option<String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':')?)
    } else {
        authority.rsplit_once(':')?
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return None;
    }
    Some(host.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn plain(address: &str) -> Result<NodeAddress, Error> {
        NodeAddress::parse(address, None, None, None, None)
    }

    #[test]
    fn schemes() {
        assert_eq!(plain("127.0.0.1:9094").unwrap().uri(), "http://127.0.0.1:9094");
        assert_eq!(plain("http://node:9094/").unwrap().uri(), "http://node:9094");
        assert_eq!(plain("[::1]:9094").unwrap().host(), "::1");
        for bad in ["ftp://node:1", "unix:///tmp/x", "http://node", "http://:80", "http://node:80/path", ""] {
            let err = plain(bad).unwrap_err().to_string();
            assert!(err.contains(bad) || bad.is_empty(), "{err}");
        }
        assert!(plain("grpc://node:1").unwrap_err().to_string().contains("\"grpc\" is not supported"));
    }

    #[test]
    fn tls_needs_https_and_all_three_files() {
        let p = Path::new("x.pem");
        let err = NodeAddress::parse("http://node:1", Some(p), Some(p), Some(p), None).unwrap_err();
        assert!(err.to_string().contains("need an https:// address"), "{err}");
        let err = NodeAddress::parse("https://node:1", Some(p), None, Some(p), None).unwrap_err();
        assert!(err.to_string().contains("all three"), "{err}");
        let ok = NodeAddress::parse("https://node:1", Some(p), Some(p), Some(p), None).unwrap();
        assert_eq!(ok.tls().unwrap().1, "node");
        let ok = NodeAddress::parse("https://10.0.0.1:1", Some(p), Some(p), Some(p), Some("node.local")).unwrap();
        assert_eq!(ok.tls().unwrap().1, "node.local");
    }
}
