#!/usr/bin/env python3
"""End-to-end tests of the `lamina` CLI, run against fake_lamina.py.

    cli_test.py --list                  the test names, one per line (CTest
                                        registers each as LaminaCli.<name>)
    cli_test.py --lamina PATH [NAME...] run the named tests (default: all)

Each test gets its own temporary directory for the socket and the fake's
record of the requests it received, and its own fake Lamina process.
"""

import json
import math
import os
import pty
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import termios
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import method_driver  # noqa: E402  (the command line shared with the other tools' drivers)

FAKE_LAMINA = Path(__file__).resolve().parent / "fake_lamina.py"
# `service create` with every required option, for a service "shop".
SERVICE_CREATE_ARGUMENTS = ["service", "create", "shop", "--template", "web-replica", "--network", "lan",
                            "--address", "10.0.2.70:80", "--replica-addresses", "10.0.2.140/24",
                            "--percentile", "90", "--latency-ms", "100", "--window", "5", "--min", "1", "--max", "3"]
LAMINA = ""  # the binary under test, from --lamina

CLEAR_SCREEN = "\x1b[H\x1b[2J"
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class FakeLamina:
    """fake_lamina.py on DIRECTORY/lamina.sock, recording to requests.jsonl."""

    def __init__(self, directory, options, wait):
        self.socket = directory / "lamina.sock"
        self.record = directory / "requests.jsonl"
        self.process = subprocess.Popen(
            [sys.executable, str(FAKE_LAMINA), str(self.socket), "--record", str(self.record), *options],
            stdout=subprocess.PIPE, text=True)
        if wait:
            self.wait_until_ready()

    def wait_until_ready(self, timeout=5):
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready or self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("fake Lamina did not start")

    def requests(self):
        """What the CLI sent, in order, without the ids."""
        if not self.record.exists():
            return []
        lines = self.record.read_text(encoding="utf-8").splitlines()
        return [{key: value for key, value in json.loads(line).items() if key != "id"} for line in lines]

    def ops(self):
        return [request.get("op") for request in self.requests()]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=5)
        self.process.stdout.close()


class CliTestCase(unittest.TestCase):
    """Starts a well-behaved fake Lamina unless a test asks for another."""

    fake_options = ()
    start_fake_in_setup = True

    def setUp(self):
        self.directory = Path(tempfile.mkdtemp(prefix="lamina-cli-"))
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)
        self.fake = self.start_fake(*self.fake_options) if self.start_fake_in_setup else None

    def start_fake(self, *options, wait=True, directory=None):
        fake = FakeLamina(directory or self.directory, options, wait)
        self.addCleanup(fake.stop)
        return fake

    def new_directory(self):
        """A fresh directory for one more fake in the same test."""
        return Path(tempfile.mkdtemp(dir=self.directory))

    def lamina(self, *arguments, stdin=None, env=None, cwd=None, socket_path=None):
        """Runs the CLI on the fake's socket; returns the CompletedProcess."""
        path = socket_path if socket_path is not None else self.fake.socket
        command = [LAMINA] + (["--socket", str(path)] if path else []) + [str(a) for a in arguments]
        # Bytes, decoded here: text mode would turn the console's "\r\n" into "\n".
        result = subprocess.run(command, input=stdin.encode() if stdin is not None else None, capture_output=True,
                                env=env, cwd=cwd, timeout=15)
        result.stdout = result.stdout.decode(errors="replace")
        result.stderr = result.stderr.decode(errors="replace")
        return result

    def assert_exit(self, result, status):
        self.assertEqual(result.returncode, status,
                         f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")

    def assert_ok(self, *arguments, **options):
        result = self.lamina(*arguments, **options)
        self.assert_exit(result, 0)
        return result

    def assert_fails(self, status, *arguments, stderr=None, **options):
        result = self.lamina(*arguments, **options)
        self.assert_exit(result, status)
        if stderr is not None:
            self.assertRegex(result.stderr, stderr)
        return result

    def last_request(self):
        return self.fake.requests()[-1]


def free_tcp_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url):
    """(status, content type, body) without any proxy from the environment."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.headers.get("Content-Type"), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read().decode()


def read_until(fd, needle, timeout=5):
    """Reads a pty master until `needle` (bytes) shows up; returns all read."""
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(left, 0))
        if not ready:
            raise AssertionError(f"{needle!r} did not appear; got {seen!r}")
        try:
            seen += os.read(fd, 4096)
        except OSError:  # EIO: every slave end is closed
            break
    return seen


def read_to_end(fd, timeout=10):
    """Everything from a pty master until its slave side is closed."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side is closed
            break
        if not chunk:
            break
        seen += chunk
    return seen


def samples_of(metrics_text):
    """{(sample name, sorted labels): value} via prometheus_client's parser."""
    from prometheus_client.parser import text_string_to_metric_families
    samples = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


class Verbs(CliTestCase):
    def test_every_connection_starts_with_hello(self):
        self.assert_ok("list")
        lines = self.fake.record.read_text().splitlines()
        self.assertEqual(json.loads(lines[0]), {"id": 1, "op": "hello", "version": 1})
        self.assertEqual(json.loads(lines[1]), {"id": 2, "op": "list"})

    def test_list_prints_a_table_and_the_templates(self):
        lines = self.assert_ok("list").stdout.splitlines()
        self.assertRegex(lines[0], r"^NAME\s+ID\s+STATE\s+VCPUS\s+MEMORY\(MiB\)\s+WEIGHT\s+CAP\s+PINNED\s+BALLOON\s+"
                                   r"SERVICE\s+BE$")
        self.assertRegex(lines[1], r"^web\s+1\s+running\s+2\s+256\s+256\s+-\s+any\s+0$")
        self.assertRegex(lines[2], r"^db\s+2\s+paused\s+1\s+128\s+512\s+50%\s+1\s+0$")
        self.assertEqual(lines[3], "templates: web, db, worker")

    def test_json_prints_the_result_object_before_or_after_the_verb(self):
        for arguments in (["list", "--json"], ["--json", "list"]):
            result = json.loads(self.assert_ok(*arguments).stdout)
            self.assertEqual([vm["name"] for vm in result["vms"]], ["web", "db"])
            self.assertEqual(result["templates"], ["web", "db", "worker"])
            self.assertEqual(result["vms"][1]["pinned_cpus"], [1])

    def test_board_shows_free_resources(self):
        output = self.assert_ok("board").stdout
        self.assertIn("cpus:          2\n", output)
        self.assertIn("free memory:   576 MiB (147456 frames)\n", output)
        self.assertIn("VMIDs free:    253\n", output)
        self.assertIn("VM slots free: 6\n", output)
        self.assertEqual(json.loads(self.assert_ok("board", "--json").stdout)["vmids_free"], 253)

    def test_create_paused_sends_only_the_overrides_given(self):
        output = self.assert_ok("create", "web", "--name", "web2", "--memory", "128", "--paused").stdout
        self.assertEqual(self.last_request(),
                         {"op": "create", "template": "web", "name": "web2", "memory_mib": 128, "start": False})
        self.assertEqual(output, "web2 (id 3): created, 2 vCPUs, 128 MiB, weight 256, cap -, pinned any; "
                                 "built in 1.5 ms\n")

    def test_create_passes_every_option(self):
        self.assert_ok("create", "worker", "--vcpus", "2", "--cmdline", "console=hvc0 quiet", "--weight", "512",
                       "--cap", "150", "--pin", "1,0")
        self.assertEqual(self.last_request(),
                         {"op": "create", "template": "worker", "vcpus": 2, "cmdline": "console=hvc0 quiet",
                          "weight": 512, "cap_percent": 150, "pinned_cpus": [0, 1]})

    def test_create_json_prints_the_new_vm(self):
        result = json.loads(self.assert_ok("create", "worker", "--json").stdout)
        self.assertEqual(result["vm"]["name"], "worker")
        self.assertEqual(result["vm"]["state"], "running")

    def test_start_boots_a_created_vm_or_a_template(self):
        self.assert_ok("create", "web", "--name", "web2", "--paused")
        self.assertRegex(self.assert_ok("start", "web2").stdout, r"^web2 \(id 3\): running,")
        self.assertRegex(self.assert_ok("start", "worker").stdout, r"^worker \(id 4\): running,")
        self.assertEqual(self.last_request(), {"op": "start", "vm": "worker"})

    def test_pause_and_resume(self):
        self.assertRegex(self.assert_ok("pause", "web").stdout, r"^web \(id 1\): paused, 2 vCPUs, 256 MiB")
        self.assertEqual(self.last_request(), {"op": "pause", "vm": "web"})
        self.assertRegex(self.assert_ok("resume", "web").stdout, r"^web \(id 1\): running")
        self.assertEqual(self.last_request(), {"op": "resume", "vm": "web"})

    def test_shutdown_and_destroy(self):
        self.assertEqual(self.assert_ok("shutdown", "web").stdout,
                         "web: power button pressed; the guest shuts itself down\n")
        self.assertEqual(self.last_request(), {"op": "shutdown", "vm": "web"})
        self.assertEqual(self.assert_ok("destroy", "db").stdout, "db: destroyed\n")
        self.assertEqual(self.last_request(), {"op": "destroy", "vm": "db"})
        self.assertNotIn("db", [vm["name"] for vm in json.loads(self.assert_ok("list", "--json").stdout)["vms"]])
        self.assertEqual(self.assert_ok("destroy", "web", "--json").stdout, "{}\n")

    def test_set_changes_scheduling_and_any_unpins(self):
        output = self.assert_ok("set", "db", "--weight", "100", "--cap", "0", "--pin", "any").stdout
        self.assertEqual(self.last_request(),
                         {"op": "set", "vm": "db", "weight": 100, "cap_percent": 0, "pinned_cpus": []})
        self.assertEqual(output, "db (id 2): paused, 1 vCPU, 128 MiB, weight 100, cap -, pinned any\n")
        self.assert_ok("set", "web", "--pin", "0-1")
        self.assertEqual(self.last_request(), {"op": "set", "vm": "web", "pinned_cpus": [0, 1]})

    def test_balloon_sends_the_target(self):
        output = self.assert_ok("balloon", "web", "192").stdout
        self.assertEqual(self.last_request(), {"op": "balloon", "vm": "web", "target_mib": 192})
        self.assertIn(", balloon 64 MiB", output)

    def test_stats_prints_vm_vcpu_nic_and_disk_tables(self):
        output = self.assert_ok("stats").stdout
        self.assertIn("board: 2 CPUs, 576 MiB free, 6 VM slots free\n", output)
        self.assertRegex(output, r"\nweb\s+running\s+11\.000\s+11\.000\s+2\.200\s+2200\s+256\s+256\s+0\n")
        self.assertRegex(output,
                         r"\nweb\s+1\s+running\s+5\.500\s+1\.100\s+1100\s+220\s+hypercall=110 wfi=440 mmio=550\n")
        self.assertRegex(output, r"\nweb\s+nic0\s+22\s+22528\s+11\s+11264\s+0\n")
        self.assertRegex(output, r"\ndb\s+vdb\s+4\s+8\s+16384\s+32768\s+0\s+0\n")

    def test_stats_of_one_vm(self):
        output = self.assert_ok("stats", "db").stdout
        self.assertEqual(self.last_request(), {"op": "stats", "vm": "db"})
        self.assertNotRegex(output, r"\nweb ")
        result = json.loads(self.assert_ok("stats", "db", "--json").stdout)
        self.assertEqual([vm["name"] for vm in result["vms"]], ["db"])
        self.assertEqual(result["vms"][0]["memory"]["assigned_mib"], 128)


class Errors(CliTestCase):
    def test_lamina_errors_print_code_and_message(self):
        cases = [
            (["pause", "nosuch"], "lamina: unknown_vm: no VM named 'nosuch'\n"),
            (["resume", "web"], "lamina: wrong_state: cannot resume 'web': it is running\n"),
            (["create", "web"], "lamina: exists: a VM named 'web' already exists\n"),
            (["set", "web", "--weight", "0"], "lamina: invalid_argument: weight 0 is not 1-65535\n"),
            (["balloon", "db", "64"], "lamina: no_device: 'db' has no balloon\n"),
            (["create", "nosuch"], "lamina: unknown_vm: no template named 'nosuch'\n"),
        ]
        for arguments, message in cases:
            with self.subTest(arguments=arguments):
                result = self.assert_fails(EXIT_ERROR, *arguments)
                self.assertEqual(result.stderr, message)
                self.assertEqual(result.stdout, "")

    def test_an_overlong_request_gets_line_too_long(self):
        self.assert_fails(EXIT_ERROR, "create", "web", "--name", "web2", "--cmdline", "x" * 5000,
                          stderr=r"^lamina: line_too_long: ")

    def test_usage_errors_exit_2_without_connecting(self):
        for arguments in ([], ["frobnicate"], ["create"], ["set", "web"], ["set", "web", "--pin", "0,x"],
                          ["create", "web", "--memory", "-5"], ["create", "web", "--vcpus", "two"],
                          ["balloon", "web"], ["balloon", "web", "-1"], ["--timeout", "-1", "list"],
                          ["--timeout", "inf", "list"], ["top", "--interval", "nan"], ["top", "--iterations", "x"],
                          ["metrics", "--listen", "nonsense"], ["pause", "web", "extra"],
                          ["set", "web", "--best-effort", "maybe"], ["services", "extra"], ["service"],
                          ["service", "frobnicate"], ["service", "show"], ["service", "destroy"],
                          ["service", "create", "web", "--template", "web-replica"],
                          ["service", "set", "web", "--min", "-1"], ["service", "set", "web", "--latency-ms", "x"],
                          ["scaling-log", "--iterations", "2"], ["scaling-log", "--interval", "1"],
                          ["scaling-log", "--follow", "--interval", "-1"]):
            with self.subTest(arguments=arguments):
                self.assert_fails(EXIT_USAGE, *arguments)
        self.assertEqual(self.fake.requests(), [])

    def test_set_explains_what_it_needs(self):
        self.assert_fails(EXIT_USAGE, "set", "web", stderr="give at least one of --weight, --cap, --pin, --best-effort")
        self.assert_fails(EXIT_USAGE, "service", "set", "web",
                          stderr="service set: give at least one of --min, --max, --percentile, --latency-ms")
        self.assertEqual(self.fake.requests(), [])

    def test_help_exits_0(self):
        output = self.assert_ok("--help").stdout
        for verb in ("list", "board", "create", "start", "pause", "resume", "shutdown", "destroy", "set",
                     "balloon", "stats", "top", "console", "metrics", "services", "service", "scaling-log"):
            self.assertRegex(output, rf"\n  {verb} ")
        service_help = self.assert_ok("service", "--help").stdout
        for verb in ("show", "create", "set", "destroy"):
            self.assertRegex(service_help, rf"\n  {verb} ")
        self.assertIn('BE: "yes" for a best-effort VM', self.assert_ok("list", "--help").stdout)


class MalformedReplies(CliTestCase):
    start_fake_in_setup = False

    def test_malformed_replies_are_errors_not_crashes(self):
        cases = (("list=garbage", ["list"]), ("list=not_object", ["list"]), ("board=no_result", ["board"]),
                 ("list=bad_result", ["list"]), ("stats=bad_result", ["stats"]),
                 ("stats=bad_result", ["top", "--iterations", "1"]), ("stats=bad_result", ["metrics"]),
                 ("pause=bad_result", ["pause", "web"]), ("hello=garbage", ["list"]),
                 ("hello=no_result", ["list"]), ("services=bad_result", ["services"]),
                 ("services=bad_result", ["service", "show", "web"]), ("services=garbage", ["services"]),
                 ("service_create=bad_result", SERVICE_CREATE_ARGUMENTS),
                 ("service_set=bad_result", ["service", "set", "web", "--max", "3"]),
                 ("scaling_log=bad_result", ["scaling-log"]),
                 ("scaling_log=bad_result", ["scaling-log", "--follow", "--iterations", "1"]))
        for malformed, arguments in cases:
            with self.subTest(malformed=malformed, arguments=arguments):
                self.fake = self.start_fake("--malformed", malformed, directory=self.new_directory())
                self.assert_fails(EXIT_ERROR, *arguments, stderr=r"^lamina: malformed reply from Lamina: ")

    def test_another_protocol_version_is_refused(self):
        self.fake = self.start_fake("--protocol", "2")
        self.assert_fails(EXIT_ERROR, "list", stderr=r"speaks protocol 2; this lamina speaks 1")
        self.assertEqual(self.fake.ops(), ["hello"])

    def test_unsupported_version_is_reported(self):
        self.fake = self.start_fake("--refuse-hello")
        self.assert_fails(EXIT_ERROR, "list", stderr=r"^lamina: unsupported_version: ")


class Connecting(CliTestCase):
    start_fake_in_setup = False

    def test_no_lamina_exits_3_naming_the_socket(self):
        path = self.directory / "absent.sock"
        started = time.monotonic()
        result = self.assert_fails(EXIT_UNREACHABLE, "--connect-timeout", "0.3", "list", socket_path=path)
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn(f"cannot connect to Lamina at '{path}'", result.stderr)
        self.assertIn("tried for 0.3 s", result.stderr)

    def test_connect_is_retried_until_lamina_listens(self):
        self.fake = self.start_fake("--delay-start", "0.7", wait=False)
        self.assert_ok("--connect-timeout", "8", "list")

    def test_waits_while_another_client_is_served(self):
        self.fake = self.start_fake()
        other_client = socket.socket(socket.AF_UNIX)
        other_client.connect(str(self.fake.socket))
        command = [LAMINA, "--socket", str(self.fake.socket), "list"]
        waiting = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        self.assertIsNone(waiting.poll())  # connected to the backlog, waiting for hello's reply
        other_client.close()
        stdout, stderr = waiting.communicate(timeout=10)
        self.assertEqual(waiting.returncode, 0, stderr)
        self.assertIn("templates: web, db, worker", stdout)

    def test_no_reply_in_time_exits_3(self):
        self.fake = self.start_fake("--silent", "list")
        result = self.assert_fails(EXIT_UNREACHABLE, "--timeout", "0.5", "list")
        self.assertIn(f"no reply from Lamina at '{self.fake.socket}' to 'list' within 0.5 s", result.stderr)

    def test_silent_hello_hints_at_another_client(self):
        self.fake = self.start_fake("--silent", "hello")
        self.assert_fails(EXIT_UNREACHABLE, "--timeout", "0.3", "board",
                          stderr="to 'hello' within 0.3 s .*another client")

    def test_hangup_exits_3(self):
        self.fake = self.start_fake("--hangup", "stats")
        self.assert_fails(EXIT_UNREACHABLE, "stats",
                          stderr="closed the connection while we waited for the reply to 'stats'")

    def test_events_and_other_replies_are_skipped(self):
        self.fake = self.start_fake("--noise")
        result = self.assert_ok("list")
        self.assertIn("templates: web, db, worker", result.stdout)
        self.assertNotIn("noise", result.stdout + result.stderr)
        self.assertEqual(json.loads(self.assert_ok("board", "--json").stdout)["cpus"], 2)
        self.assertRegex(self.assert_ok("pause", "web").stdout, "^web .*paused")

    def test_socket_from_the_environment(self):
        self.fake = self.start_fake()
        env = dict(os.environ, LAMINA_SOCKET=str(self.fake.socket))
        self.assert_ok("list", socket_path="", env=env)

    def test_socket_option_beats_the_environment(self):
        self.fake = self.start_fake()
        env = dict(os.environ, LAMINA_SOCKET=str(self.directory / "wrong.sock"))
        self.assert_ok("list", env=env)

    def test_default_socket_is_lamina_sock_here(self):
        self.fake = self.start_fake()
        env = {key: value for key, value in os.environ.items() if key != "LAMINA_SOCKET"}
        self.assert_ok("list", socket_path="", env=env, cwd=self.directory)
        result = self.assert_fails(EXIT_UNREACHABLE, "--connect-timeout", "0", "list", socket_path="", env=env,
                                   cwd=self.new_directory())
        self.assertIn("'lamina.sock'", result.stderr)


class Top(CliTestCase):
    WEB_ROW = (r"\nweb\s+running\s+100\.0\s+20\.0\s+200\s+256\s+2\.0 KiB/s\s+1\.0 KiB/s\s+4\.0 KiB/s\s+"
               r"8\.0 KiB/s\n")

    def test_without_a_terminal_frames_follow_each_other(self):
        output = self.assert_ok("top", "--interval", "0.05", "--iterations", "3").stdout
        self.assertNotIn("\x1b", output)
        frames = output.split("\n\nlamina top:")
        self.assertEqual(len(frames), 3)
        for frame in frames:
            self.assertRegex(frame, self.WEB_ROW)
        self.assertRegex(frames[0], r"\ndb\s+paused\s+9\.5\s+1\.9\s+")  # since boot: it ran 2 s of 21
        self.assertRegex(frames[2], r"\ndb\s+paused\s+0\.0\s+0\.0\s+0\s+128\s")  # paused since
        self.assertEqual(self.fake.ops(), ["hello", "stats"] * 3)  # a new connection per refresh

    def test_on_a_terminal_each_frame_clears_the_screen(self):
        master, slave = pty.openpty()
        try:
            process = subprocess.Popen(
                [LAMINA, "--socket", str(self.fake.socket), "top", "--interval", "0.05", "--iterations", "2"],
                stdout=slave)
            os.close(slave)  # reading the master ends with EIO once lamina exits
            output = read_to_end(master).decode()
            self.assertEqual(process.wait(timeout=5), 0)
        finally:
            os.close(master)
        self.assertEqual(output.count(CLEAR_SCREEN), 2)
        self.assertTrue(output.startswith(CLEAR_SCREEN + "lamina top:"))

    def test_json_prints_one_result_per_refresh(self):
        lines = self.assert_ok("top", "--json", "--interval", "0", "--iterations", "2").stdout.splitlines()
        self.assertEqual(len(lines), 2)
        uptimes = [json.loads(line)["vms"][0]["uptime_ns"] for line in lines]
        self.assertEqual(uptimes[1] - uptimes[0], 1_000_000_000)


class Console(CliTestCase):
    fake_options = ("--noise",)  # console output of other VMs must not show

    def test_piped_input_is_forwarded_and_output_printed(self):
        started = time.monotonic()
        result = self.assert_ok("console", "web", "--linger", "0.3", stdin="uname -a\n")
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(result.stdout, "Welcome to web\r\nuname -a\n")
        sent = [request for request in self.fake.requests() if request["op"].startswith("console")]
        self.assertEqual(sent, [{"op": "console_attach", "vm": "web"},
                                {"op": "console_input", "vm": "web", "data": "uname -a\n"},
                                {"op": "console_detach", "vm": "web"}])

    def test_utf8_and_control_characters_arrive_intact_in_small_requests(self):
        text = "héllo wörld €\n" + "".join(chr(code) for code in range(1, 32)) * 100
        result = self.assert_ok("console", "web", "--linger", "0", stdin=text)
        inputs = [request for request in self.fake.requests() if request["op"] == "console_input"]
        self.assertGreater(len(inputs), 1)
        self.assertEqual("".join(request["data"] for request in inputs), text)
        self.assertNotIn("line_too_long", result.stderr)

    def test_without_input_it_lingers_then_detaches(self):
        started = time.monotonic()
        result = self.assert_ok("console", "db", "--linger", "0.2", stdin="")
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(result.stdout, "Welcome to db\r\n")
        self.assertEqual(self.fake.ops()[-1], "console_detach")

    def test_input_that_never_ends_stops_at_the_timeout(self):
        command = [LAMINA, "--socket", str(self.fake.socket), "--timeout", "0.5", "console", "web"]
        started = time.monotonic()
        with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as process:
            self.assertEqual(process.wait(timeout=10), 0)  # stdin stays open
            stdout = process.stdout.read()
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(stdout, b"Welcome to web\r\n")
        self.assertEqual(self.fake.ops()[-1], "console_detach")

    def test_json_prints_the_events(self):
        lines = self.assert_ok("console", "web", "--json", "--linger", "0", stdin="").stdout.splitlines()
        self.assertEqual([json.loads(line) for line in lines],
                         [{"event": "console", "vm": "web", "data": "Welcome to web\r\n"}])

    def test_unknown_vm(self):
        self.assert_fails(EXIT_ERROR, "console", "nosuch", stdin="", stderr="^lamina: unknown_vm: ")

    def test_terminal_is_raw_until_ctrl_bracket_then_restored(self):
        master, slave = pty.openpty()
        settings_before = termios.tcgetattr(slave)
        process = subprocess.Popen([LAMINA, "--socket", str(self.fake.socket), "console", "web"],
                                   stdin=slave, stdout=slave, stderr=subprocess.PIPE)
        try:
            read_until(master, b"Welcome to web")
            self.assertFalse(termios.tcgetattr(slave)[3] & termios.ICANON)  # raw while attached
            os.write(master, b"ls\r\x03")  # Ctrl-C goes to the guest, not to lamina
            read_until(master, b"ls\r\x03")
            os.write(master, b"\x1d")
            self.assertEqual(process.wait(timeout=5), 0)
            self.assertIn(b"Ctrl-] detaches", process.stderr.read())
            self.assertEqual(termios.tcgetattr(slave), settings_before)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stderr.close()
            os.close(master)
            os.close(slave)
        inputs = [request["data"] for request in self.fake.requests() if request["op"] == "console_input"]
        self.assertEqual("".join(inputs), "ls\r\x03")
        self.assertEqual(self.fake.ops()[-1], "console_detach")


class Metrics(CliTestCase):
    def assert_expected_samples(self, text):
        samples = samples_of(text)
        expected = {
            ("lamina_vcpu_run_seconds_total", (("vcpu", "0"), ("vm", "web"))): 5.5,
            ("lamina_vcpu_steal_seconds_total", (("vcpu", "1"), ("vm", "web"))): 1.1,
            ("lamina_vcpu_exits_total", (("reason", "mmio"), ("vcpu", "0"), ("vm", "web"))): 550,
            ("lamina_vcpu_interrupts_injected_total", (("vcpu", "0"), ("vm", "db"))): 80,
            ("lamina_vm_memory_assigned_bytes", (("vm", "web"),)): 256 * 2**20,
            ("lamina_vm_memory_ballooned_bytes", (("vm", "web"),)): 0,
            ("lamina_vm_state", (("state", "running"), ("vm", "web"))): 1,
            ("lamina_vm_state", (("state", "paused"), ("vm", "db"))): 1,
            ("lamina_vm_state", (("state", "running"), ("vm", "db"))): 0,
            ("lamina_vm_net_rx_bytes_total", (("nic", "nic0"), ("vm", "web"))): 22528,
            ("lamina_vm_net_tx_packets_total", (("nic", "nic0"), ("vm", "web"))): 11,
            ("lamina_vm_block_read_bytes_total", (("disk", "vda"), ("vm", "web"))): 45056,
            ("lamina_vm_block_write_bytes_total", (("disk", "vdb"), ("vm", "db"))): 32768,
            ("lamina_board_free_memory_bytes", ()): 576 * 2**20,
            ("lamina_board_vm_slots_free", ()): 6,
        }
        for key, value in expected.items():
            self.assertIn(key, samples)
            self.assertAlmostEqual(samples[key], value, msg=str(key))

    def test_prints_prometheus_text_once(self):
        text = self.assert_ok("metrics").stdout
        self.assert_expected_samples(text)
        self.assertIn("# TYPE lamina_vcpu_run_seconds_total counter\n", text)
        self.assertEqual(self.fake.ops(), ["hello", "stats", "board"])

    def test_json_prints_both_results(self):
        result = json.loads(self.assert_ok("metrics", "--json").stdout)
        self.assertEqual(result["board"]["cpus"], 2)
        self.assertEqual(len(result["stats"]["vms"]), 2)

    def serve(self, socket_path):
        port = free_tcp_port()
        process = subprocess.Popen(
            [LAMINA, "--socket", str(socket_path), "--connect-timeout", "0.2", "metrics", "--listen",
             f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.stop_server, process)
        banner = process.stderr.readline()
        self.assertEqual(banner, f"lamina: serving Prometheus metrics on http://127.0.0.1:{port}/metrics\n")
        return f"http://127.0.0.1:{port}"

    @staticmethod
    def stop_server(process):
        process.terminate()
        process.wait(timeout=5)
        process.stdout.close()
        process.stderr.close()

    def test_listen_serves_each_scrape_from_a_new_query(self):
        base = self.serve(self.fake.socket)
        status, content_type, body = http_get(base + "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(content_type, "text/plain; version=0.0.4; charset=utf-8")
        self.assert_expected_samples(body)
        status, _, body = http_get(base + "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(samples_of(body)[("lamina_vcpu_run_seconds_total", (("vcpu", "0"), ("vm", "web")))], 6.0)
        self.assertEqual(self.fake.ops(), ["hello", "stats", "board"] * 2)

    def test_listen_answers_404_elsewhere(self):
        base = self.serve(self.fake.socket)
        for path in ("/", "/metric", "/metrics/x"):
            self.assertEqual(http_get(base + path)[0], 404, path)
        self.assertEqual(self.fake.ops(), [])

    def test_listen_answers_503_when_lamina_is_unreachable(self):
        base = self.serve(self.directory / "absent.sock")
        status, _, body = http_get(base + "/metrics")
        self.assertEqual(status, 503)
        self.assertIn("cannot connect to Lamina", body)


class Services(CliTestCase):
    """A Lamina with services (fake_lamina.py --services)."""

    fake_options = ("--services",)

    def test_services_prints_a_table(self):
        lines = self.assert_ok("services").stdout.splitlines()
        self.assertRegex(lines[0], r"^SERVICE\s+ADDRESS\s+REPLICAS\s+P50\(ms\)\s+P95\(ms\)\s+P99\(ms\)\s+OBJECTIVE\s+"
                                   r"RATE\(req/s\)\s+ERRORS\s+STATUS$")
        self.assertRegex(lines[1], r"^web\s+10\.0\.2\.50:80\s+2/1\.\.4 \+1 booting -1 draining\s+"
                                   r"12\.1\s+40\.2\s+55\.0\s+p95<=50ms/5s\s+24\.0\s+1\s+scaling_up$")
        self.assertRegex(lines[2], r"^api\s+10\.0\.2\.60:8080\s+1/0\.\.1\s+8\.2\s+18\.9\s+35\.5\s+"
                                   r"p99<=20ms/10s\s+30\.0\s+2\s+cannot_meet_objective \(at_max_replicas\)$")
        self.assertEqual(len(lines), 3)
        self.assertEqual(self.fake.ops(), ["hello", "services"])

    def test_services_json_prints_the_result(self):
        result = json.loads(self.assert_ok("services", "--json").stdout)
        self.assertEqual([service["name"] for service in result["services"]], ["web", "api"])
        self.assertEqual(result["services"][0]["objective"], {"percentile": 95, "latency_ms": 50, "window_s": 5})
        self.assertEqual([replica["state"] for replica in result["services"][0]["replicas"]],
                         ["ready", "ready", "booting", "draining"])

    def test_services_replicas_lists_every_replica(self):
        output = self.assert_ok("services", "--replicas").stdout
        services, replicas = output.split("\n\n")
        self.assertIn("cannot_meet_objective", services)
        lines = replicas.splitlines()
        self.assertRegex(lines[0], r"^SERVICE\s+VM\s+ADDRESS\s+STATE\s+CONNECTIONS\s+OUTSTANDING\s+"
                                   r"P50\(ms\)\s+P95\(ms\)\s+P99\(ms\)\s+RATE\(req/s\)$")
        self.assertRegex(lines[1], r"^web\s+web-1\s+10\.0\.2\.100\s+ready\s+2\s+1\s+11\.5\s+38\.0\s+52\.5\s+14\.0$")
        self.assertRegex(lines[3], r"^web\s+web-3\s+10\.0\.2\.102\s+booting\s+0\s+0\s+-\s+-\s+-\s+0\.0$")
        self.assertRegex(lines[4], r"^web\s+web-4\s+10\.0\.2\.103\s+draining\s+1\s+0\s+")
        self.assertRegex(lines[5], r"^api\s+api-1\s+10\.0\.2\.120\s+ready\s+4\s+2\s+8\.2\s+18\.9\s+35\.5\s+30\.0$")
        self.assertEqual(len(lines), 6)

    def test_service_show_tells_one_service_and_its_replicas(self):
        output = self.assert_ok("service", "show", "api").stdout
        self.assertIn("service:   api\n", output)
        self.assertIn("address:   10.0.2.60:8080 on network lan\n", output)
        self.assertIn("objective: p99<=20ms/10s: 99 % of the requests of the last 10 s within 20 ms\n", output)
        self.assertIn("status:    cannot_meet_objective (at_max_replicas)\n", output)
        self.assertRegex(output, r"\napi\s+api-1\s+10\.0\.2\.120\s+ready\s+4\s+2\s")
        self.assertNotIn("web-1", output)
        self.assertEqual(self.fake.ops(), ["hello", "services"])
        result = json.loads(self.assert_ok("service", "show", "web", "--json").stdout)
        self.assertEqual(list(result), ["service"])
        self.assertEqual(result["service"]["name"], "web")
        self.assertEqual(len(result["service"]["replicas"]), 4)

    def test_service_create_sends_the_config_with_the_objective_nested(self):
        output = self.assert_ok(*SERVICE_CREATE_ARGUMENTS, "--scale-up-window", "3", "--scale-down-window", "30",
                                "--drain-grace", "5").stdout
        self.assertEqual(self.last_request(), {
            "op": "service_create", "name": "shop", "template": "web-replica", "network": "lan",
            "address": "10.0.2.70:80", "replica_addresses": "10.0.2.140/24",
            "objective": {"percentile": 90, "latency_ms": 100, "window_s": 5},
            "min_replicas": 1, "max_replicas": 3, "scale_up_window_s": 3, "scale_down_window_s": 30,
            "drain_grace_s": 5})
        self.assertEqual(output, "shop: 10.0.2.70:80 on lan from template web-replica, replicas 0/1..3 +1 booting, "
                                 "objective p90<=100ms/5s, scaling_up\n")
        services = json.loads(self.assert_ok("services", "--json").stdout)["services"]
        self.assertEqual(services[-1]["scale_down_window_s"], 30)
        self.assertIn("shop-1", [vm["name"] for vm in json.loads(self.assert_ok("list", "--json").stdout)["vms"]])

    def test_service_create_leaves_the_optional_windows_to_lamina(self):
        result = json.loads(self.assert_ok(*SERVICE_CREATE_ARGUMENTS, "--json").stdout)
        request = self.last_request()
        for key in ("scale_up_window_s", "scale_down_window_s", "drain_grace_s"):
            self.assertNotIn(key, request)
        self.assertEqual(result["service"]["name"], "shop")
        self.assertEqual(result["service"]["scale_up_window_s"], 2)  # Lamina's default

    def test_service_create_reports_what_lamina_refuses(self):
        def create(*changes):
            arguments = list(SERVICE_CREATE_ARGUMENTS)
            for option, value in zip(changes[::2], changes[1::2]):
                if option == "NAME":
                    arguments[2] = value
                else:
                    arguments[arguments.index(option) + 1] = value
            return arguments

        cases = [
            (create("NAME", "web"), "lamina: exists: a service named 'web' already exists\n"),
            (create("--percentile", "40"), "lamina: invalid_argument: objective percentile 40 is not 50-99\n"),
            (create("--min", "4"), "lamina: invalid_argument: replicas 4..3: need 0 <= min <= max <= 8, max >= 1\n"),
            (create("--template", "nosuch"), "lamina: unknown_vm: no template named 'nosuch'\n"),
            (create("--template", "db"), "lamina: invalid_argument: template 'db' does not have exactly one NIC\n"),
            (create("--address", "10.0.2.300:80"),
             "lamina: invalid_argument: address '10.0.2.300:80' is not IPv4:port\n"),
            (create("NAME", "far-too-long-a-name"),
             "lamina: invalid_argument: 'far-too-long-a-name' is not a service name (1-15 of A-Z a-z 0-9 . _ -)\n"),
        ]
        for arguments, message in cases:
            with self.subTest(arguments=arguments):
                result = self.assert_fails(EXIT_ERROR, *arguments)
                self.assertEqual(result.stderr, message)
                self.assertEqual(result.stdout, "")
        self.assert_ok(*create("NAME", "shop"))
        self.assert_ok(*create("NAME", "cart"))
        self.assert_fails(EXIT_ERROR, *create("NAME", "five"), stderr="^lamina: no_resources: already 4 services\n")

    def test_service_set_sends_only_what_changed(self):
        output = self.assert_ok("service", "set", "web", "--min", "2", "--max", "6", "--drain-grace", "20").stdout
        self.assertEqual(self.fake.ops(), ["hello", "service_set"])  # no lookup without an objective
        self.assertEqual(self.last_request(),
                         {"op": "service_set", "service": "web", "min_replicas": 2, "max_replicas": 6,
                          "drain_grace_s": 20})
        self.assertRegex(output, r"^web: 10\.0\.2\.50:80 on lan from template web-replica, replicas 2/2\.\.6 ")

    def test_service_set_completes_a_partial_objective_from_the_service(self):
        output = self.assert_ok("service", "set", "web", "--latency-ms", "80").stdout
        self.assertEqual(self.fake.ops(), ["hello", "services", "service_set"])  # over one connection
        self.assertEqual(self.last_request(),
                         {"op": "service_set", "service": "web",
                          "objective": {"percentile": 95, "latency_ms": 80, "window_s": 5}})
        self.assertIn("objective p95<=80ms/5s", output)

    def test_service_set_sends_a_whole_objective_without_lookup(self):
        result = json.loads(self.assert_ok("service", "set", "api", "--percentile", "95", "--latency-ms", "30",
                                           "--window", "8", "--scale-up-window", "4", "--json").stdout)
        self.assertEqual(self.fake.ops(), ["hello", "service_set"])
        self.assertEqual(self.last_request(),
                         {"op": "service_set", "service": "api",
                          "objective": {"percentile": 95, "latency_ms": 30, "window_s": 8}, "scale_up_window_s": 4})
        self.assertEqual(result["service"]["objective"], {"percentile": 95, "latency_ms": 30, "window_s": 8})

    def test_unknown_services_exit_1_with_lamina_s_message(self):
        message = "lamina: unknown_service: no service named 'nosuch'\n"
        for arguments in (["service", "show", "nosuch"], ["service", "set", "nosuch", "--max", "2"],
                          ["service", "set", "nosuch", "--window", "3"], ["service", "destroy", "nosuch"]):
            with self.subTest(arguments=arguments):
                result = self.assert_fails(EXIT_ERROR, *arguments)
                self.assertEqual(result.stderr, message)
                self.assertEqual(result.stdout, "")
        self.assert_fails(EXIT_ERROR, "service", "set", "web", "--window", "30",
                          stderr="^lamina: invalid_argument: objective window_s 30 is not 1-15\n")

    def test_service_destroy(self):
        self.assertEqual(self.assert_ok("service", "destroy", "web").stdout,
                         "web: destroyed; its replicas drain and stop\n")
        self.assertEqual(self.last_request(), {"op": "service_destroy", "service": "web"})
        self.assertNotIn("web", [service["name"] for service in
                                 json.loads(self.assert_ok("services", "--json").stdout)["services"]])
        self.assertEqual(self.assert_ok("service", "destroy", "api", "--json").stdout, "{}\n")
        self.assertEqual(self.assert_ok("services").stdout, "no services\n")

    def test_scaling_log_prints_a_table(self):
        lines = self.assert_ok("scaling-log").stdout.splitlines()
        self.assertEqual(self.last_request(), {"op": "scaling_log"})
        self.assertRegex(lines[0], r"^TIME\(s\)\s+SERVICE\s+ACTION\s+VM\s+DETAIL$")
        self.assertRegex(lines[1], r"^\s+5\.0\s+web\s+replica_ready\s+web-1\s+answered on port 80 after 1\.2 s$")
        self.assertRegex(lines[7], r"^\s+60\.1\s+api\s+cannot_meet_objective\s+p99 35\.500 ms > 20 ms")
        self.assertRegex(lines[9], r"^\s+81\.2\s+web\s+scale_up\s+web-3\s+p95 82\.130 ms > 50 ms for 2\.0 s at "
                                   r"31\.2 req/s: 2 -> 3 replicas$")
        self.assertEqual(len(lines), 10)

    def test_scaling_log_of_one_service_as_json(self):
        result = json.loads(self.assert_ok("scaling-log", "--service", "api", "--json").stdout)
        self.assertEqual(self.last_request(), {"op": "scaling_log", "service": "api"})
        self.assertEqual([entry["action"] for entry in result["entries"]], ["cap_lowered", "cannot_meet_objective"])
        self.assertEqual(result["entries"][0]["vm"], "batch")
        self.assertEqual(self.assert_ok("scaling-log", "--service", "gone").stdout, "no scaling-log entries\n")

    def test_scaling_log_follow_asks_for_entries_after_the_last_seq(self):
        output = self.assert_ok("scaling-log", "--follow", "--interval", "0.05", "--iterations", "4").stdout
        self.assertEqual([request for request in self.fake.requests() if request["op"] == "scaling_log"],
                         [{"op": "scaling_log"}, {"op": "scaling_log", "since": 9},
                          {"op": "scaling_log", "since": 10}, {"op": "scaling_log", "since": 11}])
        self.assertEqual(self.fake.ops(), ["hello", "scaling_log"] * 4)  # a new connection per poll
        lines = output.splitlines()
        self.assertEqual(len(lines), 12)  # the heading once, 9 entries, then one per step of the fake autoscaler
        self.assertRegex(lines[0], r"^\s+TIME\(s\)\s+SERVICE\s+ACTION\s+VM\s+DETAIL$")
        self.assertRegex(lines[10], r"^\s+83\.3\s+web\s+replica_ready\s+web-3\s+answered on port 80 after 2\.1 s$")
        self.assertRegex(lines[11], r"^\s+86\.0\s+web\s+replica_stopped\s+web-4\s+")
        # Batches printed apart line up: every ACTION starts in the same column.
        self.assertEqual(len({line.index(" replica_") for line in lines[1:] if " replica_" in line}), 1)

    def test_scaling_log_follow_of_one_service_as_json_lines(self):
        lines = self.assert_ok("scaling-log", "--follow", "--service", "web", "--json", "--interval", "0",
                               "--iterations", "2").stdout.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertEqual(len(json.loads(lines[0])["entries"]), 7)
        self.assertEqual([entry["seq"] for entry in json.loads(lines[1])["entries"]], [10])
        self.assertEqual(self.last_request(), {"op": "scaling_log", "service": "web", "since": 9})

    def test_list_shows_each_replica_s_service_and_best_effort_vms(self):
        lines = self.assert_ok("list").stdout.splitlines()
        self.assertRegex(lines[0], r"\s+BALLOON\s+SERVICE\s+BE$")
        rows = {line.split()[0]: line for line in lines[1:-1]}
        self.assertRegex(rows["web"], r"\s0$")  # neither a replica nor best effort
        self.assertRegex(rows["batch"], r"\s0\s+yes$")
        self.assertRegex(rows["web-1"], r"\s0\s+web$")
        self.assertRegex(rows["api-1"], r"\s0\s+api$")
        self.assertEqual(rows["web-1"].index("web", 5), rows["api-1"].index("api", 5))  # one SERVICE column
        self.assertEqual(lines[-1], "templates: web, db, worker, web-replica, api-replica, batch")

    def test_best_effort_on_create_and_set(self):
        output = self.assert_ok("create", "worker", "--best-effort").stdout
        self.assertEqual(self.last_request(), {"op": "create", "template": "worker", "best_effort": True})
        self.assertIn(", best effort;", output)
        self.assert_ok("create", "batch", "--name", "batch2", "--best-effort=false")
        self.assertEqual(self.last_request(),
                         {"op": "create", "template": "batch", "name": "batch2", "best_effort": False})
        self.assertEqual(self.assert_ok("set", "batch", "--best-effort", "false").stdout,
                         "batch (id 3): running, 1 vCPU, 64 MiB, weight 128, cap 50%, pinned any\n")
        self.assertEqual(self.last_request(), {"op": "set", "vm": "batch", "best_effort": False})
        self.assert_ok("set", "db", "--best-effort", "true")
        self.assertEqual(self.last_request(), {"op": "set", "vm": "db", "best_effort": True})
        vms = {vm["name"]: vm for vm in json.loads(self.assert_ok("list", "--json").stdout)["vms"]}
        self.assertEqual({name: vm["best_effort"] for name, vm in vms.items() if vm["best_effort"]},
                         {"worker": True, "db": True})

    def test_top_shows_services_replicas_and_the_latest_decisions(self):
        output = self.assert_ok("top", "--interval", "0.05", "--iterations", "3").stdout
        self.assertEqual(self.fake.ops(), ["hello", "stats", "scaling_log"] * 3)  # one connection per refresh
        self.assertEqual([request.get("since") for request in self.fake.requests() if request["op"] == "scaling_log"],
                         [None, 9, 10])
        frames = output.split("\n\nlamina top:")
        self.assertEqual(len(frames), 3)
        first = frames[0]
        self.assertRegex(first, r"\nSERVICE\s+READY\s+BOOT\s+DRAIN\s+CONN\s+OUT\s+P50\(ms\)\s+P95\(ms\)\s+P99\(ms\)\s+"
                                r"REQ/s\s+ERRORS\s+OBJECTIVE\s+STATUS\n")
        self.assertRegex(first, r"\nweb\s+2\s+1\s+1\s+6\s+2\s+12\.1\s+40\.2\s+55\.0\s+24\.0\s+1\s+p95<=50ms/5s\s+"
                                r"scaling_up\n  web-1\s+2\s+1\s+11\.5\s+38\.0\s+52\.5\s+14\.0\s+1\s+ready\n")
        self.assertRegex(first, r"\n  web-3\s+0\s+0\s+-\s+-\s+-\s+0\.0\s+0\s+booting\n")
        self.assertRegex(first, r"\napi\s+1\s+0\s+0\s+4\s+2\s+8\.2\s+18\.9\s+35\.5\s+30\.0\s+2\s+p99<=20ms/10s\s+"
                                r"cannot_meet_objective \(at_max_replicas\)\n  api-1\s")
        log = first[first.index("\nTIME(s)") + 1:].splitlines()[1:]
        self.assertEqual([line.split()[0] for line in log], ["51.2", "60.0", "60.1", "75.0", "81.2"])  # the latest 5
        log = frames[2][frames[2].index("\nTIME(s)") + 1:].splitlines()[1:]
        self.assertEqual([line.split()[0] for line in log], ["60.1", "75.0", "81.2", "83.3", "86.0"])
        self.assertRegex(frames[2], r"\nweb\s+3\s+0\s+1\s.*\sok\n")  # web-3 became ready after frame 1

    def test_top_json_prints_the_statistics_with_services(self):
        lines = self.assert_ok("top", "--json", "--interval", "0", "--iterations", "1").stdout.splitlines()
        self.assertEqual([service["name"] for service in json.loads(lines[0])["services"]], ["web", "api"])
        self.assertEqual(self.fake.ops(), ["hello", "stats"])

    def test_metrics_export_services_and_replicas(self):
        text = self.assert_ok("metrics").stdout
        samples = samples_of(text)
        expected = {
            ("lamina_service_latency_seconds", (("quantile", "0.5"), ("service", "web"))): 0.0121,
            ("lamina_service_latency_seconds", (("quantile", "0.95"), ("service", "web"))): 0.0402,
            ("lamina_service_latency_seconds", (("quantile", "0.99"), ("service", "api"))): 0.0355,
            ("lamina_service_requests_total", (("service", "web"),)): 1234,
            ("lamina_service_errors_total", (("kind", "reset"), ("service", "web"))): 3,
            ("lamina_service_errors_total", (("kind", "timeout"), ("service", "api"))): 2,
            ("lamina_service_request_rate", (("service", "api"),)): 30,
            ("lamina_service_replicas", (("service", "web"), ("state", "ready"))): 2,
            ("lamina_service_replicas", (("service", "web"), ("state", "booting"))): 1,
            ("lamina_service_replicas", (("service", "web"), ("state", "draining"))): 1,
            ("lamina_service_objective_seconds", (("service", "web"),)): 0.05,
            ("lamina_service_objective_met", (("service", "web"),)): 1,
            ("lamina_service_objective_met", (("service", "api"),)): 0,
            ("lamina_replica_latency_seconds", (("quantile", "0.95"), ("service", "web"), ("vm", "web-2"))): 0.0431,
            ("lamina_replica_requests_total", (("service", "web"), ("vm", "web-1"))): 800,
            ("lamina_replica_outstanding", (("service", "api"), ("vm", "api-1"))): 2,
            ("lamina_vm_state", (("state", "running"), ("vm", "web-1"))): 1,  # the VM series stay
            ("lamina_board_cpus", ()): 2,
        }
        for key, value in expected.items():
            self.assertIn(key, samples)
            self.assertAlmostEqual(samples[key], value, msg=str(key))
        booting = (("quantile", "0.5"), ("service", "web"), ("vm", "web-3"))
        self.assertTrue(math.isnan(samples[("lamina_replica_latency_seconds", booting)]))  # no request yet
        self.assertIn("# TYPE lamina_service_requests_total counter\n", text)
        self.assertIn("# TYPE lamina_service_latency_seconds gauge\n", text)
        self.assertIn("# HELP lamina_replica_outstanding ", text)
        self.assertEqual(self.fake.ops(), ["hello", "stats", "board"])


class OlderLamina(CliTestCase):
    """A Lamina from before services: the default fake."""

    def test_services_verbs_report_the_unknown_op(self):
        for arguments, op in ((["services"], "services"), (["service", "show", "web"], "services"),
                              (["service", "destroy", "web"], "service_destroy"), (["scaling-log"], "scaling_log"),
                              (SERVICE_CREATE_ARGUMENTS, "service_create")):
            with self.subTest(arguments=arguments):
                self.assert_fails(EXIT_ERROR, *arguments, stderr=rf"^lamina: unknown_op: no operation '{op}'\n$")

    def test_list_leaves_service_and_be_blank(self):
        lines = self.assert_ok("list").stdout.splitlines()
        self.assertRegex(lines[1], r"^web\s+1\s+running\s+2\s+256\s+256\s+-\s+any\s+0$")

    def test_top_has_no_service_section(self):
        output = self.assert_ok("top", "--interval", "0", "--iterations", "2").stdout
        self.assertNotIn("SERVICE", output)
        self.assertNotIn("TIME(s)", output)
        self.assertEqual(self.fake.ops(), ["hello", "stats"] * 2)  # no scaling_log asked

    def test_metrics_have_no_service_series(self):
        text = self.assert_ok("metrics").stdout
        self.assertNotIn("lamina_service_", text)
        self.assertNotIn("lamina_replica_", text)
        self.assertIn(("lamina_board_cpus", ()), samples_of(text))


TEST_CASES = (Verbs, Errors, MalformedReplies, Connecting, Top, Console, Metrics, Services, OlderLamina)


def use_lamina(path: str) -> None:
    global LAMINA
    LAMINA = path


def main() -> int:
    return method_driver.run(__doc__, TEST_CASES, "--lamina", use_lamina)


if __name__ == "__main__":
    sys.exit(main())
