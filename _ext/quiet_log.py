"""Sphinx extension: a build log that shows what a reader must act on (issue 10, item 18).

Two kinds of noise hid the warnings that matter:

* every executed notebook printed ipykernel's "Kernel is running over TCP without encryption"
  warning (ten per full build). That warning names its own remedy, CurveZMQ keys provisioned by
  the kernel manager, and jupyter_client >= 8.10 offers it (``transport_encryption``, off by
  default); nothing in the Jupyter Book / myst-nb / jupyter-cache / nbclient chain passes
  configuration down to the kernel manager, so this sets the trait's default to ``"auto"``:
  kernels whose kernelspec declares ``supported_encryption: curve`` (ipykernel >= 7.2 writes
  that) get keys and run encrypted; other kernels start as before.
* myst-parser and myst-nb print their whole configuration (two lines of some 1,500 characters)
  at every build. Those two records are dropped unless the build runs with ``-v``.

Warnings and errors are never filtered: ``-W`` still turns each into a failed build.
"""

from __future__ import annotations

import logging
from typing import Any

# loggers (Sphinx namespaces them under "sphinx.") that print a configuration dump
CONFIG_DUMP_LOGGERS = ("sphinx.myst_parser.sphinx_ext.main", "sphinx.myst_nb.sphinx_ext")
CONFIG_CLASSES = ("MdParserConfig", "NbParserConfig")


class DropConfigDump(logging.Filter):
    """Drops INFO records whose arguments include a myst-parser / myst-nb configuration."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        return not any(type(arg).__name__ in CONFIG_CLASSES for arg in args)


def encrypt_kernel_transport() -> bool:
    """Default jupyter_client's ``KernelManager.transport_encryption`` to ``"auto"``.

    Returns whether it was set (it is not when jupyter_client is too old to have the trait or
    pyzmq was built without CurveZMQ, where "auto" would be refused).
    """
    import zmq
    from jupyter_client.manager import KernelManager

    trait = KernelManager.class_traits().get("transport_encryption")
    if trait is None or not zmq.has("curve"):
        return False
    trait.default_value = "auto"
    return True


def setup(app: Any) -> dict[str, Any]:
    encrypt_kernel_transport()
    if app.verbosity == 0:
        for name in CONFIG_DUMP_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, DropConfigDump) for f in logger.filters):
                logger.addFilter(DropConfigDump())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
