//! What `config` names about the Kubernetes API: its base URL (from `kubernetes_host`) and
//! the CA its certificate must chain to (`kubernetes_ca_cert`). Checked when the config is
//! written, so a bad value is a 400 naming the field, and again when the client is built.

use reqwest::Url;

/// The base URL of the Kubernetes API from `kubernetes_host`: a URL, or a bare `host` or
/// `host:port` (taken as `https://`). Only `https` is accepted, without credentials, query or
/// fragment; a path is kept (API proxies serve clusters under one).
pub(crate) fn api_base(host: &str) -> Result<Url, String> {
    let host = host.trim();
    if host.is_empty() {
        return Err("is required".into());
    }
    let with_scheme = if host.contains("://") {
        host.to_string()
    } else {
        format!("https://{host}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| format!("not a valid URL ({e})"))?;
    if url.scheme() != "https" {
        return Err(format!("must be an https URL, not {:?}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(url)
}

/// Parses a PEM bundle of CA certificates into trust anchors. Every `CERTIFICATE` block must
/// be a valid X.509 certificate; at least one is required.
pub(crate) fn parse_ca(pem: &str) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
        let cert = cert.map_err(|_| "not valid PEM".to_string())?;
        roots
            .add(cert)
            .map_err(|e| format!("not a valid X.509 certificate ({e})"))?;
    }
    if roots.is_empty() {
        return Err("no PEM CERTIFICATE block found".into());
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_base_accepts_https_urls_and_bare_hosts() {
        let ok = |s: &str| api_base(s).map(|u| u.to_string());
        assert_eq!(
            ok("https://10.0.0.1:6443").unwrap(),
            "https://10.0.0.1:6443/"
        );
        assert_eq!(ok("k8s.example:6443").unwrap(), "https://k8s.example:6443/");
        assert_eq!(
            ok("https://rancher.example/k8s/clusters/c-1/").unwrap(),
            "https://rancher.example/k8s/clusters/c-1/"
        );
        assert_eq!(ok("").unwrap_err(), "is required");
        assert!(ok("http://10.0.0.1").unwrap_err().contains("https"));
        assert!(ok("https://u:p@10.0.0.1")
            .unwrap_err()
            .contains("credentials"));
        assert!(ok("https://10.0.0.1/?a=b").unwrap_err().contains("query"));
        assert!(ok("https://[::1").unwrap_err().contains("not a valid URL"));
    }

    #[test]
    fn parse_ca_rejects_what_is_not_a_certificate() {
        assert_eq!(
            parse_ca("hello").unwrap_err(),
            "no PEM CERTIFICATE block found"
        );
        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(parse_ca(garbage).unwrap_err().contains("X.509"));
    }
}
