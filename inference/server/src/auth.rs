//! Bearer-token access control: tokens are stored as SHA-256 hashes, each with a role.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use futures_util::StreamExt;
use prognos_core::{Role, Settings, TokenEntry};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api_error::ApiError;
use crate::state::AppState;

/// What a request needs to be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read anything, score.
    Read,
    /// Acknowledge alerts, record inspections.
    Operate,
    /// Upload, activate and roll back models.
    ManageModels,
    /// Manage tokens and everything else.
    Admin,
    /// Push inverter readings (`POST /v1/ingest/{pipeline}`).
    Ingest,
}

/// Whether `role` may do what `access` names.
pub fn allows(role: Role, access: Access) -> bool {
    match access {
        Access::Read => true,
        Access::Operate => matches!(role, Role::Operator | Role::Admin),
        Access::ManageModels => matches!(role, Role::DataScientist | Role::Admin),
        Access::Admin => role == Role::Admin,
        Access::Ingest => matches!(role, Role::Ingest | Role::Operator | Role::Admin),
    }
}

/// Lower-case hex SHA-256 of a token. Tokens are 256-bit random strings, so a fast hash is the right tool
/// (a password hash buys nothing against a space that size).
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: `prg_` followed by 32 random bytes in URL-safe base64.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("prg_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Who made a request (put into request extensions by the middleware).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// Hash -> holder: the configured tokens plus the token file, which is re-read when it changes (so a token
/// made with `prognos token create` works without a restart).
#[derive(Debug, Default)]
pub struct TokenTable {
    configured: Vec<TokenEntry>,
    file: Option<PathBuf>,
    loaded: RwLock<(Option<SystemTime>, HashMap<String, Caller>)>,
}

fn index(entries: impl IntoIterator<Item = TokenEntry>) -> HashMap<String, Caller> {
    entries.into_iter().map(|t| (t.sha256.to_ascii_lowercase(), Caller { name: t.name, role: t.role })).collect()
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl TokenTable {
    /// Fixed tokens only (no file).
    pub fn new(entries: impl IntoIterator<Item = TokenEntry>) -> Self {
        let configured: Vec<TokenEntry> = entries.into_iter().collect();
        let map = index(configured.clone());
        Self { configured, file: None, loaded: RwLock::new((None, map)) }
    }

    /// Configured tokens plus those in `file`.
    pub fn with_file(configured: Vec<TokenEntry>, file: PathBuf) -> anyhow::Result<Self> {
        let stamp = modified(&file);
        let mut all = configured.clone();
        all.extend(read_token_file(&file)?);
        Ok(Self { configured, file: Some(file), loaded: RwLock::new((stamp, index(all))) })
    }

    fn reload_if_changed(&self) {
        let Some(file) = &self.file else { return };
        let stamp = modified(file);
        if self.loaded.read().map(|l| l.0 == stamp).unwrap_or(true) {
            return;
        }
        match read_token_file(file) {
            Ok(entries) => {
                let mut all = self.configured.clone();
                all.extend(entries);
                if let Ok(mut l) = self.loaded.write() {
                    *l = (stamp, index(all));
                }
                tracing::info!(file = %file.display(), "token file changed; tokens reloaded");
            }
            Err(e) => {
                tracing::error!(error = %e, "token file changed but cannot be read; keeping the tokens loaded before")
            }
        }
    }

    /// The caller a bearer token belongs to.
    pub fn check(&self, token: &str) -> Option<Caller> {
        let hash = hash_token(token);
        if let Some(c) = self.loaded.read().ok().and_then(|l| l.1.get(&hash).cloned()) {
            return Some(c);
        }
        self.reload_if_changed();
        self.loaded.read().ok().and_then(|l| l.1.get(&hash).cloned())
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.loaded.read().map(|l| l.1.len()).unwrap_or(0)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    #[serde(default)]
    tokens: Vec<TokenEntry>,
}

/// Reads the token file; a missing file holds no tokens.
pub fn read_token_file(path: &Path) -> anyhow::Result<Vec<TokenEntry>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let file: TokenFile =
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("token file {}: {e}", path.display()))?;
            Ok(file.tokens)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(anyhow::anyhow!("token file {}: {e}", path.display())),
    }
}

/// Creates a token, appends its hash to the token file (atomically: temp file, fsync, rename; mode 0600) and
/// returns the token text, which is never stored.
pub fn create_token(path: &Path, name: &str, role: Role) -> anyhow::Result<String> {
    let mut tokens = read_token_file(path)?;
    if tokens.iter().any(|t| t.name == name) {
        anyhow::bail!("a token named {name:?} already exists in {}", path.display());
    }
    let token = new_token();
    tokens.push(TokenEntry { name: name.into(), role, sha256: hash_token(&token) });
    let text = toml::to_string(&TokenFile { tokens })?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile_in(dir)?;
    tmp.1.write_all(b"# API tokens: SHA-256 hashes only. Create with `prognos token create`.\n")?;
    tmp.1.write_all(text.as_bytes())?;
    tmp.1.sync_all()?;
    std::fs::rename(&tmp.0, path)?;
    Ok(token)
}

fn tempfile_in(dir: &Path) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(format!(".tokens.{}.tmp", std::process::id()));
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)?;
    Ok((path, file))
}

/// All tokens from configuration and the token file. On a first run with none at all, creates an admin token,
/// prints it once on standard output, and stores only its hash.
pub fn load_tokens(settings: &Settings) -> anyhow::Result<TokenTable> {
    let file = settings.tokens_file();
    if settings.auth.tokens.is_empty() && read_token_file(&file)?.is_empty() {
        let token = create_token(&file, "first-admin", Role::Admin)?;
        println!(
            "prognos: no API token was configured, so an admin token was created.\n\
             It is shown only this once; only its hash is kept (in {}):\n\n    {token}\n",
            file.display()
        );
    }
    TokenTable::with_file(settings.auth.tokens.clone(), file)
}

/// At most this much of a refused request's body is read and thrown away before the refusal is sent ...
const REFUSED_BODY_DRAIN_BYTES: usize = 16 * 1024 * 1024;
/// ... and for at most this long.
const REFUSED_BODY_DRAIN_TIME: Duration = Duration::from_secs(5);

/// Middleware: the request must carry `Authorization: Bearer <token>` of a role that allows `access`.
///
/// A refused request's body is read (and thrown away, up to a bound) before the refusal goes out: a client
/// still sending it, say a model upload with a viewer's token, would otherwise see its connection reset instead
/// of the 401 or 403, because closing a socket that holds unread data makes the kernel answer with a reset,
/// which can overtake the response.
pub async fn require(
    State((state, access)): State<(AppState, Access)>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match caller_allowed(&state.tokens, access, req.headers()) {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.run(req).await)
        }
        Err(refusal) => {
            drain(req.into_body()).await;
            Err(refusal)
        }
    }
}

/// The caller whose bearer token the headers carry, if its role allows `access`.
fn caller_allowed(tokens: &TokenTable, access: Access, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized("send Authorization: Bearer <token>"))?;
    let caller = tokens.check(token).ok_or(ApiError::Unauthorized("the token is not valid"))?;
    if !allows(caller.role, access) {
        return Err(ApiError::Forbidden(format!(
            "token {:?} has role {}, which may not do this",
            caller.name,
            caller.role.as_str()
        )));
    }
    Ok(caller)
}

/// Reads a body to its end and drops it, up to [`REFUSED_BODY_DRAIN_BYTES`] and [`REFUSED_BODY_DRAIN_TIME`].
async fn drain(body: Body) {
    let mut chunks = body.into_data_stream();
    let mut left = REFUSED_BODY_DRAIN_BYTES;
    let read = async {
        while let Some(Ok(chunk)) = chunks.next().await {
            left = left.saturating_sub(chunk.len());
            if left == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(REFUSED_BODY_DRAIN_TIME, read).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_they_should() {
        assert!(allows(Role::Viewer, Access::Read));
        assert!(!allows(Role::Viewer, Access::Operate));
        assert!(!allows(Role::Viewer, Access::ManageModels));
        assert!(allows(Role::Operator, Access::Operate));
        assert!(!allows(Role::Operator, Access::ManageModels));
        assert!(allows(Role::DataScientist, Access::ManageModels));
        assert!(!allows(Role::DataScientist, Access::Operate));
        assert!(!allows(Role::DataScientist, Access::Admin));
        for a in [Access::Read, Access::Operate, Access::ManageModels, Access::Admin] {
            assert!(allows(Role::Admin, a));
        }
    }

    #[test]
    fn token_file_keeps_only_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/tokens.toml");
        let token = create_token(&path, "ops", Role::Operator).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token), "the token text must never be stored");
        assert!(text.contains(&hash_token(&token)));
        let table = TokenTable::with_file(Vec::new(), path.clone()).unwrap();
        assert_eq!(table.check(&token).unwrap().role, Role::Operator);
        assert!(table.check("prg_wrong").is_none());
        assert!(create_token(&path, "ops", Role::Viewer).is_err(), "names are unique");
        // A token created while the table is in use is picked up without a restart.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let later = create_token(&path, "late", Role::Viewer).unwrap();
        assert_eq!(table.check(&later).unwrap().name, "late");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
