"""CPU time from /proc while a benchmark level runs: the machine's, and by whom (gunicorn,
PostgreSQL, the bench and its clients, everything else), for ``label_save_latency.py``.
"""

from __future__ import annotations

import os
import threading
from collections import Counter


class CpuMonitor:
    """CPU time used while a level runs: the machine's, and by whom, from /proc.

    Samples every half second, so the time of processes that end meanwhile is counted too
    (a gunicorn worker's database connection is replaced after ``CONN_MAX_AGE`` seconds, and
    with it its PostgreSQL backend). Kinds: ``gunicorn`` (the master whose pid is
    ``watch["gunicorn"]`` and its workers), ``postgres`` (background processes and the
    backends connected to ``watch["database"]``), ``bench`` (this script and its client
    processes) and ``other`` (everything else on the machine, by process name).
    """

    def __init__(self, watch: dict) -> None:
        self.watch = watch
        self.database = f" {watch['database']} ".encode()
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.first: dict[int, tuple[str, str, float]] = {}
        self.latest: dict[int, tuple[str, str, float]] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> CpuMonitor:
        self.machine_first = self._machine()
        self.first = self._processes()
        self.latest = dict(self.first)
        self.thread.start()
        return self

    def stop(self) -> dict:
        """CPU seconds: ``seconds`` that passed on all cores, ``busy`` and each kind's."""
        self.stopping.set()
        self.thread.join()
        self.latest.update(self._processes())
        busy, total = (b - a for a, b in zip(self.machine_first, self._machine(), strict=True))
        used = Counter(dict.fromkeys(("gunicorn", "postgres", "bench", "other"), 0.0))
        others: Counter = Counter()
        for pid, (kind, name, seconds) in self.latest.items():
            before = self.first[pid][2] if pid in self.first else 0.0
            delta = seconds - before if seconds >= before else seconds  # else a reused pid
            used[kind] += delta
            if kind == "other":
                others[name.split("/")[0]] += delta  # kworker/1:0-events: kworker
        return {"seconds": total, "busy": busy, **used, "top_others": others.most_common(3)}

    def _run(self) -> None:
        while not self.stopping.wait(0.5):
            self.latest.update(self._processes())

    def _machine(self) -> tuple[float, float]:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:9]]
        idle = fields[3] + fields[4]  # idle and iowait
        return (sum(fields) - idle) / self.ticks, sum(fields) / self.ticks

    def _processes(self) -> dict[int, tuple[str, str, float]]:
        me = os.getpid()
        found = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    line = stat.read()
                with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                    command = cmdline.read()
            except OSError:
                continue
            pid = int(entry.name)
            name = line[line.index("(") + 1 : line.rindex(")")]
            rest = line[line.rindex(")") + 2 :].split()
            parent = int(rest[1])
            seconds = (int(rest[11]) + int(rest[12])) / self.ticks  # utime, stime
            if self.watch["gunicorn"] in (pid, parent):
                kind = "gunicorn"
            elif name == "postgres":
                backend = b"(" in command or b"[local]" in command  # "user db host(port) state"
                kind = "postgres" if not backend or self.database in command else "other"
            elif me in (pid, parent):
                kind = "bench"
            else:
                kind = "other"
            found[pid] = (kind, name, seconds)
        return found
