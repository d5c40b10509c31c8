#!/usr/bin/env python3
"""A stand-in for Lamina's management channel, for the CLI tests.

    fake_lamina.py SOCKET [--record FILE] [--noise] [--malformed OP=KIND]
                   [--silent OP] [--hangup OP] [--protocol N] [--refuse-hello]
                   [--delay-start SECONDS]

Listens on the UNIX socket SOCKET and speaks docs/management-api.md with
in-memory state: two VMs (web running, db paused) and three templates. Like
QEMU's socket chardev it serves one client at a time. Prints "ready" once it
listens. Every request line is appended to FILE as one JSON line (a line that
is not JSON as {"raw": line}) before it is answered, so a test can check what
the CLI sent.

Each `stats` request advances a fake clock by one second, with fixed rates:
web's two vCPUs run half of the time (100 % CPU in `top`), wait a tenth of it
(20 % steal), and exit 100 times a second each.

Misbehaviour on demand:
  --noise               before every reply, an event for another VM and a
                        reply to an id nobody sent
  --malformed OP=KIND   answer OP with garbage (not JSON), not_object (a JSON
                        array), no_result (ok without result) or bad_result
                        (fields of the wrong type)
  --silent OP           never answer OP
  --hangup OP           close the connection instead of answering OP
  --protocol N          claim protocol N in the hello reply
  --refuse-hello        answer hello with unsupported_version
  --delay-start S       create the socket only after S seconds
"""

import argparse
import dataclasses
import json
import re
import socket
import sys
import time

MAX_REQUEST_LINE = 4096
NS = 1_000_000_000
BOARD_CPUS = 2
BOARD_MEMORY_MIB = 1024
LAMINA_OWN_MIB = 64
VM_SLOTS = 8
VMIDS = 255
BUILD_NS = 1_500_000  # what create reports as the time to build a VM
EXIT_REASONS = ("hypercall", "wfi", "wfe", "mmio", "interrupt", "system_register", "fault")
# Exits per second of a running vCPU, by reason (100 in all).
EXIT_RATES = {"hypercall": 10, "wfi": 40, "mmio": 50}
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")

# Arguments each op accepts: name -> (type, required). Anything else is malformed.
OPERATIONS = {
    "hello": {"version": (int, True)},
    "list": {},
    "board": {},
    "create": {"template": (str, True), "name": (str, False), "memory_mib": (int, False),
               "vcpus": (int, False), "cmdline": (str, False), "weight": (int, False),
               "cap_percent": (int, False), "pinned_cpus": (list, False), "start": (bool, False)},
    "start": {"vm": (str, True)},
    "pause": {"vm": (str, True)},
    "resume": {"vm": (str, True)},
    "shutdown": {"vm": (str, True)},
    "destroy": {"vm": (str, True)},
    "set": {"vm": (str, True), "weight": (int, False), "cap_percent": (int, False),
            "pinned_cpus": (list, False)},
    "balloon": {"vm": (str, True), "target_mib": (int, True)},
    "stats": {"vm": (str, False)},
    "console_attach": {"vm": (str, True)},
    "console_input": {"vm": (str, True), "data": (str, True)},
    "console_detach": {"vm": (str, True)},
}

TEMPLATES = {
    "web": {"vcpus": 2, "memory_mib": 256, "weight": 256, "cap_percent": 0, "pinned_cpus": [],
            "balloon": True, "nics": 1, "disks": 1},
    "db": {"vcpus": 1, "memory_mib": 128, "weight": 512, "cap_percent": 50, "pinned_cpus": [1],
           "balloon": False, "nics": 0, "disks": 2},
    "worker": {"vcpus": 1, "memory_mib": 64, "weight": 256, "cap_percent": 0, "pinned_cpus": [],
               "balloon": True, "nics": 1, "disks": 0},
}


class RequestError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclasses.dataclass
class Reply:
    """A result with events sent around its reply line."""
    result: dict
    events_before: list = dataclasses.field(default_factory=list)
    events_after: list = dataclasses.field(default_factory=list)


def is_type(value, wanted):
    if wanted is int:  # JSON true is not a number
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, wanted)


class Vm:
    def __init__(self, name, vm_id, template, settings, state):
        self.name = name
        self.id = vm_id
        self.template = template
        self.state = state
        self.vcpus = settings["vcpus"]
        self.memory_mib = settings["memory_mib"]
        self.weight = settings["weight"]
        self.cap_percent = settings["cap_percent"]
        self.pinned_cpus = list(settings["pinned_cpus"])
        self.has_balloon = TEMPLATES[template]["balloon"]
        self.balloon_mib = 0
        self.uptime_ns = 0
        self.run_ns = [0] * self.vcpus
        self.steal_ns = [0] * self.vcpus
        self.exits = [dict.fromkeys(EXIT_REASONS, 0) for _ in range(self.vcpus)]
        self.interrupts = [0] * self.vcpus
        self.nics = [{"rx_packets": 0, "rx_bytes": 0, "tx_packets": 0, "tx_bytes": 0, "drops": 0}
                     for _ in range(TEMPLATES[template]["nics"])]
        self.disks = [{"reads": 0, "writes": 0, "read_bytes": 0, "write_bytes": 0, "flushes": 0, "errors": 0}
                      for _ in range(TEMPLATES[template]["disks"])]

    def advance(self, seconds):
        """Counters after `seconds` more of the fake clock."""
        if self.state == "created":
            return
        self.uptime_ns += seconds * NS
        if self.state != "running":
            return
        for index in range(self.vcpus):
            self.run_ns[index] += seconds * NS // 2
            self.steal_ns[index] += seconds * NS // 10
            for reason, rate in EXIT_RATES.items():
                self.exits[index][reason] += rate * seconds
            self.interrupts[index] += 20 * seconds
        for nic in self.nics:
            nic["rx_packets"] += 2 * seconds
            nic["rx_bytes"] += 2048 * seconds
            nic["tx_packets"] += 1 * seconds
            nic["tx_bytes"] += 1024 * seconds
        for disk in self.disks:
            disk["reads"] += 1 * seconds
            disk["read_bytes"] += 4096 * seconds
            disk["writes"] += 2 * seconds
            disk["write_bytes"] += 8192 * seconds

    def describe(self):
        return {"name": self.name, "id": self.id, "state": self.state,
                "vcpus": self.vcpus, "memory_mib": self.memory_mib, "weight": self.weight,
                "cap_percent": self.cap_percent, "pinned_cpus": self.pinned_cpus,
                "balloon_mib": self.balloon_mib}

    def statistics(self):
        return {
            "name": self.name, "state": self.state, "uptime_ns": self.uptime_ns,
            "memory": {"assigned_mib": self.memory_mib,
                       "balloon_target_mib": self.memory_mib - self.balloon_mib,
                       "ballooned_mib": self.balloon_mib},
            "vcpus": [{"index": i, "state": "running" if self.state == "running" else "paused",
                       "run_ns": self.run_ns[i], "steal_ns": self.steal_ns[i],
                       "exits": dict(self.exits[i]), "interrupts_injected": self.interrupts[i]}
                      for i in range(self.vcpus)],
            "net": [dict(nic) for nic in self.nics],
            "block": [dict(disk) for disk in self.disks],
        }


class FakeLamina:
    def __init__(self, options):
        self.options = options
        self.vms = {}
        self.next_vm_id = 1
        self.attached = set()
        web = self.add_vm("web", "web", {}, "running")
        web.advance(10)  # so `top`'s first frame (averages since boot) shows the steady rates
        db = self.add_vm("db", "db", {}, "running")
        db.advance(4)
        db.state = "paused"
        db.advance(16)

    # --- state

    def add_vm(self, name, template, overrides, state):
        settings = dict(TEMPLATES[template])
        settings.update(overrides)
        vm = Vm(name, self.next_vm_id, template, settings, state)
        self.next_vm_id += 1
        self.vms[name] = vm
        return vm

    def vm(self, name):
        if name not in self.vms:
            raise RequestError("unknown_vm", f"no VM named '{name}'")
        return self.vms[name]

    def free_mib(self):
        return BOARD_MEMORY_MIB - LAMINA_OWN_MIB - sum(vm.memory_mib for vm in self.vms.values())

    def board(self):
        free = self.free_mib()
        return {"cpus": BOARD_CPUS, "free_mib": free, "free_frames": free * 256,
                "vmids_free": VMIDS - len(self.vms), "vm_slots_free": VM_SLOTS - len(self.vms)}

    # --- checks

    def check_scheduling(self, request):
        if "weight" in request and not 1 <= request["weight"] <= 65535:
            raise RequestError("invalid_argument", f"weight {request['weight']} is not 1-65535")
        if "cap_percent" in request and not 0 <= request["cap_percent"] <= 100 * BOARD_CPUS:
            raise RequestError("invalid_argument", f"cap {request['cap_percent']} is not 0-{100 * BOARD_CPUS}")
        for cpu in request.get("pinned_cpus", []):
            if not is_type(cpu, int) or not 0 <= cpu < BOARD_CPUS:
                raise RequestError("invalid_argument", f"no CPU {cpu}")

    def expect_state(self, vm, state, op):
        if vm.state != state:
            raise RequestError("wrong_state", f"cannot {op} '{vm.name}': it is {vm.state}")

    # --- operations

    def op_hello(self, request):
        if self.options.refuse_hello or request["version"] != 1:
            raise RequestError("unsupported_version", f"version {request['version']} is not spoken here")
        self.attached.clear()
        return {"protocol": self.options.protocol, "cpus": BOARD_CPUS, "memory_mib": BOARD_MEMORY_MIB}

    def op_list(self, _request):
        return {"vms": [vm.describe() for vm in self.vms.values()], "templates": list(TEMPLATES)}

    def op_board(self, _request):
        return self.board()

    def op_create(self, request):
        template = request["template"]
        if template not in TEMPLATES:
            raise RequestError("unknown_vm", f"no template named '{template}'")
        name = request.get("name", template)
        if not NAME_PATTERN.match(name):
            raise RequestError("invalid_argument", f"'{name}' is not a VM name")
        if name in self.vms:
            raise RequestError("exists", f"a VM named '{name}' already exists")
        self.check_scheduling(request)
        overrides = {key: request[key] for key in ("memory_mib", "vcpus", "weight", "cap_percent", "pinned_cpus")
                     if key in request}
        if overrides.get("memory_mib", TEMPLATES[template]["memory_mib"]) > self.free_mib():
            raise RequestError("no_resources", "not enough free memory")
        state = "running" if request.get("start", True) else "created"
        return {"vm": self.add_vm(name, template, overrides, state).describe(), "build_ns": BUILD_NS}

    def op_start(self, request):
        name = request["vm"]
        if name not in self.vms and name in TEMPLATES:
            return {"vm": self.add_vm(name, name, {}, "running").describe()}
        vm = self.vm(name)
        self.expect_state(vm, "created", "start")
        vm.state = "running"
        return {"vm": vm.describe()}

    def op_pause(self, request):
        vm = self.vm(request["vm"])
        self.expect_state(vm, "running", "pause")
        vm.state = "paused"
        return {"vm": vm.describe()}

    def op_resume(self, request):
        vm = self.vm(request["vm"])
        self.expect_state(vm, "paused", "resume")
        vm.state = "running"
        return {"vm": vm.describe()}

    def op_shutdown(self, request):
        vm = self.vm(request["vm"])
        self.expect_state(vm, "running", "shut down")
        vm.state = "stopping"
        return {}

    def op_destroy(self, request):
        self.vm(request["vm"])
        del self.vms[request["vm"]]
        return {}

    def op_set(self, request):
        vm = self.vm(request["vm"])
        if not any(key in request for key in ("weight", "cap_percent", "pinned_cpus")):
            raise RequestError("malformed", "set needs weight, cap_percent or pinned_cpus")
        self.check_scheduling(request)
        vm.weight = request.get("weight", vm.weight)
        vm.cap_percent = request.get("cap_percent", vm.cap_percent)
        vm.pinned_cpus = request.get("pinned_cpus", vm.pinned_cpus)
        return {"vm": vm.describe()}

    def op_balloon(self, request):
        vm = self.vm(request["vm"])
        if not vm.has_balloon:
            raise RequestError("no_device", f"'{vm.name}' has no balloon")
        if not 0 < request["target_mib"] <= vm.memory_mib:
            raise RequestError("invalid_argument", f"target {request['target_mib']} MiB is not 1-{vm.memory_mib}")
        vm.balloon_mib = vm.memory_mib - request["target_mib"]
        return {"vm": vm.describe()}

    def op_stats(self, request):
        for vm in self.vms.values():
            vm.advance(1)
        chosen = [self.vm(request["vm"])] if "vm" in request else list(self.vms.values())
        return {"board": self.board(), "vms": [vm.statistics() for vm in chosen]}

    def op_console_attach(self, request):
        vm = self.vm(request["vm"])
        self.attached.add(vm.name)
        return Reply({}, events_after=[console_event(vm.name, f"Welcome to {vm.name}\r\n")])

    def op_console_input(self, request):
        vm = self.vm(request["vm"])
        if vm.name not in self.attached:
            raise RequestError("wrong_state", f"no console attached to '{vm.name}'")
        # A terminal echoes what is typed; the echo comes before the reply.
        return Reply({}, events_before=[console_event(vm.name, request["data"])])

    def op_console_detach(self, request):
        self.attached.discard(self.vm(request["vm"]).name)
        return {}

    # --- dispatch

    def handle(self, request):
        """The Reply to a valid request; raises RequestError."""
        outcome = getattr(self, "op_" + request["op"])(request)
        return outcome if isinstance(outcome, Reply) else Reply(outcome)


def console_event(vm, data):
    return {"event": "console", "vm": vm, "data": data}


def validate(request):
    if not isinstance(request, dict):
        raise RequestError("malformed", "a request is a JSON object")
    op = request.get("op")
    if not isinstance(op, str):
        raise RequestError("malformed", "\"op\" must be a string")
    if op not in OPERATIONS:
        raise RequestError("unknown_op", f"no operation '{op}'")
    fields = OPERATIONS[op]
    for key, value in request.items():
        if key in ("id", "op"):
            continue
        if key not in fields:
            raise RequestError("malformed", f"unknown field '{key}' for {op}")
        if not is_type(value, fields[key][0]):
            raise RequestError("malformed", f"'{key}' has the wrong type")
    for key, (_, required) in fields.items():
        if required and key not in request:
            raise RequestError("malformed", f"{op} needs '{key}'")


def failure(request_id, error):
    return {"id": request_id, "ok": False, "error": {"code": error.code, "message": error.message}}


MALFORMED_LINES = {
    "garbage": lambda request_id: "this is not JSON {",
    "not_object": lambda request_id: json.dumps([request_id, True]),
    "no_result": lambda request_id: json.dumps({"id": request_id, "ok": True}),
    # Wrong types for what list, stats, board and the VM replies hold.
    "bad_result": lambda request_id: json.dumps({"id": request_id, "ok": True, "result": {
        "vms": [{"name": "web", "vcpus": "two", "memory": 5}], "templates": 5,
        "board": "none", "vm": {"name": 7}, "cpus": "many", "protocol": "one"}}),
}


class Session:
    """One client connection."""

    def __init__(self, lamina, connection, options, record):
        self.lamina = lamina
        self.connection = connection
        self.options = options
        self.record = record

    def send(self, message):
        text = message if isinstance(message, str) else json.dumps(message)
        self.connection.sendall(text.encode() + b"\n")

    def serve(self):
        buffer = b""
        while True:
            chunk = self.connection.recv(65536)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if not self.answer(line):
                    return

    def log(self, line, request):
        entry = request if isinstance(request, dict) else {"raw": line.decode(errors="replace")}
        self.record.write(json.dumps(entry) + "\n")
        self.record.flush()

    def answer(self, line):
        """Answers one request line; False ends the connection."""
        if len(line) > MAX_REQUEST_LINE:
            self.log(line, None)
            self.send(failure(None, RequestError("line_too_long", f"request line of {len(line)} bytes")))
            return True
        try:
            request = json.loads(line)
        except ValueError:
            self.log(line, None)
            self.send(failure(None, RequestError("malformed", "not JSON")))
            return True
        self.log(line, request)
        request_id = request.get("id") if isinstance(request, dict) else None
        op = request.get("op") if isinstance(request, dict) else None
        if op in self.options.silent:
            return True
        if op in self.options.hangup:
            return False
        if self.options.noise:
            self.send(console_event("elsewhere", "noise from another VM\n"))
            self.send({"id": (request_id or 0) + 1000, "ok": True, "result": {"noise": True}})
        if op in self.options.malformed:
            self.send(MALFORMED_LINES[self.options.malformed[op]](request_id))
            return True
        try:
            validate(request)
            reply = self.lamina.handle(request)
        except RequestError as error:
            self.send(failure(request_id, error))
            return True
        for event in reply.events_before:
            self.send(event)
        self.send({"id": request_id, "ok": True, "result": reply.result})
        for event in reply.events_after:
            self.send(event)
        return True


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description="A fake Lamina management socket for CLI tests.")
    parser.add_argument("socket")
    parser.add_argument("--record", default="/dev/null")
    parser.add_argument("--noise", action="store_true")
    parser.add_argument("--malformed", action="append", default=[], metavar="OP=KIND")
    parser.add_argument("--silent", action="append", default=[], metavar="OP")
    parser.add_argument("--hangup", action="append", default=[], metavar="OP")
    parser.add_argument("--protocol", type=int, default=1)
    parser.add_argument("--refuse-hello", action="store_true")
    parser.add_argument("--delay-start", type=float, default=0)
    options = parser.parse_args(argv)
    options.malformed = dict(item.split("=", 1) for item in options.malformed)
    for kind in options.malformed.values():
        if kind not in MALFORMED_LINES:
            parser.error(f"unknown malformed kind '{kind}'")
    return options


def main(argv):
    options = parse_arguments(argv)
    time.sleep(options.delay_start)
    lamina = FakeLamina(options)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(options.socket)
    server.listen(1)
    print("ready", flush=True)
    with open(options.record, "a", encoding="utf-8") as record:
        while True:
            connection, _ = server.accept()
            with connection:
                try:
                    Session(lamina, connection, options, record).serve()
                except (BrokenPipeError, ConnectionResetError):
                    pass


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
