"""What a Run looks like: the live notebook view, the terminal view, the status line,
side-by-side comparisons, feed tables and plots — all through one render boundary
(``render``), the only module that turns untrusted strings into output."""

__all__: list[str] = []
