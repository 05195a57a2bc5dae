"""Sans-IO wire handling: bytes in, normalized events out.

``framing`` turns network reads into timestamped messages (SSE events or NDJSON lines),
one adapter per wire format turns messages into :mod:`nbstream.events`. Nothing here
does I/O, and no wire format is visible past this package.
"""

__all__: list[str] = []
