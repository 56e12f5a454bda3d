//! The file effect: bounded reads of the files a user points us at (an env file must be a
//! regular file, read no further than the reader's limit), reads of the project's own files,
//! and atomic writes with modes (temp file in the same directory, fsync, rename, fsync the
//! directory), with an injectable fault so tests can prove an interrupted write leaves the
//! old file intact.

use anyhow::{Context, bail};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Read a file the project owns; `Ok(None)` when it does not exist.
pub fn read_optional(path: &Path) -> anyhow::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

/// The names in a directory, sorted; an absent directory has none.
pub fn list_dir(dir: &Path) -> anyhow::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("list {}", dir.display())),
    };
    let mut names = Vec::new();
    for entry in entries {
        names
            .push(entry.with_context(|| format!("list {}", dir.display()))?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Every file under `root` (paths relative to it, `/`-separated), skipping the directories
/// named in `skip` (build output, dependencies, `.git`).
pub fn relative_files(root: &Path, skip: &[&str]) -> anyhow::Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut Vec<String>) -> std::io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                if !entry.file_name().to_str().is_some_and(|n| skip.contains(&n)) {
                    walk(root, &path, skip, out)?;
                }
            } else {
                out.push(path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, skip, &mut out).with_context(|| format!("list the files under {}", root.display()))?;
    Ok(out)
}

/// Read a file the project owns; missing is an error.
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
}

/// Read an env file a user named: it must be a regular file (a FIFO would block forever,
/// `/dev/zero` never ends), and at most `limit + 1` bytes are read, so an oversized file is
/// refused by the reader's own limit instead of filling memory first. A symlink is followed
/// and said so in errors.
pub fn read_env_file(path: &Path, limit: usize) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let link = fs::symlink_metadata(path).map(|m| m.file_type().is_symlink()).unwrap_or(false);
    let shown = if link {
        format!("{} (a symlink to {})", path.display(), fs::canonicalize(path).unwrap_or_default().display())
    } else {
        path.display().to_string()
    };
    let meta = fs::metadata(path).with_context(|| format!("read env file {shown}"))?;
    if !meta.is_file() {
        bail!("env file {shown} is not a regular file (a directory, FIFO or device); point --env-file at a file");
    }
    let file = File::open(path).with_context(|| format!("read env file {shown}"))?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes).with_context(|| format!("read env file {shown}"))?;
    Ok(bytes)
}

/// Where a simulated failure strikes (tests only; the real writer has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every temp file is written and synced, then the "process dies" before any rename.
    BeforeRename,
}

/// One file to write: its path, bytes and Unix mode (e.g. 0o600).
#[derive(Clone)]
pub struct FileWrite {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub mode: u32,
}

// Contents are often secret: never show them.
impl std::fmt::Debug for FileWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileWrite({}, {} bytes, {:o})", self.path.display(), self.bytes.len(), self.mode)
    }
}

/// Writes files atomically. `Writer::default()` is the real one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Writer {
    fault: Option<Fault>,
}

impl Writer {
    /// A writer that fails at `fault` (for tests of interrupted writes).
    pub fn with_fault(fault: Fault) -> Writer {
        Writer { fault: Some(fault) }
    }

    pub fn write(&self, path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
        self.write_all(&[FileWrite { path: path.to_path_buf(), bytes: bytes.to_vec(), mode }])
    }

    /// Stage every file first (temp + fsync), then rename them all: a failure while staging
    /// changes no target file, and the window in which only some targets are new is just
    /// the renames.
    pub fn write_all(&self, files: &[FileWrite]) -> anyhow::Result<()> {
        let mut staged: Vec<(PathBuf, &Path)> = Vec::new();
        let result = (|| {
            for f in files {
                staged.push((stage(f)?, &f.path));
            }
            if self.fault == Some(Fault::BeforeRename) {
                bail!("injected fault before rename");
            }
            Ok(())
        })();
        if let Err(e) = result {
            for (tmp, _) in &staged {
                let _ = fs::remove_file(tmp);
            }
            return Err(e);
        }
        for (tmp, target) in &staged {
            fs::rename(tmp, target).with_context(|| format!("rename temp file over {}", target.display()))?;
            sync_dir(target)?;
        }
        Ok(())
    }
}

/// Create `dir` (and parents) with mode 0700 if it is missing.
pub fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("create directory {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("set mode 0700 on {}", dir.display()))
}

fn stage(f: &FileWrite) -> anyhow::Result<PathBuf> {
    let dir = f.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = f.path.file_name().context("target path has no file name")?.to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}-{:08x}", std::process::id(), rand::random::<u32>()));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(f.mode)
        .open(&tmp)
        .with_context(|| format!("create temp file in {}", dir.display()))?;
    let written = (|| {
        // The umask may have narrowed the mode; a wider one never results from this.
        file.set_permissions(fs::Permissions::from_mode(f.mode))?;
        file.write_all(&f.bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("write temp file for {}", f.path.display()));
    }
    Ok(tmp)
}

fn sync_dir(target: &Path) -> anyhow::Result<()> {
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("sync directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn writes_with_the_requested_mode_and_no_temp_left() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.env");
        Writer::default().write(&p, b"A=1\n", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"A=1\n");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_fault_before_rename_leaves_every_old_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, "old a").unwrap();
        fs::write(&b, "old b").unwrap();
        let files = [
            FileWrite { path: a.clone(), bytes: b"new a".to_vec(), mode: 0o600 },
            FileWrite { path: b.clone(), bytes: b"new b".to_vec(), mode: 0o600 },
        ];
        let err = Writer::with_fault(Fault::BeforeRename).write_all(&files).unwrap_err();
        assert!(err.to_string().contains("injected"), "{err}");
        assert_eq!(fs::read_to_string(&a).unwrap(), "old a");
        assert_eq!(fs::read_to_string(&b).unwrap(), "old b");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    // Regression: a FIFO as env file hung verify-env forever, /dev/zero was read
    // whole into memory before the size limit applied.
    #[test]
    fn env_files_must_be_regular_and_are_read_to_the_limit_only() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let err = format!("{:#}", read_env_file(&fifo, 16).unwrap_err());
        assert!(err.contains("not a regular file"), "{err}");
        let err = format!("{:#}", read_env_file(Path::new("/dev/zero"), 16).unwrap_err());
        assert!(err.contains("not a regular file"), "{err}");
        let big = dir.path().join("big");
        fs::write(&big, vec![b'A'; 100]).unwrap();
        assert_eq!(read_env_file(&big, 16).unwrap().len(), 17);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        let err = format!("{:#}", read_env_file(&link, 16).unwrap_err());
        assert!(err.contains("a symlink to"), "{err}");
    }

    #[test]
    fn private_dirs_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("secrets");
        ensure_private_dir(&d).unwrap();
        assert_eq!(fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
    }
}
