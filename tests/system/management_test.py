#!/usr/bin/env python3
"""System tests of the management plane: Lamina on QEMU, driven through the
real `lamina` CLI over the management socket (docs/management-api.md).

    management_test.py --build-dir build lifecycle   # create, pause/resume, shutdown, destroy, set, hostile requests, metrics
    management_test.py --build-dir build cycles      # 50 create/destroy cycles leave frames and VMIDs unchanged
    management_test.py --build-dir build balloon     # ballooning a VM down lets a VM that did not fit start

Each check that waits has a deadline and says what it was waiting for when
it runs out; the console is kept in a log (--keep-log) for the post-mortem.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_scenario  # noqa: E402  (shares the QEMU command line and process handling)

lamina_run = run_scenario.lamina_run

LINUX_CMDLINE = "console=ttyAMA0 panic=-1"


class TestFailure(Exception):
    pass


class Board:
    """Lamina on QEMU with a management socket, its console collected by a thread."""

    def __init__(self, build_dir: Path, work: Path, vms: dict, memory_mib: int = 1024, log: Path | None = None,
                 qemu_args: list[str] = (), nic_forwards: list | None = None):
        self.build_dir, self.work = build_dir, work
        self.socket = work / "lamina.sock"
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.start_time = time.monotonic()
        self.log = open(log, "w", encoding="utf-8") if log else None
        config = work / "vms.json"
        config.write_text(json.dumps(vms))
        bundle = work / "bundle.bin"
        lamina_run.build_bundle(build_dir, config, bundle)
        command = lamina_run.qemu_command(build_dir, bundle=bundle, smp=2, memory_mib=memory_mib,
                                          interactive=False, management=self.socket, extra_args=list(qemu_args),
                                          nic_forwards=nic_forwards)
        print("command:", " ".join(command), flush=True)
        run_scenario._load_libc()
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=run_scenario._die_with_parent)
        threading.Thread(target=self._read_console, daemon=True).start()

    def _read_console(self) -> None:
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            stamp = f"[{time.monotonic() - self.start_time:8.3f}]"
            if self.log:
                self.log.write(f"{stamp} {line}\n")
                self.log.flush()
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def stop(self) -> None:
        run_scenario.kill_group(self.process)
        if self.log:
            self.log.close()

    def mark(self) -> int:
        with self.cond:
            return len(self.lines)

    def wait_for(self, pattern: str, timeout_s: float, since: int = 0) -> str:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while True:
                for line in self.lines[since:]:
                    if regex.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    tail = "\n    ".join(self.lines[-15:])
                    raise TestFailure(f"waited {timeout_s:g} s for a console line matching {pattern!r}; "
                                      f"last lines:\n    {tail}")
                self.cond.wait(min(left, 0.5))

    def count(self, pattern: str, since: int = 0) -> int:
        regex = re.compile(pattern)
        with self.cond:
            return sum(1 for line in self.lines[since:] if regex.search(line))

    def cli(self, *args: str, expect_exit: int = 0, timeout_s: float = 120, echo: bool = True) -> str:
        """Runs the CLI; `echo=False` for polls, whose every call would bury the test's story."""
        command = [str(self.build_dir / "tools" / "cli" / "lamina"), "--socket", str(self.socket), *args]
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s)
        if echo or result.returncode != expect_exit:
            print(f"$ lamina {' '.join(args)}  -> exit {result.returncode}", flush=True)
        if result.returncode != expect_exit:
            raise TestFailure(f"`lamina {' '.join(args)}` exited {result.returncode}, expected {expect_exit}\n"
                              f"stdout: {result.stdout}\nstderr: {result.stderr}")
        return result.stdout + result.stderr if expect_exit else result.stdout

    def cli_json(self, *args: str, echo: bool = True) -> dict:
        return json.loads(self.cli(*args, "--json", echo=echo))

    def vm(self, name: str) -> dict | None:
        return next((vm for vm in self.cli_json("list")["vms"] if vm["name"] == name), None)

    def stats(self, name: str) -> dict:
        return self.cli_json("stats", name)["vms"][0]

    def wait_until(self, what: str, check, timeout_s: float, interval_s: float = 0.5):
        deadline = time.monotonic() + timeout_s
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TestFailure(f"waited {timeout_s:g} s for {what}")
            time.sleep(interval_s)


def linux_vm(name: str, memory_mib: int, start: bool = True, **extra) -> dict:
    vm = {"name": name, "memory_mib": memory_mib, "vcpus": 1, "kernel": "Image", "initrd": "initramfs.cpio.gz",
          "cmdline": f"{LINUX_CMDLINE} lamina.name={name}", "start": start}
    vm.update(extra)
    return vm


def shell_ready(name: str) -> str:
    return rf"^\[{re.escape(name)}\] lamina-guest: shell on console$"


def check(condition: bool, message: str) -> None:
    if not condition:
        raise TestFailure(message)
    print(f"ok: {message}", flush=True)


# ---------------------------------------------------------------- the tests

def raw_requests(board: Board, lines: list[bytes]) -> list[dict]:
    """Sends request lines as they are (no CLI: it would refuse them first)."""
    replies = []
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(30)
        connection.connect(str(board.socket))
        reader = connection.makefile("rb")
        for line in lines:
            connection.sendall(line + b"\n")
            while True:
                reply = json.loads(reader.readline())
                if "event" not in reply:
                    replies.append(reply)
                    break
    return replies


def hostile_requests(board: Board) -> None:
    before_board = board.cli_json("board")
    before_list = board.cli_json("list")
    cases = [
        (b"this is not json", "malformed"),
        (b"[1,2,3]", "malformed"),
        (b'{"op": "create", "template": "linux", "memory_mib": 1048576}', "no_resources"),
        (b'{"op": "create", "template": "linux", "memory_mib": 0}', "invalid_argument"),
        (b'{"op": "create", "template": "linux", "vcpus": 64}', "invalid_argument"),
        (b'{"op": "create", "template": "linux", "name": "bad name!"}', "invalid_argument"),
        (b'{"op": "create", "template": "linux", "name": "ticker"}', "exists"),
        (b'{"op": "create", "template": "nonesuch"}', "unknown_vm"),
        (b'{"op": "create", "template": "linux", "pinned_cpus": [63]}', "invalid_argument"),
        (b'{"op": "create", "template": "linux", "cmdline": 5}', "malformed"),
        (b'{"op": "destroy", "vm": "nonesuch"}', "unknown_vm"),
        (b'{"op": "resume", "vm": "ticker"}', "wrong_state"),
        (b'{"op": "set", "vm": "ticker", "cap_percent": 250}', "invalid_argument"),
        (b'{"op": "balloon", "vm": "ticker", "target_mib": 4096}', "invalid_argument"),
        (b'{"op": "stats", "vm": "nonesuch"}', "unknown_vm"),
        (b'{"op": "pause", "vm": "ticker", "force": true}', "malformed"),
        (b'{"op": "format_disk"}', "unknown_op"),
        (b'{"op": "hello", "version": 99}', "unsupported_version"),
        (b'{"op": "list", "id": 18446744073709551616}', "malformed"),
        (b'{"op": "pause", "vm": "\\u0000"}', "invalid_argument"),
        (b"{" * 5000, "line_too_long"),
        (b'{"op": "list"' + b', "x": 1' * 10, "malformed"),
    ]
    replies = raw_requests(board, [line for line, _ in cases])
    for (line, code), reply in zip(cases, replies):
        got = reply.get("error", {}).get("code")
        check(reply.get("ok") is False and got == code,
              f"request {line[:60]!r}... is refused with {code} (got {got}: {reply.get('error', {}).get('message')})")
    after_board = board.cli_json("board")
    after_list = board.cli_json("list")
    check(after_board["free_frames"] == before_board["free_frames"], "refused requests left the free frames unchanged")
    check([vm["name"] for vm in after_list["vms"]] == [vm["name"] for vm in before_list["vms"]],
          "refused requests left the VM list unchanged")


def pause_and_resume(board: Board) -> None:
    tick = r"^\[ticker\] "
    board.wait_for(tick, 30, board.mark())
    board.cli("pause", "ticker")
    check(board.vm("ticker")["state"] == "paused", "ticker is paused")
    time.sleep(1.0)  # a line already on its way may still come out
    run_before = board.stats("ticker")["vcpus"][0]["run_ns"]
    quiet_from = board.mark()
    time.sleep(4.0)
    run_after = board.stats("ticker")["vcpus"][0]["run_ns"]
    check(board.count(tick, quiet_from) == 0, "a paused ticker prints nothing for 4 s")
    check(run_after == run_before, f"a paused ticker's CPU time stays at {run_before} ns")
    resumed_from = board.mark()
    board.cli("resume", "ticker")
    board.wait_for(tick, 30, resumed_from)
    time.sleep(1.0)
    check(board.stats("ticker")["vcpus"][0]["run_ns"] > run_after, "after resume the ticker runs and prints again")


def lifecycle(board_factory) -> None:
    board = board_factory({"vms": [
        linux_vm("anchor", 192),
        {"name": "ticker", "memory_mib": 16, "kernel": "ticker.bin", "cmdline": "ticks=1000000 period_ms=300"},
        linux_vm("linux", 160, start=False),
    ]})
    board.wait_for(shell_ready("anchor"), 180)
    listing = board.cli_json("list")
    check({vm["name"]: vm["state"] for vm in listing["vms"]} == {"anchor": "running", "ticker": "running"},
          "list shows the two VMs started at boot, running")
    check(listing["templates"] == ["anchor", "ticker", "linux"], "list shows the bundle's templates")
    check("anchor" in board.cli("list") and "linux" in board.cli("list"), "list prints a table")

    since = board.mark()
    board.cli("create", "linux", "--name", "fresh", "--cmdline", f"{LINUX_CMDLINE} lamina.name=fresh")
    board.wait_for(shell_ready("fresh"), 180, since)
    check(board.count(r"^lamina: vm (anchor|ticker): (stopping|restarting)", 0) == 0,
          "a new Linux VM booted while the two others kept running")

    pause_and_resume(board)

    since = board.mark()
    board.cli("shutdown", "fresh")
    board.wait_for(r"^\[fresh\] lamina-guest: power button pressed: shutting down$", 60, since)
    board.wait_for(r"^lamina: vm fresh: destroyed", 60, since)
    board.wait_until("fresh to leave the list", lambda: board.vm("fresh") is None, 30)
    check(True, "shutdown made the guest power itself off")

    free_before = board.cli_json("board")["free_mib"]
    size = (free_before + 64) // 2 * 2  # does not fit now
    refused = board.cli("create", "linux", "--name", "reuse", "--memory", str(size), expect_exit=1)
    check("no_resources" in refused, f"a {size} MiB VM does not fit in {free_before} MiB")
    board.cli("destroy", "anchor")
    board.wait_until("anchor to leave the list", lambda: board.vm("anchor") is None, 30)
    free_after = board.cli_json("board")["free_mib"]
    check(free_after >= free_before + 190, f"destroy gave anchor's memory back ({free_before} -> {free_after} MiB)")
    since = board.mark()
    board.cli("create", "linux", "--name", "reuse", "--memory", str(size),
              "--cmdline", f"{LINUX_CMDLINE} lamina.name=reuse")
    board.wait_for(shell_ready("reuse"), 180, since)
    check(True, f"a {size} MiB VM built from the freed memory boots")

    board.cli("set", "ticker", "--cap", "20", "--weight", "128", "--pin", "1")
    ticker = board.vm("ticker")
    check((ticker["cap_percent"], ticker["weight"], ticker["pinned_cpus"]) == (20, 128, [1]),
          "set changes a running VM's cap, weight and CPUs")
    since = board.mark()
    board.wait_for(r"^\[ticker\] ", 30, since)

    hostile_requests(board)
    metrics(board)
    top = board.cli("top", "--iterations", "2", "--interval", "0.5")
    check("ticker" in top and "reuse" in top, "top shows the VMs")


def metrics(board: Board) -> None:
    text = board.cli("metrics")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:  # setup.sh installs it; without it check the shape only
        text_string_to_metric_families = None
    if text_string_to_metric_families:
        names = {family.name for family in text_string_to_metric_families(text)}
        check({"lamina_vcpu_run_seconds", "lamina_board_free_memory_bytes"} <= names,
              f"the metrics are valid Prometheus text ({len(names)} families)")
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eE]+$')
    bad = [line for line in text.splitlines() if line and not line.startswith("#") and not sample.match(line)]
    check(not bad, f"every metrics line is a sample or a comment ({bad[:3]})")


def cycles(board_factory) -> None:
    board = board_factory({"vms": [
        {"name": "ticker", "memory_mib": 16, "kernel": "ticker.bin", "cmdline": "ticks=1000000 period_ms=500"},
        {"name": "spinner", "memory_mib": 64, "kernel": "spinner.bin", "start": False},
    ]})
    board.wait_for(r"^\[ticker\] ", 30)
    before = board.cli_json("board")
    for cycle in range(50):
        board.cli("create", "spinner", "--name", f"cycle-{cycle}", "--memory", str(16 + 2 * (cycle % 8)))
        board.cli("destroy", f"cycle-{cycle}")
    board.wait_until("every cycle VM to be gone", lambda: len(board.cli_json("list")["vms"]) == 1, 30)
    after = board.cli_json("board")
    for key in ("free_frames", "vmids_free", "vm_slots_free"):
        check(after[key] == before[key], f"after 50 create/destroy cycles {key} is back at {before[key]} ({after[key]})")


def balloon(board_factory) -> None:
    board = board_factory({"vms": [
        linux_vm("big", 512),
        linux_vm("linux", 160, start=False),
    ]})
    board.wait_for(shell_ready("big"), 180)
    free = board.cli_json("board")["free_mib"]
    size = (free + 64) // 2 * 2
    refused = board.cli("create", "linux", "--name", "late", "--memory", str(size), expect_exit=1)
    check("no_resources" in refused, f"a {size} MiB VM does not fit in {free} MiB")
    board.cli("balloon", "big", "384")

    def reclaimed():
        memory = board.stats("big")["memory"]
        return memory["ballooned_mib"] if memory["ballooned_mib"] >= 100 else 0
    got = board.wait_until("big's balloon to give back at least 100 MiB", reclaimed, 120, 1.0)
    check(True, f"big gave {got} MiB back through its balloon")
    since = board.mark()
    board.cli("create", "linux", "--name", "late", "--memory", str(size),
              "--cmdline", f"{LINUX_CMDLINE} lamina.name=late")
    board.wait_for(shell_ready("late"), 180, since)
    check(True, f"the {size} MiB VM that did not fit before boots")
    board.cli("balloon", "big", "512")
    board.wait_until("big's balloon to deflate", lambda: board.stats("big")["memory"]["ballooned_mib"] < got, 60, 1.0)
    check(True, "deflating gives big its memory back")


TESTS = {"lifecycle": lifecycle, "cycles": cycles, "balloon": balloon}


def run_suite(argv: list[str], suite: str, tests: dict, new_board, description: str) -> int:
    """Runs the named test of `tests`, each given a factory of boards that it
    may call with a VM config; every board is stopped at the end."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", type=Path, required=True)
    parser.add_argument("--keep-log", type=Path)
    parser.add_argument("test", choices=sorted(tests))
    args = parser.parse_args(argv)
    boards: list[Board] = []
    with tempfile.TemporaryDirectory(prefix=f"lamina-{suite}-{args.test}-") as work:
        if args.keep_log:
            args.keep_log.parent.mkdir(parents=True, exist_ok=True)

        def board_factory(config: dict) -> Board:
            board = new_board(args.build_dir.resolve(), Path(work), config, args.keep_log)
            boards.append(board)
            return board
        try:
            tests[args.test](board_factory)
            print(f"PASS: {suite} {args.test}")
            return 0
        except (TestFailure, lamina_run.LaminaRunError, subprocess.TimeoutExpired) as failure:
            print(f"FAIL: {suite} {args.test}: {failure}")
            return 1
        finally:
            for board in boards:
                board.stop()


def main(argv: list[str]) -> int:
    return run_suite(argv, "management", TESTS, lambda build_dir, work, vms, log: Board(build_dir, work, vms, log=log),
                     __doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
