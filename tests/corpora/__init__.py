"""Corpora of wrong and correct-but-different student answers for the exercise checks.

Each assignment module defines ``WRONG`` (answers that must lose points on ``cell`` with a
message containing ``expect``) and ``CORRECT`` (answers written differently from the reference
that must get full marks).  ``tools`` turns them into namespaces and notebooks.
"""
