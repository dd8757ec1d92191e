//! The accept loop: HTTP/1.1 connections, in TLS when the server has a certificate, served by
//! hyper with a timer, so that a client that is slow to handshake or to send its request head
//! is cut off (slowloris), and with the peer address and transport passed to the handler as
//! request extensions. Connections are capped in all and per source address, so that one
//! client holding connections open cannot lock the others out. On shutdown it stops
//! accepting, lets requests in flight finish, and closes idle connections.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long a client may take to send a request head, and to start the next one on a
/// kept-alive connection; also how long a TLS handshake may take.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Open API connections in all, by default. Each is a descriptor and a task; the SDKs keep
/// a pool of about ten per client.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Open API connections per source address, by default.
pub const DEFAULT_MAX_CONNECTIONS_PER_SOURCE: usize = 256;

/// How a request reached the server: what `aws:SecureTransport` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP.
    Plain,
    /// HTTPS.
    Tls,
}

/// The accept loop's settings.
#[derive(Clone)]
pub struct ListenerConfig {
    /// Serve HTTPS with this certificate instead of HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections per source address.
    pub max_connections_per_source: usize,
}

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TlsError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// A rustls server configuration from a PEM certificate chain and its PEM private key
/// (PKCS#8, PKCS#1 or SEC1), on the aws-lc-rs provider, speaking HTTP/1.1.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let failed =
        |path: &Path, reason: &dyn std::fmt::Display| TlsError { path: path.to_owned(), reason: reason.to_string() };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| failed(cert, &e))?;
    if chain.is_empty() {
        return Err(failed(cert, &"no CERTIFICATE in the file"));
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| failed(key, &e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(cert, &e))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| failed(key, &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    config: ListenerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let gate = Arc::new(Gate::new(config.max_connections, config.max_connections_per_source));
    let tls = config.tls.map(tokio_rustls::TlsAcceptor::from);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: back off instead of spinning.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        // Over a cap, the connection is closed before a byte is read: the SDKs retry a
        // reset connection with backoff.
        let Some(pass) = gate.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: too many open connections");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (router, stopped) = (router.clone(), stopped.clone());
        match &tls {
            None => connections.spawn(connection(stream, peer, Transport::Plain, router, stopped, pass)),
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                connections.spawn(async move {
                    match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => connection(stream, peer, Transport::Tls, router, stopped, pass).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                })
            }
        };
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async { while connections.join_next().await.is_some() {} }).await;
    Ok(())
}

async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    transport: Transport,
    router: Router,
    mut stopped: watch::Receiver<bool>,
    _pass: Pass,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(transport);
        let mut router = router.clone();
        async move { tower_service::Service::call(&mut router, request.map(axum::body::Body::new)).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let stop_requested = async move {
        // The guard `wait_for` returns is not Send; drop it before the select resolves.
        let _ = stopped.wait_for(|s| *s).await.map(|_| ());
    };
    tokio::select! {
        _ = conn.as_mut() => {}
        () = stop_requested => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Counts open connections, in all and per source address.
struct Gate {
    max_total: usize,
    max_per_source: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// One admitted connection's place, given back on drop.
struct Pass {
    gate: Arc<Gate>,
    source: IpAddr,
}

impl Gate {
    fn new(max_total: usize, max_per_source: usize) -> Self {
        Gate { max_total: max_total.max(1), max_per_source: max_per_source.max(1), open: Mutex::default() }
    }

    fn admit(self: &Arc<Self>, source: IpAddr) -> Option<Pass> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let from_source = open.by_source.get(&source).copied().unwrap_or(0);
        if open.total >= self.max_total || from_source >= self.max_per_source {
            return None;
        }
        open.total += 1;
        open.by_source.insert(source, from_source + 1);
        Some(Pass { gate: self.clone(), source })
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_source.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                open.by_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Gate;
    use std::net::IpAddr;
    use std::sync::Arc;

    #[test]
    fn caps_per_source_and_in_all_and_gives_places_back() {
        let gate = Arc::new(Gate::new(3, 2));
        let (a, b, c): (IpAddr, IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap());
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert!(gate.admit(a).is_none(), "a third from one source");
        let _third = gate.admit(b).unwrap();
        assert!(gate.admit(c).is_none(), "a fourth in all");
        drop(first);
        assert!(gate.admit(c).is_some(), "a place given back is free again");
    }
}
