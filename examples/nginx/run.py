"""Run nginx in the foreground in front of examples/workers.py.

    python examples/workers.py --redis redis://127.0.0.1:6379/0 --port 8000 &
    python examples/nginx/run.py --listen 8080 --backend 8000

or, two chat processes sharing their room through Redis, balanced by nginx::

    python examples/chat_server.py --port 8001 --redis redis://127.0.0.1:6379/0 &
    python examples/chat_server.py --port 8002 --redis redis://127.0.0.1:6379/0 &
    python examples/nginx/run.py --listen 8080 --backend 8001 --backend 8002

then open http://127.0.0.1:8080/ in two browser tabs. The configuration is
nginx.conf.template with the ports filled in, written into ``--prefix``
(a new temporary directory by default) with the pid file, the logs and
nginx's temporary files. nginx runs as the current user, in one process,
until Ctrl-C. Needs the ``nginx`` binary (Debian: ``apt-get install nginx``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"

# Where distributions install nginx when /usr/sbin is not on a user's PATH.
FALLBACK_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx")


def find_nginx() -> str | None:
    """The nginx binary, or None when it is not installed."""
    found = shutil.which("nginx")
    if found is not None:
        return found
    return next((path for path in FALLBACK_PATHS if os.access(path, os.X_OK)), None)


def render(listen_port: int, backend_ports: int | Sequence[int]) -> str:
    """The template with the ports filled in (a `server` line per backend)."""
    if isinstance(backend_ports, int):
        backend_ports = [backend_ports]
    servers = "\n".join(f"        server 127.0.0.1:{port};" for port in backend_ports)
    text = TEMPLATE.read_text()
    text = text.replace("@LISTEN_PORT@", str(listen_port))
    return text.replace("@BACKEND_SERVERS@", servers)


def prepare(prefix: Path, listen_port: int, backend_ports: int | Sequence[int]) -> Path:
    """Write nginx.conf and create logs/ and temp/ under ``prefix``."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "temp").mkdir(exist_ok=True)
    config = prefix / "nginx.conf"
    config.write_text(render(listen_port, backend_ports))
    return config


def command(nginx: str, prefix: Path) -> list[str]:
    """nginx in the foreground, one process, every path under ``prefix``.

    ``-e stderr`` routes the messages nginx writes before it has read the
    configuration (it would try the distribution's /var/log/nginx otherwise).
    """
    return [
        nginx,
        "-p",
        f"{prefix}/",
        "-c",
        str(prefix / "nginx.conf"),
        "-e",
        "stderr",
        "-g",
        "daemon off; master_process off;",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="nginx in front of workers.py")
    parser.add_argument("--listen", type=int, default=8080, help="nginx's port")
    parser.add_argument(
        "--backend",
        type=int,
        action="append",
        help="a backend's port (repeat for several; default 8000)",
    )
    parser.add_argument("--prefix", type=Path, help="default: a temporary directory")
    args = parser.parse_args()
    nginx = find_nginx()
    if nginx is None:
        sys.exit("nginx is not installed (Debian: apt-get install nginx)")
    prefix = args.prefix or Path(tempfile.mkdtemp(prefix="trio_ws_nginx_"))
    prepare(prefix.resolve(), args.listen, args.backend or [8000])
    print(f"nginx on http://127.0.0.1:{args.listen}/ (files in {prefix})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # nginx got the SIGINT too
        subprocess.run(command(nginx, prefix.resolve()), check=True)


if __name__ == "__main__":
    main()
