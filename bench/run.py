"""Throughput of NanoBrain against a bare Starlette baseline, measured in one run with wrk.

Both servers run under uvicorn with uvloop and httptools, pinned to CPU 0 while wrk is pinned to
CPU 1 (when taskset and two CPUs are available), and are driven in turn: each round runs every
scenario on the baseline, then on NanoBrain (a discarded warm-up, then the measured run), and the
report shows the round with the median ratio, with every round's ratio and the servers' CPU time
per request. Then the same no-op execute runs
through the distributed mode (an API server and 1, then 2, `nanobrain worker` processes on the
machine's PostgreSQL and Redis, in a database and key prefix of the bench's own), beside the
embedded figure. Results go to stdout and bench/RESULTS.md.

    python bench/run.py [--duration 10] [--connections 50] [--threads 2] [--warmup 3]
                        [--rounds 5] [--no-distributed]

The distributed scenarios use PostgreSQL and Redis on loopback (NANOBRAIN_TEST_POSTGRES and
NANOBRAIN_TEST_REDIS say where else), in a database and key prefix of their own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))  # the isolated PostgreSQL database and Redis prefix
from tests.support.backing import Backing, backing  # noqa: E402 - of the test suite

HOST = "127.0.0.1"
EXECUTE_BODY = json.dumps(
    {"workflow": "echo", "input": {"message": "hi"}, "wait": True}, separators=(",", ":")
)
EVENTS = 4  # a finished `echo` run's stream: queued, running, result, succeeded
TARGET = 0.40  # no-op execute: NanoBrain throughput / bare Starlette throughput
UVICORN_FLAGS = ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
NANOBRAIN_ENV = {
    "NANOBRAIN_WEB_INTERFACE__MONITORING__LOG_LEVEL": "warning",
    "NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__DEBUG": "false",
    # NanoBrain's own access log (INFO, so already silent at warning): off, as --no-access-log.
    "NANOBRAIN_WEB_INTERFACE__MONITORING__ACCESS_LOG": "false",
}
SCENARIOS = {"execute": "no-op execute", "events": f"event stream ({EVENTS} events)"}

# Counts non-2xx replies and SSE events per thread; done() sums them over the threads.
LUA = """
wrk.method = "{method}"
{body}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0; events = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  for _ in string.gmatch(body, "\\nevent: ") do events = events + 1 end
end
function done(summary, latency, requests)
  local bad, seen = 0, 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx"); seen = seen + t:get("events") end
  io.write(string.format("LUA non2xx=%d events=%d\\n", bad, seen))
end
"""


@dataclass
class Load:
    duration: int
    warmup: int
    connections: int
    threads: int
    pin: bool
    workdir: Path
    load_before: float = 0.0


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx replies plus socket errors
    events: int  # SSE events received (counted by the Lua script)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def pinned(cmd: list[str], cpu: int, pin: bool) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if pin else cmd


def http(method: str, url: str, body: str | None = None) -> tuple[int, bytes]:
    data = body.encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextlib.contextmanager
def server(
    name: str,
    cmd: list[str],
    ready_url: str,
    load: Load,
    env: dict[str, str],
    pin: bool = True,
) -> Iterator[int]:
    """Start a server (on CPU 0 if `pin`), wait until `ready_url` answers 200, yield its pid,
    then stop it."""
    log = (load.workdir / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        pinned(cmd, 0, load.pin and pin),
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                tail = (load.workdir / f"{name}.log").read_text()[-3000:]
                raise SystemExit(f"{name} did not come up:\n{tail}")
            with contextlib.suppress(OSError):
                if http("GET", ready_url)[0] == 200:
                    break
            time.sleep(0.2)
        yield proc.pid
    finally:
        proc.terminate()  # uvicorn shuts down gracefully on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(output: str) -> WrkResult:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise SystemExit(f"could not find {pattern!r} in wrk's output:\n{output}")
        return match

    p50, p99 = (find(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$") for p in (50, 99))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    lua = find(r"^LUA non2xx=(\d+) events=(\d+)")
    return WrkResult(
        rps=float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=_ms(*p50.groups()),
        p99_ms=_ms(*p99.groups()),
        requests=int(find(r"^\s+(\d+) requests in").group(1)),
        errors=int(lua.group(1)) + (sum(map(int, sockets.groups())) if sockets else 0),
        events=int(lua.group(2)),
    )


def run_wrk(url: str, method: str, body: str | None, load: Load) -> WrkResult:
    """A discarded warm-up run, then the measured one."""
    script = load.workdir / f"{method.lower()}.lua"
    lua_body = f'wrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"'
    script.write_text(LUA.format(method=method, body=lua_body if body else ""))
    result: WrkResult | None = None
    for seconds in (load.warmup, load.duration):
        cmd = ["wrk", "--latency", "-t", str(load.threads), "-c", str(load.connections)]
        cmd += ["-d", f"{seconds}s", "-s", str(script), url]
        done = subprocess.run(pinned(cmd, 1, load.pin), capture_output=True, text=True, check=True)
        result = parse_wrk(done.stdout)
    assert result is not None
    return result


def succeeded(url: str) -> str:
    """POST the no-op execute body once; fail unless the reply is 200 and succeeded."""
    status, reply = http("POST", url, EXECUTE_BODY)
    outcome = json.loads(reply) if status == 200 else {}
    if outcome.get("status") != "succeeded":
        raise SystemExit(f"{url} answered {status}: {reply[:300]!r}")
    return str(outcome["execution_id"])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    """One scenario on one server in one round: wrk's figures and the server's CPU per request."""

    wrk: WrkResult
    cpu_us: float


def measure(pid: int, url: str, method: str, body: str | None, load: Load) -> Measured:
    before = cpu_seconds(pid)
    result = run_wrk(url, method, body, load)  # the warm-up's CPU counts too: subtract it below
    spent = cpu_seconds(pid) - before
    share = load.duration / (load.duration + load.warmup)
    return Measured(result, spent * share / max(result.requests, 1) * 1e6)


Scenario = Callable[[], tuple[str, str, str | None]]
"""Prepares a scenario just before it is driven: (url, method, body)."""


@contextlib.contextmanager
def baseline_server(load: Load) -> Iterator[tuple[int, dict[str, Scenario]]]:
    port = free_port()
    base = f"http://{HOST}:{port}"
    cmd = [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "baseline_app:app"]
    cmd += ["--host", HOST, "--port", str(port), *UVICORN_FLAGS, "--log-level", "warning"]
    with server("baseline", cmd, f"{base}/events?n=1", load, {}) as pid:
        succeeded(f"{base}/execute")
        yield (
            pid,
            {
                "execute": lambda: (f"{base}/execute", "POST", EXECUTE_BODY),
                "events": lambda: (f"{base}/events?n={EVENTS}", "GET", None),
            },
        )


@contextlib.contextmanager
def nanobrain_server(load: Load) -> Iterator[tuple[int, dict[str, Scenario]]]:
    port = free_port()
    base = f"http://{HOST}:{port}/api/v1"
    execute_url = f"{base}/workflows/execute"
    cmd = [sys.executable, "-m", "nanobrain", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(load.workdir / "nanobrain-data")]

    def replayed_run() -> tuple[str, str, str | None]:
        """A run made just now, so the bus holds its whole stream (a run from before the
        execute load may have left the bus's 10,000 newest streams)."""
        events_url = f"{base}/workflows/{succeeded(execute_url)}/events"
        status, stream = http("GET", events_url)
        if status != 200 or stream.count(b"\nevent: ") != EVENTS:
            raise SystemExit(f"expected {EVENTS} events, got {status}: {stream[:500]!r}")
        return events_url, "GET", None

    with server("nanobrain", cmd, f"{base}/health/live", load, NANOBRAIN_ENV) as pid:
        succeeded(execute_url)  # checked once before any load
        yield pid, {"execute": lambda: (execute_url, "POST", EXECUTE_BODY), "events": replayed_run}


def bench_rounds(load: Load, rounds: int) -> list[dict[str, dict[str, Measured]]]:
    """Both servers up at once (the idle one costs nothing); each round drives each scenario on
    the baseline and then on NanoBrain, so drifts in what else the machine does hit both."""
    results: list[dict[str, dict[str, Measured]]] = []
    with baseline_server(load) as (base_pid, base), nanobrain_server(load) as (nano_pid, nano):
        for _ in range(rounds):
            results.append(
                {
                    key: {
                        "baseline": measure(base_pid, *base[key](), load),
                        "NanoBrain": measure(nano_pid, *nano[key](), load),
                    }
                    for key in SCENARIOS
                }
            )
    return results


def start_workers(
    stack: contextlib.ExitStack, label: str, count: int, load: Load, env: dict[str, str]
) -> None:
    """`count` workers (unpinned), each up once its metrics endpoint answers."""
    for index in range(count):
        metrics = free_port()
        name = f"{label}-{count}-{index}"
        cmd = [sys.executable, "-m", "nanobrain", "worker", "--name", name]
        cmd += ["--metrics-port", str(metrics), "--data-dir", str(load.workdir / "workers")]
        ready = f"http://{HOST}:{metrics}/metrics"
        stack.enter_context(server(name, cmd, ready, load, env, pin=False))


def distributed_env(services: Backing) -> dict[str, str]:
    return {**NANOBRAIN_ENV, **services.env}


def bench_distributed(load: Load, workers: int, env: dict[str, str]) -> WrkResult:
    """The no-op execute through one API server whose executions run on `workers` workers."""
    with contextlib.ExitStack() as stack:
        start_workers(stack, "worker", workers, load, env)
        port = free_port()
        base = f"http://{HOST}:{port}/api/v1"
        cmd = [sys.executable, "-m", "nanobrain", "serve", "--port", str(port)]
        cmd += ["--data-dir", str(load.workdir / "distributed-api")]
        ready = f"{base}/health/ready"
        stack.enter_context(server(f"api-{workers}", cmd, ready, load, env, pin=False))
        execute_url = f"{base}/workflows/execute"
        succeeded(execute_url)
        return run_wrk(execute_url, "POST", EXECUTE_BODY, load)


def bench_drain(load: Load, workers: int, env: dict[str, str], jobs: int = 2000) -> float:
    """Jobs per second that `workers` workers drain from a queue filled beforehand (submitted
    without waiting): the workers' own throughput, apart from the API's."""
    with contextlib.ExitStack() as stack:
        port = free_port()
        base = f"http://{HOST}:{port}/api/v1"
        cmd = [sys.executable, "-m", "nanobrain", "serve", "--port", str(port)]
        cmd += ["--data-dir", str(load.workdir / "drain-api")]
        stack.enter_context(server(f"drain-api-{workers}", cmd, f"{base}/health/live", load, env))
        body = json.dumps({"workflow": "echo", "input": {"message": "hi"}})
        url = f"{base}/workflows/execute"
        with ThreadPoolExecutor(16) as pool:
            replies = list(pool.map(lambda _: http("POST", url, body), range(jobs)))
        if any(status != 202 for status, _ in replies):
            raise SystemExit(f"submitting the drain jobs failed: {replies[0]}")
        started = time.monotonic()
        start_workers(stack, "drain", workers, load, env)
        while any(
            json.loads(http("GET", f"{base}/executions?status={status}&limit=1")[1])["items"]
            for status in ("queued", "running")
        ):
            time.sleep(0.05)
        return jobs / (time.monotonic() - started)


def distributed_report(
    embedded: WrkResult, distributed: dict[int, WrkResult], drained: dict[int, float]
) -> str:
    lines = [
        "",
        "## Executions per second: embedded and distributed",
        "",
        "The same no-op execute (`echo`, `wait: true`, so each request is one whole execution). "
        "Distributed: one API server, its executions on `nanobrain worker` processes through "
        "Redis (taskiq stream broker, event streams) with records in PostgreSQL, all on this "
        "machine and unpinned (they share its CPUs with PostgreSQL and Redis); wrk as above. "
        f"With {os.cpu_count()} CPUs for all of them, a second worker adds contention rather "
        "than capacity: these figures measure what the distributed path costs per execution, "
        "not how it scales across machines.",
        "",
        "Drained: 2,000 `echo` jobs submitted without waiting, then the workers start; jobs per "
        "second from their start (worker start-up included) until every execution is final.",
        "",
        "| mode | executions/s | p50 ms | p99 ms | vs embedded | drained jobs/s |",
        "|---|--:|--:|--:|--:|--:|",
        f"| embedded (in-process) | {embedded.rps:,.0f} | {embedded.p50_ms:.2f} | "
        f"{embedded.p99_ms:.2f} | 1.00 | - |",
    ]
    for workers, result in sorted(distributed.items()):
        flag = f" **{result.errors} errors**" if result.errors else ""
        lines.append(
            f"| distributed, {workers} worker{'s' if workers > 1 else ''} | {result.rps:,.0f} | "
            f"{result.p50_ms:.2f} | {result.p99_ms:.2f}{flag} | {result.rps / embedded.rps:.2f} | "
            f"{drained[workers]:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    cpu = model.group(1).strip() if model else platform.processor() or "unknown CPU"
    return f"{os.cpu_count()} CPUs (nproc), {cpu}, Python {platform.python_version()}"


def median_round(
    rounds: list[dict[str, dict[str, Measured]]], key: str
) -> tuple[dict[str, Measured], list[float]]:
    """The round whose NanoBrain/baseline ratio is the median one, and every round's ratio."""
    ratios = [r[key]["NanoBrain"].wrk.rps / r[key]["baseline"].wrk.rps for r in rounds]
    middle = sorted(range(len(rounds)), key=lambda index: ratios[index])[len(rounds) // 2]
    return rounds[middle][key], ratios


def report(rounds: list[dict[str, dict[str, Measured]]], load: Load) -> str:
    def cell(m: Measured) -> str:
        r = m.wrk
        flag = f" **{r.errors} errors**" if r.errors else ""
        return f"{r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f}{flag} | {m.cpu_us:.0f}"

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    pinning = (
        "both servers pinned to CPU 0, wrk to CPU 1 (taskset)"
        if load.pin
        else "no CPU pinning (taskset or a second CPU missing)"
    )
    lines = [
        "# NanoBrain vs bare Starlette",
        "",
        f"- date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- machine: {machine()}; load average when the run began: {load.load_before:.2f}",
        f"- command: `{' '.join(['python', 'bench/run.py', *sys.argv[1:]])}`",
        f"- load: wrk ({wrk_version.split(' [')[0].strip()}), {load.threads} threads, "
        f"{load.connections} connections, {load.duration} s per run after a discarded "
        f"{load.warmup} s warm-up; {pinning}",
        "- servers: one uvicorn process each, uvloop + httptools, no access log, log level "
        f"warning; both up for the whole run, driven in turn: {len(rounds)} round(s), each "
        "running every scenario on the baseline, then on NanoBrain, so what else the machine "
        "does meanwhile hits both. The row shows the round with the median ratio.",
        "- CPU us/req: the server process's user + system CPU time (all threads) per request "
        "during the measured run: a figure that other load on the machine disturbs less than "
        "throughput does",
        "- NanoBrain: `python -m nanobrain serve` (development profile, no auth, bundled "
        "examples); execute = `echo` with `wait: true`, each request one whole execution "
        "(record, 4 events, the durable row and the audit entry); events = replay of a "
        "finished run",
        "",
        "| scenario | baseline req/s | p50 ms | p99 ms | CPU us/req | NanoBrain req/s | p50 ms "
        "| p99 ms | CPU us/req | NanoBrain/baseline | target | met |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|",
    ]
    notes = []
    for key, title in SCENARIOS.items():
        middle, ratios = median_round(rounds, key)
        ratio = middle["NanoBrain"].wrk.rps / middle["baseline"].wrk.rps
        target, met = ("-", "-")
        if key == "execute":
            target, met = (f">= {TARGET:.2f}", "yes" if ratio >= TARGET else "**no**")
        row = [title, cell(middle["baseline"]), cell(middle["NanoBrain"]), f"{ratio:.2f}"]
        lines.append(f"| {' | '.join([*row, target, met])} |")
        cpu_ratios = sorted(r[key]["baseline"].cpu_us / r[key]["NanoBrain"].cpu_us for r in rounds)
        notes.append(
            f"- {title}: NanoBrain/baseline throughput by round "
            f"{', '.join(f'{value:.2f}' for value in ratios)}; baseline/NanoBrain CPU per "
            f"request by round {', '.join(f'{value:.2f}' for value in cpu_ratios)}"
        )
    lines += ["", *notes]
    for name in ("baseline", "NanoBrain"):
        events = median_round(rounds, "events")[0][name].wrk
        per_stream = events.events / events.requests if events.requests else 0.0
        lines.append(
            f"- {name} event stream: {events.rps * per_stream:,.0f} events/s "
            f"({per_stream:.2f} events per stream counted by wrk)"
        )
    errors = [
        f"{name} {key}: {m.wrk.errors}"
        for r in rounds
        for key, pair in r.items()
        for name, m in pair.items()
        if m.wrk.errors
    ]
    lines.append(f"- errors (non-2xx replies or socket errors): {', '.join(errors) or 'none'}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of discarded warm-up")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--rounds", type=int, default=5, help="baseline/NanoBrain turns (the median is shown)"
    )
    parser.add_argument(
        "--no-distributed", action="store_true", help="skip the distributed-mode scenarios"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH; install it first (e.g. `apt-get install -y wrk`)")
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    pin = shutil.which("taskset") is not None and {0, 1} <= cpus
    with tempfile.TemporaryDirectory(prefix="nanobrain-bench-") as tmp:
        load = Load(args.duration, args.warmup, args.connections, args.threads, pin, Path(tmp))
        load.load_before = os.getloadavg()[0]
        rounds = bench_rounds(load, args.rounds)
        distributed: dict[int, WrkResult] = {}
        drained: dict[int, float] = {}
        if not args.no_distributed:
            for workers in (1, 2):
                with backing("bench") as services:
                    distributed[workers] = bench_distributed(
                        load, workers, distributed_env(services)
                    )
                with backing("bench") as services:
                    drained[workers] = bench_drain(load, workers, distributed_env(services))
    text = report(rounds, load)
    if distributed:
        embedded = median_round(rounds, "execute")[0]["NanoBrain"].wrk
        text += distributed_report(embedded, distributed, drained)
    print(text)
    (BENCH / "RESULTS.md").write_text(text)


if __name__ == "__main__":
    main()
