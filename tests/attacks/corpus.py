"""The attack corpus: submissions whose ``relu_vjp`` answer cell attacks the grader.

Every other answer cell is honest (``HONEST_VJPS``).  An attack is written so that it would
EARN the relu points if it succeeded (it then returns the right answer); if the sandbox and
the out-of-kernel judging hold, it earns nothing on ``test_relu_vjp`` and every other cell of
the same notebook, and every other student's grade, is untouched.

Placeholders ``{secret_paths}``, ``{loopback_port}`` and ``{repo}`` (the checkout's root, wherever
it is cloned) are filled in by the test.
"""

from __future__ import annotations

from dataclasses import dataclass

# A correct ReLU VJP, used by attacks that would "earn" it by cheating.
_RIGHT = "def _right(t, p):\n    return (t > 0).astype(p.dtype) * p\n"
# Dynamic import that the static screen does not see (the sandbox must still hold).
_IMPORT = "import builtins\n_imp = getattr(builtins, '__imp' + 'ort__')\n"


@dataclass(frozen=True)
class Attack:
    name: str
    description: str
    relu_source: str
    #: the relu cell's points it deserves; ``None`` = all cells of this notebook get 0
    deserved: float | None = 0.0
    #: words that must appear in the relu feedback message
    message_has: tuple[str, ...] = ()


ATTACKS: tuple[Attack, ...] = (
    Attack("monkeypatch_numpy", "replace numpy.allclose / isclose / testing by always-true",
           "import numpy as np\n"
           "np.allclose = lambda *a, **k: True\n"
           "np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)\n"
           "np.testing.assert_allclose = lambda *a, **k: None\n"
           "np.array_equal = lambda *a, **k: True\n"
           "def relu_vjp(t, p):\n    return np.zeros_like(p)\n",
           message_has=("wrong",)),
    Attack("monkeypatch_torch", "import torch dynamically, patch torch.allclose/autograd.grad",
           _IMPORT + "import numpy as np\n"
           "try:\n"
           "    torch = _imp('torch')\n"
           "    torch.allclose = lambda *a, **k: True\n"
           "    torch.autograd.grad = lambda *a, **k: (torch.zeros(1),)\n"
           "except (ImportError, AttributeError):\n    pass\n"
           "def relu_vjp(t, p):\n    return np.zeros_like(p)\n",
           message_has=("wrong",)),
    Attack("torch_computes_the_answer", "import torch dynamically inside the function and let "
           "torch.autograd compute the VJP (the right values, if torch were reachable)",
           _IMPORT + "def relu_vjp(t, p):\n"
           "    torch = _imp('torch')\n"
           "    x = torch.tensor(t, requires_grad=True)\n"
           "    torch.relu(x).backward(torch.tensor(p))\n"
           "    return x.grad.numpy()\n",
           message_has=("Refused", "torch")),
    Attack("mmids_check_torch_vjp", "let the allowed `mmids.check` helper call torch for it",
           "from mmids import check\n"
           "def relu_vjp(t, p):\n"
           "    return check.torch_vjp(lambda u: u.relu(), t, p)\n",
           message_has=("Refused", "torch")),
    Attack("monkeypatch_checker", "import the checking library and mmids.gradcheck, patch them",
           _IMPORT + "import numpy as np\n"
           "try:\n"
           "    _c = _imp('autograders.checks._common', fromlist=['judge'])\n"
           "    _c.judge = lambda *a, **k: None\n"
           "except ImportError:\n    pass\n"
           "_g = _imp('mmids.gradcheck', fromlist=['compare'])\n"
           "_g.compare = lambda *a, **k: type('R', (), {'ok': True, 'worst': ()})()\n"
           "def relu_vjp(t, p):\n    return np.zeros_like(p)\n",
           message_has=("wrong",)),
    Attack("silence_tracebacks", "silence excepthook/stderr/get_ipython, then raise",
           "import sys, os\n"
           "sys.excepthook = lambda *a: None\n"
           "sys.stderr = open(os.devnull, 'w')\n"
           "get_ipython = lambda: type('I', (), {'showtraceback': lambda *a, **k: None})()\n"
           "def relu_vjp(t, p):\n    raise RuntimeError('hidden failure')\n",
           message_has=("RuntimeError", "hidden failure")),
    Attack("sys_exit", "call sys.exit(0) inside the function",
           "import sys\ndef relu_vjp(t, p):\n    sys.exit(0)\n", message_has=("sys.exit",)),
    Attack("os_exit", "call os._exit(0) inside the function (kills the worker)",
           "import os\ndef relu_vjp(t, p):\n    os._exit(0)\n", message_has=("exited",)),
    Attack("os_exit_top_level", "os._exit at the top of the answer cell (kills every worker)",
           "import os\nos._exit(0)\n", deserved=None, message_has=("answer cells",)),
    Attack("infinite_loop_ignoring_sigint", "ignore SIGINT/SIGTERM and loop forever",
           "import signal\n"
           "def relu_vjp(t, p):\n"
           "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
           "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
           "    while True:\n        pass\n",
           message_has=("did not finish",)),
    Attack("fork_bomb", "fork until the process limit, forever",
           "import os\n"
           "def relu_vjp(t, p):\n"
           "    while True:\n"
           "        try:\n            os.fork()\n"
           "        except OSError:\n            pass\n",
           message_has=("stopped",)),
    Attack("allocate_50GB", "allocate 50 GB at once",
           "import numpy as np\n"
           "def relu_vjp(t, p):\n    big = np.ones(50 * 2**30 // 8)\n    return big[:p.size]\n",
           message_has=("MemoryError",)),
    Attack("touch_2GB", "fill 2 GB page by page (below RLIMIT_AS: the RSS watchdog must act)",
           "import numpy as np\n"
           "def relu_vjp(t, p):\n    big = np.ones(2 * 2**30 // 8)\n    return big[:p.size]\n",
           message_has=("stopped",)),
    Attack("write_10GB_file", "write a 10 GB file in the private temp dir",
           "def relu_vjp(t, p):\n"
           "    with open('/tmp/big.bin', 'wb') as fh:\n"
           "        for _ in range(10 * 1024):\n            fh.write(b'0' * 2**20)\n",
           message_has=("File too large",)),
    Attack("print_100MB", "print 100 MB",
           "def relu_vjp(t, p):\n"
           "    for _ in range(100):\n        print('x' * 2**20)\n",
           message_has=("stopped",)),
    Attack("socket_loopback", "connect to a server listening on the host's 127.0.0.1",
           _RIGHT + "import socket\n"
           "def relu_vjp(t, p):\n"
           "    socket.create_connection(('127.0.0.1', {loopback_port}), timeout=1).close()\n"
           "    return _right(t, p)\n",
           message_has=("refused",)),
    Attack("socket_outside", "connect to an outside (TEST-NET) address",
           _RIGHT + "import socket\n"
           "def relu_vjp(t, p):\n"
           "    socket.create_connection(('192.0.2.1', 80), timeout=1).close()\n"
           "    return _right(t, p)\n",
           message_has=("unreachable",)),
    Attack("read_course_files", "read the gradebook, another submission, the source notebook "
           "and autograders/ (earns the points if any read works)",
           _RIGHT + "import os\n"
           "def relu_vjp(t, p):\n"
           "    for path in {secret_paths}:\n"
           "        try:\n"
           "            with open(path, 'rb') as fh:\n"
           "                fh.read(1)\n"
           "            return _right(t, p)\n"
           "        except OSError:\n            pass\n"
           "    raise PermissionError('nothing readable: ' + str(os.listdir('{repo}')))\n",
           message_has=("nothing readable", "mmids")),
    Attack("write_outside_tmp", "write into mmids/, the venv, /usr, / and the course directory",
           _RIGHT + "def relu_vjp(t, p):\n"
           "    for path in ['{repo}/mmids/evil.py', '{repo}/.venv/evil', "
           "'/usr/evil', '/evil', '{repo}/evil', '/etc/evil']:\n"
           "        try:\n"
           "            with open(path, 'w') as fh:\n                fh.write('x')\n"
           "            return _right(t, p)\n"
           "        except OSError:\n            pass\n"
           "    raise PermissionError('nothing writable')\n",
           message_has=("nothing writable",)),
    Attack("return_torch_tensor", "return the right values as a torch tensor",
           _RIGHT + _IMPORT + "torch = _imp('torch')\n"
           "def relu_vjp(t, p):\n    return torch.tensor(_right(t, p))\n",
           message_has=("torch",)),
    Attack("return_list", "return the right values as a Python list",
           _RIGHT + "def relu_vjp(t, p):\n    return _right(t, p).tolist()\n",
           message_has=("list",)),
    Attack("return_nan", "return NaNs", "import numpy as np\n"
           "def relu_vjp(t, p):\n    return np.full_like(p, np.nan)\n", message_has=("NaN",)),
    Attack("return_wrong_shape", "return the right values with an extra axis",
           _RIGHT + "def relu_vjp(t, p):\n    return _right(t, p)[..., None]\n",
           message_has=("shape",)),
    Attack("return_wrong_dtype", "return the right values in float16",
           _RIGHT + "import numpy as np\n"
           "def relu_vjp(t, p):\n    return _right(t, p).astype(np.float16)\n",
           message_has=("float16",)),
    Attack("return_fake_array", "return an object whose __array__ gives the right values",
           _RIGHT + "class Sneaky:\n"
           "    def __init__(self, a):\n        self.a = a\n"
           "    def __array__(self, dtype=None, copy=None):\n        return self.a\n"
           "    def __eq__(self, other):\n        return True\n"
           "def relu_vjp(t, p):\n    return Sneaky(_right(t, p))\n",
           message_has=("Sneaky",)),
)
