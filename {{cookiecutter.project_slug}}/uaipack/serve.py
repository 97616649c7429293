"""`invoke serve`: the image's server on the host, without Docker, reloading on code changes.

The same gunicorn + Django server as in the image, run from server/ with the code root
(UAI_CODE_DIR) and the conf (UAI_SERVICE_CONFIG) pointing into this project. The model's
own packages (requirements.txt) must be installed on the host for this.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from uaipack import UserError
from uaipack.progress import say
from uaipack.settings import Project


def serve_command(project: Project, port: int) -> tuple[list[str], dict[str, str]]:
    """The gunicorn command line and environment for a reloading server on 127.0.0.1:port."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        raise UserError("gunicorn is not installed on the host; `pip install -r requirements-tools.txt`.")
    if not (project.server_dir / "gunicorn.conf.py").is_file():
        raise UserError(
            f"{project.server_dir}/gunicorn.conf.py is missing; restore server/ from the template."
        )
    # Watch code/ from the start: gunicorn's reloader sees an imported module only at its next
    # scan, so an edit made before then (just after the model loaded) would go unnoticed.
    watched = [project.conf_path, *sorted(project.code_dir.rglob("*.py"))]
    command = [str(gunicorn), "-c", "gunicorn.conf.py", "httpserver.wsgi", "--reload"]
    for path in watched:
        command += ["--reload-extra-file", str(path)]
    environment = {
        **os.environ,
        "UAI_CODE_DIR": str(project.code_dir),
        "UAI_SERVICE_CONFIG": str(project.conf_path),
        "BIND_HOST": "127.0.0.1",
        "PORT": str(port),
    }
    return command, environment


def serve(project: Project, port: int) -> int:
    """Run until Ctrl-C; returns the server's exit code."""
    command, environment = serve_command(project, port)
    say(f"serving {project.code_dir} on http://127.0.0.1:{port}/service (reloads on changes; Ctrl-C stops)")
    say(f"console: http://127.0.0.1:{port}/ (try the model in a browser; API: /openapi.json)")
    try:
        return subprocess.run(command, cwd=project.server_dir, env=environment).returncode
    except KeyboardInterrupt:
        return 0
