//! Git history: every blob reachable from any ref (and every commit message), streamed from
//! `git cat-file --batch`, so a secret that was committed and later deleted is still found.

use crate::engine::{Report, Scanner, Sink};
use crate::finding::Location;
use crate::walk::Walker;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn git(repo: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(repo).env("GIT_TERMINAL_PROMPT", "0");
    c
}

fn run(mut c: Command, what: &str) -> io::Result<String> {
    let out =
        c.stderr(Stdio::piped()).output().map_err(|e| io::Error::other(format!("{what}: cannot run git: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(io::Error::other(format!("{what}: {}", err.trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Scan the whole history of the repository at `repo`.
pub fn scan_git(scanner: &Scanner, repo: &Path) -> io::Result<Report> {
    let mut list = git(repo);
    list.args(["rev-list", "--objects", "--all"]);
    let listing = run(list, "list objects")?;
    let objects: Vec<(String, String)> = listing
        .lines()
        .filter_map(|l| {
            let (sha, path) = l.split_once(' ').unwrap_or((l, ""));
            (!sha.is_empty()).then(|| (sha.to_string(), path.to_string()))
        })
        .collect();

    let mut child = git(repo)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| io::Error::other(format!("cannot run git cat-file: {e}")))?;
    let mut stdin = child.stdin.take().ok_or_else(|| io::Error::other("git cat-file: no stdin"))?;
    let ids: Vec<String> = objects.iter().map(|(s, _)| s.clone()).collect();
    // Feed ids from a thread: cat-file's output would otherwise fill the pipe and deadlock.
    let feeder = std::thread::spawn(move || -> io::Result<()> {
        let mut w = io::BufWriter::new(&mut stdin);
        for id in ids {
            writeln!(w, "{id}")?;
        }
        w.flush()
    });
    let mut out = BufReader::with_capacity(
        1 << 16,
        child.stdout.take().ok_or_else(|| io::Error::other("git cat-file: no stdout"))?,
    );
    let mut sink = Sink::new(scanner);
    let result = read_batch(scanner, &mut sink, &mut out, &objects);
    drop(out);
    let fed = feeder.join().map_err(|_| io::Error::other("git cat-file feeder panicked"))?;
    let _ = child.wait();
    result?;
    fed?;
    let mut report = sink.into_report();
    locate_commits(repo, &mut report);
    Ok(report)
}

fn read_batch<'a>(
    scanner: &'a Scanner,
    sink: &mut Sink<'a>,
    out: &mut dyn BufRead,
    objects: &[(String, String)],
) -> io::Result<()> {
    let mut header = String::new();
    for (sha, path) in objects {
        header.clear();
        if out.read_line(&mut header)? == 0 {
            return Err(io::Error::other("git cat-file ended early"));
        }
        let mut parts = header.split_whitespace();
        let (_, ty, size) =
            (parts.next(), parts.next().unwrap_or("missing"), parts.next().and_then(|s| s.parse::<u64>().ok()));
        let Some(size) = size else { continue };
        let mut body = (&mut *out).take(size);
        match ty {
            "blob" => {
                let make = |p: &str| Location::Commit { commit: sha.clone(), path: p.to_string() };
                let mut w = Walker { scanner, sink: &mut *sink };
                w.content(&mut body, path, 0, &make)?;
            }
            "commit" => {
                let loc = Location::Commit { commit: sha.clone(), path: "(commit message)".into() };
                let n = scanner.scan_stream(&mut body, &mut |h| sink.push(h, &loc))?;
                sink.scanned(n);
            }
            _ => {}
        }
        io::copy(&mut body, &mut io::sink())?;
        let mut nl = [0u8; 1];
        out.read_exact(&mut nl)?;
    }
    Ok(())
}

/// Blob findings carry the blob id; replace it with the oldest commit that added the blob.
fn locate_commits(repo: &Path, report: &mut Report) {
    let mut cache: HashMap<String, String> = HashMap::new();
    for f in &mut report.findings {
        let Location::Commit { commit, path } = &mut f.location else { continue };
        if path == "(commit message)" {
            continue;
        }
        let blob = commit.clone();
        let found = cache.entry(blob.clone()).or_insert_with(|| {
            let mut c = git(repo);
            c.args(["log", "--all", "--reverse", "--format=%H", &format!("--find-object={blob}")]);
            run(c, "find commit").ok().and_then(|s| s.lines().next().map(String::from)).unwrap_or(blob)
        });
        *commit = found.clone();
    }
}
