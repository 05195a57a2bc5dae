"""stream() blocks in every place people call it — a plain script, terminal IPython —
and a real Ctrl-C (SIGINT) cancels it cleanly, keeping the partial answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    import nbstream
    from nbstream import demo
    server = demo.serve()
    print("ready", flush=True)
    run = nbstream.stream("Explain SSE", base_url=server.base_url, model=sys.argv[1],
                          demo={"ttft": 0.05, "tps": 50, "jitter": 0}, display=True)
    print("\\nstatus", run.status, len(run.text), flush=True)
    log = server.requests[-1]
    print("server-saw-disconnect", log.wait(60) and log.disconnected_ns is not None,
          "finished", log.finished, flush=True)
""")


def _env():
    env = dict(os.environ)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(var, None)
    return env


def test_ctrl_c_during_a_blocking_stream_in_a_script_cancels_it_and_keeps_the_partial(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), "demo-long"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stdout.readline().strip() == "ready"
        first = proc.stdout.read(1)  # the terminal view printed the first of the answer: it is streaming
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)  # demo-long at 50 tokens/s would take 40 s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    status_line = next(line for line in out.splitlines() if line.startswith("status"))
    _, status, n_chars = status_line.split()
    assert first and status == "cancelled", (first, err)
    assert int(n_chars) > 0
    assert "server-saw-disconnect True finished False" in out  # it left before the end of the answer
    assert "Traceback" not in err
    assert proc.returncode == 0


def test_stream_blocks_to_the_end_in_terminal_ipython(tmp_path):
    code = ("import nbstream; from nbstream import demo; s = demo.serve(); "
            "r = nbstream.stream('hi', base_url=s.base_url, model='demo', "
            "demo={'ttft': 0.01, 'tps': 1000}); print('STATUS', r.status, len(r.text) > 0)")
    out = subprocess.run([sys.executable, "-m", "IPython", "--quick", "--no-banner", "-c", code],
                         capture_output=True, text=True, timeout=60, env=_env())
    assert "STATUS done True" in out.stdout, out.stderr
    assert "already running" not in out.stderr
