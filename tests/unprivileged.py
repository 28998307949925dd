"""A real unprivileged user for the grading tests, and a Python that user can run.

``temporary_user()`` creates a system account with ``useradd`` (root only) and removes it,
with every process it left, at the end; run by an ordinary user it yields that user itself
(who is as unprivileged as the test needs).  ``user_python()`` makes a virtual environment
the user can run from Debian's ``/usr/bin/python3.11`` (the project's own interpreter may live
in a folder others cannot read, e.g. pyenv under ``/root``): a ``.pth`` file points at this
venv's packages when the user can read them, else the grading packages are pip-installed into
it.  ``copy_tree()`` gives the user its own copy of the parts of the checkout a test needs
(a fresh clone may sit under a folder the user cannot enter).

Nothing here changes the permissions of a system folder: everything the user gets lives in a
new temporary folder it owns (or that is readable by all).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Debian's interpreter (packages python3.11 and python3.11-venv, installed by the Makefile).
SYSTEM_PYTHON = Path("/usr/bin/python3.11")
#: What the grader needs when the repo venv's packages cannot be shared with the user.
GRADING_REQUIREMENTS = ("numpy==2.4.*", "nbformat", "ipython", "tqdm==4.70.*",
                        "scikit-learn==1.9.*", "mlxtend==0.25.0", "pandas>=2.2,<4",
                        "graphviz==0.21", "torch==2.14.1")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def setup_problem() -> str | None:
    """Why these tests cannot run on this machine, or ``None``."""
    if not SYSTEM_PYTHON.exists():
        return (f"{SYSTEM_PYTHON} is missing: install Debian's python3.11 and python3.11-venv "
                "(`make sysdeps` does)")
    if os.geteuid() == 0 and shutil.which("useradd") is None:
        return "useradd (package passwd) is needed to create the test user"
    return None


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int

    @property
    def is_me(self) -> bool:
        return self.uid == os.getuid()

    def argv(self, command: Sequence[str], env: dict[str, str]) -> list[str]:
        """``command`` run as this user with exactly ``env`` as its environment."""
        pairs = [f"{k}={v}" for k, v in env.items()]
        if self.is_me:
            return ["env", "-i", *pairs, *command]
        return ["runuser", "-u", self.name, "--", "env", "-i", *pairs, *command]

    def run(self, command: Sequence[str], *, env: dict[str, str], cwd: Path,
            timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(command, env), cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def can_read(self, path: Path) -> bool:
        """Can this user list (read and enter) ``path``? Asked as the user, not guessed."""
        done = subprocess.run(self.argv(["test", "-r", str(path), "-a", "-x", str(path)],
                                        {"PATH": "/usr/bin:/bin"}), check=False)
        return done.returncode == 0

    def pids(self) -> list[int]:
        """Pids of the processes whose real uid is this user's."""
        from autograders.runas import pids_of

        return [p for p in pids_of(self.uid) if p != os.getpid()]

    def pids_in_other_user_namespaces(self) -> list[int]:
        """This user's processes inside a user namespace other than ours: sandboxes."""
        mine = os.readlink("/proc/self/ns/user")
        found = []
        for pid in self.pids():
            try:
                if os.readlink(f"/proc/{pid}/ns/user") != mine:
                    found.append(pid)
            except OSError:
                continue
        return found


def _kill_everything_of(user: User) -> None:
    deadline = time.monotonic() + 10
    while user.pids() and time.monotonic() < deadline:
        for pid in user.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)


def current_user() -> User:
    entry = pwd.getpwuid(os.getuid())
    return User(entry.pw_name, entry.pw_uid, entry.pw_gid)


@contextmanager
def temporary_user(prefix: str = "mmidst") -> Iterator[User]:
    """A new unprivileged system account (root), or the calling user (an ordinary user)."""
    if os.geteuid() != 0:
        yield current_user()
        return
    name = f"{prefix}{os.getpid() % 100000}"
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    entry = pwd.getpwnam(name)
    user = User(name, entry.pw_uid, entry.pw_gid)
    try:
        yield user
    finally:
        _kill_everything_of(user)
        subprocess.run(["userdel", name], check=False, capture_output=True)
        subprocess.run(["groupdel", name], check=False, capture_output=True)


def temporary_folder(owner: User | None, prefix: str) -> Path:
    """A new folder in /tmp owned by ``owner`` (mode 0700), or by the caller, readable by all."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    if owner is not None and not owner.is_me:
        os.chown(folder, owner.uid, owner.gid)
    else:
        folder.chmod(0o755 if owner is None else 0o700)
    return folder


def chown_tree(root: Path, user: User) -> None:
    if user.is_me:
        return
    for dirpath, dirnames, filenames in os.walk(root):
        os.chown(dirpath, user.uid, user.gid)
        for name in filenames + dirnames:
            os.lchown(os.path.join(dirpath, name), user.uid, user.gid)


def copy_tree(dest: Path, parts: Sequence[str]) -> Path:
    """Copy ``parts`` (paths relative to the checkout) into ``dest``; returns ``dest``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for part in parts:
        src = REPO / part
        target = dest / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=ignore)
        else:
            shutil.copy2(src, target)
    return dest


def user_python(venv: Path, runner: User, *, readers: User) -> Path:
    """A venv at ``venv`` (made by ``runner``) that ``readers`` can run, with the grading packages.

    Its packages come from this venv through a ``.pth`` file where ``readers`` can read them,
    else from a pip install into the new venv (slow: torch is downloaded).  Returns its python.
    """
    site = Path(sysconfig.get_paths()["purelib"])
    env = {"PATH": "/usr/bin:/bin", "HOME": str(venv.parent)}
    # the packages are shared only with the same minor version (compiled extensions)
    shared = readers.can_read(site) and sysconfig.get_python_version() == "3.11"
    made = runner.run([str(SYSTEM_PYTHON), "-m", "venv", *(["--without-pip"] if shared else []),
                       str(venv)], env=env, cwd=venv.parent, timeout=300)
    if made.returncode != 0:
        raise RuntimeError(f"{SYSTEM_PYTHON} -m venv failed: {made.stderr[-2000:]}")
    python = venv / "bin" / "python"
    if shared:
        version = sysconfig.get_python_version()
        pth = venv / "lib" / f"python{version}" / "site-packages" / "repo_venv.pth"
        pth.write_text(f"{site.resolve()}\n")
        if not runner.is_me:
            os.chown(pth, runner.uid, runner.gid)
    else:
        pip = runner.run([str(python), "-m", "pip", "install", "-q", "--extra-index-url",
                          TORCH_CPU_INDEX, *GRADING_REQUIREMENTS], env=env, cwd=venv.parent,
                         timeout=3600)
        if pip.returncode != 0:
            raise RuntimeError(f"pip install into {venv} failed: {pip.stderr[-2000:]}")
    return python
