#!/usr/bin/env python3
"""System tests of services (docs/services.md): Lamina on QEMU with Linux
replicas serving a CPU-bound CGI, driven from the host by lamina-load through
the uplink's forwarded port, observed through the management API.

    services_test.py --build-dir build autoscale   # step load: replicas added, then drained; no request fails
    services_test.py --build-dir build zero        # minimum 0: the first request after idle is held and answered
    services_test.py --build-dir build limits      # best-effort VM loses CPU first; at the maximum it reports, no thrashing
    services_test.py --build-dir build tiers       # a slowed back end shows in the back end's own figures

Replica counts and latencies depend on the machine: the checks are
directions and bounds with margins, never exact counts at exact times.
"""

from __future__ import annotations

import collections
import itertools
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from management_test import Board, TestFailure, check, lamina_run, raw_requests, run_suite  # noqa: E402

SERVICE_IP = "10.0.2.50"
BACKEND_IP = "10.0.2.60"
REPLICA_CMDLINE = "console=ttyAMA0 panic=-1 lamina.gateway=10.0.2.2 lamina.serve=http"
REPORT_EVERY_S = 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def replica_template(name: str, cap_percent: int = 50, extra_cmdline: str = "") -> dict:
    return {"name": name, "start": False, "memory_mib": 160, "vcpus": 1, "cap_percent": cap_percent,
            "kernel": "Image", "initrd": "initramfs.cpio.gz", "nics": [{"network": "lan"}],
            "cmdline": f"{REPLICA_CMDLINE} {extra_cmdline}".strip()}


def service(name: str, template: str, ip: str, replicas: str, minimum: int, maximum: int,
            latency_ms: int, down_s: int = 8) -> dict:
    return {"name": name, "template": template, "network": "lan", "address": f"{ip}:80",
            "replica_addresses": replicas, "objective": {"percentile": 95, "latency_ms": latency_ms, "window_s": 5},
            "min_replicas": minimum, "max_replicas": maximum, "scale_up_window_s": 2,
            "scale_down_window_s": down_s, "drain_grace_s": 5}


class ServiceBoard(Board):
    """A board whose uplink forwards a host port to the service address."""

    def __init__(self, build_dir: Path, work: Path, config: dict, log: Path | None, forward_to: str = SERVICE_IP):
        self.port = free_port()
        super().__init__(build_dir, work, config, log=log,
                         nic_forwards=[lamina_run.Forward(self.port, forward_to, 80)])

    def request(self, op: str, **arguments) -> dict:
        reply = raw_requests(self, [json.dumps({"id": 1, "op": op, **arguments}).encode()])[0]
        if not reply.get("ok"):
            raise TestFailure(f"{op} failed: {reply}")
        return reply["result"]

    def services(self) -> dict:
        return {entry["name"]: entry for entry in self.cli_json("stats", echo=False)["services"]}

    def log_entries(self, service_name: str | None = None) -> list[dict]:
        arguments = {"service": service_name} if service_name else {}
        return self.request("scaling_log", **arguments)["entries"]

    def replicas_in(self, service_name: str, state: str) -> int:
        return sum(1 for replica in self.services()[service_name]["replicas"] if replica["state"] == state)

    def wait_ready(self, service_name: str, count: int, timeout_s: float = 180) -> None:
        self.wait_until(f"{count} ready replica(s) of {service_name}",
                        lambda: self.replicas_in(service_name, "ready") >= count, timeout_s, interval_s=1)

    def load(self, schedule: str, work: int, timeout_s: int = 120) -> "LoadRun":
        return LoadRun(self, schedule, work, timeout_s)


class LoadRun:
    """lamina-load in the background: per-second lines and the summary, as JSON."""

    def __init__(self, board: Board, schedule: str, work: int, timeout_s: int):
        tool = board.build_dir / "tools" / "loadgen" / "lamina-load"
        url = f"http://127.0.0.1:{board.port}/cgi-bin/work?n={work}"
        command = [str(tool), url, "--schedule", schedule, "--timeout", str(timeout_s), "--json"]
        print("$", " ".join(command), flush=True)
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        self.seconds: list[dict] = []
        self.summary: dict | None = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            record = json.loads(line)
            if "summary" in record:
                self.summary = record["summary"]
            else:
                self.seconds.append(record)
                if record["second"] % REPORT_EVERY_S == 0:
                    self._report(self.seconds[-REPORT_EVERY_S:])

    @staticmethod
    def _report(seconds: list[dict]) -> None:
        """One line per few seconds: the whole story of a run stays readable."""
        p95s = [s["p95_ms"] for s in seconds if s["p95_ms"] is not None]
        worst = f"{max(p95s):.0f} ms" if p95s else "-"
        print(f"  load {seconds[0]['second']:>3}-{seconds[-1]['second']:<3} s: sent {sum(s['sent'] for s in seconds):>3}"
              f"  done {sum(s['completed'] for s in seconds):>3}  errors {sum(s['errors'] for s in seconds)}"
              f"  p95 up to {worst}  in flight {seconds[-1]['in_flight']}", flush=True)

    def running(self) -> bool:
        return self.process.poll() is None

    def finish(self, timeout_s: float = 300) -> dict:
        self.process.wait(timeout=timeout_s)
        self.reader.join(timeout=10)
        if self.summary is None:
            raise TestFailure("lamina-load printed no summary")
        print(f"  load summary: {self.summary}", flush=True)
        return self.summary


def replica_states(service_figures: dict) -> str:
    states = collections.Counter(replica["state"] for replica in service_figures["replicas"])
    return ", ".join(f"{count} {state}" for state, count in sorted(states.items())) or "no replica"


def actions(entries: list[dict], action: str) -> list[dict]:
    return [entry for entry in entries if entry["action"] == action]


# ---------------------------------------------------------------- the tests

WORK = 2500            # loop turns per request: about 0.1 s of a full core
OBJECTIVE_MS = 1000


def autoscale(make_board) -> None:
    board = make_board({"networks": ["lan"], "uplink": {"network": "lan"},
                        "vms": [replica_template("web-replica")],
                        "services": [service("web", "web-replica", SERVICE_IP, "10.0.2.100/24", 1, 3,
                                             OBJECTIVE_MS)]})
    board.wait_ready("web", 1)
    check(board.vm("web-1")["service"] == "web", "lamina list shows web-1 as a replica of web")

    run = board.load("1:10,7:50,1:50", WORK)
    most_ready, breached, recovered_after_add = 1, False, False
    for poll in itertools.count():
        if not run.running():
            break
        web = board.services()["web"]
        ready = sum(1 for replica in web["replicas"] if replica["state"] == "ready")
        if poll % REPORT_EVERY_S == 0:
            print(f"  web: {replica_states(web)}; switch p95 {web['window']['p95_ms']:.0f} ms", flush=True)
        most_ready = max(most_ready, ready)
        breached = breached or web["window"]["p95_ms"] > OBJECTIVE_MS
        if breached and ready >= 2 and web["window"]["requests"] >= 5 and web["window"]["p95_ms"] <= OBJECTIVE_MS:
            recovered_after_add = True
        time.sleep(1)
    summary = run.finish()

    entries = board.log_entries("web")
    check(summary["sent"] >= 400 and summary["errors"] == 0,
          f"every one of the {summary['sent']} requests succeeded through scale-up and scale-down")
    check(breached, "the step pushed p95 above the objective")
    check(any(e["action"] == "scale_up" and "objective_missed" in e["detail"] for e in entries),
          "the autoscaler added replicas because the objective was missed")
    check(most_ready >= 2, f"replicas were added ({most_ready} ready at most)")
    check(recovered_after_add, "p95 came back under the objective with the added replicas")

    board.wait_until("web back at its minimum of 1 ready replica and nothing draining",
                     lambda: board.replicas_in("web", "ready") == 1 and len(board.services()["web"]["replicas"]) == 1,
                     120, interval_s=1)
    entries = board.log_entries("web")
    check(len(actions(entries, "scale_down")) >= 1 and len(actions(entries, "replica_stopped")) >= 1,
          "replicas were drained and stopped when the load dropped")
    check(all("powered off after draining" in e["detail"] for e in actions(entries, "replica_stopped")),
          "stopped replicas powered off through their power button after draining")
    ups = len(actions(entries, "scale_up"))
    check(ups <= 4, f"no flapping: {ups} scale-ups for one step (first replica included)")

    # Agreement: the switch's figures against the client's, at a steady load.
    steady = board.load("2:12", WORK)
    summary = steady.finish()
    switch_p50 = board.services()["web"]["window"]["p50_ms"]
    client_p50 = statistics.median(s["p50_ms"] for s in steady.seconds[-5:] if s["p50_ms"] is not None)
    margin = 0.35 * client_p50 + 40
    check(summary["errors"] == 0 and abs(switch_p50 - client_p50) <= margin,
          f"switch p50 {switch_p50:.1f} ms agrees with the client's {client_p50:.1f} ms within {margin:.0f} ms")


def zero(make_board) -> None:
    board = make_board({"networks": ["lan"], "uplink": {"network": "lan"},
                        "vms": [replica_template("fn-replica")],
                        "services": [service("fn", "fn-replica", SERVICE_IP, "10.0.2.110/24", 0, 2,
                                             OBJECTIVE_MS, down_s=5)]})
    board.wait_for(r"service fn: service_created", 60)
    time.sleep(3)
    check(board.services()["fn"]["replicas"] == [], "with minimum 0 an idle service has no replica")
    for attempt in (1, 2):
        run = board.load("1:1", 50, timeout_s=120)
        summary = run.finish()
        check(summary["ok"] == 1 and summary["errors"] == 0,
              f"request {attempt} from zero replicas was held and answered in {summary['max_ms'] / 1000:.1f} s")
        held = actions(board.log_entries("fn"), "held_connection")
        check(len(held) >= attempt, "the switch held the connection while a replica booted")
        board.wait_until("fn back to zero replicas after idling", lambda: board.services()["fn"]["replicas"] == [],
                         90, interval_s=1)
        print(f"ok: fn scaled back to zero (attempt {attempt})", flush=True)


def limits(make_board) -> None:
    batch = {"name": "batch", "memory_mib": 16, "vcpus": 1, "kernel": "spinner.bin", "best_effort": True}
    board = make_board({"networks": ["lan"], "uplink": {"network": "lan"},
                        "vms": [batch, replica_template("web-replica")],
                        "services": [service("web", "web-replica", SERVICE_IP, "10.0.2.100/24", 1, 3, 300)]})
    board.wait_ready("web", 1)
    run = board.load("12:60", WORK, timeout_s=200)
    board.wait_until("web to report that it cannot meet its objective",
                     lambda: board.services()["web"]["status"] == "cannot_meet_objective", 150, interval_s=1)
    web = board.services()["web"]
    entries = board.log_entries("web")
    run.process.kill()
    lowered = actions(entries, "cap_lowered")
    cannot = actions(entries, "cannot_meet_objective")
    check(len(lowered) >= 1 and lowered[0]["vm"] == "batch", "the best-effort VM's cap was lowered")
    check(lowered[0]["seq"] < cannot[0]["seq"], "best-effort CPU was taken before the objective was given up")
    check(board.vm("batch")["cap_percent"] < 100, f"batch now runs capped at {board.vm('batch')['cap_percent']}%")
    check(web["reason"] in ("at_max_replicas", "board_full"), f"web reports why: {web['reason']}")
    time.sleep(8)
    later = board.log_entries("web")
    check(len(actions(later, "cannot_meet_objective")) == len(cannot) and
          len(actions(later, "scale_up")) == len(actions(entries, "scale_up")) and
          not actions(later, "scale_down"),
          "while overloaded it reports once and neither adds nor removes replicas (no thrashing)")


def tiers(make_board) -> None:
    board = make_board({"networks": ["lan"], "uplink": {"network": "lan"},
                        "vms": [replica_template("front-replica", extra_cmdline=f"lamina.backend={BACKEND_IP}"),
                                replica_template("back-replica")],
                        "services": [service("front", "front-replica", SERVICE_IP, "10.0.2.100/24", 1, 1, 5000),
                                     service("back", "back-replica", BACKEND_IP, "10.0.2.120/24", 1, 1, 5000)]})
    board.wait_ready("front", 1)
    board.wait_ready("back", 1)

    def p50s(schedule: str) -> tuple[float, float]:
        summary = board.load(schedule, 800).finish()
        if summary["errors"]:
            raise TestFailure(f"requests failed: {summary}")
        figures = board.services()
        return figures["front"]["window"]["p50_ms"], figures["back"]["window"]["p50_ms"]

    front_before, back_before = p50s("1:10")
    check(back_before > 0 and front_before > back_before,
          f"both tiers are timed: front p50 {front_before:.1f} ms includes back p50 {back_before:.1f} ms")
    board.cli("set", "back-1", "--cap", "5")
    front_after, back_after = p50s("1:12")
    back_rise, front_rise = back_after - back_before, front_after - front_before
    check(back_after > 2 * back_before, f"slowing the back end shows in its own p50: {back_before:.1f} -> "
                                        f"{back_after:.1f} ms")
    check(front_rise > 0 and back_rise >= 0.6 * front_rise,
          f"the front end's rise ({front_rise:.1f} ms) is mostly the back end's ({back_rise:.1f} ms): "
          f"the breach comes from the back end")


TESTS = {"autoscale": autoscale, "zero": zero, "limits": limits, "tiers": tiers}


def main(argv: list[str]) -> int:
    return run_suite(argv, "services", TESTS, ServiceBoard, __doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
