"""A throw-away OpenWrt router on this machine: OpenWrt's real userland in private namespaces.

The userland (ubusd, procd, rpcd, uci, ucode + firewall4, jsonfilter, opkg, apk, uhttpd, LuCI's
C parts and OpenWrt's shell libraries) is built from pinned sources by
``scripts/openwrt-userland.sh`` into a cached tree; :func:`userland_tree` returns it. A
:class:`RouterNamespace` runs it in new mount, network, PID and UTS namespaces whose root is a
fresh tmpfs where OpenWrt's hard-coded paths are real:

- ``/usr`` and ``/etc`` are overlays (writable, changes vanish with the namespace): the extra
  ``layers`` first, then the tree, then the host's own ``/usr`` and ``/etc`` (Python, nft,
  busybox, libc come from the host). ``/sbin``, ``/bin``, ``/lib`` are the host's links into
  ``/usr``, so ``/sbin/uci``, ``/lib/functions.sh``, ``/usr/libexec/rpcd``,
  ``/usr/share/rpcd/acl.d`` and ``/etc/config`` are OpenWrt's. ``/bin/sh`` is busybox ash, as
  on a router. The host's ``/etc/init.d`` and ``/etc/rc.d`` are emptied: only OpenWrt's scripts
  (and what a package installs) are there.
- ``/tmp``, ``/run`` (= ``/var/run``, with the ubus socket ``/var/run/ubus/ubus.sock``),
  ``/var`` and ``/dev`` are fresh tmpfs (``/dev`` holds null, zero, full, random, urandom, tty,
  fd links and the syslog socket); ``/proc`` and ``/sys`` belong to the new PID and network
  namespaces. Every other top-level folder of the host (``/work``, ``/root`` ...) is bound in, so
  the test's own interpreter runs inside.
- ``python3`` inside runs ``python`` (default: the interpreter running the test, with its
  cryptography and pyroute2), standing in for the router's python3 packages.
- The network namespace has only ``lo`` (up); add links with :meth:`run` (``ip link add ...``).

API (all paths are paths inside the namespace unless called ``host``)::

    tree = userland_tree()                       # builds once per cache key (~1 min)
    with RouterNamespace(tmp_path, tree, layers=[tree / "luci-root"],
                         binds={"/image": host_dir}) as router:
        router.boot()                            # syslogd, ubusd, procd -S, rpcd; waits for each
        router.network()                         # br-lan 192.168.1.1/24, wan 203.0.113.2/24,
                                                 # /etc/config/network, netifd stand-in
        router.move_link("wan-p", "phone")       # the WAN peer into host netns "phone"
        router.first_boot()                      # uci-defaults, then /etc/rc.d/S* boot
        router.run(["uci", "show", "dhcp"]).stdout   # CompletedProcess; CommandFailed if check
        router.sh("/etc/init.d/ikev2d enable")       # a script for /bin/sh (busybox ash)
        router.write("/etc/config/ikev2d", text)     # file access through router.host(path)
        router.ubus("service", "list", {"name": "ikev2d"})    # parsed JSON ({} if no output)
        router.add_login("ro", "secret", read="luci-app-ikev2d", write="")  # rpcd `config login`
        sid = router.login("ro", "secret")            # a real rpcd session id
        router.ubus_session(sid, "ikev2d", "status")  # JSON-RPC via uhttpd's /ubus, as LuCI
        router.start_uhttpd("-x", "/cgi-bin", ...)    # explicitly, with more arguments
        router.spawn(["uhttpd", "-f", ...], "uhttpd")  # another daemon, output in /tmp/uhttpd.log
        router.log()                                  # LogLine(facility, level, tag, pid, text)
        router.wait_log(lambda line: ..., timeout=10)

:meth:`close` (or leaving the ``with``) kills the namespace's PID 1, which ends every process
inside; the mounts go with the namespace. Needs root.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .paths import PROJECT
from .proc import CommandFailed, run, wait_until

__all__ = ["LogLine", "RouterNamespace", "userland_tree"]

BUILD_SCRIPT = PROJECT / "scripts/openwrt-userland.sh"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
SYSLOG = "/var/log/messages"

_tree_cache: dict[str, Path] = {}


def userland_tree() -> Path:
    """The built userland tree (scripts/openwrt-userland.sh; built on first use, then cached)."""
    if "tree" not in _tree_cache:
        proc = subprocess.run(
            [str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=1800, check=False
        )
        if proc.returncode != 0:
            raise CommandFailed(f"{BUILD_SCRIPT} failed:\n{proc.stderr[-4000:]}")
        _tree_cache["tree"] = Path(proc.stdout.strip().splitlines()[-1])
    return _tree_cache["tree"]


# Runs as PID 1 of the new PID namespace (bash, then exec'd into the reaper): builds the root,
# pivots into it, reports "ready" on stdout. Arguments: STATE TREE PYTHON HOSTNAME LAYER...
_SETUP = r"""
set -euo pipefail
state=$1 tree=$2 python=$3 name=$4
shift 4
new=$state/root
mount -t tmpfs -o mode=0755 tmpfs "$state"
mkdir -p "$new" "$state/up" "$state/wk" "$state/root.lower" "$state/root.up" "$state/root.wk"
# / is an overlay, as on a router (apk treats a tmpfs root as diskless and refuses local files)
mount -t overlay overlay \
    -o "lowerdir=$state/root.lower,upperdir=$state/root.up,workdir=$state/root.wk" "$new"
chmod 0755 "$new"

# overlay DIR: the layers', the tree's and the host's DIR, writable on a tmpfs upper.
overlay() {
    local dir=$1 lowers="" layer
    for layer in "${layers[@]}" "$tree"; do
        [ -d "$layer/$dir" ] && lowers="$lowers${lowers:+:}$layer/$dir"
    done
    [ -d "/$dir" ] && [ ! -L "/$dir" ] && lowers="$lowers${lowers:+:}/$dir"
    mkdir -p "$new/$dir" "$state/up/$dir" "$state/wk/$dir"
    mount -t overlay overlay \
        -o "lowerdir=$lowers,upperdir=$state/up/$dir,workdir=$state/wk/$dir" "$new/$dir"
}
layers=("$@")

for entry in /* ; do
    base=${entry#/}
    case "$base" in
    usr|etc) overlay "$base" ;;
    proc|sys|dev|tmp|run|var|lost+found) mkdir -p "$new/$base" ;;
    *)
        if [ -L "$entry" ]; then
            ln -s "$(readlink "$entry")" "$new/$base"
        elif [ -d "$entry" ]; then
            mkdir -p "$new/$base"
            mount --rbind "$entry" "$new/$base"
        fi ;;
    esac
done
# top-level folders only the layers have (LuCI's /www)
for layer in "${layers[@]}"; do
    for entry in "$layer"/*; do
        base=${entry##*/}
        [ -d "$entry" ] && [ ! -e "$new/$base" ] && overlay "$base"
    done
done

mount -t tmpfs -o mode=1777 tmpfs "$new/tmp"
mount -t tmpfs -o mode=0755 tmpfs "$new/run"
mount -t tmpfs -o mode=0755 tmpfs "$new/var"
# The interpreter's venv and the checkout stay visible where a fresh tmpfs would hide them
# (a clone under /tmp, as CI may make).
IFS=: read -ra keep <<< "$KEEP"
for path in "${keep[@]}"; do
    case "$path" in
    /tmp/*|/run/*|/var/*|/dev/*) mkdir -p "$new$path" && mount --rbind "$path" "$new$path" ;;
    esac
done
ln -s /run "$new/var/run"
ln -s /run/lock "$new/var/lock"
mkdir -p "$new/run/lock" "$new/run/ubus" "$new/var/log" "$new/var/state" "$new/tmp/run"
mount -t tmpfs -o mode=0755 tmpfs "$new/dev"
for node in null zero full random urandom tty; do
    touch "$new/dev/$node"
    mount --bind "/dev/$node" "$new/dev/$node"
done
ln -s /proc/self/fd "$new/dev/fd"
ln -s fd/0 "$new/dev/stdin"; ln -s fd/1 "$new/dev/stdout"; ln -s fd/2 "$new/dev/stderr"
mkdir -p "$new/dev/shm" "$new/dev/pts"

# everything written to /usr, /etc ... inside, as on a router's /overlay/upper
mkdir -p "$new/overlay/upper"
mount --bind "$state/up" "$new/overlay/upper"

# host folders bound in at chosen paths (BINDS: one "INSIDE=HOST" per line)
while IFS='=' read -r inside host; do
    [ -n "$inside" ] || continue
    mkdir -p "$new/$inside"
    mount --bind "$host" "$new/$inside"
done <<< "${BINDS:-}"

# the router's init scripts only
rm -rf "$new/etc/init.d" "$new/etc/rc.d"
mkdir -p "$new/etc/init.d" "$new/etc/rc.d"
for layer in "${layers[@]}" "$tree"; do
    [ -d "$layer/etc/init.d" ] && cp -an "$layer/etc/init.d/." "$new/etc/init.d/"
    [ -d "$layer/etc/rc.d" ] && cp -an "$layer/etc/rc.d/." "$new/etc/rc.d/"
done
rm -f "$new/usr/bin/python3"  # the host's is a link: replace it, not what it points to
printf '#!/bin/sh\nexec %s "$@"\n' "$python" > "$new/usr/bin/python3"
chmod 0755 "$new/usr/bin/python3"
echo "$name" > "$new/etc/hostname"

cd "$new"
mkdir .oldroot
pivot_root . .oldroot
cd /
mount -t proc proc /proc
mount -t sysfs sysfs /sys
umount -l /.oldroot
rmdir /.oldroot
hostname "$name"
ip link set lo up
echo ready
exec "$python" -I -c "$REAPER"
"""

# PID 1 of the namespace: reaps every orphan (daemons double-fork, init scripts exit), and
# exits on SIGTERM (PID 1 ignores signals it has no handler for).
_REAPER = """
import os, signal, sys
sys.stdout.close()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, signal.SIGTERM})
while True:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    if signal.sigwait({signal.SIGCHLD, signal.SIGTERM}) == signal.SIGTERM:
        sys.exit(0)
"""

# Answers `network.interface dump` from a JSON file, as netifd would (fw4, network.sh ask it).
_NETIFD_STANDIN = """import * as ubus from 'ubus';
import * as uloop from 'uloop';
import { readfile } from 'fs';

let interfaces = json(readfile(ARGV[0]));
uloop.init();
let conn = ubus.connect();
conn.publish("network.interface", {
\tdump: { call: function(req) { return { interface: interfaces }; }, args: {} }
});
uloop.run();
"""

_LOG_RE = re.compile(r"^\S+\s+\d+\s+\S+\s+\S+\s+(\w+)\.(\w+)\s+([^:\[\s]+)(?:\[(\d+)\])?:\s?(.*)$")


def _uci_quote(value: str) -> str:
    """A value for `uci batch`, single-quoted as uci's own parser reads it."""
    return "'" + value.replace("'", "'\\''") + "'"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One syslog line as busybox syslogd writes it: ``daemon.info ikev2d[42]: text``."""

    facility: str
    level: str
    tag: str
    pid: int | None
    text: str

    @property
    def priority(self) -> str:
        return f"{self.facility}.{self.level}"


class RouterNamespace:
    """OpenWrt's userland in throw-away namespaces (see the module docstring for the API)."""

    def __init__(
        self,
        workdir: Path,
        tree: Path | None = None,
        *,
        layers: Sequence[Path] = (),
        binds: dict[str, Path] | None = None,
        python: str = sys.executable,
        hostname: str = "OpenWrt",
    ) -> None:
        self.workdir = Path(workdir)
        self.tree = Path(tree) if tree is not None else userland_tree()
        self.layers = [Path(layer) for layer in layers]
        self.binds = {inside: Path(host) for inside, host in (binds or {}).items()}
        self.python = python
        self.hostname = hostname
        self._unshare: subprocess.Popen | None = None
        self.pid = 0  # host PID of the namespace's PID 1
        self._uhttpd = ""  # listen address once start_uhttpd ran

    # -- life cycle -----------------------------------------------------------------------
    def __enter__(self) -> RouterNamespace:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        if os.geteuid() != 0:
            raise CommandFailed("RouterNamespace needs root (namespaces, mounts)")
        state = self.workdir / "routerns"
        state.mkdir(parents=True, exist_ok=True)
        argv = [
            "unshare", "--mount", "--net", "--pid", "--uts", "--fork", "--propagation", "private",
            "bash", "-c", _SETUP, "routerns",
            str(state), str(self.tree), self.python, self.hostname, *map(str, self.layers),
        ]  # fmt: skip
        self._unshare = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                "PATH": PATH,
                "REAPER": _REAPER,
                "KEEP": self._host_paths_to_keep(),
                "BINDS": self._binds_text(),
            },
            start_new_session=True,
        )
        line = self._unshare.stdout.readline().strip()
        if line != "ready":
            err = self._unshare.communicate(timeout=10)[1]
            raise CommandFailed(f"router namespace setup failed: {line}\n{err[-3000:]}")
        self.pid = wait_until(self._init_pid, 5, what="namespace PID 1")

    def _host_paths_to_keep(self) -> str:
        """The python's venv and the project checkout, which the namespace must still see."""
        venv = Path(self.python).parent.parent
        return ":".join(str(p.resolve()) for p in (venv, PROJECT))

    def _binds_text(self) -> str:
        return "".join(f"{inside.strip('/')}={host}\n" for inside, host in self.binds.items())

    def _init_pid(self) -> int:
        pid = self._unshare.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return int(children[0]) if children else 0

    def close(self) -> None:
        """Kill PID 1 of the namespace: the kernel then kills every process inside."""
        if self._unshare is None:
            return
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        try:
            self._unshare.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._unshare.kill()
            self._unshare.wait(timeout=10)
        for stream in (self._unshare.stdout, self._unshare.stderr):
            if stream:
                stream.close()
        self._unshare = None

    # -- commands and files ---------------------------------------------------------------
    def command(self, argv: Sequence[str]) -> list[str]:
        """argv prefixed to run inside the namespace (its root, cwd /, all its namespaces)."""
        return [
            "nsenter", "-t", str(self.pid), "--mount", "--net", "--pid", "--uts",
            "--root", "--wd", "--", *argv,
        ]  # fmt: skip

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"PATH": PATH, "HOME": "/root", "LC_ALL": "C", "TERM": "dumb", **(extra or {})}

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60.0,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run argv inside and wait (at most `timeout` s); CommandFailed on non-zero if check."""
        return run(self.command(argv), input=input, check=check, timeout=timeout, env=self.env(env))

    def sh(self, script: str, **kw) -> subprocess.CompletedProcess[str]:
        """Run a script with the router's /bin/sh (busybox ash)."""
        return self.run(["/bin/sh", "-c", script], **kw)

    def spawn(self, argv: Sequence[str], name: str, env: dict[str, str] | None = None) -> None:
        """Start a daemon in the background (a child of PID 1), output in /tmp/<name>.log."""
        script = 'exec "$@" </dev/null >>"/tmp/$NAME.log" 2>&1 &'
        self.run(["/bin/sh", "-c", script, "spawn", *argv], env={"NAME": name, **(env or {})})

    def host(self, path: str) -> Path:
        """The host path of a path inside the namespace (through /proc/<pid>/root)."""
        return Path(f"/proc/{self.pid}/root") / path.lstrip("/")

    def read(self, path: str) -> str:
        return self.host(path).read_text()

    def exists(self, path: str) -> bool:
        return self.host(path).exists()

    def write(self, path: str, text: str | bytes, mode: int = 0o644) -> None:
        target = self.host(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, str):
            text = text.encode()
        target.write_bytes(text)
        target.chmod(mode)

    def pidof(self, name: str) -> list[int]:
        """PIDs (inside the namespace) of live processes whose argv[0] basename is name."""
        out = self.run(["pidof", name], check=False).stdout
        return sorted(int(p) for p in out.split())

    # -- the router's daemons -------------------------------------------------------------
    def boot(self) -> None:
        """syslogd, ubusd, procd -S and rpcd, in OpenWrt's order, each waited for; then
        reload_config once, as at the end of a router's boot (its checksums are what later
        `reload_config` runs compare against)."""
        self.start_syslog()
        self.start_ubus()
        self.start_procd()
        self.start_rpcd()
        self.run(["reload_config"])

    def start_syslog(self) -> None:
        # busybox syslogd (as OpenWrt's logd, it keeps facility.level); -n: stay in front
        self.spawn(["busybox", "syslogd", "-n", "-O", SYSLOG], "syslogd")
        self._wait_daemon("syslogd", lambda: self.exists("/dev/log"))

    def start_ubus(self) -> None:
        self.spawn(["/sbin/ubusd"], "ubusd")
        self._wait_daemon("ubusd", lambda: self.run(["ubus", "list"], check=False).returncode == 0)

    def start_procd(self) -> None:
        self.spawn(["/sbin/procd", "-S"], "procd")
        self._wait_daemon("procd", lambda: self._has_object("service"))

    def start_rpcd(self) -> None:
        # as on a router: a procd service (so `/etc/init.d/rpcd reload` from a package works)
        self.run(["/etc/init.d/rpcd", "start"])
        self._wait_daemon("rpcd", lambda: self._has_object("session"))

    def network(
        self, lan: str = "192.168.1.1/24", wan: str = "203.0.113.2/24", *, wired: bool = False
    ) -> None:
        """A LAN (device br-lan) and a WAN (device wan) as links with these addresses,
        /etc/config/network describing them, and a stand-in for netifd that answers
        `network.interface dump` with them (fw4 and OpenWrt's network.sh ask it). `wired`:
        both devices exist already with these addresses, leading to other namespaces."""
        interfaces = []
        config = [
            "config interface 'loopback'",
            "\toption device 'lo'",
            "\toption proto 'static'",
            "\toption ipaddr '127.0.0.1'",
            "\toption netmask '255.0.0.0'",
            "",
        ]
        for name, device, cidr in (("lan", "br-lan", lan), ("wan", "wan", wan)):
            iface = ipaddress.ip_interface(cidr)
            if not wired:
                self._stub_link(device, cidr)
            interfaces.append({
                "interface": name, "up": True, "proto": "static", "device": device,
                "l3_device": device, "ipv4-address": [
                    {"address": str(iface.ip), "mask": iface.network.prefixlen}],
            })  # fmt: skip
            config += [f"config interface '{name}'", f"\toption device '{device}'",
                       "\toption proto 'static'", f"\toption ipaddr '{iface.ip}'",
                       f"\toption netmask '{iface.netmask}'", ""]  # fmt: skip
        self.write("/etc/config/network", "\n".join(config))
        self.write("/tmp/netifd-interfaces.json", json.dumps(interfaces))
        self.write("/tmp/netifd-standin.uc", _NETIFD_STANDIN)
        self.spawn(["ucode", "/tmp/netifd-standin.uc", "/tmp/netifd-interfaces.json"], "netifd")
        self.wait_object("network.interface")

    def _stub_link(self, device: str, cidr: str) -> None:
        # a veth pair (this kernel has no dummy links); the peer <device>-p stays inside
        self.run(["ip", "link", "add", device, "type", "veth", "peer", "name", f"{device}-p"])
        self.run(["ip", "addr", "add", cidr, "dev", device])
        self.run(["ip", "link", "set", f"{device}-p", "up"])
        self.run(["ip", "link", "set", device, "up"])

    def move_link(self, device: str, netns: str) -> None:
        """Move a link of the router (e.g. the WAN peer "wan-p") into a named network
        namespace of the host (`ip netns add NAME`), where a test puts a client or LAN host."""
        argv = ["nsenter", "-t", str(self.pid), "--net", "--", "ip", "link", "set", device,
                "netns", netns]  # fmt: skip
        subprocess.run(argv, check=True, capture_output=True, timeout=30)

    def first_boot(self) -> None:
        """What a freshly flashed image does once at its first boot, after its daemons run:
        every /etc/uci-defaults script sourced from that folder and deleted when it succeeds,
        `uci commit`, then each enabled init script's `boot` in /etc/rc.d order."""
        self.sh(
            'cd /etc/uci-defaults 2>/dev/null && for f in *; do [ -f "$f" ] || continue; '
            '( . "./$f" ) && rm -f "$f"; done; uci commit; '
            'for s in /etc/rc.d/S*; do [ -x "$s" ] && "$s" boot; done; true'
        )

    def start_uhttpd(self, *args: str, listen: str = "127.0.0.1:80") -> None:
        """uhttpd in front with its ubus endpoint /ubus (how LuCI reaches rpcd); extra args
        (a docroot with -h, LuCI's handler ...) go after the defaults."""
        if not self.exists("/tmp/www"):
            self.host("/tmp/www").mkdir()
        argv = ["uhttpd", "-f", "-p", listen, "-h", "/tmp/www", "-u", "/ubus", *args]
        self.spawn(argv, "uhttpd")
        self._uhttpd = listen
        self._wait_daemon("uhttpd", lambda: self._http_up(listen))

    def _http_up(self, listen: str) -> bool:
        probe = ["busybox", "wget", "-q", "-O", "/dev/null", f"http://{listen}/"]
        return "Connection refused" not in self.run(probe, check=False).stderr

    def _wait_daemon(self, name: str, ready: Callable[[], bool], timeout: float = 10) -> None:
        try:
            wait_until(ready, timeout, what=f"{name} ready")
        except TimeoutError as exc:
            log = self.read(f"/tmp/{name}.log") if self.exists(f"/tmp/{name}.log") else ""
            raise CommandFailed(f"{exc}; /tmp/{name}.log:\n{log[-3000:]}") from None

    def _has_object(self, name: str) -> bool:
        return self.run(["ubus", "list", name], check=False).stdout.strip() == name

    def wait_object(self, name: str, timeout: float = 10) -> None:
        wait_until(lambda: self._has_object(name), timeout, what=f"ubus object {name!r}")

    def ubus(self, obj: str, method: str, args: dict | None = None, *, check: bool = True):
        """`ubus call obj method args` as root over the socket: the parsed reply ({} if none)."""
        argv = ["ubus", "call", obj, method]
        if args is not None:
            argv.append(json.dumps(args))
        out = self.run(argv, check=check).stdout
        return json.loads(out) if out.strip() else {}

    # -- rpcd sessions (what LuCI does) ---------------------------------------------------
    def add_login(self, username: str, password: str, read: str = "*", write: str = "*") -> None:
        """A `config login` in /etc/config/rpcd with an md5-crypt password and one ACL pattern
        each for read and write ("" for none; rpcd matches them against acl.d group names)."""
        hashed = self.run(["openssl", "passwd", "-1", password]).stdout.strip()
        lines = [
            "add rpcd login",
            f"set rpcd.@login[-1].username={_uci_quote(username)}",
            f"set rpcd.@login[-1].password={_uci_quote(hashed)}",
        ]
        lines += [f"add_list rpcd.@login[-1].read={_uci_quote(read)}"] if read else []
        lines += [f"add_list rpcd.@login[-1].write={_uci_quote(write)}"] if write else []
        self.run(["uci", "batch"], input="\n".join([*lines, "commit rpcd", ""]))

    def login(self, username: str, password: str) -> str:
        """A real rpcd session: `session login` -> its id (ubus_rpc_session)."""
        reply = self.ubus("session", "login", {"username": username, "password": password})
        return reply["ubus_rpc_session"]

    def ubus_session(self, sid: str, obj: str, method: str, args: dict | None = None) -> dict:
        """A call with a session's rights, exactly as LuCI makes it: JSON-RPC to uhttpd's /ubus
        (started on first use), which asks rpcd whether the session may call obj.method.
        Returns {"result": [status, data]} or {"error": {"code", "message"}} (access denied:
        code -32002)."""
        if not self._uhttpd:
            self.start_uhttpd()
        request = {"jsonrpc": "2.0", "id": 1, "method": "call",
                   "params": [sid, obj, method, args or {}]}  # fmt: skip
        out = self.run([
            "busybox", "wget", "-q", "-O", "-", "--header", "Content-Type: application/json",
            "--post-data", json.dumps(request), f"http://{self._uhttpd}/ubus",
        ]).stdout  # fmt: skip
        reply = json.loads(out)
        return {k: reply[k] for k in ("result", "error") if k in reply}

    # -- syslog -----------------------------------------------------------------------------
    def log(self) -> list[LogLine]:
        """Every syslog line so far (lines busybox could not have written are skipped)."""
        try:
            text = self.read(SYSLOG)
        except FileNotFoundError:
            return []
        lines = []
        for raw in text.splitlines():
            match = _LOG_RE.match(raw)
            if match:
                facility, level, tag, pid, text = match.groups()
                lines.append(LogLine(facility, level, tag, int(pid) if pid else None, text))
        return lines

    def log_text(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return self.read(SYSLOG)
        return ""

    def wait_log(self, predicate: Callable[[LogLine], bool], timeout: float = 15.0) -> LogLine:
        """The first syslog line matching predicate, waiting up to `timeout` s for it."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log():
                if predicate(line):
                    return line
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no matching syslog line within {timeout}s:\n{self.log_text()}")
            time.sleep(0.05)
