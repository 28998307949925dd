"""Corpus results per assignment: ``python -m tests.corpora.report``.

For each assignment: how many wrong answers lose points on their cell with a message naming
the mistake (caught / total), how many correct but differently written answers lose any point
(false rejections / total), and the median seconds to grade one whole submission in-kernel
(``tests.corpora.tools.grade_entry``, the path the hidden tests take). The same corpora are
asserted entry by entry in ``tests/test_exercises_corpus.py``.
"""

from __future__ import annotations

import time
from statistics import median

from tests.corpora.tools import ASSIGNMENTS, caught, corpus, grade_entry


def main() -> None:
    print("| assignment | wrong caught (mistake named) | correct wrongly rejected | "
          "median s per graded submission |")
    print("|---|---|---|---|")
    totals = [0, 0, 0, 0]
    for name in ASSIGNMENTS:
        n_caught = n_wrong = n_rejected = n_correct = 0
        seconds = []
        for kind in ("WRONG", "CORRECT"):
            for _, entry in corpus(kind, (name,)):
                start = time.perf_counter()
                results = grade_entry(name, entry)
                seconds.append(time.perf_counter() - start)
                if kind == "WRONG":
                    n_wrong += 1
                    n_caught += caught(name, entry, results)
                else:
                    n_correct += 1
                    n_rejected += any(r.points < r.max_points for r in results)
        row = (n_caught, n_wrong, n_rejected, n_correct)
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        print(f"| {name} | {n_caught}/{n_wrong} | {n_rejected}/{n_correct} | "
              f"{median(seconds):.2f} |")
    print(f"| all | {totals[0]}/{totals[1]} | {totals[2]}/{totals[3]} | |")


if __name__ == "__main__":
    main()
