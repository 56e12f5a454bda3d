//! A minimal streaming tar reader built for hostile input: it never expands sparse files,
//! never follows links, bounds GNU long names and PAX headers, and never writes anything.
//! (The `tar` crate reads long-name and PAX entries into memory without a bound.)

use std::io::{self, Read};

const BLOCK: usize = 512;
/// GNU long names and link targets longer than this are rejected.
const MAX_LONG_NAME: u64 = 64 * 1024;
/// PAX extended headers larger than this are rejected.
const MAX_PAX: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct TarEntry {
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
}

pub(crate) struct TarStream<'r> {
    r: &'r mut dyn Read,
    /// Data bytes of the current entry not read yet, then its padding.
    remaining: u64,
    pad: u64,
    done: bool,
}

/// Whether a 512-byte block is a ustar/GNU header with a valid checksum.
pub(crate) fn is_tar_header(block: &[u8]) -> bool {
    block.len() >= BLOCK && &block[257..262] == b"ustar" && checksum_ok(&block[..BLOCK])
}

fn checksum_ok(h: &[u8]) -> bool {
    let Some(stored) = parse_octal(&h[148..156]) else { return false };
    let sum: u64 = h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { b as u64 }).sum();
    sum == stored
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let s: Vec<u8> =
        field.iter().copied().skip_while(|b| *b == b' ' || *b == 0).take_while(|b| *b != b' ' && *b != 0).collect();
    if s.is_empty() {
        return Some(0);
    }
    let mut v: u64 = 0;
    for b in s {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add((b - b'0') as u64)?;
    }
    Some(v)
}

fn parse_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        // GNU base-256: big-endian binary in the remaining bytes.
        let mut v: u64 = (field[0] & 0x7f) as u64;
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        Some(v)
    } else {
        parse_octal(field)
    }
}

fn cstr(field: &[u8]) -> String {
    let end = memchr::memchr(0, field).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("tar: {msg}"))
}

impl<'r> TarStream<'r> {
    pub(crate) fn new(r: &'r mut dyn Read) -> TarStream<'r> {
        TarStream { r, remaining: 0, pad: 0, done: false }
    }

    fn skip(&mut self, mut n: u64) -> io::Result<()> {
        let mut scratch = [0u8; 8192];
        while n > 0 {
            let want = n.min(scratch.len() as u64) as usize;
            let got = self.r.read(&mut scratch[..want])?;
            if got == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "tar: stream truncated inside an entry"));
            }
            n -= got as u64;
        }
        Ok(())
    }

    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> io::Result<bool> {
        let mut filled = 0;
        while filled < BLOCK {
            let n = self.r.read(&mut block[filled..])?;
            if n == 0 {
                if filled == 0 {
                    return Ok(false);
                }
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "tar: stream truncated inside a header"));
            }
            filled += n;
        }
        Ok(true)
    }

    fn read_small(&mut self, size: u64, max: u64) -> io::Result<Vec<u8>> {
        if size > max {
            return Err(bad("extended header larger than the limit"));
        }
        let mut v = Vec::with_capacity(size as usize);
        let got = (&mut *self.r).take(size).read_to_end(&mut v)?;
        if (got as u64) < size {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "tar: stream truncated inside an entry"));
        }
        self.skip(padding(size))?;
        Ok(v)
    }

    /// The next entry's header; the previous entry's unread data is skipped.
    pub(crate) fn next_entry(&mut self) -> io::Result<Option<TarEntry>> {
        if self.done {
            return Ok(None);
        }
        self.skip(self.remaining + self.pad)?;
        self.remaining = 0;
        self.pad = 0;
        let (mut long_name, mut long_link, mut pax_path, mut pax_size) = (None, None, None, None);
        let mut block = [0u8; BLOCK];
        loop {
            if !self.read_block(&mut block)? || block.iter().all(|b| *b == 0) {
                self.done = true;
                return Ok(None);
            }
            if !checksum_ok(&block) {
                return Err(bad("header checksum mismatch (not a tar stream, or corrupt)"));
            }
            let size = parse_size(&block[124..136]).ok_or_else(|| bad("invalid size field"))?;
            match block[156] {
                b'L' => long_name = Some(cstr(&self.read_small(size, MAX_LONG_NAME)?)),
                b'K' => long_link = Some(cstr(&self.read_small(size, MAX_LONG_NAME)?)),
                b'x' => {
                    let data = self.read_small(size, MAX_PAX)?;
                    for (k, v) in pax_records(&data) {
                        match k {
                            "path" => pax_path = Some(v.to_string()),
                            "size" => pax_size = v.parse::<u64>().ok(),
                            _ => {}
                        }
                    }
                }
                b'g' => {
                    self.read_small(size, MAX_PAX)?;
                }
                flag => {
                    let _ = long_link.take();
                    let path = pax_path.or(long_name).unwrap_or_else(|| {
                        let name = cstr(&block[..100]);
                        let prefix =
                            if &block[257..263] == b"ustar\0" { cstr(&block[345..500]) } else { String::new() };
                        if prefix.is_empty() { name } else { format!("{prefix}/{name}") }
                    });
                    let kind = match flag {
                        b'0' | 0 | b'7' | b'S' => EntryKind::File,
                        b'5' => EntryKind::Dir,
                        b'2' => EntryKind::Symlink,
                        b'1' => EntryKind::Hardlink,
                        _ => EntryKind::Other,
                    };
                    let size = pax_size.unwrap_or(size);
                    // Links and directories carry no data whatever their size field says.
                    let data = if matches!(kind, EntryKind::Symlink | EntryKind::Hardlink | EntryKind::Dir)
                        && pax_size.is_none()
                    {
                        0
                    } else {
                        size
                    };
                    self.remaining = data;
                    self.pad = padding(data);
                    return Ok(Some(TarEntry { path, kind, size: data }));
                }
            }
        }
    }

    /// The current entry's data (up to its size).
    pub(crate) fn data(&mut self) -> EntryData<'_, 'r> {
        EntryData { s: self }
    }
}

fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

fn pax_records(data: &[u8]) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let Some(sp) = memchr::memchr(b' ', rest) else { break };
        let Some(len) = std::str::from_utf8(&rest[..sp]).ok().and_then(|s| s.parse::<usize>().ok()) else { break };
        if len <= sp + 1 || len > rest.len() {
            break;
        }
        let rec = &rest[sp + 1..len];
        let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
        if let Ok(text) = std::str::from_utf8(rec)
            && let Some((k, v)) = text.split_once('=')
        {
            out.push((k, v));
        }
        rest = &rest[len..];
    }
    out
}

pub(crate) struct EntryData<'a, 'r> {
    s: &'a mut TarStream<'r>,
}

impl Read for EntryData<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.s.remaining == 0 {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.s.remaining) as usize;
        let n = self.s.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "tar: stream truncated inside an entry"));
        }
        self.s.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries_written_by_the_tar_crate() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        let long = format!("{}/file.txt", "d".repeat(150));
        b.append_data(&mut h, &long, &b"hello"[..]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "link", "/etc/shadow").unwrap();
        let bytes = b.into_inner().unwrap();
        let mut r = &bytes[..];
        let mut t = TarStream::new(&mut r);
        let e = t.next_entry().unwrap().unwrap();
        assert_eq!((e.path.as_str(), e.kind, e.size), (long.as_str(), EntryKind::File, 5));
        let mut s = String::new();
        t.data().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        let e = t.next_entry().unwrap().unwrap();
        assert_eq!((e.path.as_str(), e.kind), ("link", EntryKind::Symlink));
        assert!(t.next_entry().unwrap().is_none());
    }

    #[test]
    fn truncated_stream_is_an_error_not_a_panic() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(4000);
        b.append_data(&mut h, "big", &vec![b'a'; 4000][..]).unwrap();
        let bytes = b.into_inner().unwrap();
        let cut = &bytes[..1500];
        let mut r = cut;
        let mut t = TarStream::new(&mut r);
        t.next_entry().unwrap().unwrap();
        let mut sink = Vec::new();
        assert!(t.data().read_to_end(&mut sink).is_err());
    }

    #[test]
    fn huge_long_name_is_rejected_without_allocating_it() {
        let mut block = [0u8; 512];
        block[..13].copy_from_slice(b"././@LongLink");
        block[124..136].copy_from_slice(b"77777777777\0");
        block[156] = b'L';
        block[257..263].copy_from_slice(b"ustar ");
        let sum: u64 =
            block.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { b as u64 }).sum();
        block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let mut r = &block[..];
        assert!(TarStream::new(&mut r).next_entry().is_err());
    }
}
