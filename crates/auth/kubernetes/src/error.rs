//! `KubeError`: what the Kubernetes auth method can fail with, and how each failure reaches
//! the client. Messages name fields, roles, service accounts and the Kubernetes host; they
//! never contain a JWT (the client's or the reviewer's).

use secrethub_engine::EngineError;
use secrethub_storage::StorageError;

use crate::records::Unbound;

/// A failure of the Kubernetes auth method.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KubeError {
    /// Invalid input (a bad field, an unknown role, no config yet); a 400.
    #[error("{0}")]
    Invalid(String),
    /// Nothing stored at this path; a 404.
    #[error("not found")]
    NotFound,
    /// The login is refused; a 403.
    #[error("permission denied: {0}")]
    Denied(Denial),
    /// The Kubernetes API could not be reached, refused our TLS or our reviewer token, or
    /// answered something unusable; a 503 whose message names the host and the reason.
    #[error("kubernetes API at {host}: {reason}")]
    Upstream { host: String, reason: String },
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A bug.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Denial {
    /// The TokenReview API answered `authenticated: false`.
    NotAuthenticated,
    /// No reviewer token is configured, so the client's JWT was the bearer, and the API
    /// refused it (HTTP 401 or 403).
    ClientCannotReview(u16),
    /// The authenticated user is not a service account.
    NotServiceAccount,
    /// The service account is not bound to the role.
    Unbound { role: String, which: Unbound },
    /// The API did not confirm the role's audience for the JWT.
    Audience { role: String, audience: String },
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denial::NotAuthenticated => {
                f.write_str("the kubernetes TokenReview API did not authenticate the JWT")
            }
            Denial::ClientCannotReview(code) => write!(
                f,
                "the kubernetes API refused the JWT as a bearer token for the TokenReview API \
                 (HTTP {code}); configure token_reviewer_jwt"
            ),
            Denial::NotServiceAccount => {
                f.write_str("the JWT does not belong to a service account")
            }
            Denial::Unbound { role, which } => write!(f, "{which} to role {role:?}"),
            Denial::Audience { role, audience } => write!(
                f,
                "the JWT is not valid for audience {audience:?} of role {role:?}"
            ),
        }
    }
}

impl KubeError {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        KubeError::Invalid(msg.into())
    }

    /// A 400 naming the field: `invalid <field>: <reason>`.
    pub(crate) fn field(field: &str, reason: impl std::fmt::Display) -> Self {
        KubeError::Invalid(format!("invalid {field}: {reason}"))
    }
}

impl From<secrethub_common::input::InputError> for KubeError {
    fn from(e: secrethub_common::input::InputError) -> Self {
        KubeError::Invalid(e.to_string())
    }
}

impl From<KubeError> for EngineError {
    fn from(e: KubeError) -> Self {
        match e {
            KubeError::Invalid(msg) => EngineError::BadRequest(msg),
            KubeError::NotFound => EngineError::NotFound,
            // The reason names the binding that failed, never the token.
            KubeError::Denied(reason) => EngineError::Denied(reason.to_string()),
            KubeError::Storage(s) => EngineError::Storage(s),
            KubeError::Internal(source) => EngineError::Internal(source),
            upstream @ KubeError::Upstream { .. } => {
                // `what` is shown to the client: host and reason, never a token.
                let what = upstream.to_string();
                EngineError::Upstream {
                    what,
                    source: anyhow::Error::new(upstream),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrethub_common::ErrorKind;

    #[test]
    fn maps_to_engine_errors() {
        let e: EngineError = KubeError::field("kubernetes_host", "must be an https URL").into();
        assert_eq!(e.kind(), ErrorKind::BadRequest);
        assert_eq!(
            e.to_string(),
            "invalid kubernetes_host: must be an https URL"
        );

        let e: EngineError = KubeError::Denied(Denial::NotAuthenticated).into();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert_eq!(
            e.to_string(),
            "permission denied: the kubernetes TokenReview API did not authenticate the JWT"
        );

        let e: EngineError = KubeError::Upstream {
            host: "https://10.0.0.1:6443".into(),
            reason: "unreachable".into(),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(
            e.to_string(),
            "upstream error: kubernetes API at https://10.0.0.1:6443: unreachable"
        );
    }

    #[test]
    fn denials_name_what_did_not_match() {
        let d = Denial::Unbound {
            role: "app".into(),
            which: Unbound::Namespace("dev".into()),
        };
        assert_eq!(
            KubeError::Denied(d).to_string(),
            r#"permission denied: service account namespace "dev" is not bound to role "app""#
        );
        let d = Denial::Audience {
            role: "app".into(),
            audience: "vault".into(),
        };
        assert_eq!(
            d.to_string(),
            r#"the JWT is not valid for audience "vault" of role "app""#
        );
    }
}
