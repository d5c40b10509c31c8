#!/usr/bin/env python3
"""End-to-end tests of lamina-load, run against test_server.py.

    load_test.py --list                 the test names, one per line (CTest
                                        registers each as LaminaLoad.<name>)
    load_test.py --tool PATH [NAME...]  run the named tests (default: all)

Timing on a busy machine is noisy: the tests check counts, which the schedule
fixes, and latencies only within generous bounds.
"""

import json
import re
import resource
import select
import socket
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import method_driver  # noqa: E402  (the command line shared with the other tools' drivers)

TEST_SERVER = Path(__file__).resolve().parent / "test_server.py"
TOOL = ""  # the binary under test, from --tool

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class TestServer:
    """test_server.py with OPTIONS, on a free port of 127.0.0.1."""

    def __init__(self, *options):
        self.process = subprocess.Popen([sys.executable, str(TEST_SERVER), *options], stdout=subprocess.PIPE,
                                        text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 10)
        line = self.process.stdout.readline().split() if ready else []
        if len(line) != 2 or line[0] != "ready":
            self.stop()
            raise RuntimeError("the test server did not start")
        self.port = int(line[1])

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdout.close()


def closed_port():
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Run:
    """One run of the tool: exit status, output, and its JSON lines split up."""

    def __init__(self, *arguments, timeout=45, file_limit=None):
        def limit_files():
            resource.setrlimit(resource.RLIMIT_NOFILE, (file_limit, file_limit))

        completed = subprocess.run([TOOL, *arguments], capture_output=True, text=True, timeout=timeout,
                                   preexec_fn=limit_files if file_limit else None)
        self.status = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.seconds = []
        self.summary = None
        if "--json" in arguments:
            for line in self.stdout.splitlines():
                record = json.loads(line)
                if "summary" in record:
                    self.summary = record["summary"]
                else:
                    self.seconds.append(record)

    def __str__(self):
        return f"exit {self.status}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


class LoadTestCase(unittest.TestCase):
    def serve(self, *options):
        server = TestServer(*options)
        self.addCleanup(server.stop)
        return server

    def run_json(self, *arguments, **options):
        run = Run(*arguments, "--json", **options)
        self.assertIsNotNone(run.summary, run)
        self.assertEqual(run.stderr, "", run)
        self.check_seconds_add_up(run)
        return run

    def check_seconds_add_up(self, run):
        """Every second has a line, in order, and the lines account for every request."""
        self.assertEqual([line["second"] for line in run.seconds], list(range(1, len(run.seconds) + 1)), run)
        for line in run.seconds:
            self.assertEqual(list(line), ["second", "sent", "completed", "ok", "errors", "p50_ms", "p95_ms",
                                          "p99_ms", "in_flight"])
            self.assertEqual(line["completed"], line["ok"] + line["errors"], run)
            self.assertEqual(line["p50_ms"] is None, line["completed"] == 0, run)
        self.assertEqual(sum(line["sent"] for line in run.seconds), run.summary["sent"], run)
        self.assertEqual(sum(line["completed"] for line in run.seconds), run.summary["sent"], run)
        self.assertEqual(run.seconds[-1]["in_flight"], 0, run)


class Steady(LoadTestCase):
    def test_sends_at_the_rate_and_measures_latency(self):
        server = self.serve("--delay", "0.05")
        run = self.run_json(server.url("/hello"), "--rate", "20", "--duration", "3")
        self.assertEqual(run.status, EXIT_OK, run)
        summary = run.summary
        self.assertTrue(55 <= summary["sent"] <= 65, run)
        self.assertEqual(summary["ok"], summary["sent"], run)
        self.assertEqual(summary["errors"], 0, run)
        self.assertTrue(40 <= summary["p50_ms"] <= 500, run)
        self.assertTrue(summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"] <= summary["max_ms"], run)
        self.assertTrue(2.9 <= summary["duration_s"] <= 10, run)
        self.assertGreaterEqual(len(run.seconds), 3, run)

    def test_keeps_sending_while_the_server_is_slow(self):
        # Open loop: a 1 s server does not slow the 10/s schedule down; the
        # requests pile up in flight instead (closed loop would have one).
        server = self.serve("--delay", "1")
        run = self.run_json(server.url(), "--rate", "10", "--duration", "2")
        self.assertEqual(run.status, EXIT_OK, run)
        self.assertEqual(run.summary["sent"], 20, run)
        self.assertEqual(run.summary["ok"], 20, run)
        self.assertGreaterEqual(run.summary["p50_ms"], 900, run)
        self.assertGreaterEqual(max(line["in_flight"] for line in run.seconds), 5, run)

    def test_follows_a_schedule_with_an_idle_phase(self):
        server = self.serve()
        run = self.run_json(server.url(), "--schedule", "10:1,0:1,10:1")
        self.assertEqual(run.status, EXIT_OK, run)
        self.assertTrue(18 <= run.summary["sent"] <= 22, run)
        self.assertGreaterEqual(len(run.seconds), 3, run)
        self.assertLessEqual(run.seconds[1]["sent"], 2, run)  # the idle second (a late launch may spill in)
        self.assertGreaterEqual(run.seconds[0]["sent"] + run.seconds[2]["sent"], 16, run)
        self.assertGreaterEqual(run.summary["duration_s"], 2.9, run)

    def test_prints_lines_for_people(self):
        server = self.serve()
        run = Run(server.url(), "--rate", "5", "--duration", "2")
        self.assertEqual(run.status, EXIT_OK, run)
        lines = run.stdout.splitlines()
        self.assertRegex(lines[0], r"^lamina-load: GET http://127\.0\.0\.1:\d+/  10 requests over 2 s")
        second = r"^  t=\s+{}s sent\s+\d+ done\s+\d+ ok\s+\d+ err \d+  p50 +(\d+\.\d|-) ms  p95 +(\d+\.\d|-) ms  " \
                 r"p99 +(\d+\.\d|-) ms  inflight \d+$"
        self.assertRegex(lines[1], second.format(1))
        self.assertRegex(lines[2], second.format(2))
        self.assertRegex(lines[-2], r"^summary: sent 10  ok 10  errors 0 \(connect 0, reset 0, timeout 0, http 0\)$")
        self.assertRegex(lines[-1], r"^latency: p50 \d+\.\d ms  p95 \d+\.\d ms  p99 \d+\.\d ms  max \d+\.\d ms  "
                                    r"over \d+\.\d\d s$")

    def test_quiet_prints_only_the_summary(self):
        server = self.serve()
        run = Run(server.url(), "--rate", "5", "--duration", "1", "--quiet", "--json")
        self.assertEqual(run.status, EXIT_OK, run)
        self.assertEqual(run.seconds, [], run)
        self.assertEqual(run.summary["sent"], 5, run)
        run = Run(server.url(), "--rate", "5", "--duration", "1", "--quiet")
        self.assertEqual([line.split(":")[0] for line in run.stdout.splitlines()], ["summary", "latency"], run)


class Errors(LoadTestCase):
    def check_all_failed_as(self, run, kind):
        self.assertEqual(run.status, EXIT_FAILED, run)
        summary = run.summary
        self.assertGreaterEqual(summary["sent"], 8, run)
        self.assertEqual(summary["ok"], 0, run)
        self.assertEqual(summary[kind], summary["sent"], run)
        self.assertEqual(summary["errors"], summary["sent"], run)

    def test_counts_500s_as_http_errors(self):
        server = self.serve("--status", "500")
        self.check_all_failed_as(self.run_json(server.url(), "--rate", "10", "--duration", "1"), "http_errors")

    def test_counts_a_closed_port_as_connect_errors(self):
        url = f"http://127.0.0.1:{closed_port()}/"
        self.check_all_failed_as(self.run_json(url, "--rate", "10", "--duration", "1"), "connect_errors")

    def test_counts_resets(self):
        server = self.serve("--mode", "reset")
        self.check_all_failed_as(self.run_json(server.url(), "--rate", "10", "--duration", "1"), "resets")

    def test_counts_a_reply_cut_short_as_a_reset(self):
        server = self.serve("--mode", "truncate")
        self.check_all_failed_as(self.run_json(server.url(), "--rate", "10", "--duration", "1"), "resets")

    def test_times_out_from_the_due_time_and_stops_waiting(self):
        server = self.serve("--delay", "5")
        run = self.run_json(server.url(), "--rate", "10", "--duration", "1", "--timeout", "0.5")
        self.check_all_failed_as(run, "timeouts")
        self.assertTrue(450 <= run.summary["p50_ms"] <= 3000, run)
        self.assertLess(run.summary["duration_s"], 4, run)  # did not wait for the 5 s server

    def test_counts_sockets_it_cannot_open_as_connect_errors(self):
        # 20 descriptors hold about a dozen sockets; the 2 s server keeps
        # them all busy while the other requests are due.
        server = self.serve("--delay", "2")
        run = self.run_json(server.url(), "--rate", "50", "--duration", "1", file_limit=20)
        self.assertEqual(run.status, EXIT_FAILED, run)
        summary = run.summary
        self.assertEqual(summary["sent"], 50, run)
        self.assertGreaterEqual(summary["ok"], 5, run)
        self.assertGreaterEqual(summary["connect_errors"], 20, run)
        self.assertEqual(summary["ok"] + summary["connect_errors"], 50, run)


class Usage(LoadTestCase):
    def check_usage_error(self, arguments, message):
        run = Run(*arguments)
        self.assertEqual(run.status, EXIT_USAGE, run)
        self.assertRegex(run.stderr, message, run)
        self.assertEqual(run.stdout, "", run)

    def test_rejects_bad_urls(self):
        for url, message in (("ftp://127.0.0.1/", "does not start with http://"),
                             ("https://127.0.0.1/", "only http://"),
                             ("http://127.0.0.1:99999/", "port must be a number from 1 to 65535"),
                             ("http:///nohost", "has no host"),
                             ("http://127.0.0.1/a b", "percent-encode")):
            with self.subTest(url=url):
                self.check_usage_error((url, "--rate", "1", "--duration", "1"), "lamina-load: .*" + message)

    def test_rejects_bad_schedules(self):
        url = f"http://127.0.0.1:{closed_port()}/"
        for schedule, message in (("10", "not RATE:SECONDS"),
                                  ("-1:2", "the rate must be from 0"),
                                  ("10:0", "the duration must be more than 0"),
                                  ("abc:def", "the rate \"abc\" is not a number"),
                                  ("10:1,", "phase 2"),
                                  ("", "empty")):
            with self.subTest(schedule=schedule):
                self.check_usage_error((url, "--schedule", schedule), "lamina-load: .*" + re.escape(message))

    def test_rejects_bad_option_combinations(self):
        url = f"http://127.0.0.1:{closed_port()}/"
        for arguments, message in (((url,), "give --schedule"),
                                   ((url, "--rate", "5"), "--rate needs --duration"),
                                   ((url, "--duration", "5"), "--duration needs --rate"),
                                   ((url, "--schedule", "1:1", "--rate", "5"), "not both"),
                                   ((url, "--rate", "-5", "--duration", "1"), "the rate must be from 0"),
                                   ((url, "--rate", "5", "--duration", "0"), "the duration must be more than 0"),
                                   ((url, "--rate", "5", "--duration", "1", "--timeout", "0"), "timeout"),
                                   ((url, "--rate", "fast", "--duration", "1"), "rate"),
                                   ((url, "--bogus"), "bogus"),
                                   (("--rate", "1", "--duration", "1"), "URL")):
            with self.subTest(arguments=arguments):
                self.check_usage_error(arguments, message)


TEST_CASES = (Steady, Errors, Usage)


def use_tool(path: str) -> None:
    global TOOL
    TOOL = path


def main() -> int:
    return method_driver.run(__doc__, TEST_CASES, "--tool", use_tool)


if __name__ == "__main__":
    sys.exit(main())
