//! Key-less endpoints: `random[/:source][/:bytes]`, `hash[/:algorithm]`, and
//! `cache-config` (accepted and echoed: this engine keeps no key cache).

use secrethub_common::JsonMap;
use secrethub_engine::{Operation, Request, Response};
use secrethub_storage::Storage as _;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::digest::HashAlg;
use crate::error::{Result, TransitError};
use crate::fields::Fields;

/// Vault's cap on `random`.
const MAX_RANDOM: u64 = 128 * 1024;

fn encode(format: Option<&str>, bytes: &[u8]) -> Result<String> {
    match format.unwrap_or("base64") {
        "base64" | "" => Ok(B64.encode(bytes)),
        "hex" => Ok(hex::encode(bytes)),
        other => Err(TransitError::bad(format!(
            "unsupported encoding format {other:?}; must be \"hex\" or \"base64\""
        ))),
    }
}

/// `random`, `random/:bytes`, `random/:source`, `random/:source/:bytes`.
pub(crate) fn random(req: &Request, a: &str, b: &str) -> Result<Response> {
    let f = Fields(&req.body);
    let (mut source, mut bytes_text) = (String::new(), String::new());
    for seg in [a, b].into_iter().filter(|s| !s.is_empty()) {
        if seg.chars().all(|c| c.is_ascii_digit()) {
            bytes_text = seg.to_string();
        } else {
            source = seg.to_string();
        }
    }
    if source.is_empty() {
        source = f.string("source")?.unwrap_or_else(|| "platform".into());
    }
    if !matches!(source.as_str(), "platform" | "seal" | "all") {
        return Err(TransitError::bad(format!(
            "unsupported entropy source {source:?}"
        )));
    }
    let n: u64 = if bytes_text.is_empty() {
        f.get::<u64>("bytes")?.unwrap_or(32)
    } else {
        bytes_text
            .parse()
            .map_err(|_| TransitError::bad("error parsing url-set byte count"))?
    };
    if n == 0 {
        return Err(TransitError::bad("missing bytes"));
    }
    if n > MAX_RANDOM {
        return Err(TransitError::bad(format!(
            "'bytes' should be less than {MAX_RANDOM}"
        )));
    }
    // Every source is the OS RNG: there is no seal with its own entropy here.
    let bytes = zeroize::Zeroizing::new(secrethub_common::random_bytes(n as usize));
    let mut m = JsonMap::new();
    m.insert(
        "random_bytes".into(),
        encode(f.string("format")?.as_deref(), &bytes)?.into(),
    );
    Ok(Response::data(m))
}

/// `hash[/:algorithm]`: `input` (base64), `algorithm`, `format` (hex by default).
pub(crate) fn hash(req: &Request, alg: &str) -> Result<Response> {
    let f = Fields(&req.body);
    let alg = if alg.is_empty() {
        f.string("algorithm")?
    } else {
        Some(alg.to_string())
    };
    let alg = HashAlg::parse(alg.as_deref())?;
    let input = f.b64_required("input", "input missing")?;
    let format = f.string("format")?;
    let sum = alg.digest(&input);
    let text = match format.as_deref().unwrap_or("hex") {
        "hex" | "" => hex::encode(sum),
        "base64" => B64.encode(sum),
        other => {
            return Err(TransitError::bad(format!(
                "unsupported encoding format {other:?}; must be \"hex\" or \"base64\""
            )))
        }
    };
    let mut m = JsonMap::new();
    m.insert("sum".into(), text.into());
    Ok(Response::data(m))
}

const CACHE_CONFIG: &str = "cache-config";

/// `cache-config`: `size` is stored and read back; keys are read from storage on every
/// use whatever it says.
pub(crate) async fn cache_config(req: &Request) -> Result<Response> {
    if req.op != Operation::Read {
        let size = Fields(&req.body).get::<i64>("size")?.unwrap_or(0);
        if size != 0 && size < 10 {
            return Err(TransitError::bad(
                "size must be 0 or a value greater or equal to 10",
            ));
        }
        req.storage
            .put(CACHE_CONFIG, size.to_string().as_bytes())
            .await?;
    }
    let size = match req.storage.get(CACHE_CONFIG).await? {
        Some(b) => String::from_utf8_lossy(&b).parse::<i64>().unwrap_or(0),
        None => 0,
    };
    let mut m = JsonMap::new();
    m.insert("size".into(), size.into());
    Ok(Response::data(m))
}
