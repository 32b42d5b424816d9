"""A pre-warmed Python for the tests that drive the real dvc.yaml: stage commands start in ~0.1 s.

Every DVC stage runs ``python stages/<stage>.py ...``, and on a 2-core machine importing torch,
transformers and sentence-transformers costs ~10 s before a stage does anything: a pipeline of a
hundred tiny stages would spend most of its time importing. ``warm_python()`` starts one server
process that imports those libraries once, and puts a ``python`` shim first on ``PATH``. The shim
hands its argv, working directory, environment and stdin/stdout/stderr (over a Unix socket, as
file descriptors) to the server, which forks a child that runs the script with ``runpy`` exactly
as ``python script.py`` would, and relays the exit status. The stage scripts, ``dvc.yaml`` and
DVC itself are unchanged: only the interpreter's start-up is shared.

The project's own package is never imported by the server, so every stage imports ``sentemb``
fresh from the project under test (``PYTHONPATH``). The server runs no torch operation before
forking, so no thread pool is inherited.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

WARM = ("torch", "transformers", "sentence_transformers", "sklearn.cluster", "sklearn.neighbors", "scipy.stats",
        "matplotlib.pyplot", "numpy", "yaml", "safetensors.torch",
        # transformers imports these lazily, on the first model of each architecture: ~2-4 s a stage
        "transformers.modeling_utils", "transformers.generation.utils", "transformers.models.auto.modeling_auto",
        "transformers.models.auto.tokenization_auto", "transformers.models.bert.modeling_bert",
        "transformers.models.roberta.modeling_roberta", "transformers.models.distilbert.modeling_distilbert",
        "transformers.models.bert.tokenization_bert", "transformers.models.roberta.tokenization_roberta",
        "huggingface_hub")

SERVER = r'''
import importlib, json, os, runpy, signal, socket, struct, sys, traceback
os.environ.setdefault("MPLBACKEND", "Agg")
for name in sys.argv[2].split(","):
    try:
        importlib.import_module(name)
    except ImportError:  # another transformers version lays its modules out otherwise: only slower
        pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(64)
print("ready", flush=True)


def run(conn):
    msg, fds, _, _ = socket.recv_fds(conn, 1 << 22, 3)
    msg = json.loads(msg)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.chdir(msg["cwd"])
    os.environ.clear()
    os.environ.update(msg["env"])
    script = msg["argv"][1]
    sys.argv = msg["argv"][1:]
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:0] = [os.path.dirname(os.path.abspath(script))] + extra
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    conn.sendall(struct.pack("i", code))
    os._exit(code)


while True:
    conn, _ = srv.accept()
    if os.fork() == 0:
        srv.close()
        run(conn)
    conn.close()
    with __import__("contextlib").suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
'''

SHIM = r'''#!{python} -S
import json, os, socket, struct, sys
if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    sys.exit("the test's warm python runs scripts only: " + " ".join(sys.argv))
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect(os.environ["SENTEMB_WARM_PYTHON"])
msg = json.dumps({{"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ)}}).encode()
socket.send_fds(conn, [msg], [0, 1, 2])
status = conn.recv(4)
sys.exit(struct.unpack("i", status)[0] if len(status) == 4 else 137)  # no status: the child was killed
'''


@contextlib.contextmanager
def warm_python(pythonpath: Path, env: dict[str, str] | None = None,
                preload: tuple[str, ...] = ()) -> Iterator[dict[str, str]]:
    """Environment overrides that make ``python`` in PATH the warm interpreter; the server lives
    for the ``with`` block. ``pythonpath`` is the project's ``src`` directory; ``env`` is set in
    the server itself as well as returned, for what libraries read once at import (the
    huggingface_hub offline and cache variables). ``preload``: modules of the project imported
    once in the server too, for tests whose projects all hold the very same ``src`` (copies of
    one tree); never for a test that changes the code between runs."""
    tmp = Path(tempfile.mkdtemp(prefix="sentemb-warm-"))
    sock = tmp / "sock"
    (tmp / "server.py").write_text(SERVER)
    shim = tmp / "bin" / "python"
    shim.parent.mkdir()
    shim.write_text(SHIM.format(python=sys.executable))
    shim.chmod(0o755)
    extra = dict(env or {})
    server_env = os.environ | extra | {"PYTHONPATH": str(pythonpath), "TOKENIZERS_PARALLELISM": "false"}
    server = subprocess.Popen([sys.executable, str(tmp / "server.py"), str(sock), ",".join(WARM + preload)],
                              env=server_env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready", "warm python did not start"
        deadline = time.time() + 1800
        while not sock.exists() and time.time() < deadline:
            time.sleep(0.05)
        path = os.pathsep.join([str(shim.parent), str(Path(sys.executable).parent), os.environ["PATH"]])
        yield extra | {"PATH": path, "SENTEMB_WARM_PYTHON": str(sock), "PYTHONPATH": str(pythonpath)}
    finally:
        server.kill()
        server.wait()
