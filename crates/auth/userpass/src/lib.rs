//! Userpass auth method with Vault's API: people log in with a username and a password.
//!
//! [`factory`] builds the method for a mount (registered as `userpass`, mounted by core
//! under `auth/<path>/`). Paths, relative to the mount:
//! - `users` (LIST), `users/:name` (read, create/update, delete): `password` (write-only,
//!   required on create) and the common `token_*` fields. Usernames are lowercased, as in
//!   Vault, and may hold letters, digits, `_`, `-` and `.` (not starting with `-` or `.`,
//!   not ending with `.`).
//! - `users/:name/password` (`password`) and `users/:name/policies` (`token_policies`).
//! - `login/:name` (no token needed): `password`.
//!
//! Storage: `user/<name>` holds a user record: the argon2id PHC string of the password and
//! the token parameters. The password itself is never stored or returned.
//!
//! # Passwords
//!
//! Hashed with **argon2id, m = 19456 KiB, t = 2, p = 1** (OWASP's recommendation), 16-byte
//! salt from the OS RNG, 32-byte output, stored as a PHC string. One hash or verification
//! costs about 19 MiB and a few tens of milliseconds of one core, so a login benchmark
//! measures mostly this: compare userpass logins with these parameters on both sides, or
//! use AppRole to measure the login path itself. Hashing runs on the blocking pool, at most
//! as many at once as there are cores (2 to 16).
//!
//! A login for an unknown user runs a full verification against a dummy hash made once with
//! the same parameters, and a wrong user and a wrong password both answer 400 "invalid
//! username or password", so neither the answer nor its timing tells whether a user exists.
//! [`Userpass::password_verifications`] counts verifications, which lets tests check that
//! both paths do one. After the password, the user's `token_bound_cidrs` are checked
//! against the client address (403 when outside).
//!
//! # Differences from Vault
//!
//! - `password_hash` (a bcrypt hash given instead of a password) is refused: hashes are
//!   argon2id only.

mod login;
mod password;
mod users;

use std::sync::Arc;

use async_trait::async_trait;
use secrethub_engine::{
    Engine, EngineError, LoginRenewal, MountContext, Operation, PathEntry, PathTable, Paths,
    Request, Response, StorageView, TokenParams,
};

use Operation::{Delete, List, Read, Update};

/// Builds the userpass method for a mount.
pub fn factory(ctx: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
    Ok(Arc::new(Userpass::new(ctx)))
}

#[derive(Debug, Clone, Copy)]
enum Route {
    User,
    UserList,
    Password,
    Policies,
    Login,
}

/// The method of one `userpass` mount.
pub struct Userpass {
    table: PathTable<Route>,
    passwords: password::Passwords,
    /// Serialises read-modify-writes of user records (rare admin writes).
    writes: tokio::sync::Mutex<()>,
}

impl Userpass {
    /// The method for a mount; [`factory`] wraps it for core.
    pub fn new(_ctx: MountContext) -> Self {
        let table = PathTable::new()
            .add("users", Route::UserList, &[List], "Lists the users.")
            .add(
                "users/{name}",
                Route::User,
                &[Read, Update, Delete],
                "Manages a user: password (write-only, required on create) and the token_* \
                 fields.",
            )
            .add(
                "users/{name}/password",
                Route::Password,
                &[Update],
                "Changes a user's password (password).",
            )
            .add(
                "users/{name}/policies",
                Route::Policies,
                &[Update],
                "Changes a user's token policies (token_policies).",
            )
            .entry(
                PathEntry::new(
                    "login/{name}",
                    Route::Login,
                    &[Update],
                    "Logs in with the user's password (password).",
                )
                .login(),
            );
        Self {
            table,
            passwords: password::Passwords::new(),
            writes: tokio::sync::Mutex::new(()),
        }
    }

    /// How many password verifications this mount has run, for unknown users (against the
    /// dummy hash) and known ones alike.
    pub fn password_verifications(&self) -> u64 {
        self.passwords.verifications()
    }
}

/// The username of a login path (`login/<name>`), lowercased.
fn login_user(path: &str) -> Option<String> {
    let name = path.strip_prefix("login/")?;
    (!name.is_empty() && !name.contains('/')).then(|| name.to_lowercase())
}

#[async_trait]
impl Engine for Userpass {
    async fn handle(&self, req: Request) -> Result<Response, EngineError> {
        let (route, args) = self.table.route(&req.path, req.op)?;
        let name = args.get("name");
        match (route, req.op) {
            (Route::UserList, _) => self.list_users(&req).await,
            (Route::User, Read) => self.read_user(&req, name).await,
            (Route::User, Delete) => self.delete_user(&req, name).await,
            (Route::User, _) => self.write_user(&req, name).await,
            (Route::Password, _) => self.write_password(&req, name).await,
            (Route::Policies, _) => self.write_policies(&req, name).await,
            (Route::Login, _) => self.login(&req, name).await,
        }
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>, EngineError> {
        match self.table.route(&req.path, Operation::Update) {
            Ok((Route::User, args)) => {
                let name = users::username(args.get("name"))?;
                Ok(Some(users::load(&req.storage, &name).await?.is_some()))
            }
            _ => Ok(None),
        }
    }

    fn paths(&self) -> Option<&dyn Paths> {
        Some(&self.table)
    }

    async fn login_role(&self, req: &Request) -> Option<String> {
        login_user(&req.path)
    }

    async fn renew_login(
        &self,
        login: &LoginRenewal,
        storage: &StorageView,
    ) -> Result<TokenParams, EngineError> {
        self.renew(login, storage).await
    }
}
