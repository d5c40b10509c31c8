#!/usr/bin/env python3
"""Lamina's system-test harness: boot a scenario on QEMU and watch the console.

    run_scenario.py [--build-dir DIR] [options] SCENARIO.json
    run_scenario.py --self-test

A scenario names the board (CPUs, RAM, boot arguments), the VMs to bundle
(or a prepared bundle, optionally damaged on purpose), and what the console
must and must not show. The harness builds the bundle, boots QEMU without a
terminal, echoes every console line with the time since boot, and decides:

  PASS  every expectation is met (then the run goes on for settle_s seconds,
        still checking the forbidden patterns);
  FAIL  a forbidden pattern appears, QEMU exits too early, or timeout_s runs
        out; a timeout names exactly the expectations still unmet.

QEMU is always killed (its whole process group) when the harness exits.
Exit status: 0 pass, 1 fail (or a broken scenario/build). See README.md.
"""

import argparse
import concurrent.futures
import ctypes
import importlib.machinery
import importlib.util
import json
import os
import re
import select
import queue
import shlex
import signal
import socket
import threading
import urllib.error
import urllib.request
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True  # importing scripts/lamina-run must not litter the tree

HARNESS = Path(__file__).resolve()
REPO_DIR = HARNESS.parent.parent.parent


def load_lamina_run():
    """scripts/lamina-run as a module: one definition of bundle building and
    of the QEMU command line for the launcher and for the tests."""
    path = REPO_DIR / "scripts" / "lamina-run"
    loader = importlib.machinery.SourceFileLoader("lamina_run", str(path))
    spec = importlib.util.spec_from_loader("lamina_run", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


lamina_run = load_lamina_run()


class ScenarioError(Exception):
    """The scenario file or the build is not usable: the test cannot run."""


# --------------------------------------------------------------------------
# Scenario file
# --------------------------------------------------------------------------

@dataclass
class Expectation:
    pattern: re.Pattern
    count: int = 1
    seen: int = 0

    def met(self) -> bool:
        return self.seen >= self.count


@dataclass
class Scenario:
    path: Path
    name: str
    description: str = ""
    smp: int = 2
    memory_mib: int = 1024
    append: str = ""
    icount: int | None = None
    vms: list | None = None
    bundle_file: Path | None = None
    bundle_transform: list = field(default_factory=list)
    expect: list[Expectation] = field(default_factory=list)
    expect_in_order: list[re.Pattern] = field(default_factory=list)
    forbid: list[re.Pattern] = field(default_factory=list)
    timeout_s: float = 60.0
    settle_s: float = 0.0
    expect_exit: bool | None = None
    qemu_args: list[str] = field(default_factory=list)
    networks: list[str] | None = None
    uplink: str | None = None
    board_nic: list[str] | None = None   # "IP:PORT" forwarded from a free host port each
    board_disk_mib: int | None = None
    host_http: list[dict] = field(default_factory=list)
    disk_contains: list[str] = field(default_factory=list)


SCENARIO_KEYS = {
    "description", "smp", "memory_mib", "append", "icount", "vms", "bundle_file",
    "bundle_transform", "expect", "expect_in_order", "forbid", "timeout_s",
    "settle_s", "expect_exit", "qemu_args", "networks", "uplink", "board_nic",
    "board_disk_mib", "host_http", "disk_contains",
}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _regex(text, where: str) -> re.Pattern:
    if not isinstance(text, str):
        raise ScenarioError(f"{where}: a pattern must be a string, not {text!r}")
    try:
        return re.compile(text)
    except re.error as error:
        raise ScenarioError(f"{where}: bad regular expression {text!r}: {error}") from None


def _transforms(value) -> list[dict]:
    steps = value if isinstance(value, list) else [value]
    for index, step in enumerate(steps):
        where = f"bundle_transform[{index}]"
        if not isinstance(step, dict) or len(step) != 1:
            raise ScenarioError(f"{where}: expected one of {{\"truncate\": N}} or "
                                f"{{\"corrupt_byte\": {{\"offset\": N, \"xor\": X}}}}")
        (kind, argument), = step.items()
        if kind == "truncate":
            if not _is_int(argument):
                raise ScenarioError(f"{where}: truncate takes an integer byte count")
        elif kind == "corrupt_byte":
            if (not isinstance(argument, dict) or not _is_int(argument.get("offset"))
                    or not set(argument) <= {"offset", "xor"}
                    or not (_is_int(argument.get("xor", 0xFF)) and 0 < argument.get("xor", 0xFF) < 256)):
                raise ScenarioError(f"{where}: corrupt_byte takes {{\"offset\": N, \"xor\": 1..255}}")
        else:
            raise ScenarioError(f"{where}: unknown transform {kind!r}")
    return steps


def load_scenario(path: Path) -> Scenario:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ScenarioError(f"cannot read scenario {path}: {error}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a JSON object")
    unknown = sorted(set(data) - SCENARIO_KEYS)
    if unknown:
        raise ScenarioError(f"{path}: unknown key(s) {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(SCENARIO_KEYS))})")
    s = Scenario(path=path, name=path.stem)

    def get(key, check, what, default=None):
        value = data.get(key, default)
        if value is not None and not check(value):
            raise ScenarioError(f"{path}: {key} must be {what}, not {value!r}")
        return value

    s.description = get("description", lambda v: isinstance(v, str), "a string", "")
    s.smp = get("smp", lambda v: _is_int(v) and v >= 1, "a positive integer", 2)
    s.memory_mib = get("memory_mib", lambda v: _is_int(v) and v >= 1, "a positive integer", 1024)
    s.append = get("append", lambda v: isinstance(v, str), "a string", "")
    s.icount = get("icount", lambda v: _is_int(v) and 0 <= v <= 10, "null or an integer 0..10")
    s.timeout_s = float(get("timeout_s", lambda v: _is_number(v) and v > 0, "a positive number", 60))
    s.settle_s = float(get("settle_s", lambda v: _is_number(v) and v >= 0, "a number >= 0", 0))
    s.expect_exit = get("expect_exit", lambda v: isinstance(v, bool), "true, false or null")
    s.qemu_args = get("qemu_args", lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v),
                      "a list of strings", [])
    s.vms = get("vms", lambda v: isinstance(v, list) and all(isinstance(vm, dict) for vm in v),
                "a list of VM objects (the bundle config's \"vms\")")
    bundle_file = get("bundle_file", lambda v: isinstance(v, str) and v, "a path")
    if s.vms is not None and bundle_file is not None:
        raise ScenarioError(f"{path}: give either vms or bundle_file, not both")
    if bundle_file is not None:
        s.bundle_file = (path.parent / bundle_file).resolve()
    if "bundle_transform" in data:
        if s.vms is None and s.bundle_file is None:
            raise ScenarioError(f"{path}: bundle_transform needs vms or bundle_file")
        s.bundle_transform = _transforms(data["bundle_transform"])

    expect = get("expect", lambda v: isinstance(v, list), "a list", [])
    for index, entry in enumerate(expect):
        where = f"{path}: expect[{index}]"
        if isinstance(entry, str):
            entry = {"pattern": entry}
        if not isinstance(entry, dict) or "pattern" not in entry or not set(entry) <= {"pattern", "count"}:
            raise ScenarioError(f"{where}: expected {{\"pattern\": REGEX, \"count\": N}} or a string")
        count = entry.get("count", 1)
        if not _is_int(count) or count < 1:
            raise ScenarioError(f"{where}: count must be a positive integer")
        s.expect.append(Expectation(_regex(entry["pattern"], where), count))
    in_order = get("expect_in_order", lambda v: isinstance(v, list), "a list of patterns", [])
    s.expect_in_order = [_regex(p, f"{path}: expect_in_order[{i}]") for i, p in enumerate(in_order)]
    forbid = get("forbid", lambda v: isinstance(v, list), "a list of patterns", [])
    s.forbid = [_regex(p, f"{path}: forbid[{i}]") for i, p in enumerate(forbid)]

    s.networks = get("networks", lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v),
                     "a list of network names")
    s.uplink = get("uplink", lambda v: isinstance(v, str) and v, "a network name")
    nic = get("board_nic", lambda v: isinstance(v, dict) and set(v) <= {"forward"}
              and all(isinstance(f, str) and f.count(":") == 1 for f in v.get("forward", [])),
              '{"forward": ["GUESTIP:PORT", ...]}')
    s.board_nic = None if nic is None else list(nic.get("forward", []))
    s.board_disk_mib = get("board_disk_mib", lambda v: _is_int(v) and v >= 1, "a positive integer")
    s.host_http = get("host_http", lambda v: isinstance(v, list) and all(
        isinstance(h, dict) and set(h) == {"after", "guest", "path"} for h in v),
        'a list of {"after": REGEX, "guest": "IP:PORT", "path": "/..."}', [])
    for index, request in enumerate(s.host_http):
        request["after"] = _regex(request["after"], f"{path}: host_http[{index}].after")
        if s.board_nic is None or request["guest"] not in s.board_nic:
            raise ScenarioError(f"{path}: host_http[{index}]: {request['guest']} is not forwarded "
                                "(board_nic.forward)")
    s.disk_contains = get("disk_contains", lambda v: isinstance(v, list) and all(
        isinstance(t, str) for t in v), "a list of strings", [])
    if s.disk_contains and s.board_disk_mib is None:
        raise ScenarioError(f"{path}: disk_contains needs board_disk_mib")

    if s.expect_exit is True and s.settle_s:
        raise ScenarioError(f"{path}: settle_s means nothing with expect_exit: true "
                            "(the run already lasts until QEMU exits)")
    if not s.expect and not s.expect_in_order and not s.settle_s and s.expect_exit is not True:
        raise ScenarioError(f"{path}: the scenario expects nothing (give expect, "
                            "expect_in_order, settle_s or expect_exit: true)")
    return s


# --------------------------------------------------------------------------
# Bundle
# --------------------------------------------------------------------------

def apply_transforms(bundle: Path, steps: list[dict]) -> None:
    """Damage a bundle on purpose, to test Lamina's handling of bad input."""
    data = bytearray(bundle.read_bytes())
    for step in steps:
        (kind, argument), = step.items()
        if kind == "truncate":
            keep = argument if argument >= 0 else len(data) + argument
            if not 0 <= keep <= len(data):
                raise ScenarioError(f"truncate {argument}: the bundle has only {len(data)} bytes")
            del data[keep:]
        else:
            offset = argument["offset"]
            position = offset if offset >= 0 else len(data) + offset
            if not 0 <= position < len(data):
                raise ScenarioError(f"corrupt_byte at {offset}: the bundle has only {len(data)} bytes")
            data[position] ^= argument.get("xor", 0xFF)
    bundle.write_bytes(bytes(data))


def prepare_bundle(scenario: Scenario, build_dir: Path, work: Path) -> Path | None:
    """The bundle for -initrd: built from vms, or copied from bundle_file; None
    when the scenario has neither (Lamina boots without a bundle)."""
    bundle = work / "bundle.bin"
    if scenario.vms is not None:
        config = work / "vms.json"
        document = {"vms": scenario.vms}
        if scenario.networks is not None:
            document["networks"] = scenario.networks
        if scenario.uplink is not None:
            document["uplink"] = {"network": scenario.uplink}
        config.write_text(json.dumps(document, indent=2) + "\n")
        try:
            lamina_run.build_bundle(build_dir, config, bundle, [scenario.path.parent.resolve()])
        except lamina_run.LaminaRunError as error:
            raise ScenarioError(str(error)) from None
    elif scenario.bundle_file is not None:
        if not scenario.bundle_file.is_file():
            raise ScenarioError(f"bundle_file not found: {scenario.bundle_file}")
        bundle.write_bytes(scenario.bundle_file.read_bytes())
    else:
        return None
    if scenario.bundle_transform:
        apply_transforms(bundle, scenario.bundle_transform)
    return bundle


# --------------------------------------------------------------------------
# Console watching
# --------------------------------------------------------------------------

def shown(pattern: re.Pattern) -> str:
    """A pattern as written in the regex (not JSON- or repr-escaped)."""
    return f"'{pattern.pattern}'"


class ConsoleChecker:
    """Marks expectations against console lines; reports what is unmet."""

    def __init__(self, scenario: Scenario):
        self.expect = scenario.expect
        self.in_order = scenario.expect_in_order
        self.in_order_next = 0
        self.forbid = scenario.forbid

    def feed(self, line: str) -> str | None:
        """Checks one line; returns a failure message on a forbidden pattern."""
        for pattern in self.forbid:
            if pattern.search(line):
                return f"forbidden pattern {shown(pattern)} matched line: {line}"
        for expectation in self.expect:
            if expectation.pattern.search(line):
                expectation.seen += 1
        if self.in_order_next < len(self.in_order) and self.in_order[self.in_order_next].search(line):
            self.in_order_next += 1
        return None

    def satisfied(self) -> bool:
        return all(e.met() for e in self.expect) and self.in_order_next == len(self.in_order)

    def unmet(self) -> list[str]:
        lines = [f"  expect {shown(e.pattern)}: seen {e.seen} of {e.count} time(s)"
                 for e in self.expect if not e.met()]
        if self.in_order_next < len(self.in_order):
            done = self.in_order_next
            lines.append(f"  expect_in_order: {done} of {len(self.in_order)} step(s) seen; "
                         f"waiting for step {done + 1}: {shown(self.in_order[done])}")
            for index in range(done + 1, len(self.in_order)):
                lines.append(f"    then step {index + 1}: {shown(self.in_order[index])}")
        return lines


class LineReader:
    """Splits a pipe's bytes into lines; keeps the unterminated tail."""

    def __init__(self, fd: int):
        self.fd = fd
        self.tail = b""
        self.open = True

    def read(self) -> list[str]:
        chunk = os.read(self.fd, 65536)
        if not chunk:
            self.open = False
            return self.flush()
        *complete, self.tail = (self.tail + chunk).split(b"\n")
        return [self._text(raw) for raw in complete]

    def flush(self) -> list[str]:
        rest, self.tail = self.tail, b""
        return [self._text(rest)] if rest else []

    @staticmethod
    def _text(raw: bytes) -> str:
        return raw.decode("utf-8", errors="replace").rstrip("\r")


_libc = None


def _die_with_parent() -> None:
    """In QEMU's child process: be killed if the harness dies (Linux only)."""
    if _libc is not None:
        PR_SET_PDEATHSIG = 1
        _libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _load_libc() -> None:
    global _libc
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl  # noqa: B018 - fails here rather than in the child
    except (OSError, AttributeError):
        _libc = None


def kill_group(process: subprocess.Popen) -> None:
    """Ends QEMU and anything it started (its own process group): SIGTERM,
    then SIGKILL for whatever is left of the group."""
    for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass


class _Stop(Exception):
    pass


def _on_signal(signum, _frame):
    raise _Stop(f"harness received signal {signal.Signals(signum).name}")


@dataclass
class Options:
    build_dir: Path
    keep_log: Path | None = None
    work_dir: Path | None = None
    timeout_s: float | None = None
    qemu_args: list[str] = field(default_factory=list)
    trace: Path | None = None
    gdb: bool = False


# --------------------------------------------------------------------------
# The board's NIC and disk, and checks from the host through them
# --------------------------------------------------------------------------

@dataclass
class Board:
    forwards: dict[str, int] = field(default_factory=dict)  # "IP:PORT" -> host port
    disk: Path | None = None


def free_host_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare_board(scenario: Scenario, work: Path) -> Board:
    board = Board()
    for guest in scenario.board_nic or []:
        board.forwards[guest] = free_host_port()
    if scenario.board_disk_mib is not None:
        board.disk = work / "board-disk.img"
        with open(board.disk, "wb") as image:  # sparse: reads as zeros
            image.truncate(scenario.board_disk_mib * 1024 * 1024)
    return board


def http_get_line(guest: str, path: str, host_port: int, deadline_s: float = 20.0) -> str:
    """GET through the forwarded port, retrying while the service comes up;
    the outcome as one console-like line the scenario can expect."""
    url = f"http://127.0.0.1:{host_port}{path}"
    stop = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read().decode("utf-8", errors="replace").strip()
                return f"harness: http {guest}{path}: {response.status} " + " | ".join(body.splitlines())
        except (urllib.error.URLError, OSError) as error:
            if time.monotonic() >= stop:
                return f"harness: http {guest}{path}: error {error}"
            time.sleep(0.5)


def check_disk(scenario: Scenario, board: Board) -> list[str]:
    """What disk_contains expects but the board's disk image lacks."""
    if not scenario.disk_contains or board.disk is None:
        return []
    data = board.disk.read_bytes()
    return [f"  the board disk to contain {text!r}" for text in scenario.disk_contains
            if text.encode() not in data]


def run(scenario: Scenario, options: Options) -> bool:
    """Boots the scenario; True when it passes. Prints its reasons either way."""
    if options.work_dir is not None:
        options.work_dir.mkdir(parents=True, exist_ok=True)
        work_holder, work = None, options.work_dir.resolve()
    else:
        work_holder = tempfile.TemporaryDirectory(prefix=f"lamina-{scenario.name}-")
        work = Path(work_holder.name)
    try:
        bundle = prepare_bundle(scenario, options.build_dir, work)
        board = prepare_board(scenario, work)
        forwards = None
        if scenario.board_nic is not None:
            forwards = [lamina_run.Forward(port, *guest.split(":")) for guest, port in board.forwards.items()]
        try:
            command = lamina_run.qemu_command(
                options.build_dir, bundle=bundle, smp=scenario.smp,
                memory_mib=scenario.memory_mib, icount=scenario.icount,
                append=scenario.append, gdb=options.gdb, trace=options.trace,
                extra_args=[*scenario.qemu_args, *options.qemu_args], interactive=False,
                nic_forwards=forwards, disk=board.disk)
        except lamina_run.LaminaRunError as error:
            raise ScenarioError(str(error)) from None
        timeout_s = options.timeout_s if options.timeout_s is not None else scenario.timeout_s
        print(f"scenario {scenario.name}" + (f": {scenario.description}" if scenario.description else ""))
        print(f"command: {shlex.join(command)}")
        if options.gdb:
            print(lamina_run.gdb_hint(options.build_dir))
        print(f"timeout {timeout_s:g} s, settle {scenario.settle_s:g} s", flush=True)
        log = None
        if options.keep_log:
            options.keep_log.parent.mkdir(parents=True, exist_ok=True)
            log = open(options.keep_log, "w", encoding="utf-8")
        try:
            passed = watch(scenario, command, timeout_s, log, board)
            missing = check_disk(scenario, board)
            if passed and missing:
                print(f"FAIL: {scenario.name}: after the run, expected", *missing, sep="\n")
                return False
            return passed
        finally:
            if log:
                log.close()
    finally:
        if work_holder is not None:
            work_holder.cleanup()


def watch(scenario: Scenario, command: list[str], timeout_s: float, log, board: Board | None = None) -> bool:
    checker = ConsoleChecker(scenario)
    board = board or Board()
    host_results: queue.Queue[str] = queue.Queue()
    host_pending = list(scenario.host_http)

    def start_host_requests(line: str) -> None:
        for request in [r for r in host_pending if r["after"].search(line)]:
            host_pending.remove(request)
            port = board.forwards[request["guest"]]
            threading.Thread(target=lambda r=request, p=port: host_results.put(
                http_get_line(r["guest"], r["path"], p)), daemon=True).start()
    _load_libc()
    start = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True,
                               preexec_fn=_die_with_parent)
    console = LineReader(process.stdout.fileno())
    errors = LineReader(process.stderr.fileno())
    handlers = {sig: signal.signal(sig, _on_signal)
                for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}

    def stamp() -> str:
        return f"[{time.monotonic() - start:8.3f}]"

    def verdict(passed: bool, message: str, details: list[str] = ()) -> bool:
        print(f"{stamp()} {'PASS' if passed else 'FAIL'}: {scenario.name}: {message}")
        for line in details:
            print(line)
        sys.stdout.flush()
        return passed

    def console_lines(lines: list[str]) -> str | None:
        for line in lines:
            print(f"{stamp()} {line}", flush=True)
            if log:
                log.write(line + "\n")
                log.flush()
            failure = checker.feed(line)
            if failure:
                return failure
            start_host_requests(line)
        return None

    def qemu_exit_details() -> list[str]:
        lines = checker.unmet()
        return ["still waiting for:", *lines] if lines else []

    deadline = start + timeout_s
    settle_end = None
    exited_at = None
    try:
        while True:
            now = time.monotonic()
            if settle_end is None and checker.satisfied() and scenario.expect_exit is not True:
                settle_end = now + scenario.settle_s
                if scenario.settle_s:
                    print(f"{stamp()} all expectations met; settling for {scenario.settle_s:g} s",
                          flush=True)
            if settle_end is not None and now >= settle_end:
                return verdict(True, "all expectations met"
                               + (f", nothing forbidden for {scenario.settle_s:g} s after"
                                  if scenario.settle_s else ""))
            if settle_end is None and now >= deadline:
                details = ["still waiting for:", *checker.unmet()]
                if scenario.expect_exit is True:
                    details.append("  QEMU to exit (expect_exit: true)")
                if console.tail:
                    details.append("last console output without a newline: "
                                   + LineReader._text(console.tail))
                return verdict(False, f"timed out after {timeout_s:g} s", details)

            if exited_at is None and process.poll() is not None:
                exited_at = now  # drain what is left in the pipes, briefly
            readers = [r for r in (console, errors) if r.open]
            if exited_at is not None and (not readers or now - exited_at > 1.0):
                status = process.wait()
                failure = console_lines(console.flush())
                for line in errors.flush():
                    print(f"{stamp()} (qemu stderr) {line}")
                if failure:
                    return verdict(False, failure)
                if scenario.expect_exit is False:
                    return verdict(False, f"QEMU exited (status {status}) but the scenario "
                                   "says it must keep running (expect_exit: false)")
                if not checker.satisfied():
                    return verdict(False, f"QEMU exited (status {status}) before all "
                                   "expectations were met", qemu_exit_details())
                if status != 0:  # a powered-off or reset board exits with 0
                    return verdict(False, f"QEMU exited with status {status}, expected 0")
                during = " during the settle period" if settle_end is not None and scenario.settle_s else ""
                return verdict(True, f"all expectations met; QEMU exited (status 0){during}")

            while not host_results.empty():
                failure = console_lines([host_results.get()])
                if failure:
                    return verdict(False, failure)
            # Wake up at the next deadline, and now and then to notice QEMU's exit.
            wake = min(deadline if settle_end is None else settle_end, now + 0.1)
            if not readers:
                time.sleep(max(0.0, min(wake - now, 0.02)))
                continue
            ready, _, _ = select.select([r.fd for r in readers], [], [], max(0.0, wake - now))
            for reader in readers:
                if reader.fd not in ready:
                    continue
                if reader is console:
                    failure = console_lines(reader.read())
                    if failure:
                        return verdict(False, failure)
                else:
                    for line in reader.read():
                        print(f"{stamp()} (qemu stderr) {line}", flush=True)
    except _Stop as stop:
        return verdict(False, str(stop), qemu_exit_details())
    finally:
        kill_group(process)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        process.stdout.close()
        process.stderr.close()


# --------------------------------------------------------------------------
# Self-test: the harness against a fake QEMU (no Lamina needed)
# --------------------------------------------------------------------------

FAKE_QEMU = r'''
import json, os, subprocess, sys, time
record = {"argv": sys.argv[1:], "pid": os.getpid(), "children": []}
def save():
    with open(os.environ["FAKE_QEMU_RECORD"], "w") as f:
        json.dump(record, f)
save()
for step in json.loads(os.environ["FAKE_QEMU_PLAN"]):
    kind, arg = step[0], (step[1] if len(step) > 1 else None)
    if kind == "print":
        sys.stdout.write(arg + "\r\n"); sys.stdout.flush()
    elif kind == "raw":
        sys.stdout.write(arg); sys.stdout.flush()
    elif kind == "eprint":
        sys.stderr.write(arg + "\n"); sys.stderr.flush()
    elif kind == "sleep":
        time.sleep(arg)
    elif kind == "child":
        child = subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL)
        record["children"].append(child.pid); save()
    elif kind == "initrd":
        data = open(sys.argv[sys.argv.index("-initrd") + 1], "rb").read()
        print("initrd " + data.hex(), flush=True)
    elif kind == "exit":
        sys.exit(arg)
time.sleep(60)
'''

FAKE_BUNDLE_TOOL = r'''
import json, sys
args = sys.argv[1:]
assert args[0] == "build", args
config, out = args[1], args[args.index("-o") + 1]
dirs = [args[i + 1] for i, a in enumerate(args) if a == "--search-dir"]
vms = json.load(open(config))["vms"]
if any(vm.get("kernel") == "missing.bin" for vm in vms):
    sys.exit("lamina-bundle: missing.bin not found")
open(out, "wb").write(bytes(range(16)))
open(out + ".args.json", "w").write(json.dumps({"dirs": dirs, "vms": vms}))
'''


def _process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def self_test() -> int:
    """Runs the harness (as a subprocess, through its CLI) on fake scenarios."""
    started = time.monotonic()
    cases = []  # (name, thunk returning (passed, report))
    with tempfile.TemporaryDirectory(prefix="lamina-harness-selftest-") as tmp:
        root = Path(tmp).resolve()
        build = root / "build"
        for sub in ("hypervisor", "guests", "tools/bundle"):
            (build / sub).mkdir(parents=True)
        (build / "hypervisor" / "lamina.bin").write_bytes(b"not really lamina")
        for name, body in (("qemu", FAKE_QEMU), ("tools/bundle/lamina-bundle", FAKE_BUNDLE_TOOL)):
            path = root / name if name == "qemu" else build / name
            path.write_text(f"#!{sys.executable}\n{body}")
            path.chmod(0o755)
        (root / "prepared.bin").write_bytes(bytes([0xAA] * 8))

        def case(name, *args, **kwargs):
            cases.append((name, lambda: run_case(name, *args, **kwargs)))

        def run_case(name, scenario, plan, want_pass, want_output=(), refuse_output=(),
                     extra_args=(), check=None, max_s=5):
            scenario_path = root / f"{name}.json"
            scenario_path.write_text(json.dumps(scenario))
            record_path = root / f"{name}.record.json"
            env = dict(os.environ, LAMINA_QEMU=str(root / "qemu"),
                       LAMINA_IMAGES_DIR=str(root / "images"),
                       FAKE_QEMU_PLAN=json.dumps(plan), FAKE_QEMU_RECORD=str(record_path))
            t0 = time.monotonic()
            result = subprocess.run(
                [sys.executable, str(HARNESS), "--build-dir", str(build), *extra_args,
                 str(scenario_path)], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            elapsed = time.monotonic() - t0
            problems = []
            if (result.returncode == 0) != want_pass:
                problems.append(f"exit status {result.returncode}, wanted {'0' if want_pass else '1'}")
            problems += [f"output lacks {text!r}" for text in want_output if text not in result.stdout]
            problems += [f"output has {text!r}" for text in refuse_output if text in result.stdout]
            if elapsed > max_s:
                problems.append(f"took {elapsed:.2f} s, wanted under {max_s} s")
            record = json.loads(record_path.read_text()) if record_path.exists() else None
            if record:
                stray = [p for p in [record["pid"], *record["children"]] if not _process_gone(p)]
                if stray:
                    problems.append(f"processes still alive after the harness: {stray}")
            if check and record:
                problems += check(record)
            report = [f"{'ok  ' if not problems else 'FAIL'} {name} ({elapsed:.2f} s)"]
            if problems:
                report += [f"     {problem}" for problem in problems]
                report.append("     ---- harness output ----")
                report += ["     " + line for line in result.stdout.splitlines()]
            return not problems, "\n".join(report)

        hello_vm = {"name": "hello", "memory_mib": 16, "vcpus": 1, "kernel": "hello.bin"}

        def check_pass(record):
            argv, problems = record["argv"], []
            for flag, value in (("-smp", "3"), ("-m", "512"), ("-append", "lamina.halt_when_idle"),
                                ("-icount", "shift=4,sleep=off"), ("-serial", "stdio"),
                                ("-monitor", "none"), ("-M", "virt,virtualization=on,gic-version=3"),
                                ("-cpu", "max,pauth=off")):
                if flag not in argv or argv[argv.index(flag) + 1] != value:
                    problems.append(f"QEMU argv lacks {flag} {value}: {argv}")
            for flag in ("-no-reboot", "-initrd", "-kernel", "-d", "-D"):
                if flag not in argv:
                    problems.append(f"QEMU argv lacks {flag}")
            if argv[-1] != "--extra":
                problems.append("extra QEMU arguments not passed last")
            if not record["children"]:
                problems.append("fake QEMU started no child")
            bundle_args = json.loads((root / "work" / "bundle.bin.args.json").read_text())
            if bundle_args["dirs"] != [str(build / "guests"), str(root), str(root / "images")]:
                problems.append(f"unexpected --search-dir list {bundle_args['dirs']}")
            if bundle_args["vms"] != [hello_vm]:
                problems.append(f"vms not passed through: {bundle_args['vms']}")
            log = (root / "console.log").read_text() if (root / "console.log").exists() else ""
            if log != "lamina: booting\n[hello] hello: start\n[hello] hello: done\n":
                problems.append(f"--keep-log wrote {log!r}")
            return problems

        case("pass",
             {"description": "everything as planned", "smp": 3, "memory_mib": 512,
              "append": "lamina.halt_when_idle", "icount": 4, "vms": [hello_vm],
              "qemu_args": ["--extra"],
              "expect": [{"pattern": r"\[hello\] hello: done"}, {"pattern": "hello", "count": 2}],
              "expect_in_order": ["booting", r"\[hello\] hello: start", "done"],
              "forbid": ["panic"], "timeout_s": 10},
             [["child"], ["eprint", "a warning"], ["print", "lamina: booting"],
              ["print", "[hello] hello: start"], ["sleep", 0.1], ["raw", "[hello] hel"],
              ["sleep", 0.1], ["print", "lo: done"]],
             True, ["PASS", "(qemu stderr) a warning", "[hello] hello: done"],
             extra_args=["--keep-log", str(root / "console.log"), "--work-dir", str(root / "work"),
                         "--trace", str(root / "trace.log")],
             check=check_pass)
        case("timeout",
             {"vms": [hello_vm], "timeout_s": 0.5,
              "expect": ["seen line", {"pattern": "never printed", "count": 1},
                         {"pattern": "seen", "count": 3}],
              "expect_in_order": ["seen", "not this", "nor this"]},
             [["child"], ["print", "seen line"], ["raw", "half a line"]],
             False, ["timed out after 0.5 s", "still waiting for:",
                     "expect 'never printed': seen 0 of 1", "expect 'seen': seen 1 of 3",
                     "waiting for step 2: 'not this'", "then step 3: 'nor this'",
                     "without a newline: half a line"],
             refuse_output=["expect 'seen line'"])
        case("forbid",
             {"vms": [hello_vm], "timeout_s": 30, "expect": ["never"], "forbid": ["PANIC"]},
             [["child"], ["print", "lamina: PANIC at the disco"]],
             False, ["forbidden pattern 'PANIC' matched line: lamina: PANIC at the disco"])
        case("settle_then_forbid",
             {"vms": [hello_vm], "timeout_s": 10, "settle_s": 20, "expect": ["ready"],
              "forbid": ["late failure"]},
             [["print", "ready"], ["sleep", 0.2], ["print", "late failure"]],
             False, ["settling for 20 s", "forbidden pattern 'late failure'"])
        case("settle_quiet",
             {"vms": [hello_vm], "timeout_s": 10, "settle_s": 0.3, "expect": ["ready"],
              "forbid": ["failure"]},
             [["print", "ready"]], True, ["nothing forbidden for 0.3 s"])
        case("exit_early",
             {"vms": [hello_vm], "timeout_s": 10, "expect": ["one", "two"]},
             [["print", "one"], ["exit", 3]],
             False, ["QEMU exited (status 3) before all expectations were met", "expect 'two'"],
             refuse_output=["expect 'one'"])
        case("expect_exit",
             {"vms": [hello_vm], "timeout_s": 10, "expect_exit": True, "expect": ["bye"]},
             [["print", "bye"], ["sleep", 0.2], ["exit", 0]],
             True, ["QEMU exited (status 0)"])
        case("qemu_fails_late",
             {"vms": [hello_vm], "timeout_s": 10, "settle_s": 5, "expect": ["bye"]},
             [["print", "bye"], ["exit", 1]],
             False, ["QEMU exited with status 1, expected 0"])
        case("must_keep_running",
             {"vms": [hello_vm], "timeout_s": 10, "settle_s": 5, "expect_exit": False,
              "expect": ["up"]},
             [["print", "up"], ["exit", 0]],
             False, ["must keep running"])
        case("transform",
             {"vms": [hello_vm], "timeout_s": 10,
              "bundle_transform": [{"truncate": -4}, {"corrupt_byte": {"offset": 1, "xor": 255}}],
              "expect": ["^initrd 00fe02030405060708090a0b$"]},
             [["initrd"]], True)
        case("prepared_bundle",
             {"bundle_file": "prepared.bin", "bundle_transform": {"truncate": 2}, "timeout_s": 10,
              "expect": ["^initrd aaaa$"]},
             [["initrd"]], True)
        case("bundle_tool_fails",
             {"vms": [dict(hello_vm, kernel="missing.bin")], "expect": ["x"]},
             [], False, ["ERROR", "missing.bin not found",
                         f"the Linux guest images are missing from {root / 'images'}"])
        case("bad_scenario",
             {"vms": [hello_vm], "expects": ["typo"]},
             [], False, ["ERROR", "unknown key(s) expects"])

        # The cases mostly wait on timers: run a few at once to stay quick.
        failures = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            futures = [(name, pool.submit(thunk)) for name, thunk in cases]
            for name, future in futures:
                passed, report = future.result()
                print(report)
                if not passed:
                    failures.append(name)
    total = time.monotonic() - started
    print(f"harness self-test: {'FAILED: ' + ', '.join(failures) if failures else 'all passed'}"
          f" in {total:.2f} s")
    return 1 if failures else 0


# --------------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run_scenario.py",
        description="Boot one Lamina system-test scenario on QEMU and check its console.",
        epilog="Environment: LAMINA_QEMU overrides the QEMU binary; LAMINA_BUILD_DIR "
               "is the default --build-dir.")
    parser.add_argument("scenario", nargs="?", type=Path, help="scenario JSON file")
    parser.add_argument("--build-dir", type=Path, metavar="DIR",
                        help="CMake build directory (default $LAMINA_BUILD_DIR or <repo>/build)")
    parser.add_argument("--keep-log", type=Path, metavar="FILE", help="save the console to FILE")
    parser.add_argument("--work-dir", type=Path, metavar="DIR",
                        help="build the bundle in DIR and keep it (default: a temporary directory)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="override the scenario's timeout_s")
    parser.add_argument("--trace", type=Path, metavar="FILE",
                        help=f"QEMU event log (-d {lamina_run.TRACE_FLAGS} -D FILE)")
    parser.add_argument("--gdb", action="store_true",
                        help="start QEMU halted with a gdb stub on :1234 (no timeout unless --timeout)")
    parser.add_argument("--qemu-arg", action="append", default=[], metavar="ARG",
                        help="extra QEMU argument (repeatable; --qemu-arg=-foo for dashes)")
    parser.add_argument("--self-test", action="store_true",
                        help="check the harness itself against a fake QEMU, then exit")
    args = parser.parse_args(argv)
    if not args.self_test and args.scenario is None:
        parser.error("a scenario file is required (or --self-test)")
    return args


def main(argv: list[str]) -> int:
    sys.stdout.reconfigure(errors="backslashreplace", line_buffering=True)
    args = parse_args(argv)
    if args.self_test:
        return self_test()
    build_dir = args.build_dir.resolve() if args.build_dir else lamina_run.build_dir_from_env()
    timeout = args.timeout
    if args.gdb and timeout is None:
        timeout = float(10 ** 9)
    options = Options(build_dir=build_dir, keep_log=args.keep_log, work_dir=args.work_dir,
                      timeout_s=timeout, qemu_args=args.qemu_arg,
                      trace=args.trace.resolve() if args.trace else None, gdb=args.gdb)
    try:
        scenario = load_scenario(args.scenario.resolve())
        return 0 if run(scenario, options) else 1
    except ScenarioError as error:
        print(f"ERROR: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
