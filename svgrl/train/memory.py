"""Keep freed memory in the process (glibc) for the training commands.

A training step allocates and frees tensors of hundreds of MB on the CPU (an SFT batch's
logits are batch × length × vocabulary floats). glibc serves every block over its mmap
threshold with a fresh mmap and unmaps it on free, so each step faults all those pages in
again (1.8 M minor page faults in 10 tiny SFT steps). Served from the heap, which keeps what
is freed, measured side by side on the shared 2-core machine (tiny model, 200 Tabler icons,
`--threads 1`): `svgrl train sft --max-steps 40` system time 10.5 → 1.0 s, wall 35–53 →
24 s, peak RSS 1.42 → 1.64–1.71 GB, same losses to the last digit; `svgrl train grpo
--steps 3` system time 1.9 → 1.1 s, wall 19.3 → 18.5 s. Only the `svgrl train` commands call
this: it changes the allocator of the whole process.
"""

from __future__ import annotations

import ctypes
import platform

# mallopt(3) parameters
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def keep_freed_memory() -> bool:
    """No mmap for large blocks and no trimming of the heap's top; True when applied (glibc
    only: elsewhere this does nothing)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and \
            bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError):
        return False
