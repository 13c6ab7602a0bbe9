"""`make run`: migrate, seed the demo organizer, run web + worker + beat, play the demo.

Everything runs on the embedded defaults unless the environment says otherwise (see the
README's settings table). Ctrl-C stops every process this script started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PORT = int(os.environ.get("PORT", "5000"))


def main() -> int:
    # A terminal closing or a process manager stopping us must stop what we started, as Ctrl-C
    # does: turn SIGTERM and SIGHUP into the same interrupt, so `finally` runs.
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, _interrupt)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{PORT}")
    flask = [str(BIN / "flask"), "--app", "service"]
    celery = [str(BIN / "celery"), "-A", "tasks.worker"]

    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True)
    seeded = subprocess.run(
        [*flask, "seed-demo"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    credentials = json.loads(seeded.stdout)

    roles = {
        "web": [*flask, "run", "--host", "127.0.0.1", "--port", str(PORT), "--no-reload"],
        "worker": [*celery, "worker", "--loglevel=INFO", "--concurrency=2"],
        "beat": [*celery, "beat", "--loglevel=INFO"],
    }
    processes = {
        name: subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        for name, command in roles.items()
    }
    try:
        base = env["PUBLIC_BASE_URL"]
        _wait_healthy(base, processes)
        print(_banner(base, credentials), flush=True)
        played = subprocess.run(
            [*flask, "play-demo"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        )
        counts = json.loads(played.stdout)
        print(
            f"\nDemo played through {credentials['webhook_url']}: {counts['accepted']} accepted, "
            f"{counts['duplicate']} duplicate (already sent on an earlier run), "
            f"{counts['rejected']} rejected.\nPress Ctrl-C to stop.\n",
            flush=True,
        )
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        stopped = [name for name, process in processes.items() if process.poll() is not None]
        print(f"{', '.join(stopped)} stopped; shutting down the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(processes)


def _interrupt(number: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_healthy(base: str, processes: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if processes["web"].poll() is not None:
            raise SystemExit("the web process exited during start-up")
        try:
            if requests.get(f"{base}/healthz", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{base}/healthz did not answer within 60 s")


def _banner(base: str, credentials: dict[str, str]) -> str:
    return f"""
Roomwise is running at {base}
  admin pages    {base}/admin/
  admin login    {credentials["login_email"]} / {credentials["login_password"]}
  API token      {credentials["api_token"]}
  webhook URL    {credentials["webhook_url"]}
  signing secret {credentials["signing_secret"]}

Try:
  curl -s -H 'Authorization: Bearer {credentials["api_token"]}' {base}/api/v1/gatherings
  curl -s -H 'Authorization: Bearer {credentials["api_token"]}' {base}/api/v1/deliveries
"""


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()  # the role's main process shuts its own children down
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
