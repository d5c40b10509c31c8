#!/usr/bin/env python3
"""A stand-in for Lamina's management channel, for the CLI tests.

    fake_lamina.py SOCKET [--record FILE] [--services] [--noise] [--malformed OP=KIND]
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

Without --services it is a Lamina from before services: no service ops
(unknown_op), no "services" in stats, no "service"/"best_effort" in VMs.
With --services it also speaks docs/services.md, with canned state:
  - templates web-replica, api-replica (one NIC each) and batch (no NIC);
  - batch, a running best-effort VM whose cap the autoscaler lowered to 50 %;
  - service web (p95<=50ms/5s, 1..4 replicas, scaling_up): web-1 and web-2
    ready, web-3 booting, web-4 draining;
  - service api (p99<=20ms/10s, 0..1 replicas, cannot_meet_objective
    because at_max_replicas): api-1 ready;
  - nine scaling-log entries (seq 1-9).
Each `scaling_log` request that carries `since` (a client following the log)
lets the fake autoscaler take its next scripted step: first web-3 becomes
ready (web is then ok), then web-4 stops and is destroyed, then nothing.
service_create, service_set and service_destroy check their arguments like
Lamina (malformed, invalid_argument, exists, unknown_service, unknown_vm for
the template, no_resources beyond 4 services) and change the state;
service_create starts min_replicas booting replicas and logs scale_up.

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
VM_SLOTS_WITH_SERVICES = 16  # room for the canned replicas
VMIDS = 255
BUILD_NS = 1_500_000  # what create reports as the time to build a VM
EXIT_REASONS = ("hypercall", "wfi", "wfe", "mmio", "interrupt", "system_register", "fault")
# Exits per second of a running vCPU, by reason (100 in all).
EXIT_RATES = {"hypercall": 10, "wfi": 40, "mmio": 50}
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")
SERVICE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,15}$")
IPV4_PATTERN = r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})"
SERVICE_ADDRESS_PATTERN = re.compile(rf"^{IPV4_PATTERN}:(\d{{1,5}})$")
REPLICA_ADDRESSES_PATTERN = re.compile(rf"^{IPV4_PATTERN}/(\d{{1,2}})$")
NETWORKS = ("lan",)
MAX_SERVICES = 4
MAX_REPLICAS = 8
SERVICE_DEFAULTS = {"scale_up_window_s": 2, "scale_down_window_s": 15, "drain_grace_s": 10}
# Ranges of a service's settings (docs/services.md).
SERVICE_RANGES = {"scale_up_window_s": (1, 60), "scale_down_window_s": (1, 600), "drain_grace_s": (1, 600)}
OBJECTIVE_RANGES = {"percentile": (50, 99), "latency_ms": (1, 60000), "window_s": (1, 15)}

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

# What --services adds (docs/services.md).
SERVICE_OPERATIONS = {
    "services": {},
    "service_create": {"name": (str, True), "template": (str, True), "network": (str, True),
                       "address": (str, True), "replica_addresses": (str, True), "objective": (dict, True),
                       "min_replicas": (int, True), "max_replicas": (int, True),
                       "scale_up_window_s": (int, False), "scale_down_window_s": (int, False),
                       "drain_grace_s": (int, False)},
    "service_set": {"service": (str, True), "min_replicas": (int, False), "max_replicas": (int, False),
                    "objective": (dict, False), "scale_up_window_s": (int, False),
                    "scale_down_window_s": (int, False), "drain_grace_s": (int, False)},
    "service_destroy": {"service": (str, True)},
    "scaling_log": {"service": (str, False), "since": (int, False)},
}
SERVICE_SETTINGS = ("min_replicas", "max_replicas", "objective", "scale_up_window_s", "scale_down_window_s",
                    "drain_grace_s")

TEMPLATES = {
    "web": {"vcpus": 2, "memory_mib": 256, "weight": 256, "cap_percent": 0, "pinned_cpus": [],
            "balloon": True, "nics": 1, "disks": 1},
    "db": {"vcpus": 1, "memory_mib": 128, "weight": 512, "cap_percent": 50, "pinned_cpus": [1],
           "balloon": False, "nics": 0, "disks": 2},
    "worker": {"vcpus": 1, "memory_mib": 64, "weight": 256, "cap_percent": 0, "pinned_cpus": [],
               "balloon": True, "nics": 1, "disks": 0},
}

SERVICE_TEMPLATES = {
    "web-replica": {"vcpus": 1, "memory_mib": 64, "weight": 256, "cap_percent": 40, "pinned_cpus": [],
                    "balloon": False, "nics": 1, "disks": 0},
    "api-replica": {"vcpus": 1, "memory_mib": 64, "weight": 256, "cap_percent": 50, "pinned_cpus": [],
                    "balloon": False, "nics": 1, "disks": 0},
    "batch": {"vcpus": 1, "memory_mib": 64, "weight": 128, "cap_percent": 100, "pinned_cpus": [],
              "balloon": True, "nics": 0, "disks": 0, "best_effort": True},
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
        """`settings`: the template's, with the overrides applied."""
        self.name = name
        self.id = vm_id
        self.template = template
        self.state = state
        self.service = settings.get("service")
        self.best_effort = settings.get("best_effort", False)
        self.vcpus = settings["vcpus"]
        self.memory_mib = settings["memory_mib"]
        self.weight = settings["weight"]
        self.cap_percent = settings["cap_percent"]
        self.pinned_cpus = list(settings["pinned_cpus"])
        self.has_balloon = settings["balloon"]
        self.balloon_mib = 0
        self.uptime_ns = 0
        self.run_ns = [0] * self.vcpus
        self.steal_ns = [0] * self.vcpus
        self.exits = [dict.fromkeys(EXIT_REASONS, 0) for _ in range(self.vcpus)]
        self.interrupts = [0] * self.vcpus
        self.nics = [{"rx_packets": 0, "rx_bytes": 0, "tx_packets": 0, "tx_bytes": 0, "drops": 0}
                     for _ in range(settings["nics"])]
        self.disks = [{"reads": 0, "writes": 0, "read_bytes": 0, "write_bytes": 0, "flushes": 0, "errors": 0}
                      for _ in range(settings["disks"])]

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

    def describe(self, with_services=False):
        described = {"name": self.name, "id": self.id, "state": self.state,
                     "vcpus": self.vcpus, "memory_mib": self.memory_mib, "weight": self.weight,
                     "cap_percent": self.cap_percent, "pinned_cpus": self.pinned_cpus,
                     "balloon_mib": self.balloon_mib}
        if with_services:
            if self.service is not None:
                described["service"] = self.service
            described["best_effort"] = self.best_effort
        return described

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


def window(requests=0, rate=0.0, p50=0.0, p95=0.0, p99=0.0, resets=0, timeouts=0):
    """Request figures over an objective's window, as Lamina reports them."""
    return {"requests": requests, "rate_per_s": rate, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
            "resets": resets, "timeouts": timeouts}


def totals(requests=0, connections=0, held=0, resets=0, timeouts=0):
    return {"requests": requests, "connections": connections, "held": held, "resets": resets, "timeouts": timeouts}


def ipv4_parts(match):
    """The four octets of a matched IPv4 address, or None when one is over 255."""
    octets = [int(match.group(i)) for i in range(1, 5)]
    return octets if all(octet <= 255 for octet in octets) else None


class Replica:
    def __init__(self, vm, address, state):
        self.vm = vm
        self.address = address
        self.state = state
        self.connections = 0
        self.outstanding = 0
        self.window = window()
        self.totals = totals()

    def describe(self):
        return {"vm": self.vm, "address": self.address, "state": self.state, "connections": self.connections,
                "outstanding": self.outstanding, "window": dict(self.window), "totals": dict(self.totals)}


class Service:
    def __init__(self, config):
        self.name = config["name"]
        self.template = config["template"]
        self.network = config["network"]
        self.address = config["address"]
        self.replica_addresses = config["replica_addresses"]
        self.objective = dict(config["objective"])
        self.min_replicas = config["min_replicas"]
        self.max_replicas = config["max_replicas"]
        self.scale_up_window_s = config.get("scale_up_window_s", SERVICE_DEFAULTS["scale_up_window_s"])
        self.scale_down_window_s = config.get("scale_down_window_s", SERVICE_DEFAULTS["scale_down_window_s"])
        self.drain_grace_s = config.get("drain_grace_s", SERVICE_DEFAULTS["drain_grace_s"])
        self.status = "ok"
        self.reason = ""
        self.window = window()
        self.totals = totals()
        self.replicas = []

    def replica_address(self, number):
        """Replica `number` (from 1) gets the first replica address + number - 1."""
        octets = ipv4_parts(REPLICA_ADDRESSES_PATTERN.match(self.replica_addresses))
        value = (octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3]) + number - 1
        return ".".join(str(value >> shift & 0xff) for shift in (24, 16, 8, 0))

    def replica(self, vm):
        return next(replica for replica in self.replicas if replica.vm == vm)

    def describe(self):
        return {"name": self.name, "template": self.template, "network": self.network, "address": self.address,
                "replica_addresses": self.replica_addresses, "objective": dict(self.objective),
                "min_replicas": self.min_replicas, "max_replicas": self.max_replicas,
                "scale_up_window_s": self.scale_up_window_s, "scale_down_window_s": self.scale_down_window_s,
                "drain_grace_s": self.drain_grace_s, "status": self.status, "reason": self.reason,
                "window": dict(self.window), "totals": dict(self.totals),
                "replicas": [replica.describe() for replica in self.replicas]}


class FakeLamina:
    def __init__(self, options):
        self.options = options
        self.vms = {}
        self.next_vm_id = 1
        self.attached = set()
        self.templates = dict(TEMPLATES)
        self.operations = dict(OPERATIONS)
        self.services = {}
        self.log = []
        self.autoscaler_steps = []
        web = self.add_vm("web", "web", {}, "running")
        web.advance(10)  # so `top`'s first frame (averages since boot) shows the steady rates
        db = self.add_vm("db", "db", {}, "running")
        db.advance(4)
        db.state = "paused"
        db.advance(16)
        if options.services:
            self.add_canned_services()

    # --- services (--services)

    def add_canned_services(self):
        self.templates.update(SERVICE_TEMPLATES)
        self.operations.update(SERVICE_OPERATIONS)
        for op in ("create", "set"):
            self.operations[op] = dict(self.operations[op], best_effort=(bool, False))
        self.add_vm("batch", "batch", {"cap_percent": 50}, "running").advance(10)

        web = self.add_service({"name": "web", "template": "web-replica", "network": "lan",
                                "address": "10.0.2.50:80", "replica_addresses": "10.0.2.100/24",
                                "objective": {"percentile": 95, "latency_ms": 50, "window_s": 5},
                                "min_replicas": 1, "max_replicas": 4})
        web.status = "scaling_up"
        web.window = window(120, 24.0, 12.1, 40.2, 55.0, resets=1)
        web.totals = totals(1234, 1200, held=1, resets=3, timeouts=1)
        for number, state in enumerate(("ready", "ready", "booting", "draining"), start=1):
            self.add_replica(web, number, state)
        web.replicas[0].connections, web.replicas[0].outstanding = 2, 1
        web.replicas[0].window = window(70, 14.0, 11.5, 38.0, 52.5, resets=1)
        web.replicas[0].totals = totals(800, 780, resets=2)
        web.replicas[1].connections, web.replicas[1].outstanding = 3, 1
        web.replicas[1].window = window(50, 10.0, 12.8, 43.1, 57.2)
        web.replicas[1].totals = totals(420, 406, resets=1, timeouts=1)
        web.replicas[3].connections = 1
        web.replicas[3].totals = totals(14, 14)

        api = self.add_service({"name": "api", "template": "api-replica", "network": "lan",
                                "address": "10.0.2.60:8080", "replica_addresses": "10.0.2.120/24",
                                "objective": {"percentile": 99, "latency_ms": 20, "window_s": 10},
                                "min_replicas": 0, "max_replicas": 1})
        api.status, api.reason = "cannot_meet_objective", "at_max_replicas"
        api.window = window(300, 30.0, 8.2, 18.9, 35.5, timeouts=2)
        api.totals = totals(5000, 4800, timeouts=2)
        replica = self.add_replica(api, 1, "ready")
        replica.connections, replica.outstanding = 4, 2
        replica.window = dict(api.window)
        replica.totals = dict(api.totals)

        for time_ms, service, action, vm, detail in (
                (5000, "web", "replica_ready", "web-1", "answered on port 80 after 1.2 s"),
                (40000, "web", "scale_up", "web-2", "p95 82.130 ms > 50 ms for 2.0 s at 31.2 req/s: 1 -> 2 replicas"),
                (41500, "web", "replica_ready", "web-2", "answered on port 80 after 1.5 s"),
                (50000, "web", "scale_up", "web-4", "p95 61.000 ms > 50 ms for 2.0 s at 40.0 req/s: 2 -> 3 replicas"),
                (51200, "web", "replica_ready", "web-4", "answered on port 80 after 1.2 s"),
                (60000, "api", "cap_lowered", "batch", "cap 100% -> 50% to fit a replica of api"),
                (60100, "api", "cannot_meet_objective", "", "p99 35.500 ms > 20 ms: at_max_replicas (1)"),
                (75000, "web", "scale_down", "web-4", "p95 10.200 ms < 25 ms for 15.0 s at 8.0 req/s: 3 -> 2 replicas"),
                (81234, "web", "scale_up", "web-3", "p95 82.130 ms > 50 ms for 2.0 s at 31.2 req/s: 2 -> 3 replicas")):
            self.log_decision(time_ms, service, action, vm, detail)
        self.autoscaler_steps = [self.step_web_3_ready, self.step_web_4_stopped]

    def add_service(self, config):
        service = Service(config)
        self.services[service.name] = service
        return service

    def add_replica(self, service, number, state):
        vm = self.add_vm(f"{service.name}-{number}", service.template, {"service": service.name}, "running")
        replica = Replica(vm.name, service.replica_address(number), state)
        service.replicas.append(replica)
        return replica

    def log_decision(self, time_ms, service, action, vm, detail):
        seq = self.log[-1]["seq"] + 1 if self.log else 1
        self.log.append({"seq": seq, "time_ms": time_ms, "service": service, "action": action, "vm": vm,
                         "detail": detail})

    def last_log_time(self):
        return self.log[-1]["time_ms"] if self.log else 0

    def step_web_3_ready(self):
        web = self.services.get("web")
        if web is None or not any(replica.vm == "web-3" for replica in web.replicas):
            return
        web.replica("web-3").state = "ready"
        web.status = "ok"
        self.log_decision(83300, "web", "replica_ready", "web-3", "answered on port 80 after 2.1 s")

    def step_web_4_stopped(self):
        web = self.services.get("web")
        if web is None or not any(replica.vm == "web-4" for replica in web.replicas):
            return
        web.replicas.remove(web.replica("web-4"))
        self.vms.pop("web-4", None)
        self.log_decision(86000, "web", "replica_stopped", "web-4", "powered off after its connections ended")

    def service(self, name):
        if name not in self.services:
            raise RequestError("unknown_service", f"no service named '{name}'")
        return self.services[name]

    def check_objective(self, objective):
        if set(objective) != set(OBJECTIVE_RANGES):
            raise RequestError("malformed", "objective needs exactly percentile, latency_ms and window_s")
        for key, (lowest, highest) in OBJECTIVE_RANGES.items():
            if not is_type(objective[key], int):
                raise RequestError("malformed", f"objective '{key}' has the wrong type")
            if not lowest <= objective[key] <= highest:
                raise RequestError("invalid_argument", f"objective {key} {objective[key]} is not {lowest}-{highest}")

    def check_service_settings(self, request, minimum, maximum):
        if "objective" in request:
            self.check_objective(request["objective"])
        for key, (lowest, highest) in SERVICE_RANGES.items():
            if key in request and not lowest <= request[key] <= highest:
                raise RequestError("invalid_argument", f"{key} {request[key]} is not {lowest}-{highest}")
        if not 0 <= minimum <= maximum <= MAX_REPLICAS or maximum < 1:
            raise RequestError("invalid_argument",
                               f"replicas {minimum}..{maximum}: need 0 <= min <= max <= {MAX_REPLICAS}, max >= 1")

    # --- state

    def add_vm(self, name, template, overrides, state):
        settings = dict(self.templates[template])
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
        slots = VM_SLOTS_WITH_SERVICES if self.options.services else VM_SLOTS
        return {"cpus": BOARD_CPUS, "free_mib": free, "free_frames": free * 256,
                "vmids_free": VMIDS - len(self.vms), "vm_slots_free": max(slots - len(self.vms), 0)}

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
        return {"vms": [vm.describe(self.options.services) for vm in self.vms.values()],
                "templates": list(self.templates)}

    def op_board(self, _request):
        return self.board()

    def op_create(self, request):
        template = request["template"]
        if template not in self.templates:
            raise RequestError("unknown_vm", f"no template named '{template}'")
        name = request.get("name", template)
        if not NAME_PATTERN.match(name):
            raise RequestError("invalid_argument", f"'{name}' is not a VM name")
        if name in self.vms:
            raise RequestError("exists", f"a VM named '{name}' already exists")
        self.check_scheduling(request)
        overrides = {key: request[key] for key in ("memory_mib", "vcpus", "weight", "cap_percent", "pinned_cpus",
                                                   "best_effort") if key in request}
        if overrides.get("memory_mib", self.templates[template]["memory_mib"]) > self.free_mib():
            raise RequestError("no_resources", "not enough free memory")
        state = "running" if request.get("start", True) else "created"
        vm = self.add_vm(name, template, overrides, state)
        return {"vm": self.describe_vm(vm), "build_ns": BUILD_NS}

    def describe_vm(self, vm):
        return vm.describe(self.options.services)

    def op_start(self, request):
        name = request["vm"]
        if name not in self.vms and name in self.templates:
            return {"vm": self.describe_vm(self.add_vm(name, name, {}, "running"))}
        vm = self.vm(name)
        self.expect_state(vm, "created", "start")
        vm.state = "running"
        return {"vm": self.describe_vm(vm)}

    def op_pause(self, request):
        vm = self.vm(request["vm"])
        self.expect_state(vm, "running", "pause")
        vm.state = "paused"
        return {"vm": self.describe_vm(vm)}

    def op_resume(self, request):
        vm = self.vm(request["vm"])
        self.expect_state(vm, "paused", "resume")
        vm.state = "running"
        return {"vm": self.describe_vm(vm)}

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
        if not any(key in request for key in ("weight", "cap_percent", "pinned_cpus", "best_effort")):
            raise RequestError("malformed", "set needs weight, cap_percent, pinned_cpus or best_effort")
        self.check_scheduling(request)
        vm.weight = request.get("weight", vm.weight)
        vm.cap_percent = request.get("cap_percent", vm.cap_percent)
        vm.pinned_cpus = request.get("pinned_cpus", vm.pinned_cpus)
        vm.best_effort = request.get("best_effort", vm.best_effort)
        return {"vm": self.describe_vm(vm)}

    def op_balloon(self, request):
        vm = self.vm(request["vm"])
        if not vm.has_balloon:
            raise RequestError("no_device", f"'{vm.name}' has no balloon")
        if not 0 < request["target_mib"] <= vm.memory_mib:
            raise RequestError("invalid_argument", f"target {request['target_mib']} MiB is not 1-{vm.memory_mib}")
        vm.balloon_mib = vm.memory_mib - request["target_mib"]
        return {"vm": self.describe_vm(vm)}

    def op_stats(self, request):
        for vm in self.vms.values():
            vm.advance(1)
        chosen = [self.vm(request["vm"])] if "vm" in request else list(self.vms.values())
        result = {"board": self.board(), "vms": [vm.statistics() for vm in chosen]}
        if self.options.services:
            result["services"] = [service.describe() for service in self.services.values()]
        return result

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

    def op_services(self, _request):
        return {"services": [service.describe() for service in self.services.values()]}

    def op_service_create(self, request):
        name = request["name"]
        if not SERVICE_NAME_PATTERN.match(name):
            raise RequestError("invalid_argument", f"'{name}' is not a service name (1-15 of A-Z a-z 0-9 . _ -)")
        if name in self.services:
            raise RequestError("exists", f"a service named '{name}' already exists")
        if len(self.services) >= MAX_SERVICES:
            raise RequestError("no_resources", f"already {MAX_SERVICES} services")
        template = request["template"]
        if template not in self.templates:
            raise RequestError("unknown_vm", f"no template named '{template}'")
        if self.templates[template]["nics"] != 1:
            raise RequestError("invalid_argument", f"template '{template}' does not have exactly one NIC")
        if request["network"] not in NETWORKS:
            raise RequestError("invalid_argument", f"no network named '{request['network']}'")
        address = SERVICE_ADDRESS_PATTERN.match(request["address"])
        if not address or not ipv4_parts(address) or not 1 <= int(address.group(5)) <= 65535:
            raise RequestError("invalid_argument", f"address '{request['address']}' is not IPv4:port")
        replicas = REPLICA_ADDRESSES_PATTERN.match(request["replica_addresses"])
        if not replicas or not ipv4_parts(replicas) or not 1 <= int(replicas.group(5)) <= 30:
            raise RequestError("invalid_argument",
                               f"replica_addresses '{request['replica_addresses']}' is not IPv4/prefix")
        self.check_service_settings(request, request["min_replicas"], request["max_replicas"])
        service = self.add_service(request)
        for number in range(1, service.min_replicas + 1):
            self.add_replica(service, number, "booting")
            self.log_decision(self.last_log_time() + 100, name, "scale_up", f"{name}-{number}",
                              f"min_replicas {service.min_replicas}: {number - 1} -> {number} replicas")
        if service.replicas:
            service.status = "scaling_up"
        return {"service": service.describe()}

    def op_service_set(self, request):
        service = self.service(request["service"])
        if not any(key in request for key in SERVICE_SETTINGS):
            raise RequestError("malformed", "service_set needs one of " + ", ".join(SERVICE_SETTINGS))
        minimum = request.get("min_replicas", service.min_replicas)
        maximum = request.get("max_replicas", service.max_replicas)
        self.check_service_settings(request, minimum, maximum)
        service.min_replicas, service.max_replicas = minimum, maximum
        service.objective = dict(request.get("objective", service.objective))
        for key in SERVICE_RANGES:
            setattr(service, key, request.get(key, getattr(service, key)))
        return {"service": service.describe()}

    def op_service_destroy(self, request):
        service = self.service(request["service"])
        for replica in service.replicas:
            self.vms.pop(replica.vm, None)
        del self.services[service.name]
        return {}

    def op_scaling_log(self, request):
        if "since" in request and self.autoscaler_steps:
            self.autoscaler_steps.pop(0)()
        since = request.get("since", 0)
        return {"entries": [dict(entry) for entry in self.log
                            if entry["seq"] > since and request.get("service", entry["service"]) == entry["service"]]}

    # --- dispatch

    def handle(self, request):
        """The Reply to a valid request; raises RequestError."""
        outcome = getattr(self, "op_" + request["op"])(request)
        return outcome if isinstance(outcome, Reply) else Reply(outcome)


def console_event(vm, data):
    return {"event": "console", "vm": vm, "data": data}


def validate(request, operations):
    if not isinstance(request, dict):
        raise RequestError("malformed", "a request is a JSON object")
    op = request.get("op")
    if not isinstance(op, str):
        raise RequestError("malformed", "\"op\" must be a string")
    if op not in operations:
        raise RequestError("unknown_op", f"no operation '{op}'")
    fields = operations[op]
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
    # Wrong types for what list, stats, board, the VM, service and scaling-log replies hold.
    "bad_result": lambda request_id: json.dumps({"id": request_id, "ok": True, "result": {
        "vms": [{"name": "web", "vcpus": "two", "memory": 5}], "templates": 5,
        "board": "none", "vm": {"name": 7}, "cpus": "many", "protocol": "one",
        "services": [{"name": "web", "window": {"p95_ms": "fast"}}], "service": {"name": "web", "replicas": 2},
        "entries": [{"seq": "seven"}]}}),
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
            validate(request, self.lamina.operations)
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
    parser.add_argument("--services", action="store_true", help="also speak docs/services.md, with canned services")
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
