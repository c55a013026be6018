"""lassim_state - the LAS simulator's shared, thread-safe state.

Three objects shared by every request thread:

  Stats       request counts per vendor / school / operation / HTTP status,
              plus connections accepted and faults injected.
  FaultPlan   the fault rules set through POST /_control/faults; each matching
              request consumes one unit of a rule's count.
  RequestLog  the optional one-line-per-request log (--log FILE).

Nothing here logs key values or personal data: a log line names the vendor,
school, operation, status, size and duration only.
"""

import threading
import time

# What a fault rule may do to the body of the answer (see docs/las-simulator.md).
FAULT_BODIES = ("malformed", "truncated", "disconnect", "empty", "html")

# Fields of a fault rule; anything else in the JSON is refused.
FAULT_FIELDS = ("vendor", "school", "operation", "status", "count",
                "delay_ms", "body", "retry_after")


class Stats:
    """Request counters, safe to update from many threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._requests = {}
        self._total = 0
        self._connections = 0
        self._injected = 0

    def count_request(self, vendor, school, operation, status, injected):
        """Count one answered LAS request."""
        with self._lock:
            ops = self._requests.setdefault(vendor, {}).setdefault(school, {})
            statuses = ops.setdefault(operation, {})
            key = str(status)
            statuses[key] = statuses.get(key, 0) + 1
            self._total += 1
            if injected:
                self._injected += 1

    def count_connection(self):
        """Count one accepted connection (tells whether clients reuse them)."""
        with self._lock:
            self._connections += 1

    def snapshot(self):
        """Return the counters as a JSON-ready dict (a deep copy)."""
        with self._lock:
            return {
                "total": self._total,
                "connections": self._connections,
                "injected": self._injected,
                "requests": {
                    v: {s: {o: dict(st) for o, st in ops.items()}
                        for s, ops in schools.items()}
                    for v, schools in self._requests.items()
                },
            }

    def reset(self):
        """Forget every counter."""
        with self._lock:
            self._requests = {}
            self._total = 0
            self._connections = 0
            self._injected = 0


class FaultRuleError(ValueError):
    """A fault rule sent to the control API is invalid."""


def _optional_str(rule, name):
    value = rule.get(name)
    if value is None or value == "" or value == "all":
        return None
    if not isinstance(value, str):
        raise FaultRuleError(f"{name} must be a string")
    return value


def _optional_int(rule, name, default, low, high):
    value = rule.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise FaultRuleError(f"{name} must be an integer")
    if not low <= value <= high:
        raise FaultRuleError(f"{name} must be between {low} and {high}")
    return value


def parse_fault_rule(rule):
    """Validate a fault rule from JSON and return it normalised.

    vendor/school/operation absent, null or "all" match anything. status
    defaults to 502 for an html body, 200 for another body or a delay only,
    else 500.
    Raises FaultRuleError with a readable message.
    """
    if not isinstance(rule, dict):
        raise FaultRuleError("a fault rule must be a JSON object")
    unknown = sorted(set(rule) - set(FAULT_FIELDS))
    if unknown:
        raise FaultRuleError("unknown field(s): " + ", ".join(unknown))
    body = rule.get("body")
    if body is not None and body not in FAULT_BODIES:
        raise FaultRuleError("body must be null or one of " + ", ".join(FAULT_BODIES))
    delay_ms = _optional_int(rule, "delay_ms", 0, 0, 600_000)
    if body == "html":
        default_status = 502          # what a proxy in front of the LAS would say
    else:
        default_status = 200 if (body is not None or delay_ms) else 500
    status = _optional_int(rule, "status", default_status, 200, 599)
    if 200 < status < 400:
        raise FaultRuleError("status must be 200 or 400..599")
    if status == 200 and body is None and not delay_ms:
        raise FaultRuleError("a rule with status 200 needs a body or a delay")
    return {
        "vendor": _optional_str(rule, "vendor"),
        "school": _optional_str(rule, "school"),
        "operation": _optional_str(rule, "operation"),
        "status": status,
        "count": _optional_int(rule, "count", 1, 1, 1_000_000),
        "delay_ms": delay_ms,
        "body": body,
        "retry_after": _optional_int(rule, "retry_after", None, 0, 86_400),
    }


class FaultPlan:
    """Ordered fault rules; the first rule matching a request is consumed."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []

    def add(self, rule):
        """Add a rule already normalised by parse_fault_rule()."""
        with self._lock:
            self._rules.append(dict(rule))

    def take(self, vendor, school, operation):
        """Consume one unit of the first matching rule; return a copy or None."""
        with self._lock:
            for rule in self._rules:
                if all(rule[k] is None or rule[k] == v for k, v in
                       (("vendor", vendor), ("school", school),
                        ("operation", operation))):
                    rule["count"] -= 1
                    if rule["count"] == 0:
                        self._rules.remove(rule)
                    return dict(rule)
        return None

    def list(self):
        """Return the pending rules (with their remaining counts)."""
        with self._lock:
            return [dict(r) for r in self._rules]

    def clear(self):
        """Drop every pending rule."""
        with self._lock:
            self._rules = []


class RequestLog:
    """Append-only request log; a no-op without a file."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8", buffering=1) if path else None

    def write(self, **fields):
        """Write one key=value line (values must not hold personal data)."""
        if self._file is None:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        line = " ".join(f"{k}={'-' if v is None else v}" for k, v in fields.items())
        with self._lock:
            self._file.write(f"ts={stamp}Z {line}\n")

    def close(self):
        """Close the file, if any."""
        if self._file is not None:
            self._file.close()
            self._file = None


class SimState:
    """Everything a request handler needs, shared by both listeners."""

    def __init__(self, fixtures, log_path, vendors):
        self.fixtures = fixtures
        self.vendors = vendors          # URL path -> vendor adapter
        self.stats = Stats()
        self.faults = FaultPlan()
        self.log = RequestLog(log_path)
