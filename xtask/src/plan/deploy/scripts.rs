//! The shell scripts a deploy runs on the server (POSIX sh, fed over ssh's stdin). Pure
//! functions of non-secret values, so they can be read and tested; no secret ever reaches a
//! script or a command line (secrets travel as uploaded file contents only).

/// Exit code of the lock script when another deploy holds the lock.
pub const LOCK_HELD: i32 = 75;
/// Exit code of any script when the server has no Compose at all.
pub const NO_COMPOSE: i32 = 76;

/// Single-quote a value for sh. Values here are paths, tags and names, never secrets.
pub fn q(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `compose` as a shell function: Compose v2 (`docker compose`) when the server has it, else
/// v1 (`docker-compose`); most VPSs run v2, Debian's package is v1.
pub fn compose_fn() -> String {
    format!(
        r#"compose() {{
  if docker compose version >/dev/null 2>&1; then docker compose "$@"
  elif command -v docker-compose >/dev/null 2>&1; then docker-compose "$@"
  else echo "the server has neither 'docker compose' (v2) nor 'docker-compose' (v1): install one" >&2; exit {NO_COMPOSE}
  fi
}}
"#
    )
}

/// Take the lock: `mkdir` is atomic, so exactly one deploy creates the directory. The holder
/// file says who and since when; a lock older than `stale_secs` is broken (its deploy died).
pub fn lock(dir: &str, holder: &str, token: &str, stale_secs: u64, wait_secs: u64) -> String {
    format!(
        r#"set -eu
lock={dir}; holder={holder}; token={token}
mkdir -p "$(dirname "$lock")"
deadline=$(( $(date +%s) + {wait_secs} ))
while :; do
  if mkdir "$lock" 2>/dev/null; then
    printf '%s\n%s\n%s\n' "$holder" "$(date +%s)" "$token" > "$lock/holder"
    echo acquired; exit 0
  fi
  since=$(sed -n 2p "$lock/holder" 2>/dev/null || true)
  [ -n "$since" ] || since=$(date +%s)
  age=$(( $(date +%s) - since ))
  if [ "$age" -gt {stale_secs} ]; then
    echo "breaking a stale lock held for ${{age}}s by: $(sed -n 1p "$lock/holder" 2>/dev/null || echo unknown)" >&2
    rm -rf "$lock"; continue
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "$(sed -n 1p "$lock/holder" 2>/dev/null || echo unknown)"
    echo "$age"
    exit {LOCK_HELD}
  fi
  sleep 1
done
"#,
        dir = q(dir),
        holder = q(holder),
        token = q(token),
    )
}

/// Release the lock, only if it is still ours (a stale-lock breaker may have taken it over).
pub fn unlock(dir: &str, token: &str) -> String {
    format!(
        "set -eu\nif [ \"$(sed -n 3p {d}/holder 2>/dev/null || true)\" = {t} ]; then rm -rf {d}; fi\n",
        d = q(dir),
        t = q(token)
    )
}

/// Break a lock whose holder is known dead (same machine, process gone).
pub fn break_lock(dir: &str) -> String {
    format!("rm -rf {}\n", q(dir))
}

/// Make the release directory (must not exist) with a private `secrets/` inside.
pub fn make_release(dir: &str) -> String {
    format!("set -eu\numask 022\nmkdir -p \"$(dirname {d})\"\nmkdir {d}\nmkdir -m 700 {d}/secrets\n", d = q(dir))
}

/// The secret files go to the container's uid: Compose v1 bind-mounts `file:` secrets with
/// the host owner and mode, and the app does not run as root. Best effort when not root.
pub fn own_secrets(dir: &str, uid: u32) -> String {
    format!(
        "set -eu\ncd {d}/secrets\nfor f in *.txt; do [ -e \"$f\" ] || continue; chown {uid}:{uid} \"$f\" 2>/dev/null || echo \"cannot chown $f to {uid} (deploy as root or let the app's uid read it)\" >&2; done\nchown {uid}:{uid} . 2>/dev/null || true\n",
        d = q(dir)
    )
}

/// Prints the image ID when the server's engine already has it, nothing otherwise.
pub fn has_image(id: &str) -> String {
    format!("docker image inspect --format '{{{{.Id}}}}' {} 2>/dev/null || true\n", q(id))
}

/// Pull a registry reference on the server and print the ID it resolved to, so the deploy
/// can refuse an image someone else pushed under the same tag.
pub fn pull_image(reference: &str) -> String {
    format!(
        "set -eu\ndocker pull -q {r} >/dev/null\ndocker image inspect --format '{{{{.Id}}}}' {r}\n",
        r = q(reference)
    )
}

/// Tag the (loaded or already present) image with the release's own tag, so that every
/// release keeps pointing at its image even when the build tag moves on.
pub fn tag_image(id: &str, tag: &str) -> String {
    format!("set -eu\ndocker tag {} {}\n", q(id), q(tag))
}

/// `compose up -d` in a release directory. The project name is fixed so every release
/// replaces the same containers.
pub fn compose_up(dir: &str, project: &str) -> String {
    format!("set -eu\n{}cd {}\ncompose -p {} up -d --remove-orphans 2>&1\n", compose_fn(), q(dir), q(project))
}

/// Wait until the web container runs the expected image and the health URL answers, both
/// seen from the server itself (the URL may name 127.0.0.1).
pub fn health_gate(dir: &str, project: &str, image_id: &str, url: &str, timeout_secs: u64) -> String {
    format!(
        r#"set -u
{compose}cd {dir}
deadline=$(( $(date +%s) + {timeout_secs} ))
while :; do
  cid=$(compose -p {project} ps -q web 2>/dev/null | head -n1)
  img=$( [ -n "$cid" ] && docker inspect --format '{{{{.Image}}}}' "$cid" 2>/dev/null || true)
  if [ -z {image_id} ] || [ "$img" = {image_id} ]; then
    if curl -fsS -m 3 -o /dev/null {url} 2>/dev/null || wget -q -T 3 -O /dev/null {url} 2>/dev/null; then
      echo healthy; exit 0
    fi
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "not healthy after {timeout_secs}s"; exit 1; fi
  sleep 1
done
"#,
        compose = compose_fn(),
        dir = q(dir),
        project = q(project),
        image_id = q(image_id),
        url = q(url),
    )
}

/// The last lines the web container logged (masked by the caller before printing).
pub fn last_logs(dir: &str, project: &str, lines: u32) -> String {
    format!(
        "{}cd {}\ncid=$(compose -p {} ps -q web 2>/dev/null | head -n1)\n[ -n \"$cid\" ] && docker logs --tail {lines} \"$cid\" 2>&1 || echo '(no container)'\n",
        compose_fn(),
        q(dir),
        q(project)
    )
}

/// Prints the release `current` points at (empty on a first deploy).
pub fn current_release(app_dir: &str) -> String {
    format!("readlink {}/current 2>/dev/null | sed 's#.*/##' || true\n", q(app_dir))
}

/// Point `current` at a release atomically (a symlink renamed over the old one).
pub fn point_current(app_dir: &str, release: &str) -> String {
    format!(
        "set -eu\ncd {a}\nln -sfn releases/{r} .current.tmp\nmv -T .current.tmp current\n",
        a = q(app_dir),
        r = q(release)
    )
}

/// Remove the oldest releases beyond `keep`, never the one `current` points at.
pub fn prune(app_dir: &str, keep: usize) -> String {
    format!(
        r#"set -eu
cd {a}/releases
cur=$(readlink ../current 2>/dev/null | sed 's#.*/##' || true)
ls -1 | sort -r | tail -n +{start} | while read -r r; do
  [ "$r" = "$cur" ] && continue
  rm -rf -- "$r"; echo "$r"
done
"#,
        a = q(app_dir),
        start = keep + 1
    )
}

/// Append one line to the audit log on the server (no secret: who, when, what, result).
pub fn audit(log: &str, line: &str) -> String {
    format!("set -eu\numask 022\nprintf '%s\\n' {} >> {}\n", q(line), q(log))
}

/// Remove a release directory that never went live.
pub fn remove_release(dir: &str) -> String {
    format!("rm -rf {}\n", q(dir))
}

/// Releases (newest first), the current one and the running containers, for `deploy status`.
pub fn status(app_dir: &str, project: &str) -> String {
    format!(
        r#"{compose}cd {a} 2>/dev/null || {{ echo "no app dir"; exit 0; }}
echo "current: $(readlink current 2>/dev/null | sed 's#.*/##')"
echo "releases:"; ls -1 releases 2>/dev/null | sort -r | sed 's/^/  /'
echo "lock: $( [ -d .deploy.lock ] && sed -n 1p .deploy.lock/holder 2>/dev/null || echo free)"
echo "last deploys:"; tail -n 5 deploy.log 2>/dev/null | sed 's/^/  /'
cid=$(cd current 2>/dev/null && compose -p {p} ps -q web 2>/dev/null | head -n1)
echo "web: $( [ -n "$cid" ] && docker inspect --format '{{{{.State.Status}}}} {{{{if .State.Health}}}}{{{{.State.Health.Status}}}}{{{{end}}}}' "$cid" || echo 'not running')"
"#,
        compose = compose_fn(),
        a = q(app_dir),
        p = q(project)
    )
}

/// Names of the releases on the server, oldest first.
pub fn list_releases(app_dir: &str) -> String {
    format!("ls -1 {}/releases 2>/dev/null | sort || true\n", q(app_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_a_single_quote() {
        assert_eq!(q("it's"), r"'it'\''s'");
    }

    #[test]
    fn scripts_parse_as_posix_sh() {
        // `sh -n` reads without running: a syntax error in a template fails here, not on a VPS.
        for script in [
            lock("/srv/app/.deploy.lock", "me@host pid 1", "tok", 900, 0),
            unlock("/srv/app/.deploy.lock", "tok"),
            make_release("/srv/app/releases/r1"),
            own_secrets("/srv/app/releases/r1", 10001),
            has_image("sha256:ab"),
            compose_up("/srv/app/releases/r1", "app"),
            health_gate("/srv/app/releases/r1", "app", "sha256:ab", "http://127.0.0.1:8080/health", 30),
            last_logs("/srv/app/releases/r1", "app", 20),
            point_current("/srv/app", "r1"),
            prune("/srv/app", 3),
            audit("/srv/app/deploy.log", "2026 ok"),
            status("/srv/app", "app"),
        ] {
            let out = std::process::Command::new("sh").arg("-n").arg("-c").arg(&script).output().expect("sh runs");
            assert!(out.status.success(), "{script}\n{}", String::from_utf8_lossy(&out.stderr));
        }
    }

    #[test]
    fn lock_then_second_lock_is_refused_then_unlock_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let lock_dir = dir.path().join("app/.deploy.lock");
        let lock_dir = lock_dir.to_str().unwrap();
        let run = |s: String| std::process::Command::new("sh").arg("-c").arg(s).output().unwrap();
        assert!(run(lock(lock_dir, "a", "t1", 900, 0)).status.success());
        let second = run(lock(lock_dir, "b", "t2", 900, 0));
        assert_eq!(second.status.code(), Some(LOCK_HELD));
        assert!(String::from_utf8_lossy(&second.stdout).starts_with("a\n"));
        // Someone else's token does not release it; ours does.
        run(unlock(lock_dir, "t2"));
        assert!(std::path::Path::new(lock_dir).exists());
        run(unlock(lock_dir, "t1"));
        assert!(!std::path::Path::new(lock_dir).exists());
    }

    #[test]
    fn a_stale_lock_is_broken() {
        let dir = tempfile::tempdir().unwrap();
        let lock_dir = dir.path().join(".deploy.lock");
        std::fs::create_dir(&lock_dir).unwrap();
        std::fs::write(lock_dir.join("holder"), "old\n1000\nx\n").unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(lock(lock_dir.to_str().unwrap(), "new", "t", 900, 0))
            .output()
            .unwrap();
        assert!(out.status.success());
        let holder = std::fs::read_to_string(lock_dir.join("holder")).unwrap();
        assert!(holder.starts_with("new\n"));
    }

    #[test]
    fn prune_keeps_the_newest_and_the_current_release() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path();
        for r in ["r1", "r2", "r3", "r4", "r5"] {
            std::fs::create_dir_all(app.join("releases").join(r)).unwrap();
        }
        let app_s = app.to_str().unwrap();
        let run = |s: String| std::process::Command::new("sh").arg("-c").arg(s).output().unwrap();
        assert!(run(point_current(app_s, "r1")).status.success());
        assert!(run(prune(app_s, 2)).status.success());
        let mut left: Vec<_> = std::fs::read_dir(app.join("releases"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["r1", "r4", "r5"]);
        assert_eq!(run(current_release(app_s)).stdout, b"r1\n");
    }
}
