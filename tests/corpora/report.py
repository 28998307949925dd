"""Corpus results per assignment: ``python -m tests.corpora.report``.

For each assignment: how many wrong answers lose points on their cell with a message naming
the mistake (caught / total), how many wrong answers print PASSED in every visible check of
their cell and still lose hidden points (unseen before submitting / total; those documented as
gaps in the corpus in parentheses), how many correct but differently written answers lose any
point (false rejections / total), and the median seconds to grade one whole submission
in-kernel (``tests.corpora.tools.grade_entry``, the path the hidden tests take). The same
corpora are asserted entry by entry in ``tests/test_exercises_corpus.py``.
"""

from __future__ import annotations

import time
from statistics import median

from tests.corpora.tools import ASSIGNMENTS, caught, corpus, grade_entry
from tests.corpora.visible import run_visible


def main() -> None:
    print("| assignment | wrong caught (mistake named) | wrong but PASSED by the self-checks "
          "(documented) | correct wrongly rejected | median s per graded submission |")
    print("|---|---|---|---|---|")
    totals = [0, 0, 0, 0, 0, 0]
    for name in ASSIGNMENTS:
        n_caught = n_wrong = n_unseen = n_documented = n_rejected = n_correct = 0
        seconds = []
        for kind in ("WRONG", "CORRECT"):
            for _, entry in corpus(kind, (name,)):
                start = time.perf_counter()
                results = grade_entry(name, entry)
                seconds.append(time.perf_counter() - start)
                if kind == "WRONG":
                    n_wrong += 1
                    n_caught += caught(name, entry, results)
                    lost = any(r.points < r.max_points for r in results)
                    runs = run_visible(name, {entry.function: entry.source},
                                       only_answer=entry.function)
                    unseen = lost and not any(r.failed for r in runs)
                    n_unseen += unseen
                    n_documented += unseen and bool(entry.visible_gap)
                else:
                    n_correct += 1
                    n_rejected += any(r.points < r.max_points for r in results)
        row = (n_caught, n_wrong, n_unseen, n_documented, n_rejected, n_correct)
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        print(f"| {name} | {n_caught}/{n_wrong} | {n_unseen}/{n_wrong} ({n_documented}) | "
              f"{n_rejected}/{n_correct} | {median(seconds):.2f} |")
    t = totals
    print(f"| all | {t[0]}/{t[1]} | {t[2]}/{t[1]} ({t[3]}) | {t[4]}/{t[5]} | |")


if __name__ == "__main__":
    main()
