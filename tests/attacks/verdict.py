"""What "the attack was defeated" means, for one graded row of the attack batch.

Shared by the root test (``tests/test_grading_sandbox.py``) and the ordinary-user test
(``tests/test_grading_nonroot.py``), which grade the same class in different set-ups.
"""

from __future__ import annotations

from typing import Any

from tests.attacks.corpus import Attack


def problems(row: dict[str, Any], attack: Attack) -> list[str]:
    """Everything wrong with how ``attack``'s notebook was graded (empty when it was defeated).

    It earns what it deserves on ``test_relu_vjp`` (nothing, unless it is honest there), every
    other cell of its notebook keeps full marks (or, for an attack that deserves ``None``, the
    whole notebook gets 0 with a message on every cell), and the feedback says why.
    """
    found = []
    cells = {c["grade_id"]: c for c in row["cells"]}
    relu = cells["test_relu_vjp"]
    if attack.deserved is None:
        if row["score"] != 0:
            found.append(f"scored {row['score']} instead of 0")
        found += [f"{gid}: a silent 0" for gid, c in cells.items() if not c["message"].strip()]
    else:
        if relu["points"] != attack.deserved:
            found.append(f"test_relu_vjp earned {relu['points']} (deserved {attack.deserved}): "
                         f"{relu['message'][:300]}")
        found += [f"{gid} lost points: {c['message'][:200]}" for gid, c in cells.items()
                  if gid != "test_relu_vjp" and c["points"] != c["max_points"]]
    said = relu["message"] + " " + " ".join(row["notes"])
    found += [f"the feedback does not say {word!r}: {relu['message'][:300]}"
              for word in attack.message_has if word not in said]
    return found
