//! A dedicated OS thread for the Raft log's synced writes.
//!
//! An fsync blocks its thread for a disk round trip (and for as long as the disk likes
//! when it is slow), so it must not run on an async worker, where it would hold up
//! heartbeats and client requests. `block_in_place` avoids that by handing the worker's
//! queue to another thread for every call, which on a 2-core machine cost about 20 % of
//! write throughput in context switches. One long-lived thread that takes the writes in
//! order costs one wake-up each way instead, and the async side just awaits the answer.

use std::sync::mpsc;

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Handle to the thread; it ends once every handle is dropped.
#[derive(Clone)]
pub(crate) struct IoThread {
    jobs: mpsc::Sender<Job>,
    name: std::sync::Arc<str>,
}

/// The thread is gone (it could not be started, or a job panicked).
#[derive(Debug, thiserror::Error)]
#[error("the storage I/O thread {0} has stopped")]
pub(crate) struct IoThreadStopped(String);

impl IoThread {
    /// Starts a thread named `name`.
    pub(crate) fn spawn(name: &str) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            })?;
        Ok(Self {
            jobs,
            name: name.into(),
        })
    }

    /// Runs `f` on the thread after the jobs submitted before it, and returns its result.
    pub(crate) async fn run<R, F>(&self, f: F) -> Result<R, IoThreadStopped>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        let stopped = || IoThreadStopped(self.name.to_string());
        self.jobs.send(job).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_in_order_off_the_runtime_and_return_their_results() {
        let io = IoThread::spawn("test-io").expect("spawn");
        let runtime_thread = std::thread::current().id();
        let (a, b) = tokio::join!(
            io.run(move || (1, std::thread::current().id() != runtime_thread)),
            io.run(|| (2, std::thread::current().name() == Some("test-io")))
        );
        assert_eq!(a.expect("a"), (1, true));
        assert_eq!(b.expect("b"), (2, true));
    }

    #[tokio::test]
    async fn a_panicking_job_is_reported_not_hung_on() {
        let io = IoThread::spawn("test-io-panic").expect("spawn");
        let r = io.run(|| -> u8 { panic!("disk on fire") }).await;
        assert!(r.is_err());
        assert!(
            io.run(|| 1).await.is_err(),
            "the thread is gone after a panic"
        );
    }
}
