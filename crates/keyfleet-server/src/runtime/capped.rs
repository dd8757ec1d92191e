//! A listener that holds at most so many connections at once: the next is accepted only when
//! one closes. For services an instance reaches, so that the connections one instance opens
//! cost the server a bounded number of descriptors and tasks.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// `listener`, capped.
pub struct Capped<L> {
    listener: L,
    slots: Arc<Semaphore>,
}

impl<L> Capped<L> {
    /// At most `connections` at once.
    pub fn new(listener: L, connections: usize) -> Self {
        Capped { listener, slots: Arc::new(Semaphore::new(connections)) }
    }
}

/// A connection, holding its slot until it is dropped.
pub struct Slot<T> {
    io: T,
    _slot: OwnedSemaphorePermit,
}

impl<L: axum::serve::Listener> axum::serve::Listener for Capped<L> {
    type Io = Slot<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed: a permit always comes.
        loop {
            if let Ok(slot) = self.slots.clone().acquire_owned().await {
                let (io, addr) = self.listener.accept().await;
                return (Slot { io, _slot: slot }, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Slot<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Slot<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
