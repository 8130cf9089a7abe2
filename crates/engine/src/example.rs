//! A minimal engine to start the next one from: a route enum, a path table with help on
//! every row and flags on the special ones, an [`EngineFactory`](crate::EngineFactory), and
//! an [`Engine`](crate::Engine) that answers JSON on one path and a raw body on another.
//! It compiles and runs as this module's test (`cargo test --doc -p secrethub-engine`).
//!
//! The `greeting` mount type below keeps one greeting in its storage. Anyone may fetch
//! `greeting/pem` without a token (a raw `text/plain` body, as PKI's `ca/pem` is raw PEM);
//! reading and writing `greeting/config` needs a token and its grant; `greeting/reset`
//! needs `sudo` as well. Core reads the flags from [`Engine::paths`](crate::Engine::paths)
//! before it looks at the token, so the handler never checks them itself.
//!
//! ```
//! use std::sync::Arc;
//!
//! use async_trait::async_trait;
//! use secrethub_engine::{
//!     Engine, EngineError, EngineFactory, JsonMap, MountContext, Operation, PathEntry,
//!     PathTable, Paths, Request, Response,
//! };
//! use secrethub_storage::Storage;
//! use Operation::{Read, Update};
//!
//! /// Every path the engine serves; `handle` matches on it exhaustively.
//! #[derive(Debug, Clone, Copy)]
//! enum Route {
//!     Config,
//!     Pem,
//!     Reset,
//! }
//!
//! struct Greeting {
//!     paths: PathTable<Route>,
//! }
//!
//! const KEY: &str = "greeting";
//!
//! /// What the `secrethub` crate registers under the mount type `greeting`.
//! pub fn factory(_ctx: MountContext) -> Result<Arc<dyn Engine>, EngineError> {
//!     let paths = PathTable::new()
//!         .add("config", Route::Config, &[Read, Update], "Reads or sets the greeting (text).")
//!         .entry(
//!             PathEntry::new("pem", Route::Pem, &[Read], "The greeting as text/plain.")
//!                 .unauthenticated(),
//!         )
//!         .entry(
//!             PathEntry::new("reset", Route::Reset, &[Update], "Forgets the greeting.").sudo(),
//!         );
//!     Ok(Arc::new(Greeting { paths }))
//! }
//! const _: EngineFactory = factory;
//!
//! impl Greeting {
//!     async fn text(&self, req: &Request) -> Result<String, EngineError> {
//!         let stored = req.storage.get(KEY).await?;
//!         Ok(stored.map_or_else(|| "hello".into(), |b| String::from_utf8_lossy(&b).into()))
//!     }
//! }
//!
//! #[async_trait]
//! impl Engine for Greeting {
//!     async fn handle(&self, req: Request) -> Result<Response, EngineError> {
//!         let (route, _args) = self.paths.route(&req.path, req.op)?;
//!         match (route, req.op) {
//!             (Route::Config, Read) => {
//!                 let mut data = JsonMap::new();
//!                 data.insert("text".into(), self.text(&req).await?.into());
//!                 Ok(Response::data(data))
//!             }
//!             (Route::Config, _) => {
//!                 let text: String = req
//!                     .field("text")?
//!                     .ok_or_else(|| EngineError::BadRequest("missing text".into()))?;
//!                 req.storage.put(KEY, text.as_bytes()).await?;
//!                 Ok(Response::empty())
//!             }
//!             (Route::Pem, _) => Ok(Response::raw("text/plain", self.text(&req).await?)),
//!             (Route::Reset, _) => {
//!                 req.storage.delete(KEY).await?;
//!                 Ok(Response::empty())
//!             }
//!         }
//!     }
//!
//!     fn paths(&self) -> Option<&dyn Paths> {
//!         Some(&self.paths)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), EngineError> {
//! # use secrethub_engine::{Caller, MountInfo, StorageView};
//! # let storage = StorageView::new(Arc::new(secrethub_storage::MemoryStorage::new()), "m/");
//! # let ctx = MountContext {
//! #     engine_type: "greeting".into(),
//! #     options: Default::default(),
//! #     storage: storage.clone(),
//! # };
//! let engine = factory(ctx)?;
//! // What core asks before it looks at the token.
//! assert!(engine.path_flags("pem", Read).unauthenticated);
//! assert!(engine.path_flags("reset", Update).sudo);
//! assert!(!engine.path_flags("config", Update).sudo);
//! # let request = |op, path: &str, body: serde_json::Value| Request {
//! #     op,
//! #     path: path.into(),
//! #     body: body.as_object().cloned().unwrap_or_default(),
//! #     storage: storage.clone(),
//! #     caller: Caller::default(),
//! #     mount: MountInfo::default(),
//! #     intents: None,
//! #     timers: None,
//! #     raw_body: None,
//! # };
//! engine
//!     .handle(request(Update, "config", serde_json::json!({"text": "hi"})))
//!     .await?;
//! let raw = engine.handle(request(Read, "pem", Default::default())).await?.raw.unwrap();
//! assert_eq!((raw.status, raw.content_type.as_str()), (200, "text/plain"));
//! assert_eq!(raw.body, b"hi");
//! # Ok(())
//! # }
//! ```
