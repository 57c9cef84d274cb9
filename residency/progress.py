"""How long library work reports progress: a callback, never printing (the CLI renders)."""

from __future__ import annotations

from collections.abc import Callable

#: Called with (done, total) as work advances; total is None when not known in advance
#: (a streamed audit). Library code calls it, ``residency/progress_bar.py`` draws it.
Progress = Callable[[int, int | None], None]
