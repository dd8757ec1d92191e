//! The thread that syncs the WAL file after each group commit, before its writers are answered.

use super::*;

/// Syncs the WAL file of the SQLite writer's database off the connection (see the module's
/// comment), on a thread of its own: a sync is one blocking call that takes the disk's time.
pub(super) struct WalSync {
    queue: std::sync::mpsc::Sender<Settled>,
}

impl WalSync {
    /// Starts the syncing thread for the WAL file at `path`; `None` if no thread could start
    /// (the group commit's connection then syncs in its commits).
    pub(super) fn start(path: PathBuf) -> Option<Arc<Self>> {
        let (queue, receiver) = std::sync::mpsc::channel::<Settled>();
        let started = std::thread::Builder::new().name("keyfleet-wal-sync".into()).spawn(move || {
            let (mut file, mut failed) = (None, false);
            while let Some(first) = spin(|| receiver.try_recv().ok()).or_else(|| receiver.recv().ok()) {
                // Everything settled while the last sync ran shares the next one.
                let settled: Vec<_> = std::iter::once(first).chain(receiver.try_iter()).flatten().collect();
                // After a failed sync the kernel may have dropped pages that a later sync would
                // then not write, and SQLite's recovery stops at the first lost WAL frame: no
                // later write can be acknowledged as durable until a restart recovers the WAL.
                let synced = !failed
                    && match sync_wal(&mut file, &path) {
                        WalSynced::Yes => true,
                        WalSynced::NotOpened => false,
                        WalSynced::Failed => {
                            failed = true;
                            false
                        }
                    };
                for (write, committed) in settled {
                    write
                        .finish(committed.and_then(|()| if synced { Ok(()) } else { Err(StoreError::WriteAbandoned) }));
                }
            }
        });
        match started {
            Ok(_) => Some(Arc::new(WalSync { queue })),
            Err(e) => {
                tracing::warn!(error = %e, "no WAL sync thread; SQLite commits sync themselves");
                None
            }
        }
    }

    pub(super) fn sync_then_finish(&self, settled: Settled) {
        if let Err(std::sync::mpsc::SendError(settled)) = self.queue.send(settled) {
            tracing::error!("the WAL sync thread is gone");
            for (write, _) in settled {
                write.finish(Err(StoreError::WriteAbandoned));
            }
        }
    }
}

/// How a sync of the WAL went.
enum WalSynced {
    Yes,
    /// The file could not be opened: nothing was synced, and nothing lost either (the next
    /// sync that opens it covers these writes too).
    NotOpened,
    Failed,
}

/// `fdatasync` on the WAL file, opened on first use (it exists once a commit has been made).
fn sync_wal(file: &mut Option<std::fs::File>, path: &std::path::Path) -> WalSynced {
    let opened = match file {
        Some(file) => file,
        None => match std::fs::File::open(path) {
            Ok(opened) => file.insert(opened),
            Err(e) => {
                tracing::error!(error = %e, path = %path.display(), "cannot open the WAL to sync it");
                return WalSynced::NotOpened;
            }
        },
    };
    match opened.sync_data() {
        Ok(()) => WalSynced::Yes,
        Err(e) => {
            tracing::error!(error = %e, path = %path.display(), "syncing the WAL failed: writes are refused until keyfleet restarts");
            WalSynced::Failed
        }
    }
}
