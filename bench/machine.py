"""What the machine is doing while a benchmark measures, read from /proc.

Every benchmark reports how many cores each program kept busy during a measured run, so a
figure taken while something else loaded the machine is recognised and run again. The
figures come from the cumulative CPU ticks in `/proc/<pid>/stat` and `/proc/stat`, read
before and after the run. A PostgreSQL server is shared: its backends are told apart by the
database they serve, because another database's backends are someone else's load.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from bench.errors import BenchmarkError

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
# Cores kept busy by programs outside a benchmark's stack from which its figures are suspect.
FOREIGN_LOAD_WARNING = 0.05
# What `process_table` names a PostgreSQL process that works for another database.
OTHER_DATABASES = "postgres (other databases)"
# The process title of a PostgreSQL backend or autovacuum worker names its database.
POSTGRES_BACKEND_TITLE = re.compile(
    r"postgres: [^:]+: (?:autovacuum worker (?P<av_database>\S+)"
    r"|\S+ (?P<database>\S+) (?:\S+\(\d+\)|\[local\]))"
)


class Process(NamedTuple):
    """One line of the process table."""

    name: str
    parent: int
    ticks: int  # CPU ticks used so far, user and system
    resident_kb: int
    started: int  # clock ticks after boot: with the pid, tells a process from a later one


@dataclass(frozen=True)
class CpuSnapshot:
    """Every process's CPU ticks, and the whole machine's, at one moment."""

    processes: dict[int, Process]
    machine_busy: int
    machine_total: int
    taken_at: float  # time.monotonic(), once read


def serves_database(proc_dir: str, database: str) -> bool:
    """Whether a PostgreSQL process works for `database`: a backend connected to it, or a
    server-wide process (WAL writer, checkpointer) that every database shares."""
    try:
        title = Path(proc_dir, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True
    match = POSTGRES_BACKEND_TITLE.match(title)
    return match is None or database in (match["database"], match["av_database"])


def process_table(database: str | None = None) -> dict[int, Process]:
    """pid → every process's program name, parent, CPU ticks and resident memory.

    With `database`, a PostgreSQL process that works for another database is named
    `OTHER_DATABASES`, so its CPU does not count as the benchmark's."""
    table: dict[int, Process] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if database and name == "postgres" and not serves_database(entry.path, database):
            name = OTHER_DATABASES
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])
        rss_kb = int(fields[21]) * PAGE_KB
        table[int(entry.name)] = Process(name, int(fields[1]), ticks, rss_kb, int(fields[19]))
    return table


def machine_ticks() -> tuple[int, int]:
    """Busy and total CPU ticks of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def cpu_snapshot(database: str | None = None) -> CpuSnapshot:
    """The process table (see `process_table`) and the machine's ticks, now."""
    processes = process_table(database)
    busy, total = machine_ticks()
    return CpuSnapshot(processes, busy, total, time.monotonic())


def cores_by_group(
    before: CpuSnapshot,
    after: CpuSnapshot,
    group: Callable[[int, Process], str],
    *,
    seconds: float | None = None,
    floor: float = 0.0,
) -> dict[str, float]:
    """Average cores each group of processes kept busy between the snapshots, busiest first.

    `group` names the group of a process of `after`; `seconds` is the time measured (by
    default, the time between the snapshots); groups under `floor` cores are left out. A
    process counts from `before`, or from its start when it is new there; it is the same
    process when its pid and start time are, whatever its name (kernel workers rename
    themselves after the queue they last served). One that ended before `after` is in no
    group: the machine's busy time (`machine_busy_fraction`) counts it."""
    elapsed = after.taken_at - before.taken_at if seconds is None else seconds
    used: dict[str, int] = {}
    for pid, process in after.processes.items():
        earlier = before.processes.get(pid)
        same = earlier is not None and earlier.started == process.started
        spent = process.ticks - (earlier.ticks if earlier and same else 0)
        name = group(pid, process)
        used[name] = used.get(name, 0) + spent
    return {
        name: round(ticks / CLOCK_TICKS / elapsed, 2)
        for name, ticks in sorted(used.items(), key=lambda item: -item[1])
        if ticks / CLOCK_TICKS / elapsed >= floor
    }


def machine_busy_fraction(before: CpuSnapshot, after: CpuSnapshot) -> float:
    """The share of the machine's CPU time that was busy between the snapshots."""
    total = after.machine_total - before.machine_total
    return (after.machine_busy - before.machine_busy) / total if total else 0.0


def descendants(root: int, table: Mapping[int, Process]) -> set[int]:
    """`root` and every process it started, and they started, in `table`."""
    found = {root}
    grew = True
    while grew:
        more = {pid for pid, row in table.items() if row.parent in found and pid not in found}
        found |= more
        grew = bool(more)
    return found


def status_kb(pid: int, key: str) -> int:
    """A `/proc/<pid>/status` figure in kB (VmHWM: peak resident memory; VmRSS: current)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise BenchmarkError(f"/proc/{pid}/status has no {key}")
