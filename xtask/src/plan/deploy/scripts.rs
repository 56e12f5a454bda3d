//! The shell scripts a deploy runs on the server (POSIX sh, passed as ssh's remote command).
//! Pure functions of non-secret values (paths, names, image IDs), so they can be read, `sh -n`
//! checked and tested here; secrets travel as uploaded file contents only. Every script is
//! safe to run again after a cut connection: a retry must never undo or duplicate a step.

use super::edge::{ADMIN_SOCKET, GATE_PATH};

/// Exit code of the lock script when another deploy holds the lock.
pub const LOCK_HELD: i32 = 75;
/// Exit code of any script when the server has no Compose at all.
pub const NO_COMPOSE: i32 = 76;
/// Exit code of the gate when the new slot's app crashed or turned unhealthy (no point in
/// waiting out the timeout).
pub const SLOT_CRASHED: i32 = 77;
/// Exit code of `make_release` when the directory exists and is not this deploy's.
pub const RELEASE_EXISTS: i32 = 78;

/// Quote a value for sh (shlex). Values here are paths, tags and names, never secrets, and
/// the targets file refuses control characters, so a NUL cannot reach this.
pub fn q(value: &str) -> String {
    shlex::try_quote(value).map(|c| c.into_owned()).unwrap_or_else(|_| "''".into())
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

/// `in_slot DIR PROJECT ...`: compose on one release's file as one slot's project.
fn slot_fn() -> String {
    format!(
        "{}in_slot() {{ d=$1; p=$2; shift 2; compose -f \"$d/docker-compose.yml\" -p \"$p\" \"$@\"; }}\n",
        compose_fn()
    )
}

/// What the server has now, one `key=value` line each: the live release and its slot, the
/// proxy's state and config hash, an old-layout app, every release and whether it is
/// complete, the lock. Read-only: `--dry-run` runs it too.
pub fn inspect(app_dir: &str, project: &str, edge_project: &str) -> String {
    format!(
        r#"{compose}a={a}
cur=$(readlink "$a/current" 2>/dev/null | sed 's#.*/##')
echo "current=$cur"
slot=$( [ -n "$cur" ] && sed -n 's/^SLOT=//p' "$a/releases/$cur/.env" 2>/dev/null )
echo "current_slot=$slot"
pid=$(docker ps -q --filter label=com.docker.compose.project={edge} --filter label=com.docker.compose.service=proxy | head -n1)
if [ -n "$pid" ]; then echo "edge=running"; elif [ -f "$a/edge/docker-compose.yml" ]; then echo "edge=stopped"; else echo "edge=absent"; fi
echo "edge_config=$(sha256sum "$a/edge/caddy.json" 2>/dev/null | cut -c1-64)"
legacy=$(docker ps -q --filter label=com.docker.compose.project={p} | head -n1)
echo "legacy=$( [ -n "$legacy" ] && echo yes || echo no)"
for r in $(ls -1 "$a/releases" 2>/dev/null | sort); do
  s=$(sed -n 's/^SLOT=//p' "$a/releases/$r/.env" 2>/dev/null)
  if [ -f "$a/releases/$r/.complete" ]; then echo "release=$r complete $s"; else echo "release=$r incomplete $s"; fi
done
if [ -d "$a/.deploy.lock" ]; then echo "lock=$(sed -n 1p "$a/.deploy.lock/holder" 2>/dev/null || echo unknown)"; else echo "lock=free"; fi
command -v curl >/dev/null 2>&1 && echo "curl=yes" || echo "curl=no"
compose version >/dev/null 2>&1 && echo "compose=yes" || echo "compose=no"
"#,
        compose = compose_fn(),
        a = q(app_dir),
        edge = q(edge_project),
        p = q(project),
    )
}

/// Take the lock: `mkdir` is atomic, so exactly one deploy creates the directory. The holder
/// file says who and since when; a lock older than `stale_secs` is broken (its deploy died).
/// Run again with the same token after a cut connection, it finds its own lock and succeeds.
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
  if [ "$(sed -n 3p "$lock/holder" 2>/dev/null || true)" = "$token" ]; then echo acquired; exit 0; fi
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

/// Make the release directory with a private `secrets/` inside, owned by `token`. A dir
/// that exists is refused unless it is this deploy's own (a retry after a cut link).
pub fn make_release(dir: &str, token: &str) -> String {
    format!(
        r#"set -eu
umask 022
d={d}
mkdir -p "$(dirname "$d")"
if mkdir "$d" 2>/dev/null; then
  mkdir -m 700 "$d/secrets"; printf '%s\n' {t} > "$d/.owner"
elif [ "$(cat "$d/.owner" 2>/dev/null)" != {t} ]; then
  echo "release dir $d exists and is not this deploy's" >&2; exit {RELEASE_EXISTS}
fi
"#,
        d = q(dir),
        t = q(token)
    )
}

/// Mark a release complete: everything it needs (files, image) is on the server. Only
/// complete releases count as kept releases and rollback targets.
pub fn complete_release(dir: &str) -> String {
    format!("set -eu\ntouch {}/.complete\n", q(dir))
}

/// Remove a release directory, only if this deploy made it (its token) and it is not live.
pub fn remove_own_release(app_dir: &str, dir: &str, token: &str) -> String {
    format!(
        "a={a}; d={d}\n[ \"$(readlink \"$a/current\" 2>/dev/null | sed 's#.*/##')\" = \"$(basename \"$d\")\" ] && exit 0\n\
         [ \"$(cat \"$d/.owner\" 2>/dev/null)\" = {t} ] && rm -rf -- \"$d\"\nexit 0\n",
        a = q(app_dir),
        d = q(dir),
        t = q(token)
    )
}

/// Remove releases a killed deploy left half-made (no `.complete`), never the live one. Run
/// under the lock, so no running deploy owns them.
pub fn remove_incomplete(app_dir: &str, releases: &[String]) -> String {
    let list: Vec<String> = releases.iter().map(|r| q(r)).collect();
    format!(
        "a={a}\ncur=$(readlink \"$a/current\" 2>/dev/null | sed 's#.*/##')\nfor r in {list}; do\n  [ \"$r\" = \"$cur\" ] && continue\n  [ -f \"$a/releases/$r/.complete\" ] && continue\n  rm -rf -- \"$a/releases/$r\"; echo \"$r\"\ndone\n",
        a = q(app_dir),
        list = list.join(" ")
    )
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

/// Whether the server has image `id` (first line: the ID, or empty), then every image's diff
/// IDs, one JSON array a line, so the deploy sends only the layers the server lacks.
pub fn server_layers(id: &str) -> String {
    format!(
        "docker image inspect --format '{{{{.Id}}}}' {} 2>/dev/null || echo
         ids=$(docker images -aq --no-trunc | sort -u)
         [ -z \"$ids\" ] || docker image inspect --format '{{{{json .RootFS.Layers}}}}' $ids 2>/dev/null || true
",
        q(id)
    )
}

/// Pull a registry reference on the server and print the ID it resolved to, so the deploy
/// can refuse an image someone else pushed under the same tag.
pub fn pull_image(reference: &str) -> String {
    format!(
        "set -eu\ndocker pull -q {r} >/dev/null\ndocker image inspect --format '{{{{.Id}}}}' {r}\n",
        r = q(reference)
    )
}

/// Tag the image with the release's own tag, so every release keeps naming its image.
pub fn tag_image(id: &str, tag: &str) -> String {
    format!("set -eu\ndocker tag {} {}\n", q(id), q(tag))
}

/// The edge network (if missing) and the proxy (started, or reloaded when `reload`). The
/// proxy's files were uploaded to `<app_dir>/edge` before.
pub fn ensure_edge(app_dir: &str, edge_project: &str, network: &str, reload: bool) -> String {
    let reload = if reload {
        format!(
            "pid=$(compose -p \"$ep\" ps -q proxy | head -n1)\n\
             if [ -n \"$pid\" ] && [ \"$(docker inspect -f '{{{{.State.Running}}}}' \"$pid\")\" = true ]; then\n\
             \x20 docker exec \"$pid\" caddy reload --config /etc/caddy/caddy.json --address unix/{ADMIN_SOCKET}; fi\n"
        )
    } else {
        String::new()
    };
    format!(
        r#"set -eu
{compose}docker network inspect {n} >/dev/null 2>&1 || docker network create {n} >/dev/null
cd {a}/edge
mkdir -p admin ca; chmod 700 admin
ep={ep}
{reload}compose -p "$ep" up -d 2>&1
"#,
        compose = compose_fn(),
        n = q(network),
        a = q(app_dir),
        ep = q(edge_project),
    )
}

/// Wait until the proxy completes a TLS handshake for `host` (any certificate: it exists),
/// seen from the server itself.
pub fn await_certificate(host: &str, port: u16, timeout_secs: u64) -> String {
    format!(
        r#"h={h}; port={port}
deadline=$(( $(date +%s) + {timeout_secs} ))
while :; do
  if curl -sk -o /dev/null -m 3 --resolve "$h:$port:127.0.0.1" "https://$h:$port/"; then echo "certificate ready"; exit 0; fi
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "no certificate for $h after {timeout_secs}s" >&2; exit 1; fi
  sleep 1
done
"#,
        h = q(host)
    )
}

/// Start (or recreate) one slot from a release directory.
pub fn start_slot(dir: &str, slot_project: &str) -> String {
    format!("set -eu\n{}in_slot {} {} up -d --remove-orphans 2>&1\n", slot_fn(), q(dir), q(slot_project))
}

/// Gate a slot before it gets traffic: its app container running (not restarting) and
/// healthy by its own healthcheck, and `health_path` answering 200 through the slot itself
/// (from inside the gate, which shares the app's network). Fails fast when the app crashes.
pub fn gate_slot(dir: &str, slot_project: &str, health_path: &str, app_port: u16, timeout_secs: u64) -> String {
    format!(
        r#"set -u
{slot}d={d}; p={p}
deadline=$(( $(date +%s) + {timeout_secs} ))
while :; do
  # The containers by Compose's labels (v1 and v2 set them alike): `docker ps` answers in
  # milliseconds where `compose ps` starts Compose each time. Newest first; -a keeps an app
  # that exited visible, so a crash fails the gate at once.
  web=$(docker ps -aq --filter "label=com.docker.compose.project=$p" --filter label=com.docker.compose.service=web | head -n1)
  gate=$(docker ps -q --filter "label=com.docker.compose.project=$p" --filter label=com.docker.compose.service=gate | head -n1)
  if [ -n "$web" ]; then
    set -- $(docker inspect -f '{{{{.State.Status}}}} {{{{.RestartCount}}}} {{{{if .State.Health}}}}{{{{.State.Health.Status}}}}{{{{else}}}}none{{{{end}}}}' "$web" 2>/dev/null)
    case "${{1:-}}" in exited|dead) echo "the app exited (restarts: ${{2:-?}})"; exit {SLOT_CRASHED};; esac
    [ "${{2:-0}}" -gt 0 ] && {{ echo "the app is restarting (restarts: $2)"; exit {SLOT_CRASHED}; }}
    [ "${{3:-}}" = unhealthy ] && {{ echo "the app's healthcheck reports unhealthy"; exit {SLOT_CRASHED}; }}
    if [ "${{1:-}}" = running ] && [ "${{3:-none}}" != starting ] && [ -n "$gate" ]; then
      line=$(docker exec "$gate" sh -c 'printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "$1" | nc -w 3 127.0.0.1 "$2" | head -n1' sh {path} {port} 2>/dev/null)
      case "$line" in "HTTP/1."?" 200"*) echo "healthy"; exit 0;; esac
    fi
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "not healthy after {timeout_secs}s (last answer: ${{line:-none}})"; exit 1; fi
  sleep 1
done
"#,
        slot = slot_fn(),
        d = q(dir),
        p = q(slot_project),
        path = q(health_path),
        port = app_port,
    )
}

/// Open (`open = true`) or close a slot's gate: the proxy sends traffic to it (or stops
/// sending new requests) within one health-check interval.
pub fn set_gate(dir: &str, slot_project: &str, open: bool) -> String {
    let file = format!("/gate{GATE_PATH}");
    let act = if open { format!("mkdir -p /gate && touch {file}") } else { format!("rm -f {file}") };
    // Closing a slot whose containers are gone (removed by hand) has nothing to do; opening
    // one needs its gate.
    let missing = if open { "exit 1" } else { "exit 0" };
    format!(
        "set -eu\ng=$(docker ps -q --filter label=com.docker.compose.project={} --filter label=com.docker.compose.service=gate | head -n1)\n[ -n \"$g\" ] || {{ echo \"no gate container (slot {})\" >&2; {missing}; }}\ndocker exec \"$g\" sh -c {}\n",
        q(slot_project),
        q(dir),
        q(&act)
    )
}

/// Whether the proxy itself routes to the open slot: a request through it (from the server)
/// that answers `health_path` with 200.
pub fn through_proxy(host: &str, port: u16, health_path: &str) -> String {
    format!(
        "curl -sk -o /dev/null -w '%{{http_code}}' -m 3 --resolve {hp} {url}\n",
        hp = q(&format!("{host}:{port}:127.0.0.1")),
        url = q(&format!("https://{host}:{port}{health_path}"))
    )
}

/// Stop a slot and keep its containers (instant rollback starts them again).
pub fn stop_slot(dir: &str, slot_project: &str) -> String {
    format!("set -eu\n{}in_slot {} {} stop -t 10 2>&1\n", slot_fn(), q(dir), q(slot_project))
}

/// Remove a slot that never went live (its containers; the release's files are removed apart).
pub fn discard_slot(dir: &str, slot_project: &str) -> String {
    format!("{}in_slot {} {} down --remove-orphans 2>&1 || true\n", slot_fn(), q(dir), q(slot_project))
}

/// Remove everything a target runs on the server: the containers and volumes of its compose
/// projects (both slots, the proxy, an old-layout one), the edge network and the app dir. For
/// `demo --stop` and the test and bench fixtures; never part of a deploy.
pub fn remove_target(app_dir: &str, project: &str) -> String {
    use super::edge;
    let projects: Vec<String> = [project.to_string(), edge::edge_project(project)]
        .into_iter()
        .chain(edge::SLOTS.iter().map(|s| edge::slot_project(project, s)))
        .map(|p| q(&p))
        .collect();
    format!(
        "for p in {projects}; do
  ids=$(docker ps -aq --filter label=com.docker.compose.project=$p)
           [ -z \"$ids\" ] || docker rm -f $ids >/dev/null
           vols=$(docker volume ls -q --filter label=com.docker.compose.project=$p)
           [ -z \"$vols\" ] || docker volume rm $vols >/dev/null
done
         docker network rm {net} >/dev/null 2>&1 || true
rm -rf {app}
",
        projects = projects.join(" "),
        net = q(&edge::network(project)),
        app = q(app_dir),
    )
}

/// Stop the app of the old layout (one compose project with a host port) once the proxy
/// serves: the one bounded interruption of a takeover, when both want the same port.
pub fn stop_legacy(project: &str) -> String {
    format!(
        "set -eu\nids=$(docker ps -q --filter label=com.docker.compose.project={p})\n[ -z \"$ids\" ] || docker stop -t 10 $ids >/dev/null\n",
        p = q(project)
    )
}

/// Give a kept release another slot colour (its `.env` says which), for a rollback to a
/// release whose colour is live.
pub fn reslot(dir: &str, slot: &str, alias: &str) -> String {
    format!(
        "set -eu\ncd {d}\nsed -i -e 's/^SLOT=.*/SLOT={s}/' -e 's/^SLOT_ALIAS=.*/SLOT_ALIAS={al}/' .env\n",
        d = q(dir),
        s = slot,
        al = alias
    )
}

/// The last lines the slot's app logged (masked by the caller before printing).
pub fn last_logs(dir: &str, slot_project: &str, lines: u32) -> String {
    format!(
        "{}w=$(in_slot {} {} ps -q web 2>/dev/null | head -n1)\n[ -n \"$w\" ] && docker logs --tail {lines} \"$w\" 2>&1 || echo '(no container)'\n",
        slot_fn(),
        q(dir),
        q(slot_project)
    )
}

/// Point `current` at a release atomically (a symlink renamed over the old one).
pub fn point_current(app_dir: &str, release: &str) -> String {
    format!(
        "set -eu\ncd {a}\nln -sfn releases/{r} .current.tmp\nmv -T .current.tmp current\n",
        a = q(app_dir),
        r = q(release)
    )
}

/// Remove the oldest complete releases beyond `keep`, never `current` nor the one before it.
pub fn prune(app_dir: &str, keep: usize, previous: Option<&str>) -> String {
    format!(
        r#"set -eu
cd {a}/releases
cur=$(readlink ../current 2>/dev/null | sed 's#.*/##' || true)
ls -1 | sort -r | while read -r r; do [ -f "$r/.complete" ] && echo "$r"; done | tail -n +{start} | while read -r r; do
  [ "$r" = "$cur" ] && continue
  [ "$r" = {prev} ] && continue
  rm -rf -- "$r"; echo "$r"
done
"#,
        a = q(app_dir),
        start = keep + 1,
        prev = q(previous.unwrap_or(""))
    )
}

/// Append one line to the audit log on the server (no secret: who, when, what, result).
pub fn audit(log: &str, line: &str) -> String {
    format!("set -eu\numask 022\nprintf '%s\\n' {} >> {}\n", q(line), q(log))
}

#[cfg(test)]
#[path = "scripts_tests.rs"]
mod tests;
