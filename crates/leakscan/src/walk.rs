//! The archive walker: sniff a stream's format, decompress (gzip, zstd) and unpack (tar, zip)
//! to a bounded depth, scanning every file's bytes. Bombs, corrupt and over-limit parts
//! become `unscanned` findings; nothing is ever written to disk.

use crate::engine::{Report, Scanner, Sink};
use crate::finding::{Finding, Location};
use crate::tarstream::{EntryKind, TarStream, is_tar_header};
use std::cell::Cell;
use std::io::{self, Cursor, Read};
use std::rc::Rc;

/// Bounds that keep memory and time finite on hostile input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Archives inside archives (each decompression or unpacking is one level).
    pub max_depth: u32,
    /// Decompressed bytes allowed per compressed stream.
    pub max_decompressed: u64,
    /// Decompressed / compressed ratio allowed once a stream has produced `ratio_grace` bytes.
    pub max_ratio: u64,
    pub ratio_grace: u64,
    /// Entries per archive.
    pub max_entries: u64,
    /// zstd window (log2 bytes): bounds the decoder's memory.
    pub zstd_window_log: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 6,
            max_decompressed: 64 << 30,
            max_ratio: 250,
            ratio_grace: 64 << 20,
            max_entries: 2_000_000,
            zstd_window_log: 24,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Gzip,
    Zstd,
    Zip,
    Tar,
    Plain,
}

pub(crate) fn sniff(head: &[u8]) -> Format {
    if head.starts_with(&[0x1f, 0x8b]) {
        Format::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Format::Zstd
    } else if head.starts_with(b"PK\x03\x04") {
        Format::Zip
    } else if is_tar_header(head) {
        Format::Tar
    } else {
        Format::Plain
    }
}

/// Read up to 512 bytes to sniff, then hand back a reader that replays them.
/// A stream whose first bytes were read to sniff it, replayed in front of the rest.
pub(crate) type Peeked<'r> = io::Chain<Cursor<Vec<u8>>, &'r mut dyn Read>;

pub(crate) fn peek(r: &mut dyn Read) -> io::Result<(Format, Peeked<'_>)> {
    let mut head = Vec::with_capacity(512);
    (&mut *r).take(512).read_to_end(&mut head)?;
    Ok((sniff(&head), Cursor::new(head).chain(r)))
}

/// Counts the compressed bytes a decoder pulls.
struct CountIn<'a> {
    r: &'a mut dyn Read,
    n: Rc<Cell<u64>>,
}

impl Read for CountIn<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.n.set(self.n.get() + n as u64);
        Ok(n)
    }
}

/// Fails a decompressed stream that grows past the byte or ratio limit (a bomb).
struct Bounded<R> {
    r: R,
    out: u64,
    input: Rc<Cell<u64>>,
    limits: Limits,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.out += n as u64;
        let l = &self.limits;
        if self.out > l.max_decompressed {
            return Err(io::Error::other(format!("decompressed size over the {} byte limit", l.max_decompressed)));
        }
        if self.out > l.ratio_grace && self.out > self.input.get().max(1).saturating_mul(l.max_ratio) {
            return Err(io::Error::other(format!("compression ratio over {}:1 (a decompression bomb?)", l.max_ratio)));
        }
        Ok(n)
    }
}

/// Wrap `r` in a bounded decoder for `format` (gzip or zstd).
pub(crate) fn decoder<'a>(r: &'a mut dyn Read, format: Format, limits: Limits) -> io::Result<Box<dyn Read + 'a>> {
    let counter = Rc::new(Cell::new(0));
    let input = CountIn { r, n: counter.clone() };
    let inner: Box<dyn Read + 'a> = match format {
        Format::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Format::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(input)?;
            d.window_log_max(limits.zstd_window_log)?;
            Box::new(d)
        }
        _ => return Err(io::Error::other("not a compressed format")),
    };
    Ok(Box::new(Bounded { r: inner, out: 0, input: counter, limits }))
}

/// The walker over one scan: the scanner, where findings go, and how a path inside the
/// current top-level thing becomes a [`Location`].
pub(crate) struct Walker<'s, 'a> {
    pub scanner: &'a Scanner,
    pub sink: &'s mut Sink<'a>,
}

impl<'a> Walker<'_, 'a> {
    /// Scan a file's content: plain bytes are searched; archives and compressed streams are
    /// opened and walked (errors inside them become `unscanned` findings).
    pub(crate) fn content(
        &mut self,
        r: &mut dyn Read,
        path: &str,
        depth: u32,
        make: &dyn Fn(&str) -> Location,
    ) -> io::Result<()> {
        let (format, mut r) = peek(r)?;
        if format == Format::Plain || depth >= self.scanner.limits.max_depth {
            if format != Format::Plain {
                self.sink
                    .add(Finding::unscanned(make(path), "archive nested deeper than the limit; raw bytes scanned"));
            }
            return self.plain(&mut r, path, make);
        }
        if let Err(e) = self.archive(&mut r, format, path, depth, make) {
            self.sink
                .add(Finding::unscanned(make(path), format!("{format:?} content could not be read completely: {e}")));
        }
        Ok(())
    }

    pub(crate) fn plain(&mut self, r: &mut dyn Read, path: &str, make: &dyn Fn(&str) -> Location) -> io::Result<()> {
        let loc = make(path);
        let sink = &mut *self.sink;
        let n = self.scanner.scan_stream(r, &mut |h| sink.push(h, &loc))?;
        self.sink.scanned(n);
        Ok(())
    }

    fn archive(
        &mut self,
        r: &mut dyn Read,
        format: Format,
        path: &str,
        depth: u32,
        make: &dyn Fn(&str) -> Location,
    ) -> io::Result<()> {
        match format {
            Format::Gzip | Format::Zstd => {
                let mut d = decoder(r, format, self.scanner.limits)?;
                self.content(&mut d, path, depth + 1, make)
            }
            Format::Tar => self.tar(r, path, depth + 1, make, &mut |_, _| {}),
            Format::Zip => self.zip(r, path, depth + 1, make),
            Format::Plain => self.plain(r, path, make),
        }
    }

    /// Walk a tar stream; `on_entry` sees every entry (path, kind) before its data is scanned.
    pub(crate) fn tar(
        &mut self,
        r: &mut dyn Read,
        path: &str,
        depth: u32,
        make: &dyn Fn(&str) -> Location,
        on_entry: &mut dyn FnMut(&str, EntryKind),
    ) -> io::Result<()> {
        let mut t = TarStream::new(r);
        let mut count = 0u64;
        while let Some(e) = t.next_entry()? {
            count += 1;
            if count > self.scanner.limits.max_entries {
                self.sink.add(Finding::unscanned(make(path), "too many archive entries; the rest was not scanned"));
                return Ok(());
            }
            on_entry(&e.path, e.kind);
            if e.kind == EntryKind::File && e.size > 0 {
                let inner = join(path, &e.path);
                self.content(&mut t.data(), &inner, depth, make)?;
            }
        }
        Ok(())
    }

    fn zip(&mut self, r: &mut dyn Read, path: &str, depth: u32, make: &dyn Fn(&str) -> Location) -> io::Result<()> {
        let counter = Rc::new(Cell::new(0));
        let mut input = CountIn { r, n: counter.clone() };
        let mut count = 0u64;
        loop {
            let file = zip::read::read_zipfile_from_stream(&mut input).map_err(io::Error::other)?;
            let Some(file) = file else { return Ok(()) };
            count += 1;
            if count > self.scanner.limits.max_entries {
                self.sink.add(Finding::unscanned(make(path), "too many archive entries; the rest was not scanned"));
                return Ok(());
            }
            if file.is_dir() {
                continue;
            }
            let inner = join(path, &String::from_utf8_lossy(file.name_raw()));
            let mut bounded = Bounded { r: file, out: 0, input: counter.clone(), limits: self.scanner.limits };
            self.content(&mut bounded, &inner, depth, make)?;
        }
    }
}

fn join(outer: &str, inner: &str) -> String {
    let inner = inner.trim_start_matches("./");
    if outer.is_empty() { inner.to_string() } else { format!("{outer}!/{inner}") }
}

/// Scan one stream of any supported format (plain bytes, tar, gzip, zstd, zip, nested) as
/// a single named file. Unlike nested archives, a failure of the top-level stream (I/O
/// error, truncation, corrupt archive) is an error: the scan could not cover the input.
pub fn scan_archive_stream(scanner: &Scanner, r: &mut dyn Read, name: &str) -> io::Result<Report> {
    let mut sink = Sink::new(scanner);
    let make = |p: &str| Location::File { path: p.to_string() };
    {
        let mut w = Walker { scanner, sink: &mut sink };
        let (format, mut r) = peek(r)?;
        match format {
            Format::Plain => w.plain(&mut r, name, &make)?,
            _ => w.archive(&mut r, format, name, 0, &make)?,
        }
    }
    Ok(sink.into_report())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Allowlist, KnownValue, Needles};
    use std::io::Write;

    fn scanner() -> Scanner {
        let kv = KnownValue { variable: "DB_PASSWORD".into(), value: b"canary-walk-Qx81Lm2".to_vec() };
        Scanner::new(Needles::build(vec![kv], &Allowlist::default()), Allowlist::default())
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn secret_in_zip_inside_tar_gz() {
        let mut zw = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zw.start_file("conf/app.env", zip::write::SimpleFileOptions::default()).unwrap();
        zw.write_all(b"X=canary-walk-Qx81Lm2\n").unwrap();
        let zip_bytes = zw.finish().unwrap().into_inner();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(zip_bytes.len() as u64);
        b.append_data(&mut h, "bundle.zip", &zip_bytes[..]).unwrap();
        let tgz = gz(&b.into_inner().unwrap());
        let report = scan_archive_stream(&scanner(), &mut &tgz[..], "a.tar.gz").unwrap();
        assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
        assert_eq!(report.findings[0].location.to_string(), "a.tar.gz!/bundle.zip!/conf/app.env");
    }

    #[test]
    fn gzip_bomb_is_stopped_and_reported() {
        let limits = Limits { ratio_grace: 1 << 20, ..Limits::default() };
        let s = scanner().with_limits(limits);
        let zeros = vec![0u8; 64 << 20];
        let bomb = gz(&zeros);
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(bomb.len() as u64);
        b.append_data(&mut h, "bomb.gz", &bomb[..]).unwrap();
        let t = b.into_inner().unwrap();
        let report = scan_archive_stream(&s, &mut &t[..], "x.tar").unwrap();
        let f = &report.findings[0];
        assert_eq!(f.kind, crate::Kind::Unscanned);
        assert!(f.detail.as_deref().unwrap().contains("ratio"), "{f:?}");
        assert!(report.bytes_scanned < 64 << 20);
    }
}
