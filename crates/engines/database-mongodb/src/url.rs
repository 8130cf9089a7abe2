//! The connection URL: Vault's `mongodb://{{username}}:{{password}}@host:27017/admin?…` with
//! the admin credentials filled in (percent-encoded, so a password with `@` or `/` works), and
//! its redacted form for config reads and messages.

use zeroize::Zeroizing;

const USERNAME: &str = "{{username}}";
const PASSWORD: &str = "{{password}}";

/// `url` with `{{username}}` and `{{password}}` replaced by the percent-encoded credentials.
pub(crate) fn render(url: &str, username: &str, password: &str) -> Zeroizing<String> {
    Zeroizing::new(
        url.replace(USERNAME, &encode(username))
            .replace(PASSWORD, &encode(password)),
    )
}

/// Whether the URL names the admin credentials as templates.
pub(crate) fn templated(url: &str) -> (bool, bool) {
    (url.contains(USERNAME), url.contains(PASSWORD))
}

/// RFC 3986 percent-encoding of everything but the unreserved characters: safe inside the
/// user-info part of a URI.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The byte range of the password written literally into `url`'s user info, if any (a
/// `{{password}}` template is not a secret).
fn literal_password(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://")? + 3;
    let authority_end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let at = url[start..authority_end].rfind('@')? + start;
    let colon = url[start..at].find(':')? + start + 1;
    (colon < at && &url[colon..at] != PASSWORD).then_some(colon..at)
}

/// `url` as config reads show it: a literal password replaced, and the value of
/// `tlsCertificateKeyFilePassword` too.
pub(crate) fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(range) = literal_password(&out) {
        out.replace_range(range, "<redacted>");
    }
    let key = "tlscertificatekeyfilepassword=";
    if let Some(i) = out.to_ascii_lowercase().find(key) {
        let start = i + key.len();
        let end = out[start..].find('&').map_or(out.len(), |j| start + j);
        out.replace_range(start..end, "<redacted>");
    }
    out
}

/// The literal password written into `url`, for scrubbing messages.
pub(crate) fn password_in(url: &str) -> Option<&str> {
    literal_password(url).map(|r| &url[r])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_percent_encoded_credentials() {
        let url = render(
            "mongodb://{{username}}:{{password}}@db:27017/admin?tls=true",
            "vault user",
            "p@ss/w:rd%",
        );
        assert_eq!(
            url.as_str(),
            "mongodb://vault%20user:p%40ss%2Fw%3Ard%25@db:27017/admin?tls=true"
        );
        assert_eq!(templated("mongodb://{{username}}@h"), (true, false));
    }

    #[test]
    fn redacts_literal_passwords_only() {
        for (url, shown) in [
            (
                "mongodb://{{username}}:{{password}}@h:27017/admin",
                "mongodb://{{username}}:{{password}}@h:27017/admin",
            ),
            (
                "mongodb://admin:s3cr@t@h1,h2/admin?replicaSet=rs",
                "mongodb://admin:<redacted>@h1,h2/admin?replicaSet=rs",
            ),
            ("mongodb://h/?tls=true", "mongodb://h/?tls=true"),
            (
                "mongodb://h/?tlsCertificateKeyFilePassword=k3y&tls=true",
                "mongodb://h/?tlsCertificateKeyFilePassword=<redacted>&tls=true",
            ),
            ("mongodb://user@h/", "mongodb://user@h/"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
        assert_eq!(password_in("mongodb://a:b@h/"), Some("b"));
    }
}
