"""Why bubblewrap cannot build a sandbox for an ordinary user, and how an administrator fixes it.

Run by an ordinary user (an instructor on a JupyterHub, say), bubblewrap needs *unprivileged
user namespaces*.  Three kernel settings switch them off:

=================================================  ===========================================
``kernel.unprivileged_userns_clone = 0``           Debian <= 10 and older Ubuntu kernels
``user.max_user_namespaces = 0``                   any kernel (RHEL/CentOS 7 ship it at 0)
``kernel.apparmor_restrict_unprivileged_userns``   Ubuntu >= 23.10 (24.04 LTS): only programs
``= 1``                                            with an AppArmor profile allowing ``userns``
=================================================  ===========================================

:func:`explain` reads them (through an injectable reader, so tests can simulate each machine)
and, with bubblewrap's own error text, turns a raw ``bwrap: ...`` failure into a message that
says what to change.  It never changes anything itself.

Also here: :func:`nproc_counted_per_namespace`, whether this kernel counts ``RLIMIT_NPROC``
per user namespace (Linux >= 5.14), which is what lets an ordinary user cap a sandbox's
processes without counting the user's other processes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

SYSCTLS: dict[str, str] = {
    "kernel.unprivileged_userns_clone": "/proc/sys/kernel/unprivileged_userns_clone",
    "user.max_user_namespaces": "/proc/sys/user/max_user_namespaces",
    "kernel.apparmor_restrict_unprivileged_userns":
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
}

#: Fragments of bubblewrap's messages when it may not create or use a user namespace
#: (Debian's and upstream's wording, and the AppArmor denial seen on Ubuntu 24.04).
BWRAP_USERNS_ERRORS: tuple[str, ...] = (
    "No permissions to create new namespace", "No permissions to create a new namespace",
    "No permissions to creating new namespace", "Creating new namespace failed",
    "setting up uid map", "setting up gid map", "loopback: Failed RTM_NEWADDR",
    "unprivileged user namespaces",
)

#: The AppArmor profile Ubuntu 24.04 needs so that ``/usr/bin/bwrap`` may use user namespaces.
APPARMOR_PROFILE = """\
abi <abi/4.0>,
include <tunables/global>

profile bwrap /usr/bin/bwrap flags=(unconfined) {
  userns,
  include if exists <local/bwrap>
}
"""

Reader = Callable[[str], "str | None"]


def read_sysctl(name: str) -> str | None:
    """The value of sysctl ``name`` from ``/proc/sys``, or ``None`` where it does not exist."""
    try:
        return Path(SYSCTLS[name]).read_text().strip()
    except (OSError, KeyError):
        return None


def _apparmor_fix() -> str:
    profile = "\n".join("      " + line if line else "" for line in APPARMOR_PROFILE.splitlines())
    return ("AppArmor restricts unprivileged user namespaces "
            "(kernel.apparmor_restrict_unprivileged_userns = 1, as on Ubuntu 24.04). Allow them "
            "for bubblewrap only: save this profile as /etc/apparmor.d/bwrap\n"
            f"{profile}\n"
            "    then run `sudo apparmor_parser -r /etc/apparmor.d/bwrap` (or "
            "`sudo systemctl reload apparmor`). Switching the restriction off for every "
            "program (`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`) also "
            "works but is broader.")


def causes(read: Reader = read_sysctl) -> list[str]:
    """One line per setting of this machine that disables unprivileged user namespaces."""
    found = []
    if read("kernel.unprivileged_userns_clone") == "0":
        found.append("kernel.unprivileged_userns_clone = 0: enable with "
                     "`sudo sysctl -w kernel.unprivileged_userns_clone=1` (to keep it after a "
                     "reboot, put `kernel.unprivileged_userns_clone = 1` in "
                     "/etc/sysctl.d/90-userns.conf)")
    if read("user.max_user_namespaces") == "0":
        found.append("user.max_user_namespaces = 0: enable with "
                     "`sudo sysctl -w user.max_user_namespaces=15000` (to keep it, put "
                     "`user.max_user_namespaces = 15000` in /etc/sysctl.d/90-userns.conf)")
    if read("kernel.apparmor_restrict_unprivileged_userns") == "1":
        found.append(_apparmor_fix())
    return found


def explain(bwrap_error: str, read: Reader = read_sysctl) -> str | None:
    """A plain-words reason and fix when ``bwrap_error`` comes from disabled user namespaces.

    ``None`` when neither the machine's settings nor the error text point at user namespaces
    (the failure is something else, and the caller shows bubblewrap's text as it is).
    """
    found = causes(read)
    if not found and not any(text in bwrap_error for text in BWRAP_USERNS_ERRORS):
        return None
    head = ("bubblewrap cannot build the sandbox because unprivileged user namespaces are "
            "disabled on this machine (an ordinary user's sandbox needs them; root does not).")
    if not found:
        found = ["if `sysctl kernel.unprivileged_userns_clone` prints 0: "
                 "`sudo sysctl -w kernel.unprivileged_userns_clone=1`",
                 "if `sysctl user.max_user_namespaces` prints 0: "
                 "`sudo sysctl -w user.max_user_namespaces=15000`",
                 "on Ubuntu 24.04 and later: " + _apparmor_fix()]
        head += " This machine's settings did not say which switch is off; one of these is:"
    else:
        head += " An administrator can enable them:"
    said = bwrap_error.strip().splitlines()
    tail = f"\n  (bubblewrap said: {said[-1][:300]})" if said else ""
    return head + "".join(f"\n  - {line}" for line in found) + tail


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """``(major, minor)`` of the running kernel (or of ``release``, e.g. ``"6.8.0-45"``)."""
    match = re.match(r"(\d+)\.(\d+)", release if release is not None else os.uname().release)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def nproc_counted_per_namespace(release: str | None = None) -> bool:
    """Does this kernel count ``RLIMIT_NPROC`` per (user namespace, uid)?

    Since Linux 5.14 the count lives in the user namespace's ``ucounts``: a limit set inside
    the sandbox's own user namespace counts the sandbox's processes only, while the
    instructor's other processes (same uid, parent namespace) are counted elsewhere.  Older
    kernels count every process of the uid.
    """
    return kernel_version(release) >= (5, 14)
