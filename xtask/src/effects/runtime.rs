//! The one async runtime of the process. Only the Docker client (bollard) is async; every
//! other effect blocks. Started on first use and shared, so no module builds its own.

use anyhow::Context;
use std::future::Future;
use std::sync::OnceLock;

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The shared runtime (two workers: the Docker client and the export stream).
pub fn get() -> anyhow::Result<&'static tokio::runtime::Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime for the docker client")?;
    // Another thread may have won the race; either runtime is as good, ours is dropped.
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Run a future to completion on the shared runtime from blocking code. It runs on a scoped
/// thread, so a caller that is itself inside a runtime (a test, a bollard callback) does not
/// trip tokio's nested-runtime check.
pub fn block_on<T: Send>(fut: impl Future<Output = anyhow::Result<T>> + Send) -> anyhow::Result<T> {
    let rt = get()?;
    std::thread::scope(|s| {
        s.spawn(|| rt.block_on(fut)).join().unwrap_or_else(|_| anyhow::bail!("the docker client thread panicked"))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn block_on_works_from_inside_the_runtime_too() {
        let outer = super::block_on(async { super::block_on(async { Ok(41) }).map(|n| n + 1) }).unwrap();
        assert_eq!(outer, 42);
        assert!(std::ptr::eq(super::get().unwrap(), super::get().unwrap()));
    }
}
