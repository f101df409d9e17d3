"""Stopping mtcp-impair and reading its end-of-run counters, for the lossy-path
system tests (Tests/system/impaired_path.py) and the `loss` benchmark (lossy.py)."""

import re
import signal
import subprocess


def stop(proc):
    """SIGINT to a running mtcp-impair (a Popen with text stdout); returns its exit
    status, its remaining output and its counters per direction, keyed by the
    interface the frames came in on: {"IF": {"received": N, "lost": N, ...}}."""
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=5)
    counters = {}
    for line in out.splitlines():
        match = re.match(r"(\S+) -> (\S+): (.*)$", line)
        if match:
            counters[match.group(1)] = {name.strip().replace(" ", "_"): int(value) for name, value in
                                        re.findall(r"([a-z ]+?) (\d+)(?:,|$)", match.group(3))}
    return proc.returncode, out, counters
