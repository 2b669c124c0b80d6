"""`omsx up` (what `make run` starts): every Procfile process, a publish, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from omsx.embedded import free_port
from tests.builders import erz_for, register

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
BIN = Path(sys.executable).parent


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return resp.read().decode()


def _log_in_as_demo(base: str, up_log: Path) -> str:
    """Log in with the one-time demo login ``omsx up`` printed; the overview page."""
    import http.cookiejar
    import re
    import urllib.parse

    printed = re.search(r"log in as demo / (\S+) ", up_log.read_text())
    assert printed, up_log.read_text()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(f"{base}/login", timeout=5) as resp:
        token = re.search(r'name="_csrf_token" value="([^"]+)"', resp.read().decode())
    assert token
    form = {"username": "demo", "password": printed.group(1), "next": "/",
            "_csrf_token": token.group(1)}  # fmt: skip
    body = urllib.parse.urlencode(form).encode()
    with opener.open(f"{base}/login", data=body, timeout=5) as resp:  # follows to /
        return str(resp.read().decode())


def _wait_http(url: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _get(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_omsx_up_runs_every_process_answers_a_publish_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    admin_port = free_port()
    env = {
        **os.environ,
        "OMSX_DATA_DIR": str(tmp_path / "var"),
        "OMSX_NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "OMSX_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "OMSX_ADMIN_PORT": str(admin_port),
        "OMSX_WORKER_PROCESSES": "1",
        "OMSX_BROKER": "redis",
    }
    env.pop("OMSX_DATABASE_URL", None)
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [str(BIN / "omsx"), "up"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        page = _wait_http(f"http://127.0.0.1:{admin_port}/")  # the login, before any session
        assert "Войти" in page
        page = _log_in_as_demo(f"http://127.0.0.1:{admin_port}", tmp_path / "up.log")
        assert "Очереди" in page and "demo (operator)" in page
        name, data = register("HM640001S64004_25111", n=2)
        erz_name, erz = erz_for((name, data))
        (tmp_path / name).write_bytes(data)
        (tmp_path / erz_name).write_bytes(erz)
        for file, party in ((erz_name, "smo.64004"), (name, "mo.640001")):
            pub = subprocess.run(
                [
                    str(BIN / "omsx"),
                    "publish",
                    str(tmp_path / file),
                    "--as",
                    party,
                    "--wait",
                    "--timeout",
                    "90",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            output = pub.stdout + pub.stderr + (tmp_path / "up.log").read_text()
            assert pub.returncode == 0, output
        assert "VHM640001S64004_25111.xml  RESULT A  принято 2" in pub.stdout
        assert (tmp_path / "var" / "omsx.db").is_file()
        health = _get(f"http://127.0.0.1:{admin_port}/health")
        assert '"database":"ok"' in health.replace(" ", "")
    finally:
        os.kill(up.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends to honcho
        try:
            code = up.wait(timeout=30)
        finally:
            log.close()
            if up.poll() is None:
                os.killpg(up.pid, signal.SIGKILL)
    out = (tmp_path / "up.log").read_text()
    assert code is not None
    # every process was started, and honcho saw each one stop
    for proc in ("nats", "redis", "ingest", "worker", "scheduler", "admin"):
        assert f"{proc}.1" in out, out
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout.strip() == "", f"processes left running: {leftovers.stdout}"
