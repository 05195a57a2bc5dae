"""The engine: endpoints and requests, HTTP, the I/O loop, the pump that drives a source
into a Run, the sources ``show()`` reads, and recorded replays."""

__all__: list[str] = []
