//! Store URLs and S3 options: what `Store::open` parses before it builds a backend.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::StoreError;

/// Where a store lives, parsed from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A local folder (absolute, without `.`/`..` components).
    Local(PathBuf),
    /// A named process-wide memory store and a key prefix in it.
    Memory { name: String, prefix: String },
    /// An S3 bucket and a key prefix in it.
    S3 { bucket: String, prefix: String },
}

impl Location {
    /// Parses a store URL: a path, `file:///abs`, `s3://bucket/prefix` or `memory://name/prefix`.
    pub(crate) fn parse(url: &str) -> Result<Location, StoreError> {
        let invalid = |reason: &str| StoreError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = split_root(rest);
            if bucket.is_empty() {
                return Err(invalid("no bucket name after s3://"));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        if let Some(rest) = url.strip_prefix("memory://") {
            let (name, prefix) = split_root(rest);
            return Ok(Location::Memory {
                name: name.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        if url.starts_with("file://") {
            let parsed = url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
            let path = parsed
                .to_file_path()
                .map_err(|()| invalid("not an absolute local file URL"))?;
            return Ok(Location::Local(normalize(&path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(invalid(&format!("unsupported scheme {scheme:?}")));
        }
        if url.is_empty() {
            return Err(invalid("empty path"));
        }
        let abs = std::path::absolute(url).map_err(|e| invalid(&e.to_string()))?;
        Ok(Location::Local(normalize(&abs)))
    }
}

/// Splits `root/rest/of/it` into `("root", "rest/of/it")`, trimming slashes.
fn split_root(s: &str) -> (&str, &str) {
    let s = s.trim_matches('/');
    match s.split_once('/') {
        Some((root, rest)) => (root, rest.trim_matches('/')),
        None => (s, ""),
    }
}

/// Removes `.` and `..` lexically (without touching the file system, which may not have the path yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// How to reach an S3-compatible server. [`S3Options::from_env`] reads the standard `AWS_*`
/// variables; tests build one explicitly (no process-wide environment races).
///
/// `Debug` never shows the secret key or session token.
#[derive(Clone)]
pub struct S3Options {
    /// Endpoint URL of a non-AWS server (MinIO, Garage, s3s-fs), e.g. `http://127.0.0.1:9000`.
    /// Requests are path-style (`endpoint/bucket/key`).
    pub endpoint: Option<String>,
    /// Access key id; with neither it nor the secret, requests are unsigned (public buckets).
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// Region (default `us-east-1`).
    pub region: Option<String>,
    /// Allow plain `http://` endpoints (always allowed for a loopback endpoint).
    pub allow_http: bool,
    /// How many times the HTTP client retries a failed request.
    pub max_retries: usize,
    /// The longest time the HTTP client keeps retrying one request.
    pub retry_timeout: Duration,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            endpoint: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            region: None,
            allow_http: false,
            max_retries: 5,
            retry_timeout: Duration::from_secs(60),
        }
    }
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |o: &Option<String>| o.as_ref().map(|_| "<hidden>");
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .field("max_retries", &self.max_retries)
            .field("retry_timeout", &self.retry_timeout)
            .finish()
    }
}

impl S3Options {
    /// Reads `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` (or `AWS_DEFAULT_REGION`) and
    /// `AWS_ALLOW_HTTP` (`true`/`1`). Empty variables count as unset.
    pub fn from_env() -> S3Options {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        S3Options {
            endpoint: var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            allow_http: var("AWS_ALLOW_HTTP")
                .is_some_and(|v| matches!(v.trim(), "1" | "true" | "TRUE" | "True")),
            ..S3Options::default()
        }
    }

    /// Whether plain HTTP is allowed: asked for, or the endpoint is on this machine.
    pub(crate) fn http_allowed(&self) -> bool {
        self.allow_http || self.endpoint.as_deref().is_some_and(is_loopback)
    }
}

fn is_loopback(endpoint: &str) -> bool {
    let Ok(url) = url::Url::parse(endpoint) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let s3 = Location::parse("s3://bkt/a/b/").unwrap();
        assert_eq!(
            s3,
            Location::S3 {
                bucket: "bkt".into(),
                prefix: "a/b".into()
            }
        );
        let mem = Location::parse("memory://t").unwrap();
        assert_eq!(
            mem,
            Location::Memory {
                name: "t".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            Location::parse("file:///x/./y/../z").unwrap(),
            Location::Local("/x/z".into())
        );
        let Location::Local(p) = Location::parse("./hod-data").unwrap() else {
            panic!()
        };
        assert!(p.is_absolute() && p.ends_with("hod-data"));
        assert!(matches!(
            Location::parse("gs://x"),
            Err(StoreError::InvalidUrl { .. })
        ));
        assert!(matches!(
            Location::parse("s3://"),
            Err(StoreError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn loopback_allows_http() {
        let o = S3Options {
            endpoint: Some("http://127.0.0.1:9000".into()),
            ..S3Options::default()
        };
        assert!(o.http_allowed());
        let o = S3Options {
            endpoint: Some("http://minio.example:9000".into()),
            ..S3Options::default()
        };
        assert!(!o.http_allowed());
    }

    #[test]
    fn debug_hides_secrets() {
        let o = S3Options {
            secret_access_key: Some("TOPSECRET".into()),
            ..S3Options::default()
        };
        assert!(!format!("{o:?}").contains("TOPSECRET"));
    }
}
