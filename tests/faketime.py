"""libfaketime's `faketime` wrapper for tests, without its pid trap.

The wrapper names a semaphore and a shared-memory segment after its own pid
(/dev/shm/sem.faketime_sem_PID, /dev/shm/faketime_shm_PID) and removes them only when it ends
normally. One killed with the service it wraps leaves them behind, and pids wrap here after
32,768: a later wrapper that gets the same pid stops with "sem_open: File exists" before running
anything (it failed a full run this way once). So before each launch, the files of wrappers no
longer running are removed; a running wrapper's are never touched.
"""

from __future__ import annotations

from pathlib import Path

SHARED_MEMORY = Path("/dev/shm")
PREFIXES = ("sem.faketime_sem_", "faketime_shm_")


def remove_stale_files(folder: Path = SHARED_MEMORY) -> list[str]:
    """Remove the semaphores and segments of faketime wrappers that have ended; their names."""
    removed = []
    for path in folder.glob("*faketime_*"):
        prefix = next((p for p in PREFIXES if path.name.startswith(p)), None)
        pid = path.name[len(prefix):] if prefix else ""
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def faketime(*arguments: str) -> list[str]:
    """The wrapper's command line (`faketime ARG...`), its stale files removed first."""
    remove_stale_files()
    return ["faketime", *arguments]
