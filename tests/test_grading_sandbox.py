"""Out-of-kernel grading: the sandbox, the by-value channel and the attack corpus (issue 6).

The attack corpus runs as ONE batch (2 grader processes, small limits) over two honest
students and one student per attack, into a SQLite gradebook; each attack must earn nothing
on the cell it attacks, keep every other cell of its notebook, and leave the honest students'
grades intact.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from autograders import batch, cgroup, cli, rpc, sandbox
from autograders.batch import BatchConfig, grade_submission, run_batch
from autograders.gradebook import Gradebook
from autograders.sandbox import Limits, Worker
from tests.attacks.corpus import ATTACKS
from tests.attacks.notebooks import HONEST_VJPS, submission, write_attack_class
from tests.attacks.verdict import problems

REPO = Path(__file__).resolve().parents[1]
TEST_LIMITS = Limits(call_seconds=2.0, setup_seconds=15.0, cpu_seconds=20,
                     rss_bytes=2**30, output_bytes=2**20, file_bytes=16 * 2**20)

pytestmark = pytest.mark.skipif(sandbox.sandbox_problem() is not None,
                                reason=f"bubblewrap cannot run: {sandbox.sandbox_problem()}")


# ------------------------------------------------------------------------------ channel
def _frame_parts(frame: bytes) -> tuple[bytes, bytes]:
    head_len, _ = struct.unpack(">IQ", frame[:12])
    return frame[12:12 + head_len], frame[12 + head_len:]


def test_rpc_round_trip_keeps_types_and_dtypes() -> None:
    value = (np.arange(6.0).reshape(2, 3), np.float32(1.5), [1, 2.5, float("nan")],
             {"k": np.int64(3)}, None, True, "text", np.zeros((0, 4), np.float32))
    back = rpc.decode(*_frame_parts(rpc.encode(value)))
    assert isinstance(back, tuple) and len(back) == len(value)
    np.testing.assert_array_equal(back[0], value[0])
    assert back[1] == np.float32(1.5) and isinstance(back[1], np.float32)
    assert back[2][:2] == [1, 2.5] and np.isnan(back[2][2])
    assert back[3]["k"] == 3 and isinstance(back[3]["k"], np.int64)
    assert back[4:7] == (None, True, "text")
    assert back[7].shape == (0, 4) and back[7].dtype == np.float32


def test_rpc_turns_unknown_objects_into_opaque_placeholders() -> None:
    class Tensor:
        pass

    Tensor.__module__ = "torch"
    back = rpc.decode(*_frame_parts(rpc.encode([Tensor(), object(), np.array(["a"])])))
    assert all(isinstance(b, rpc.Opaque) for b in back)
    assert type(back[0]).__module__ == "torch" and type(back[0]).__name__ == "Tensor"
    assert not isinstance(back[0], np.ndarray)


@pytest.mark.parametrize("header,payload", [
    (b"{not json", b""),
    (json.dumps({"$a": {"dtype": "|O", "shape": [1], "offset": 0, "nbytes": 8}}).encode(),
     b"\0" * 8),
    (json.dumps({"$a": {"dtype": "<f8", "shape": [4], "offset": 0, "nbytes": 32}}).encode(),
     b"\0" * 8),
    (json.dumps({"$a": {"dtype": "<f8", "shape": [2], "offset": 0, "nbytes": 8}}).encode(),
     b"\0" * 8),
    (json.dumps({"$x": 1}).encode(), b""),
])
def test_rpc_rejects_malformed_frames(header: bytes, payload: bytes) -> None:
    with pytest.raises(rpc.RpcError):
        rpc.decode(header, payload)


def test_rpc_rejects_oversized_frames() -> None:
    r, w = os.pipe()
    try:
        os.write(w, struct.pack(">IQ", 10, 2**40))
        with pytest.raises(rpc.RpcError, match="too large"):
            rpc.recv(r, timeout=5)
    finally:
        os.close(r)
        os.close(w)


# ------------------------------------------------------------------------------ sandbox
def _run_in_worker(source: str, limits: Limits = TEST_LIMITS, *,
                   hide_libraries: bool = True, blocked: tuple[str, ...] = ()) -> dict:
    with Worker(limits, hide_libraries=hide_libraries) as w:
        w.request({"op": "setup", "cells": [("probe", source)], "driver": "",
                   "blocked": list(blocked)}, 15)
        return w.request({"op": "call", "name": "probe", "args": []}, 15)


def test_sandbox_view_uid_network_and_namespaces() -> None:
    reply = _run_in_worker(
        f"import os, socket\nREPO = {str(REPO)!r}\n"
        "def probe():\n"
        "    caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')][0]\n"
        "    s = socket.socket()\n"
        "    s.settimeout(1)\n"
        "    try:\n        s.connect(('192.0.2.1', 80)); net = 'connected'\n"
        "    except OSError as e:\n        net = str(e)\n"
        "    return (sorted(os.listdir('/')), sorted(os.listdir(REPO)), os.getuid(),\n"
        "            caps.split()[1], len([p for p in os.listdir('/proc') if p.isdigit()]),\n"
        "            socket.gethostname(), net, sorted(os.listdir('/tmp')),\n"
        "            sorted(os.environ))\n")
    assert reply["ok"], reply
    root, course, uid, caps, nproc, host, net, tmp, env = reply["value"]
    # the grader's environment (database URLs, tokens, ...) does not reach the worker
    assert set(env) <= {"HOME", "PATH", "LANG", "TMPDIR", "OPENBLAS_NUM_THREADS",
                        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "LC_CTYPE", "PWD"}
    assert REPO.parts[1] in root and "home" not in root and "var" not in root
    assert course == [".venv", "mmids"]  # nothing else of the course directory
    assert uid != 0 and caps == "0000000000000000"
    assert nproc <= 3  # own PID namespace: bwrap's init and the worker
    assert host == "sandbox" and "unreachable" in net
    # private tmp: empty but for the mount points of read-only paths that lie under /tmp
    under_tmp = {p.relative_to("/tmp").parts[0] for p in sandbox._read_only_paths()
                 if p.is_relative_to("/tmp")}
    assert tmp == sorted(under_tmp)


def test_import_torch_works_under_the_memory_cap() -> None:
    # the same limits as for grading, with torch's folder left visible for this probe
    reply = _run_in_worker(
        "import builtins\n"
        "def probe():\n"
        "    torch = getattr(builtins, '__import__')('torch')\n"
        "    return float(torch.ones(3).sum())\n",
        Limits(call_seconds=60, setup_seconds=30), hide_libraries=False)
    assert reply == {"ok": True, "value": 3.0}


def test_differentiation_libraries_are_hidden_from_the_worker() -> None:
    # no import blocker here: the file system alone must keep torch out
    reply = _run_in_worker(
        "import builtins, os, sys\n"
        "def probe():\n"
        "    sys.meta_path[:] = [f for f in sys.meta_path if 'Blocker' not in type(f).__name__]\n"
        "    torch = getattr(builtins, '__import__')('torch')\n"
        "    return (hasattr(torch, 'tensor'), os.listdir(os.path.dirname(torch.__path__[0])\n"
        "            + '/torch'), 'micrograd' in sys.modules)\n")
    assert reply["ok"], reply
    has_tensor, listing, _ = reply["value"]
    assert has_tensor is False and listing == []


def test_import_blocker_names_the_refused_library() -> None:
    reply = _run_in_worker(
        "import builtins\n"
        "def probe():\n"
        "    try:\n"
        "        getattr(builtins, '__imp' + 'ort__')('torch.autograd')\n"
        "    except ImportError:\n"
        "        pass\n"
        "    return 1.0\n", blocked=("torch",))
    assert reply["ok"] is False and reply["refused"] == "torch"  # the parent is imported first


def test_cpu_time_limit_stops_a_busy_worker() -> None:
    limits = Limits(call_seconds=30, cpu_seconds=1)
    with Worker(limits) as w:
        w.request({"op": "setup", "cells": [("spin", "def spin():\n    while True: pass\n")],
                   "driver": ""}, 15)
        with pytest.raises(sandbox.WorkerDied, match="CPU time|killed"):
            w.request({"op": "call", "name": "spin", "args": []}, 30)


def test_memory_watchdog_stops_a_worker_below_the_address_space_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the watchdog alone, as on a machine without a memory cgroup (else the kernel acts first)
    monkeypatch.setattr(cgroup, "problem", lambda: "no cgroup in this test")
    limits = Limits(call_seconds=60, rss_bytes=300 * 2**20)
    with Worker(limits) as w:
        w.request({"op": "setup", "cells": [("fill", "import numpy as np\n"
                   "def fill():\n    return np.ones(2 * 2**30 // 8).sum()\n")], "driver": ""}, 15)
        with pytest.raises(sandbox.WorkerDied, match="more than 300 MB of memory"):
            w.request({"op": "call", "name": "fill", "args": []}, 60)
        assert 300 * 2**20 < w.peak_rss < 2**30


def test_memory_cap_is_the_kernels_where_a_cgroup_can_be_made(
        monkeypatch: pytest.MonkeyPatch) -> None:
    problem = cgroup.problem()
    limits = Limits(call_seconds=60, rss_bytes=300 * 2**20)
    if problem is not None:  # no cgroup here: the watchdog is the cap, and the reason is given
        with Worker(limits) as w:
            assert w.cgroup is None and "watchdog" in problem
        return
    monkeypatch.setattr(sandbox, "_rss", lambda pids: 0)  # blind the watchdog: the kernel acts
    with Worker(limits) as w:
        assert w.cgroup is not None
        folder = w.cgroup.folder
        w.request({"op": "setup", "cells": [("fill", "import numpy as np\n"
                   "def fill():\n    return np.ones(2 * 2**30 // 8).sum()\n")], "driver": ""}, 15)
        assert (folder / "cgroup.procs").read_text().split(), "the worker runs in the group"
        with pytest.raises(sandbox.WorkerDied, match="more than 300 MB of memory"):
            w.request({"op": "call", "name": "fill", "args": []}, 60)
    assert not folder.exists(), "the group is removed with its worker"


def test_refuses_without_bubblewrap_unless_unsafe(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="not installed"):
        sandbox.bwrap_argv(Limits(), 61000)
    monkeypatch.setattr(cli, "sandbox_problem", lambda: "bubblewrap is not installed")
    nb = submission(tmp_path / "s.ipynb", HONEST_VJPS)
    assert cli.main(["grade", "vjps", str(nb), "--json"]) == 3
    err = capsys.readouterr().err
    assert "refusing to run student code" in err and "--unsafe-no-sandbox" in err
    monkeypatch.setattr(batch, "sandbox_problem", lambda: "bubblewrap is not installed")
    with pytest.raises(sandbox.SandboxUnavailable, match="unsafe-no-sandbox"):
        run_batch("vjps", tmp_path, BatchConfig(str(tmp_path / "g.db")), progress=False)
    assert cli.main(["grade", "vjps", str(nb), "--json", "--unsafe-no-sandbox"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == out["max_total"] == 15


def test_cli_grade_json_reports_every_cell(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    sources = dict(HONEST_VJPS)
    sources["tanh_vjp"] = ("import numpy as np\n"
                           "def tanh_vjp(t, p):\n    return -(1 - np.tanh(t)**2) * p\n")
    nb = submission(tmp_path / "s.ipynb", sources)
    assert cli.main(["grade", "vjps", str(nb), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    cells = {c["grade_id"]: c for c in out["cells"]}
    assert set(next(iter(cells.values()))) == {"grade_id", "points", "max_points", "message"}
    assert cells["test_tanh_vjp"]["points"] == 0 and "sign" in cells["test_tanh_vjp"]["message"]
    assert out["total"] == out["max_total"] - cells["test_tanh_vjp"]["max_points"]


def test_notebook_magics_in_answer_cells_run_as_in_the_kernel(tmp_path: Path) -> None:
    sources = dict(HONEST_VJPS)
    sources["sigmoid_vjp"] = "%matplotlib inline\n!echo hello\n" + HONEST_VJPS["sigmoid_vjp"]
    result = grade_submission("vjps", submission(tmp_path / "s.ipynb", sources),
                              limits=TEST_LIMITS)
    assert result.score == result.max_score == 15, [r.message for r in result.results]


def test_unreadable_notebook_scores_zero_with_a_reason(tmp_path: Path) -> None:
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{ this is not a notebook")
    result = grade_submission("vjps", bad, limits=TEST_LIMITS)
    assert result.score == 0 and result.max_score > 0
    assert all("could not be read" in r.message for r in result.results)


def test_notebook_under_another_name_is_recorded_as_zero_with_the_reason(tmp_path: Path) -> None:
    submitted = tmp_path / "submitted"
    submission(submitted / "alice" / "vjps" / "vjps.ipynb", HONEST_VJPS)
    submission(submitted / "bob" / "vjps" / "my_vjps (1).ipynb", HONEST_VJPS)
    db = f"sqlite:///{tmp_path / 'gb.db'}"
    report = run_batch("vjps", submitted, BatchConfig(db, TEST_LIMITS), workers=1,
                       progress=False)
    rows = {r["student"]: r for r in report.graded}
    assert rows["alice"]["score"] == 15 and rows["bob"]["score"] == 0
    assert all("my_vjps (1).ipynb" in c["message"] for c in rows["bob"]["cells"])
    with Gradebook(db) as gb:
        assert gb.recorded("vjps")["bob"].score == 0


# ------------------------------------------------------------------------------ attacks
@pytest.fixture(scope="module")
def attack_batch(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("attacks")
    submitted = root / "submitted"
    db = root / "gradebook.db"
    Gradebook(f"sqlite:///{db}").close()
    server = socket.create_server(("127.0.0.1", 0))
    secret_paths = write_attack_class(submitted, db, REPO, server.getsockname()[1])
    assert all(p.exists() for p in secret_paths)  # each attack on a file aims at a real one
    try:
        report = run_batch("vjps", submitted, BatchConfig(f"sqlite:///{db}", TEST_LIMITS),
                           workers=2, progress=False)
    finally:
        server.close()
    rows = {r["student"]: r for r in report.graded}
    return {"rows": rows, "report": report, "db": db}


@pytest.mark.slow  # grades the whole attack corpus (about 25 s on 2 busy cores)
def test_honest_students_get_full_marks_next_to_the_attacks(attack_batch: dict) -> None:
    rows = attack_batch["rows"]
    assert len(rows) == len(ATTACKS) + 2
    for student in ("honest_a", "honest_b"):
        assert rows[student]["score"] == rows[student]["max_score"] == 15
    with Gradebook(f"sqlite:///{attack_batch['db']}") as gb:
        stored = gb.recorded("vjps")
        assert stored["honest_a"].score == 15 and len(stored) == len(ATTACKS) + 2
        assert gb.counts("vjps") == (len(ATTACKS) + 2, (len(ATTACKS) + 2) * 9)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_earns_nothing_it_did_not_solve(attack_batch: dict, attack) -> None:
    assert problems(attack_batch["rows"][f"attack_{attack.name}"], attack) == []


def test_attacks_left_nothing_behind(attack_batch: dict) -> None:
    for path in ("mmids/evil.py", ".venv/evil", "evil"):
        assert not (REPO / path).exists()
    assert not Path("/evil").exists() and not Path("/usr/evil").exists()
    deadline = time.monotonic() + 10
    while _sandboxed_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _sandboxed_processes() == []  # every sandboxed process (fork bomb included) is gone


def _sandboxed_processes() -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
            except OSError:
                continue
            if 61000 <= uid < 65000:
                found.append(entry)
    return found
