"""`python -m flows.providers.local_check`: does the embedded model run on this CPU?

Loads SmolLM2 and generates a few tokens in a child process, so a llama.cpp build that
uses instructions this CPU refuses (SIGILL) is reported as a failure, not a crash of the
caller. scripts/bootstrap runs it after installing and rebuilds llama.cpp when it fails.
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
from llama_cpp import Llama
from flows.providers.local_llm import model_path
llm = Llama(model_path=str(model_path()), n_ctx=256, verbose=False)
out = llm.create_completion("Coffee is", max_tokens=4)
assert out["choices"][0]["text"] is not None
"""


def main() -> int:
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[-1:] or [f"exit code {probe.returncode}"]
        print(f"the embedded model does not run here: {reason[0]}", file=sys.stderr)
        return 1
    print("the embedded model runs on this CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
