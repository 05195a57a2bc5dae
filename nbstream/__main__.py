"""``python -m nbstream``: the ``nbstream`` command (see :mod:`nbstream.cli`)."""

from __future__ import annotations

import sys

from nbstream.cli import main

if __name__ == "__main__":
    sys.exit(main())
