//! The wsproto demo: a chat server on `wsproto::axum`, with rooms, direct messages, names
//! online, stored history, token authentication, and several nodes over Redis.
//!
//! ```text
//! cargo run --release -p chat -- [ADDR] [--db PATH] [--tokens FILE] [--redis URL] [--unix PATH]
//! ```
//!
//! - `ADDR`: where to listen, `127.0.0.1:8080` by default (port 0 picks a free one). Open
//!   `http://ADDR/` in a few tabs.
//! - `--db PATH`: the SQLite history of a single node, `chat.db` in the working directory by
//!   default. It survives restarts; pages that reconnect fetch what they missed.
//! - `--tokens FILE`: require a token, one `TOKEN NAME` per line. A client sends it as
//!   `/chat?token=...` (a bad one gets 401 at the handshake) or as its first message
//!   `{"type": "token", "data": "..."}` (a bad one gets close 1008 "invalid token").
//! - `--redis URL`: join a deployment of several nodes: events travel over Redis pub/sub, the
//!   history and the names online live in Redis (see [`cluster`]). `--db` is then unused.
//! - `--unix PATH`: listen on a Unix socket instead of `ADDR`, for a proxy such as nginx in front.
//!
//! HTTP: `GET /` the page, `GET /chat` the WebSocket, `GET /history?room=R&after=ID` (plus
//! `&token=` when tokens are on) the messages after `ID` as
//! `{"room": R, "messages": [...]}`, at most 500, oldest first.
//!
//! The protocol is in [`protocol`]. The WebSocket runs with the adapter's defaults: a ping
//! after 20 s without input and close 1011 after 20 s more without an answer, permessage-deflate
//! with the memory-conscious windows (12 bits, memLevel 5), messages up to 64 KiB. SIGINT or
//! SIGTERM closes every connection with 1001, waits up to 5 s for the close handshakes, writes
//! the history out and exits.

mod app;
mod cluster;
mod hub;
mod outbox;
mod protocol;
mod session;
mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::watch;
use wsproto::axum::WebSocketUpgrade;

use app::{App, Backend, Tokens};
use cluster::Redis;
use hub::Hub;
use session::Auth;
use store::Sqlite;

const PAGE: &str = include_str!("../index.html");
/// The largest message a client may send (a `message` of 2000 four-byte characters fits).
const MAX_MESSAGE: usize = 64 << 10;
/// How long shutdown waits for the close handshakes.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// The command line.
struct Options {
    addr: String,
    db: PathBuf,
    tokens: Option<PathBuf>,
    redis: Option<String>,
    unix: Option<PathBuf>,
}

const USAGE: &str = "usage: chat [ADDR] [--db PATH] [--tokens FILE] [--redis URL] [--unix PATH]";

fn options() -> Result<Options, String> {
    let mut options = Options {
        addr: "127.0.0.1:8080".to_owned(),
        db: PathBuf::from("chat.db"),
        tokens: None,
        redis: None,
        unix: None,
    };
    let mut args = std::env::args().skip(1);
    let mut addr_seen = false;
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{arg} needs {what}\n{USAGE}"));
        match arg.as_str() {
            "--db" => options.db = value("a path")?.into(),
            "--tokens" => options.tokens = Some(value("a file")?.into()),
            "--redis" => options.redis = Some(value("a URL")?),
            "--unix" => options.unix = Some(value("a path")?.into()),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            _ if !arg.starts_with('-') && !addr_seen => {
                options.addr = arg;
                addr_seen = true;
            }
            _ => return Err(format!("unknown argument {arg}\n{USAGE}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = serve(options).await {
        eprintln!("chat: {e}");
        std::process::exit(1);
    }
}

async fn serve(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let node = format!("{:016x}", rand_node());
    let hub = Arc::new(Hub::new(node));
    let (stop, shutdown) = watch::channel(false);
    // Kept alive until the end: the sessions wait on it.
    let stop = Arc::new(stop);
    let tokens = options.tokens.as_deref().map(Tokens::load).transpose()?;
    let backend = match &options.redis {
        Some(url) => {
            let redis = Redis::connect(url).await?;
            tokio::spawn(redis.clone().follow(Arc::clone(&hub)));
            keep_presence_apart(url.clone(), Arc::clone(&hub))?;
            Backend::Redis(Box::new(redis))
        }
        None => Backend::Local(Sqlite::open(&options.db)?),
    };
    let app = Arc::new(App::new(Arc::clone(&hub), backend, tokens, shutdown));
    let router = router(Arc::clone(&app));
    let signal = {
        let stop = Arc::clone(&stop);
        async move {
            wait_for_signal().await;
            eprintln!("chat: shutting down");
            let _ = stop.send(true);
        }
    };
    match &options.unix {
        Some(path) => {
            // A socket file left by an earlier run would make bind fail.
            let _ = std::fs::remove_file(path);
            let listener = tokio::net::UnixListener::bind(path)?;
            eprintln!("chat listening on unix:{}", path.display());
            axum::serve(listener, router)
                .with_graceful_shutdown(signal)
                .await?;
            let _ = std::fs::remove_file(path);
        }
        None => {
            let listener = tokio::net::TcpListener::bind(&options.addr).await?;
            eprintln!("chat listening on http://{}/", listener.local_addr()?);
            axum::serve(listener, router)
                .with_graceful_shutdown(signal)
                .await?;
        }
    }
    let left = app.wait_for_sessions(SHUTDOWN_WAIT).await;
    if left > 0 {
        eprintln!("chat: {left} connections did not finish their close handshake in time");
    }
    if let Backend::Local(db) = &app.backend {
        db.flush()?;
    }
    eprintln!("chat: history written, bye");
    Ok(())
}

/// Runs the presence refresh and sync on a thread and runtime of their own, over a Redis
/// connection of their own: a node's users must not vanish from the other nodes' lists because
/// its connections keep the main runtime busy (10,000 clients joining at once on two cores
/// delayed a refresh on the shared runtime past the entries' expiry).
fn keep_presence_apart(url: String, hub: Arc<Hub>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("chat-presence".into())
        .spawn(move || {
            runtime.block_on(async move {
                loop {
                    match Redis::connect(&url).await {
                        Ok(redis) => redis.keep_presence(Arc::clone(&hub)).await,
                        Err(e) => eprintln!("chat: presence cannot reach Redis: {e}"),
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        })?;
    Ok(())
}

/// A node name that differs between processes and runs.
fn rand_node() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/index.html", get(page))
        .route("/chat", get(chat))
        .route("/history", get(history))
        .with_state(app)
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; img-src 'self' data:",
            ),
        ],
        PAGE,
    )
        .into_response()
}

#[derive(Deserialize)]
struct ChatQuery {
    token: Option<String>,
}

/// The WebSocket: same-origin only (another site's page must not chat with the user's browser,
/// RFC 6455 section 10.2), and the token checked before the upgrade.
async fn chat(
    State(app): State<Arc<App>>,
    Query(query): Query<ChatQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(ws.request()) {
        return refuse(StatusCode::FORBIDDEN, "cross-origin WebSocket refused\n");
    }
    let auth = match (&app.tokens, query.token) {
        (None, _) => Auth::Anonymous,
        (Some(tokens), Some(token)) => match tokens.name(&token) {
            Some(name) => Auth::Named(name.to_owned()),
            None => return refuse(StatusCode::UNAUTHORIZED, "invalid token\n"),
        },
        (Some(_), None) => Auth::Pending,
    };
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| session::run(app, socket, auth))
}

fn same_origin(request: &wsproto::Request) -> bool {
    match (request.origin(), request.host()) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| o.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

fn refuse(status: StatusCode, body: &'static str) -> Response {
    let mut response = (status, body).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"chat\""),
        );
    }
    response
}

#[derive(Deserialize)]
struct HistoryQuery {
    room: String,
    #[serde(default)]
    after: i64,
    token: Option<String>,
}

/// `GET /history?room=R&after=ID`: what a page missed.
async fn history(State(app): State<Arc<App>>, Query(query): Query<HistoryQuery>) -> Response {
    if let Some(tokens) = &app.tokens
        && query
            .token
            .as_deref()
            .and_then(|t| tokens.name(t))
            .is_none()
    {
        return refuse(StatusCode::UNAUTHORIZED, "invalid token\n");
    }
    let room = match protocol::check_room(&query.room) {
        Ok(room) => room,
        Err(reason) => return (StatusCode::BAD_REQUEST, reason).into_response(),
    };
    match app.after(room, query.after).await {
        Ok(messages) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            serde_json::json!({"room": room, "messages": messages}).to_string(),
        )
            .into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
    }
}
