"""The fenced code blocks of the project's READMEs, for the tests that run them.

Every fenced block of :data:`DOCS` is one of:

* a ``python`` block: run as a script (``tests/test_docs.py``);
* a shell block (``bash``, ``sh``, ``shell`` or no language): its commands run, in order,
  from the root of a temporary copy of the repository's course (``tests/test_docs.py``);
* a block preceded by ``<!-- run by tests/<file>.py -->``: that test runs it (e.g. the
  student installation, which needs a fresh virtual environment);
* a block preceded by ``<!-- not run: <reason> -->``: it cannot run here (a Slurm cluster, a
  PostgreSQL server shared by machines, a server that never returns); the test checks that it
  parses (``--help`` of its command works and names every flag it uses).

To keep a README in sync, change the block; the tests say which command fails and why.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = (REPO / "README.md", REPO / "autograders" / "README.md", REPO / "exercises" / "README.md")
SHELL = ("bash", "sh", "shell", "")
PYTHON = ("python", "py")

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<text>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text, the marker comment before it."""

    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    marker: str = ""

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def not_run(self) -> str | None:
        """The reason given in ``<!-- not run: reason -->``, or None."""
        if self.marker.startswith("not run:"):
            return self.marker[len("not run:"):].strip()
        return None

    @property
    def run_by(self) -> str | None:
        """The test file named in ``<!-- run by tests/x.py -->``, or None."""
        if self.marker.startswith("run by "):
            return self.marker[len("run by "):].strip()
        return None

    def commands(self) -> list[str]:
        """The shell commands of the block: one per logical line (``\\`` joins lines),
        comments and blank lines removed."""
        out, current = [], ""
        for raw in self.text.splitlines():
            line = raw.rstrip()
            if not current and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            current += line
            words = shlex.split(current, comments=True)
            if words:
                out.append(shlex.join(words))
            current = ""
        return out


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of the Markdown file ``path``, in order."""
    lines = path.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = match["indent"], match["fence"]
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        previous = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marker = _MARKER.match(previous)
        found.append(Block(path, start + 1, match["lang"].lower(), "\n".join(body) + "\n",
                           marker["text"] if marker else ""))
        i += 1
    return found


def all_blocks() -> list[Block]:
    return [b for path in DOCS for b in blocks(path)]


def run_by(test_file: str) -> list[Block]:
    """The blocks marked ``<!-- run by tests/<name> -->`` for the test file ``test_file``."""
    name = f"tests/{Path(test_file).name}"
    return [b for b in all_blocks() if b.run_by == name]
