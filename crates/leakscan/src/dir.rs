//! Sources on disk: a directory tree (symlinks are never followed), an OCI layout directory,
//! or a single file (tarball, image export, compressed or plain).

use crate::engine::{Report, Scanner, Sink};
use crate::finding::{Finding, Location};
use crate::image::{ImageScan, scan_image_stream};
use crate::walk::{Format, Walker, decoder, peek, scan_archive_stream};
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

/// Every regular file under `root`, sorted, as (relative path, absolute path).
fn files(root: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let ty = entry.file_type()?;
            let path = entry.path();
            if ty.is_dir() {
                stack.push(path);
            } else if ty.is_file() {
                let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                out.push((rel, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_oci_layout(dir: &Path) -> bool {
    dir.join("index.json").is_file() && dir.join("blobs").is_dir()
}

/// Scan a directory tree: every regular file, archives opened. A directory that is an OCI
/// image layout is scanned as an image.
pub fn scan_dir(scanner: &Scanner, root: &Path) -> io::Result<Report> {
    let mut sink = Sink::new(scanner);
    let list = files(root)?;
    if is_oci_layout(root) {
        let mut img = ImageScan::new(scanner, &mut sink);
        for (rel, abs) in &list {
            let f = File::open(abs)?;
            let size = f.metadata()?.len();
            img.entry(rel, &mut BufReader::with_capacity(1 << 16, f), size)?;
        }
        img.finish();
        return Ok(sink.into_report());
    }
    {
        let mut w = Walker { scanner, sink: &mut sink };
        let make = |p: &str| Location::File { path: p.to_string() };
        for (rel, abs) in &list {
            match File::open(abs) {
                Ok(f) => w.content(&mut BufReader::with_capacity(1 << 16, f), rel, 0, &make)?,
                Err(e) => w.sink.add(Finding::unscanned(make(rel), format!("cannot open: {e}"))),
            }
        }
    }
    Ok(sink.into_report())
}

/// Scan whatever `path` is: a directory (or OCI layout), an image export or tarball
/// (compressed or not), a zip, or a plain file.
pub fn scan_path(scanner: &Scanner, path: &Path) -> io::Result<Report> {
    if path.is_dir() {
        return scan_dir(scanner, path);
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut f = BufReader::with_capacity(1 << 16, File::open(path)?);
    let (format, mut r) = peek(&mut f)?;
    let is_tar = match format {
        Format::Tar => true,
        Format::Gzip | Format::Zstd => {
            // Peek through the compression to see whether a tar stream is inside.
            let mut probe = BufReader::new(File::open(path)?);
            let mut d = decoder(&mut probe, format, scanner.limits)?;
            matches!(peek(&mut d), Ok((Format::Tar, _)))
        }
        _ => false,
    };
    if is_tar { scan_image_stream(scanner, &mut r) } else { scan_archive_stream(scanner, &mut r, &name) }
}
