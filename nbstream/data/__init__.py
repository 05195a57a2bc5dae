"""Every stream as data: the chunk table (a row per received message), the run row
(TTFT, ITL, tokens/s, usage, outcome), summaries over many runs, token estimates."""

__all__: list[str] = []
