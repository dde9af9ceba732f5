#!/usr/bin/env python3
"""Run Starling from a clone with nothing but Python 3.11+ (no pip, no uv, no admin rights needed).

    python3 run.py              the console (or ``starling serve`` when Slack/Teams credentials are set)
    python3 run.py serve ...    any ``starling`` command with its arguments
    python3 run.py test ...     the test suite (``pytest`` with its arguments)
    python3 run.py uv ...       the pinned uv itself, e.g. ``python3 run.py uv run ruff check .``

The first run makes a private tool folder ``.tools/`` in this clone: a virtual environment made with the
standard library's ``venv`` holding the pinned uv, installed from the package index with its hash checked.
It never installs into the Python you run it with (so it works on Debian and Ubuntu, whose system Python
refuses ``pip install``: PEP 668). uv then installs Starling and its locked dependencies into ``.venv``.
Where the Python lacks ``ensurepip`` (Debian without ``python3-venv``), the pinned pip wheel is fetched from
the package index, its hash checked, and run from the wheel file.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

MIN_PYTHON = (3, 11)
UV_VERSION = "0.13.9"
# sha256 of every uv 0.13.9 wheel on the package index (pip picks the one for this machine and checks it).
UV_HASHES = (
    "56ec37616c00220032fc7b8c9d0ef51367fd0d70d9cd6ddd841660f949f84fed",
    "c16ed11e013557536b3e60065f1b912f6407bd6518e041b961e23ef9e6b4fbf5",
    "66c512266d633bef48384a1f53003f41f2a8e7b36fe6e7fbfd3e0fd52d96fa63",
    "5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe",
    "7ec1e1dd9b6cb335c301afdf877989df384227313981850755a59561f75e4ab8",
    "16963d19594e18d746a70c7fce82237bde4f2cac4cfcf0ca2b84796fe9d0c6e9",
    "db5c8df7145c21ffea9c0f74e38823bac3af60cbadf0e26b8633f08627b17bab",
    "c5dbdb7c8737cd183a9dce95b39cfd1f3d54ec2a27a1bb58f160293f9ba2c805",
    "a6e845f387e4ed55bb59342957a9179e24a631fcc7668bda3426ae1cef8ed4b9",
    "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19",
    "ecb6028d79dc96fbeafffe5c8af62a7099487ebc05a701e76714eebcffd06375",
    "6d5114bba238adddacb32fb11904f2b3ff4e988f8e9ff0d8d3b5e9822cf836b8",
    "6b0c7b9f47a5d011939d61e324d3fe18a8bc155d8dd53add738709a92f290a7c",
    "a2ee66fe8b6608e1482ab1bde5799da04705c1cb40324c7f66054ecf46ae6e40",
    "2c45530751517d6c3bbc69a19473f6effe47cce047bede01ffd8af7ea7b36b25",
    "3eeeb51a267a2144640fcd8f38d4a2f63439b39bc47445fd84727c3fc462c843",
    "6a44b2ed8111d2f60d2b92627c5dccda3f7ed7570b18ce115e569cd68c28246b",
    "eeb92051c2123b9730c46b04cc843cfa4bc7d7b0aec56df431a2215ef4cb0273",
)
PIP_WHEEL = "pip-25.2-py3-none-any.whl"
PIP_SHA256 = "6d67a2b4e7f14d8b31b8b52648866fa717f45a1eb70e83002f4331d07e953717"

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, ".tools")
VENV = os.path.join(TOOLS, "uv-" + UV_VERSION)
WINDOWS = os.name == "nt"


def say(text):
    sys.stderr.write("run.py: " + text + "\n")
    sys.stderr.flush()


def venv_exe(name):
    folder = "Scripts" if WINDOWS else "bin"
    return os.path.join(VENV, folder, name + (".exe" if WINDOWS else ""))


def uv_ready():
    uv = venv_exe("uv")
    if not os.path.exists(uv):
        return False
    try:
        out = subprocess.run([uv, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    return out.split()[1:2] == [UV_VERSION]


def index_url():
    """The package index pip would use here (``PIP_INDEX_URL``), PyPI by default."""
    return os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")


def fetch_pip_wheel(folder):
    """The pinned pip wheel from the package index, its hash checked; returns the wheel's path."""
    request = urllib.request.Request(index_url() + "/pip/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        files = json.load(answer)["files"]
    url = next((f["url"] for f in files if f["filename"] == PIP_WHEEL), None)
    if url is None:
        raise SystemExit("run.py: the package index has no " + PIP_WHEEL)
    url = urllib.parse.urljoin(index_url() + "/pip/", url)
    path = os.path.join(folder, PIP_WHEEL)
    with urllib.request.urlopen(url, timeout=120) as answer:
        data = answer.read()
    if hashlib.sha256(data).hexdigest() != PIP_SHA256:
        raise SystemExit("run.py: " + PIP_WHEEL + " from the package index has an unexpected sha256; stopped")
    with open(path, "wb") as out:
        out.write(data)
    return path


def make_venv():
    """A private venv holding the pinned uv; the Python that runs this script is left as it is."""
    import venv

    shutil.rmtree(VENV, ignore_errors=True)
    os.makedirs(TOOLS, exist_ok=True)
    say("first run: installing uv " + UV_VERSION + " into " + os.path.relpath(VENV, HERE) + " (once)")
    pip = None
    try:
        venv.EnvBuilder(with_pip=True).create(VENV)
        pip = [venv_exe("python"), "-m", "pip"]
    except (subprocess.CalledProcessError, OSError, SystemExit):
        # No ensurepip (Debian/Ubuntu without python3-venv): a venv without pip, and pip run from its wheel.
        shutil.rmtree(VENV, ignore_errors=True)
        venv.EnvBuilder(with_pip=False).create(VENV)
    with tempfile.TemporaryDirectory() as tmp:
        if pip is None:
            say("this Python has no ensurepip; using " + PIP_WHEEL + " from the package index")
            pip = [venv_exe("python"), os.path.join(fetch_pip_wheel(tmp), "pip")]
        requirements = os.path.join(tmp, "uv.txt")
        with open(requirements, "w") as out:
            out.write("uv==" + UV_VERSION + " " + " ".join("--hash=sha256:" + h for h in UV_HASHES) + "\n")
        command = pip + ["install", "--quiet", "--disable-pip-version-check", "--no-input", "--require-hashes"]
        subprocess.run(command + ["-r", requirements], check=True)
    if not uv_ready():
        raise SystemExit("run.py: uv " + UV_VERSION + " did not install into " + VENV)


def main(argv):
    if sys.version_info < MIN_PYTHON:
        raise SystemExit(
            "run.py: Starling needs Python %d.%d or newer; this is %s (%s).\n"  # noqa: UP031 - runs on old Pythons too
            "Run it with a newer one, e.g. python3.12 run.py" % (MIN_PYTHON + (sys.version.split()[0], sys.executable))
        )
    if not uv_ready():
        make_venv()
    env = dict(os.environ)
    # uv uses the Python that runs this script for .venv and never downloads an interpreter of its own.
    env.setdefault("UV_PYTHON", sys.executable)
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    # The machine's own certificate store, as pip and this script use (company proxies add their CA there).
    if "UV_NATIVE_TLS" not in env:
        env.setdefault("UV_SYSTEM_CERTS", "1")
    uv = venv_exe("uv")
    if argv[:1] == ["uv"]:
        command = [uv] + argv[1:]
    elif argv[:1] == ["test"]:
        os.chdir(HERE)  # pytest finds its configuration and the tests from the clone's root
        command = [uv, "run", "--locked", "pytest"] + (argv[1:] or whole_suite())
    else:
        command = [uv, "run", "--locked", "--project", HERE, "starling"] + argv
    if WINDOWS:
        return subprocess.call(command, env=env)
    os.execve(command[0], command, env)
    return 0  # not reached


def whole_suite():
    """The whole suite in parallel worker processes (pytest-xdist), a test file per worker at a time: most tests
    wait on processes, sockets and databases, so a worker more than the machine has cores keeps them busy."""
    workers = min(max((os.cpu_count() or 1) + 1, 2), 8)
    return ["-n", str(workers), "--dist", "loadfile"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
