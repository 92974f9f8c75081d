"""Load on the HTTP API: N clients posting a photo to ``/api/analyze`` as fast as answers come back.

    python benchmarks/load.py [--clients 8] [--seconds 30] [--max-requests 20000] [--image examples/astronaut.png]

Starts ``moodtune serve`` itself on 127.0.0.1 at a free port with a library in a temporary folder, waits
until it answers, runs the clients (one keep-alive connection each) for ``--seconds`` or until
``--max-requests`` have been sent, then stops the server. Prints throughput, p50/p99 latency and errors.
Loopback only: it never talks to another machine. The target on a 2-core machine: no errors and
p99 <= 500 ms with 8 clients.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, server: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode} before it was ready")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer within {timeout:.0f} s")


def client(port: int, body: bytes, stop_at: float, budget: list, latencies: list, errors: list,
           lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < stop_at:
        with lock:  # the request budget is shared, so the run is bounded in count as well as time
            if budget[0] <= 0:
                return
            budget[0] -= 1
        start = time.perf_counter()
        try:
            conn.request("POST", "/api/analyze", body=body, headers={"Content-Type": "application/octet-stream"})
            response = conn.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - start
            if response.status != 200 or not json.loads(payload)["faces"]:
                errors.append(f"status {response.status}: {payload[:200]!r}")
            else:
                latencies.append(elapsed)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-requests", type=int, default=20000, help="stop after this many in all")
    parser.add_argument("--image", default=str(ROOT / "examples" / "astronaut.png"))
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 64 or not 0 < args.seconds <= 600:
        parser.error("--clients must be 1-64 and --seconds 0-600")
    body = Path(args.image).read_bytes()

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "moodtune", "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--db", str(Path(tmp) / "library.sqlite3")]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_ready(port, server)
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            budget = [args.max_requests]
            cpu_before = cpu_seconds(server.pid)
            started = time.monotonic()
            threads = [threading.Thread(target=client, args=(port, body, started + args.seconds, budget, latencies,
                                                             errors, lock), daemon=True)
                       for _ in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - started
            cpu_after = cpu_seconds(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    done = len(latencies)
    print(f"{args.clients} clients, {wall:.1f} s, image {Path(args.image).name} ({len(body) / 1024:.0f} KiB)")
    print(f"requests ok: {done}, errors: {len(errors)}, throughput: {done / wall:.1f} req/s")
    if latencies:
        ms = [x * 1000 for x in latencies]
        print(f"latency ms: p50 {percentile(ms, 50):.0f}, p99 {percentile(ms, 99):.0f}, "
              f"mean {statistics.fmean(ms):.0f}, max {max(ms):.0f}")
    if latencies and cpu_before is not None and cpu_after is not None:
        # Independent of what else the machine runs: what one request costs the server in CPU.
        print(f"server CPU per request: {(cpu_after - cpu_before) / done * 1000:.1f} ms")
    try:
        print(f"load average during the run (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    except OSError:
        pass
    for line in sorted(set(errors))[:5]:
        print(f"  error: {line}")
    return 1 if errors or not latencies else 0


if __name__ == "__main__":
    raise SystemExit(main())
