//! Resilience settings from a TOML file, reloaded without a restart when the file changes
//! or the process gets SIGHUP.
//!
//! Run: `cargo run -p resilience-examples --bin config_reload [path/to/resilience.toml]`
//!
//! Without a path, the example writes its own file in the temp directory and plays the
//! operator: it raises a bulkhead's capacity by editing the file, then saves a broken file
//! (refused, nothing changes), then fixes it. With a path, it loads that file, then
//! watches it (and SIGHUP) until Ctrl-C.
//!
//! `#[resilient(bulkhead = "search", circuit_breaker = "search")]` finds the instances by
//! name in `Registry::global()`, so every reload reaches the function without touching
//! its code. Environment overrides (`RESILIENCE__BULKHEAD__SEARCH__MAX_CONCURRENT=8`)
//! apply on top of the file at every load.

use std::path::{Path, PathBuf};
use std::time::Duration;

use resilience_core::settings::Settings;
use resilience_core::{Error, Registry, resilient};
use tokio::sync::mpsc;

const FIRST: &str = r#"
[bulkhead.search]
max_concurrent = 2

[circuit_breaker.search]
consecutive_failures = 5
open_duration = "10s"
"#;

/// A search that holds its bulkhead permit for a moment.
#[resilient(bulkhead = "search", circuit_breaker = "search")]
async fn search(query: u32) -> Result<u32, Error> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(query)
}

/// Reads, parses and applies the file (with the environment's overrides).
fn load(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let settings = Settings::from_deserializer(toml::Deserializer::parse(&text)?)?.with_env()?;
    Registry::global().apply(&settings)?;
    Ok(())
}

/// Reloads the file whenever its content changes (polled every 100ms) or SIGHUP comes,
/// reporting each outcome on `events`.
async fn watch(path: PathBuf, events: mpsc::UnboundedSender<String>) {
    let mut applied = std::fs::read_to_string(&path).unwrap_or_default();
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .expect("a SIGHUP handler");
    loop {
        #[cfg(unix)]
        let why = tokio::select! {
            _ = poll.tick() => "file changed",
            _ = hangup.recv() => "SIGHUP",
        };
        #[cfg(not(unix))]
        let why = {
            poll.tick().await;
            "file changed"
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if why == "file changed" && text == applied {
            continue;
        }
        applied = text;
        let event = match load(&path) {
            Ok(()) => format!("reloaded ({why})"),
            Err(err) => format!("rejected ({why}): {err}"),
        };
        if events.send(event).is_err() {
            return;
        }
    }
}

/// Sends five searches at once and says how many the bulkhead let in.
async fn burst() -> String {
    let calls: Vec<_> = (0..5).map(|q| tokio::spawn(search(q))).collect();
    let mut admitted = 0;
    for call in calls {
        if call.await.expect("no panic").is_ok() {
            admitted += 1;
        }
    }
    let cap = Registry::global()
        .get_bulkhead("search")
        .expect("loaded")
        .capacity();
    format!("capacity {cap}: {admitted} of 5 searches admitted")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let given = std::env::args_os().nth(1).map(PathBuf::from);
    let path = given.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("resilience-{}.toml", std::process::id()))
    });
    if given.is_none() {
        std::fs::write(&path, FIRST)?;
    }
    load(&path)?;
    println!("loaded {}", path.display());
    let (tx, mut events) = mpsc::unbounded_channel();
    tokio::spawn(watch(path.clone(), tx));

    if given.is_some() {
        println!("watching; edit the file or send SIGHUP (Ctrl-C to stop)");
        loop {
            tokio::select! {
                Some(event) = events.recv() => println!("{event}; {}", burst().await),
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
        }
    }

    println!("{}", burst().await);
    // The operator raises the capacity, then saves a broken file (refused: the running
    // settings stay), then fixes it.
    for capacity in [4, 0, 5] {
        let edited = FIRST.replace(
            "max_concurrent = 2",
            &format!("max_concurrent = {capacity}"),
        );
        std::fs::write(&path, edited)?;
        println!("{}", events.recv().await.expect("the watcher runs"));
        println!("{}", burst().await);
    }
    std::fs::remove_file(&path)?;
    Ok(())
}
