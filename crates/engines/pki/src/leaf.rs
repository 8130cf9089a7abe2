//! The certificate an `issue`, `sign` or `sign-verbatim` request asks for, checked against
//! its role and turned into rcgen parameters: names (subject and SANs), TTL against the
//! role, the mount and the issuer's own expiry (Vault's messages), key usages, and the
//! mount's URLs (CRL distribution points, authority information access).

use std::net::IpAddr;
use std::time::Duration;

use rcgen::{
    CertificateParams, CrlDistributionPoint, CustomExtension, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyUsagePurpose, SanType, SerialNumber,
};
use secrethub_common::{format_rfc3339, UnixTime};

use crate::cert::{at, random_serial};
use crate::error::{PkiError, Result};
use crate::paths::roles::RoleRecord;
use crate::records::UrlsConfig;

/// Vault's system default lease TTL (32 days), for a mount that reports none.
const SYSTEM_TTL: Duration = Duration::from_secs(768 * 3600);

/// The names a request asks for, before the role's checks.
#[derive(Debug, Default, Clone)]
pub(crate) struct Names {
    pub(crate) common_name: String,
    /// DNS names and email addresses.
    pub(crate) alt_names: Vec<String>,
    pub(crate) ip_sans: Vec<IpAddr>,
    pub(crate) uri_sans: Vec<String>,
    pub(crate) exclude_cn_from_sans: bool,
}

impl Names {
    /// The DNS and email SANs the certificate gets: the common name first (unless
    /// excluded), then the alternative names, without repeats.
    pub(crate) fn dns_and_email_sans(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if !self.exclude_cn_from_sans && !self.common_name.is_empty() {
            out.push(self.common_name.clone());
        }
        for n in &self.alt_names {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(n)) {
                out.push(n.clone());
            }
        }
        out
    }
}

/// Parses Vault's `ip_sans` entries.
pub(crate) fn parse_ips(list: &[String]) -> Result<Vec<IpAddr>> {
    list.iter()
        .map(|s| {
            s.trim().parse().map_err(|_| {
                PkiError::invalid(format!("the value {s:?} is not a valid IP address"))
            })
        })
        .collect()
}

/// The validity a request gets: `ttl`, else the role's, else the mount's default, capped
/// by the role's `max_ttl` (else the mount's) with Vault's warning; refused when it would
/// outlive the issuer.
#[derive(Debug)]
pub(crate) struct Validity {
    pub(crate) not_before: UnixTime,
    pub(crate) not_after: UnixTime,
    pub(crate) ttl: Duration,
    pub(crate) warnings: Vec<String>,
}

pub(crate) struct TtlLimits {
    pub(crate) requested: Option<Duration>,
    pub(crate) role_ttl: Duration,
    pub(crate) role_max_ttl: Duration,
    pub(crate) mount_default: Duration,
    pub(crate) mount_max: Duration,
    pub(crate) not_before_duration: Duration,
    pub(crate) issuer_not_after: UnixTime,
    /// The issuer's `leaf_not_after_behavior`: `err`, `truncate` or `permit`.
    pub(crate) past_issuer: String,
    /// Vault's `not_after`: a fixed end instead of a TTL (not capped by `max_ttl`).
    pub(crate) fixed_end: Option<UnixTime>,
}

impl TtlLimits {
    pub(crate) fn resolve(&self, now_nanos: i128) -> Result<Validity> {
        let nonzero = |d: Duration, fallback: Duration| if d.is_zero() { fallback } else { d };
        let mount_default = nonzero(self.mount_default, SYSTEM_TTL);
        let mount_max = nonzero(self.mount_max, SYSTEM_TTL);
        let now = (now_nanos / 1_000_000_000) as UnixTime;
        let mut ttl = match (self.fixed_end, self.requested) {
            (Some(end), _) if end <= now => {
                return Err(PkiError::invalid("not_after must be in the future"))
            }
            (Some(end), _) => Duration::from_secs((end - now) as u64),
            (None, Some(t)) if !t.is_zero() => t,
            _ => nonzero(self.role_ttl, mount_default),
        };
        let max = nonzero(self.role_max_ttl, mount_max);
        let mut warnings = Vec::new();
        if ttl > max && self.fixed_end.is_none() {
            warnings.push(format!(
                "TTL {:?} is longer than permitted maxTTL {:?}, so maxTTL is being used",
                go_duration(ttl),
                go_duration(max)
            ));
            ttl = max;
        }
        let mut not_after = now.saturating_add(ttl.as_secs() as i64);
        if not_after > self.issuer_not_after && self.past_issuer == "truncate" {
            not_after = self.issuer_not_after;
            ttl = Duration::from_secs(not_after.saturating_sub(now).max(0) as u64);
        }
        if not_after > self.issuer_not_after && self.past_issuer != "permit" {
            let wanted = now_nanos + (ttl.as_nanos() as i128);
            return Err(PkiError::invalid(format!(
                "cannot satisfy request, as TTL would result in notAfter of {} that is beyond the expiration of the CA certificate at {}",
                go_time(wanted),
                go_time(self.issuer_not_after as i128 * 1_000_000_000)
            )));
        }
        Ok(Validity {
            not_before: now - self.not_before_duration.as_secs() as i64,
            not_after,
            ttl,
            warnings,
        })
    }
}

/// Go's RFC 3339 text with nanoseconds (`time.RFC3339Nano`): no trailing zeros.
pub(crate) fn go_time(unix_nanos: i128) -> String {
    let full = format_rfc3339(unix_nanos);
    match full.split_once('.') {
        Some((head, frac)) => {
            let digits = frac.trim_end_matches('Z').trim_end_matches('0');
            if digits.is_empty() {
                format!("{head}Z")
            } else {
                format!("{head}.{digits}Z")
            }
        }
        None => full,
    }
}

/// Vault's `not_after`: `YYYY-MM-DDTHH:MM:SSZ` (UTC) as Unix seconds.
pub(crate) fn parse_not_after(text: &str) -> Result<UnixTime> {
    let bad = || {
        PkiError::invalid(format!(
            "unable to parse not_after {text:?}: expected YYYY-MM-DDTHH:MM:SSZ"
        ))
    };
    let b = text.as_bytes();
    let shape_ok = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    if !shape_ok {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().map_err(|_| bad());
    let month = time::Month::try_from(num(5..7)? as u8).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(num(0..4)? as i32, month, num(8..10)? as u8)
        .map_err(|_| bad())?;
    let clock = time::Time::from_hms(num(11..13)? as u8, num(14..16)? as u8, num(17..19)? as u8)
        .map_err(|_| bad())?;
    Ok(time::PrimitiveDateTime::new(date, clock)
        .assume_utc()
        .unix_timestamp())
}

/// Go's `time.Duration` text (`768h0m0s`), which Vault's warnings quote.
pub(crate) fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        return "0s".into();
    }
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{sec}s"),
        (0, _) => format!("{m}m{sec}s"),
        _ => format!("{h}h{m}m{sec}s"),
    }
}

/// What the role puts in every certificate it allows, besides names and validity.
pub(crate) struct Usage {
    pub(crate) key_usages: Vec<KeyUsagePurpose>,
    pub(crate) ext_key_usages: Vec<ExtendedKeyUsagePurpose>,
}

impl Usage {
    pub(crate) fn of_role(role: &RoleRecord) -> Usage {
        let key_usages = key_usages(&role.key_usage);
        let mut ext = Vec::new();
        let flags = [
            (role.server_flag, ExtendedKeyUsagePurpose::ServerAuth),
            (role.client_flag, ExtendedKeyUsagePurpose::ClientAuth),
            (role.code_signing_flag, ExtendedKeyUsagePurpose::CodeSigning),
            (
                role.email_protection_flag,
                ExtendedKeyUsagePurpose::EmailProtection,
            ),
        ];
        for (on, purpose) in flags {
            if on {
                ext.push(purpose);
            }
        }
        for name in &role.ext_key_usage {
            if let Some(p) = ext_key_usage(name) {
                if !ext.contains(&p) {
                    ext.push(p);
                }
            }
        }
        for oid in &role.ext_key_usage_oids {
            let parts: std::result::Result<Vec<u64>, _> =
                oid.split('.').map(str::parse::<u64>).collect();
            if let Ok(parts) = parts {
                ext.push(ExtendedKeyUsagePurpose::Other(parts));
            }
        }
        Usage {
            key_usages,
            ext_key_usages: ext,
        }
    }
}

/// Vault's key usage names (case-insensitive, with or without a `KeyUsage` prefix); names
/// it does not know are left out, as Vault does.
pub(crate) fn key_usages(names: &[String]) -> Vec<KeyUsagePurpose> {
    let mut out = Vec::new();
    for name in names {
        let n = name.trim().to_ascii_lowercase();
        let n = n.strip_prefix("keyusage").unwrap_or(&n);
        let purpose = match n {
            "digitalsignature" => KeyUsagePurpose::DigitalSignature,
            "contentcommitment" | "nonrepudiation" => KeyUsagePurpose::ContentCommitment,
            "keyencipherment" => KeyUsagePurpose::KeyEncipherment,
            "dataencipherment" => KeyUsagePurpose::DataEncipherment,
            "keyagreement" => KeyUsagePurpose::KeyAgreement,
            "certsign" => KeyUsagePurpose::KeyCertSign,
            "crlsign" => KeyUsagePurpose::CrlSign,
            "encipheronly" => KeyUsagePurpose::EncipherOnly,
            "decipheronly" => KeyUsagePurpose::DecipherOnly,
            _ => continue,
        };
        if !out.contains(&purpose) {
            out.push(purpose);
        }
    }
    out
}

fn ext_key_usage(name: &str) -> Option<ExtendedKeyUsagePurpose> {
    let n = name.trim().to_ascii_lowercase();
    let n = n.strip_prefix("extkeyusage").unwrap_or(&n);
    Some(match n {
        "any" => ExtendedKeyUsagePurpose::Any,
        "serverauth" => ExtendedKeyUsagePurpose::ServerAuth,
        "clientauth" => ExtendedKeyUsagePurpose::ClientAuth,
        "codesigning" => ExtendedKeyUsagePurpose::CodeSigning,
        "emailprotection" => ExtendedKeyUsagePurpose::EmailProtection,
        "timestamping" => ExtendedKeyUsagePurpose::TimeStamping,
        "ocspsigning" => ExtendedKeyUsagePurpose::OcspSigning,
        _ => return None,
    })
}

/// rcgen parameters of a leaf certificate: a new serial, the subject (the common name and
/// the role's organisation fields), SANs, usages, validity and the mount's URLs.
pub(crate) fn leaf_params(
    names: &Names,
    role: Option<&RoleRecord>,
    usage: &Usage,
    validity: &Validity,
    urls: &UrlsConfig,
) -> Result<(CertificateParams, Vec<u8>)> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(role) = role {
        push_subject(
            &mut params.distinguished_name,
            [
                &role.country,
                &role.province,
                &role.locality,
                &role.organization,
                &role.ou,
            ],
        );
    }
    if !names.common_name.is_empty() {
        params
            .distinguished_name
            .push(DnType::CommonName, names.common_name.as_str());
    }
    params.subject_alt_names = sans_of(names)?;
    let serial = random_serial();
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.not_before = at(validity.not_before)?;
    params.not_after = at(validity.not_after)?;
    params.is_ca = IsCa::ExplicitNoCa;
    if !role.is_some_and(|r| r.basic_constraints_valid_for_non_ca) {
        params.is_ca = IsCa::NoCa;
    }
    params.key_usages = usage.key_usages.clone();
    params.extended_key_usages = usage.ext_key_usages.clone();
    params.use_authority_key_identifier_extension = true;
    add_urls(&mut params, urls);
    Ok((params, serial))
}

/// Vault's subject fields besides the common name, in its order: `country`, `province`,
/// `locality`, `organization`, `ou` (the first value of each; rcgen keeps one per type).
pub(crate) fn push_subject(dn: &mut rcgen::DistinguishedName, fields: [&Vec<String>; 5]) {
    let types = [
        DnType::CountryName,
        DnType::StateOrProvinceName,
        DnType::LocalityName,
        DnType::OrganizationName,
        DnType::OrganizationalUnitName,
    ];
    for (ty, values) in types.into_iter().zip(fields) {
        if let Some(v) = values.first() {
            dn.push(ty, v.as_str());
        }
    }
}

/// The SAN list: DNS names and emails, IPs, URIs.
pub(crate) fn sans_of(names: &Names) -> Result<Vec<SanType>> {
    let mut out = Vec::new();
    let bad = |n: &str| PkiError::invalid(format!("invalid subject alternative name {n:?}"));
    for n in names.dns_and_email_sans() {
        let ia5 = rcgen::Ia5String::try_from(n.as_str()).map_err(|_| bad(&n))?;
        out.push(if n.contains('@') {
            SanType::Rfc822Name(ia5)
        } else {
            SanType::DnsName(ia5)
        });
    }
    out.extend(names.ip_sans.iter().copied().map(SanType::IpAddress));
    for u in &names.uri_sans {
        out.push(SanType::URI(
            rcgen::Ia5String::try_from(u.as_str()).map_err(|_| bad(u))?,
        ));
    }
    Ok(out)
}

/// CRL distribution points and authority information access (issuing certificates, OCSP)
/// from `config/urls`.
pub(crate) fn add_urls(params: &mut CertificateParams, urls: &UrlsConfig) {
    if !urls.crl_distribution_points.is_empty() {
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: urls.crl_distribution_points.clone(),
        }];
    }
    if urls.issuing_certificates.is_empty() && urls.ocsp_servers.is_empty() {
        return;
    }
    const CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];
    const OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
    let entries: Vec<(&[u64], &String)> = urls
        .ocsp_servers
        .iter()
        .map(|u| (OCSP, u))
        .chain(urls.issuing_certificates.iter().map(|u| (CA_ISSUERS, u)))
        .collect();
    let der = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for (method, uri) in &entries {
                w.next().write_sequence(|w| {
                    w.next()
                        .write_oid(&yasna::models::ObjectIdentifier::from_slice(method));
                    w.next()
                        .write_tagged_implicit(yasna::Tag::context(6), |w| w.write_ia5_string(uri));
                });
            }
        })
    });
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 1],
            der,
        ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> TtlLimits {
        TtlLimits {
            requested: None,
            role_ttl: Duration::ZERO,
            role_max_ttl: Duration::ZERO,
            mount_default: Duration::from_secs(3600),
            mount_max: Duration::from_secs(7200),
            not_before_duration: Duration::from_secs(30),
            issuer_not_after: 1_000_000,
            past_issuer: "err".into(),
            fixed_end: None,
        }
    }

    #[test]
    fn ttls_follow_role_then_mount_and_are_capped() {
        let now = 1000 * 1_000_000_000i128;
        let v = limits().resolve(now).unwrap();
        assert_eq!((v.not_before, v.not_after), (970, 1000 + 3600));
        let mut l = limits();
        l.requested = Some(Duration::from_secs(10_000));
        let v = l.resolve(now).unwrap();
        assert_eq!(v.ttl, Duration::from_secs(7200));
        assert_eq!(
            v.warnings,
            ["TTL \"2h46m40s\" is longer than permitted maxTTL \"2h0m0s\", so maxTTL is being used"]
        );
        l.role_max_ttl = Duration::from_secs(60);
        assert_eq!(l.resolve(now).unwrap().ttl, Duration::from_secs(60));
        let mut l = limits();
        l.issuer_not_after = 2000;
        let e = l.resolve(now).unwrap_err().to_string();
        l.past_issuer = "truncate".into();
        assert_eq!(l.resolve(now).unwrap().not_after, 2000);
        l.past_issuer = "permit".into();
        assert_eq!(l.resolve(now).unwrap().not_after, 1000 + 3600);
        assert!(e.starts_with("cannot satisfy request, as TTL would result in notAfter of 1970-01-01T01:16:40Z that is beyond the expiration of the CA certificate at 1970-01-01T00:33:20Z"), "{e}");
    }

    #[test]
    fn a_fixed_end_replaces_the_ttl() {
        let now = 1000 * 1_000_000_000i128;
        let mut l = limits();
        l.fixed_end = Some(1500);
        let v = l.resolve(now).unwrap();
        assert_eq!((v.not_after, v.ttl), (1500, Duration::from_secs(500)));
        l.fixed_end = Some(900);
        assert!(l.resolve(now).is_err());
        assert_eq!(
            parse_not_after("2030-01-02T03:04:05Z").unwrap(),
            1_893_553_445
        );
        assert!(parse_not_after("2030-13-02T03:04:05Z").is_err());
        assert!(parse_not_after("tomorrow").is_err());
    }

    #[test]
    fn usages() {
        let u = Usage::of_role(&RoleRecord::default());
        assert_eq!(
            u.key_usages,
            [
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyAgreement,
                KeyUsagePurpose::KeyEncipherment
            ]
        );
        assert_eq!(
            u.ext_key_usages,
            [
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth
            ]
        );
        assert_eq!(
            key_usages(&["KeyUsageCRLSign".into(), "bogus".into()]),
            [KeyUsagePurpose::CrlSign]
        );
    }

    #[test]
    fn cn_goes_first_into_sans() {
        let n = Names {
            common_name: "a.example.com".into(),
            alt_names: vec!["b.example.com".into(), "A.example.com".into()],
            ..Names::default()
        };
        assert_eq!(n.dns_and_email_sans(), ["a.example.com", "b.example.com"]);
    }
}
