"""The attack-corpus table: ``python -m tests.attacks.report``.

Grades, in one sandboxed batch with the default ``Limits()`` and 2 workers, a class of two
honest students and one student per attack of ``tests.attacks.corpus`` (each honest but for its
``relu_vjp`` cell), then prints per attack the points its ``relu_vjp`` cell earned, the
notebook's total, what the two honest students scored, and the first message shown. The same
batch is asserted attack by attack in ``tests/test_grading_sandbox.py``.
"""

from __future__ import annotations

from autograders.sandbox import Limits
from tests.attacks.corpus import ATTACKS
from tests.attacks.notebooks import HONEST_STUDENTS
from tests.attacks.run import grade_attack_class
from tests.corpora.tools import REPO


def _first_message(cell: dict) -> str:
    failed = [line[2:] for line in cell["message"].splitlines() if line.startswith("✗")]
    text = failed[0] if failed else cell["message"].splitlines()[0]
    return text[:160].replace("|", "/")


def main() -> None:
    rows = grade_attack_class(REPO, Limits(), workers=2)
    honest = ", ".join(f"{s} {rows[s]['score']:g}/{rows[s]['max_score']:g}"
                       for s in HONEST_STUDENTS)
    print(f"honest students graded in the same batch: {honest}")
    print("| attack | relu_vjp points | notebook total | message shown |")
    print("|---|---|---|---|")
    for attack in ATTACKS:
        row = rows[f"attack_{attack.name}"]
        relu = next(c for c in row["cells"] if c["grade_id"] == "test_relu_vjp")
        print(f"| {attack.name} | {relu['points']:g} / {relu['max_points']:g} | "
              f"{row['score']:g} / {row['max_score']:g} | {_first_message(relu)} |")


if __name__ == "__main__":
    main()
