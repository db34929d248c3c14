"""Whether a process runs: asked about the embedded Redis's users and about the servers
whose metrics folders may be removed.

Standard library only: `roboscope serve` asks it while it chooses the metrics folder, before
anything may import prometheus_client (which picks its multi-process mode once, at import).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, i.e. exited but not yet reaped, counts as gone)."""
    with contextlib.suppress(ChildProcessError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it happens to be our child
        if reaped == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
