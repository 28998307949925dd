"""Cell lists of the assignments; ``exercises/build_sources.py`` turns them into notebooks."""
