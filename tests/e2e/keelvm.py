# SPDX-License-Identifier: MIT
"""Drive a keel image in QEMU over its serial console.

    vm = KeelVM("build/image/keel.iso")
    vm.boot()                                   # waits for "keel: ready:" and the shell
    status, out = vm.run("initctl status")      # exit status and output of one command
    vm.wait_console(r"crasher: exited with code 3; restarting", count=2)
    line = vm.poweroff()                        # "... system down for poweroff (clean: ...)"

The serial console carries three interleaved streams: our commands' output, container
output ("UNIT| text") and PID 1's own log ("[  1.23] keel: text"), the latter sometimes twice
(once from PID 1, once from the kernel's printk for errors). Everything read is kept in
`vm.console` (normalised: no CR, no ESC[6n) and written raw to a per-VM log file under
KEEL_BUILD/e2e-logs/. `run()` strips the container and keel lines from what it returns.

Every wait is keyed to something on the console, with a generous timeout multiplied by
KEEL_TIMEOUT_SCALE (default 1). There are no fixed sleeps.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import re
import shlex
import socket
import subprocess
import time
from pathlib import Path

import pexpect

REPO = Path(__file__).resolve().parents[2]

READY_RE = r"keel: ready: [^\n]*\n"
PROMPT_RE = r"keel:[^\n#]*# "
# PID 1's own log lines, wherever they land (the kernel's printk copy of an error line may
# land in the middle of another line).
KEEL_LINE_RE = re.compile(r"\[\s*\d+\.\d+\] keel: [^\n]*\n")
# Any other kernel line and container output lines, at the start of a line.
KERNEL_LINE_RE = re.compile(r"(?m)^\[\s*\d+\.\d+\] [^\n]*\n")
UNIT_LINE_RE = re.compile(r"(?m)^[A-Za-z0-9][A-Za-z0-9_.@:-]*\| [^\n]*\n")
ESC_QUERY = "\x1b[6n"


def parse_status_table(out: str) -> dict[str, dict]:
    """`initctl status` table -> {unit: {"state", "pid" (int or None), "restarts", "uptime", "memory"}}."""
    units = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 6 or f[0] == "UNIT":
            continue
        units[f[0]] = {"state": f[1], "pid": int(f[2]) if f[2].isdigit() else None,
                       "restarts": int(f[3]) if f[3].isdigit() else None, "uptime": f[4], "memory": f[5]}
    return units


class KeelVMError(AssertionError):
    """A wait on the console failed; the message names the log file and shows its tail."""


def free_port() -> int:
    """A TCP port free on the host's 127.0.0.1 now, for a QEMU hostfwd rule."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_path(name: str, default: Path) -> Path:
    v = os.environ.get(name)
    return Path(v) if v else default


def build_dir() -> Path:
    return env_path("KEEL_BUILD", REPO / "build").resolve()


def image_dir() -> Path:
    return env_path("KEEL_IMAGE", build_dir() / "image").resolve()


def kernel_path() -> Path:
    return env_path("KEEL_KERNEL", image_dir() / "vmlinuz").resolve()


def cached_kernel() -> str:
    """The kernel from the cache outside the clone (kernel/build.sh builds it only when its
    config fragment or source changed): its path."""
    out = subprocess.run(["bash", str(REPO / "kernel/build.sh")], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def mkimage(out: Path, build: Path, units: Path, kernel: str | Path, cmdline: str | None = None,
            files: dict | None = None, timeout: float | None = None) -> subprocess.CompletedProcess:
    """initramfs/mkimage.sh: KEEL_BUILD's binaries, the unit files in units and files
    ({source: path in the image}) into out/keel.iso. The caller decides what a failure means."""
    cmd = ["bash", str(REPO / "initramfs/mkimage.sh"), "--out", str(out), "--bin", str(build),
           "--units", str(units), "--kernel", str(kernel)]
    if cmdline:
        cmd += ["--cmdline", cmdline]
    for src, dst in (files or {}).items():
        cmd += ["--file", f"{src}={dst}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def env_timeout_scale() -> float:
    try:
        return max(float(os.environ.get("KEEL_TIMEOUT_SCALE", "1")), 0.1)
    except ValueError:
        return 1.0


_accel_cache: dict[str, str] = {}


def qemu_accel(kernel: Path | None = None) -> str:
    """What tools/qemu-accel.sh says ("kvm" only when proven to work, else "tcg")."""
    kernel = Path(kernel or kernel_path())
    key = str(kernel)
    if key not in _accel_cache:
        try:
            out = subprocess.run(["bash", str(REPO / "tools/qemu-accel.sh"), key], capture_output=True,
                                 text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        _accel_cache[key] = out if out in ("kvm", "tcg") else "tcg"
    return _accel_cache[key]


@contextlib.contextmanager
def booted(iso, name: str = "keel", **kwargs):
    """A booted KeelVM, killed (if still running) on the way out."""
    vm = KeelVM(iso, name=name, **kwargs)
    try:
        vm.boot()
        yield vm
    finally:
        vm.kill()


class KeelVM:
    _ids = itertools.count(1)

    def __init__(self, iso, timeout_scale: float | None = None, extra_qemu_args=(), log_path=None,
                 name: str = "keel", memory: int = 512, smp: int = 2, accel: str | None = None,
                 kernel=None):
        self.iso = Path(iso).resolve()
        if not self.iso.is_file():
            raise FileNotFoundError(f"{self.iso}: no such image (run ./dev image)")
        self.scale = timeout_scale if timeout_scale is not None else env_timeout_scale()
        self.extra_qemu_args = list(extra_qemu_args)
        self.name = name
        self.memory = memory
        self.smp = smp
        self.accel = accel or qemu_accel(kernel or self.iso.parent / "vmlinuz")
        if log_path is None:
            logs = build_dir() / "e2e-logs"
            stamp = time.strftime("%Y%m%d-%H%M%S")
            log_path = logs / f"{name}-{stamp}-{os.getpid()}-{next(self._ids)}.log"
        self.log_path = Path(log_path)
        self.console = ""          # everything read so far, normalised
        self._held = ""            # a chunk tail that may be the start of ESC[6n
        self.child: pexpect.spawn | None = None
        self._log = None
        self._seq = itertools.count(1)
        self.spawned_at = None     # time.monotonic() when QEMU was started
        self.ready_at = None       # seconds from spawn to the "keel: ready:" line
        self.ready_line = None
        self.exit_status = None    # QEMU's exit status once it has exited
        self.shell_ready = False
        self.broken = None         # why the console shell can no longer be trusted

    # ---- process ------------------------------------------------------------------------------

    def qemu_command(self) -> list[str]:
        # q35, as ./dev run boots it (the kernel has no ATA drivers, so the CD's controller costs
        # nothing on either machine: README, "The kernel"). KEEL_MACHINE overrides.
        machine = os.environ.get("KEEL_MACHINE", "q35")
        return ["qemu-system-x86_64", "-M", machine, "-accel", self.accel, "-m", str(self.memory), "-smp", str(self.smp),
                "-cdrom", str(self.iso), "-display", "none", "-monitor", "none", "-no-reboot",
                "-serial", "stdio", *self.extra_qemu_args]

    def start(self):
        """Spawn QEMU; returns at once (boot() waits for the system)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w", encoding="utf-8", errors="replace")
        cmd = self.qemu_command()
        self._log.write(f"# {shlex.join(cmd)}\n")
        self._log.flush()
        self.spawned_at = time.monotonic()
        self.child = pexpect.spawn(cmd[0], cmd[1:], encoding="utf-8", codec_errors="replace",
                                   dimensions=(50, 250), echo=False, timeout=None)
        self.child.delaybeforesend = None

    def boot(self, timeout: float = 120):
        """Start QEMU, wait for "keel: ready:" and the console shell, and prepare the shell."""
        if self.child is None:
            self.start()
        m = self.wait_console(READY_RE, timeout=timeout)
        self.ready_at = time.monotonic() - self.spawned_at
        self.ready_line = m.group(0).strip()
        self.wait_console(PROMPT_RE, timeout=60, since=m.end())
        # No echo (ash then reads plain lines: no line editing, no ESC[6n), no prompts.
        self._send("stty -echo; PS1=''; PS2=''; export PS1 PS2\n")
        self.shell_ready = True
        status, out = self.run("echo keel-shell-ok", timeout=60)
        if status != 0 or "keel-shell-ok" not in out:
            self._fail(f"console shell did not answer as expected (status {status}, output {out!r})")
        return self

    def alive(self) -> bool:
        return self.child is not None and self.child.isalive()

    def kill(self):
        """Teardown: stop QEMU if it still runs, close the log. Safe to call twice."""
        if self.child is not None:
            try:
                if self.child.isalive():
                    self._drain(0)
                    self.child.terminate(force=True)
                self.child.close(force=True)
            except Exception:  # noqa: BLE001 - teardown must not raise
                pass
            if self.exit_status is None:
                self.exit_status = self.child.exitstatus if self.child.exitstatus is not None \
                    else (-self.child.signalstatus if self.child.signalstatus else None)
        if self._log and not self._log.closed:
            self._log.close()

    close = kill

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    # ---- reading the console --------------------------------------------------------------------

    def _ingest(self, chunk: str):
        self._log.write(chunk)
        self._log.flush()
        text = self._held + chunk
        self._held = ""
        # Hold back a tail that could be the beginning of ESC[6n split across reads.
        for k in range(len(ESC_QUERY) - 1, 0, -1):
            if text.endswith(ESC_QUERY[:k]):
                self._held, text = text[-k:], text[:-k]
                break
        self.console += text.replace("\r", "").replace(ESC_QUERY, "")

    def _drain(self, timeout: float) -> bool:
        """Read what the console has (waiting up to timeout for the first byte). False on EOF."""
        if self.child is None:
            return False
        try:
            self._ingest(self.child.read_nonblocking(65536, timeout=timeout))
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            if self._held:
                self.console += self._held
                self._held = ""
            return False
        # Take whatever else is already there without waiting.
        while True:
            try:
                self._ingest(self.child.read_nonblocking(65536, timeout=0))
            except pexpect.TIMEOUT:
                return True
            except pexpect.EOF:
                return False

    def mark(self) -> int:
        """A position in the console; pass it as since= to wait for what comes after it."""
        self._drain(0)
        return len(self.console)

    def wait_console(self, regex, timeout: float = 60, since: int = 0, count: int = 1):
        """Wait until regex matches count times in the console after position since
        (0: from the beginning of the boot). Returns the last match (on vm.console).

        The console arrives in pieces: a pattern that may end inside a line (`[^\n]*`, or `$`
        at the end of what has arrived so far) can match a partial line. End such patterns
        with `\n` to wait for the whole line."""
        rx = re.compile(regex, re.MULTILINE) if isinstance(regex, str) else regex
        deadline = time.monotonic() + timeout * self.scale
        while True:
            matches = []
            for m in rx.finditer(self.console, since):
                matches.append(m)
                if len(matches) >= count:
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(f"timed out after {timeout * self.scale:.0f}s waiting for {rx.pattern!r}"
                           f" ({len(matches)} of {count} seen)")
            if not self._drain(min(left, 1.0)):
                for m in rx.finditer(self.console, since):
                    matches.append(m)
                if len(matches) >= count:
                    return matches[count - 1]
                self._fail(f"QEMU exited while waiting for {rx.pattern!r} ({len(matches)} of {count} seen)")

    def console_lines(self, regex, since: int = 0) -> list[str]:
        self._drain(0)
        rx = re.compile(regex)
        return [ln for ln in self.console[since:].split("\n") if rx.search(ln)]

    # ---- the shell ---------------------------------------------------------------------------------

    def _send(self, text: str):
        if not self.alive():
            self._fail("QEMU is not running")
        self._log.flush()
        self.child.send(text)

    def run(self, cmd: str, timeout: float = 60, strip: bool = True) -> tuple[int, str]:
        """Run cmd in the console shell (stdin /dev/null, stderr merged into stdout).
        Returns (exit status, output). With strip, container lines ("UNIT| ...") and kernel
        or keel log lines ("[ t] ...") that interleaved are removed from the output; they stay
        in vm.console and the log file."""
        if not self.shell_ready:
            raise RuntimeError("boot() first")
        if self.broken:
            self._fail(f"not running {cmd!r}: {self.broken}")
        n = next(self._seq)
        # The markers only exist once printf has joined its arguments: the typed text (should
        # anything echo it) cannot match them.
        begin = f"<<KEEL-BEGIN {n}>>"
        end_rx = re.compile(rf"<<KEEL-END {n} (\d+)>>")
        line = (f"printf '%s%s %d>>\\n' '<<KEEL' '-BEGIN' {n}; {{ {cmd}\n}} </dev/null 2>&1; "
                f"printf '%s%s %d %d>>\\n' '<<KEEL' '-END' {n} $?\n")
        start = self.mark()
        self._send(line)
        try:
            m_end = self.wait_console(end_rx, timeout=timeout, since=start)
        except KeelVMError:
            # The shell may still be busy with it: later commands would only time out too.
            self.broken = f"an earlier command did not finish: {cmd!r}"
            raise
        b = self.console.find(begin, start, m_end.start())
        if b < 0:
            self._fail(f"command {n}: end marker without begin marker")
        out = self.console[b + len(begin):m_end.start()]
        if out.startswith("\n"):
            out = out[1:]
        if strip:
            out = self.strip_noise(out)
        return int(m_end.group(1)), out

    @staticmethod
    def strip_noise(text: str) -> str:
        text = KEEL_LINE_RE.sub("", text)
        text = KERNEL_LINE_RE.sub("", text)
        return UNIT_LINE_RE.sub("", text)

    def check(self, cmd: str, timeout: float = 60) -> str:
        """run() that requires exit status 0; returns the output."""
        status, out = self.run(cmd, timeout=timeout)
        if status != 0:
            self._fail(f"command failed with status {status}: {cmd}\n--- output ---\n{out}")
        return out

    def status_table(self) -> dict[str, dict]:
        """`initctl status`, parsed (see parse_status_table)."""
        status, out = self.run("initctl status")
        if status != 0:
            self._fail(f"initctl status exited {status}:\n{out}")
        table = parse_status_table(out)
        if not table:
            self._fail(f"initctl status printed no unit rows:\n{out}")
        return table

    # ---- power ----------------------------------------------------------------------------------------

    def poweroff(self, timeout: float = 90, command: str = "poweroff", mode: str = "poweroff") -> str:
        """Type command (poweroff, reboot, halt, initctl …), wait for PID 1's final line for
        mode and for QEMU to exit (it runs with -no-reboot). Returns the line."""
        start = self.mark()
        self._send(command + "\n")
        # Up to the newline: the line may arrive in pieces.
        m = self.wait_console(rf"keel: system down for {mode} \([^\n]*\n", timeout=timeout, since=start)
        self.wait_exit(timeout=timeout)
        return m.group(0).rstrip("\n")

    def wait_exit(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout * self.scale
        while self._drain(max(0.0, min(1.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                self._fail(f"QEMU did not exit within {timeout * self.scale:.0f}s")
        self.child.close()
        self.exit_status = self.child.exitstatus if self.child.exitstatus is not None \
            else -(self.child.signalstatus or 0)
        self._log.close()
        return self.exit_status

    # ---- failures -------------------------------------------------------------------------------------

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.console.rstrip("\n").split("\n")[-lines:])

    def _fail(self, msg: str):
        if self._log and not self._log.closed:
            self._log.flush()
        raise KeelVMError(f"{self.name}: {msg}\nconsole log: {self.log_path}\n"
                          f"--- last console lines ---\n{self.tail()}")
