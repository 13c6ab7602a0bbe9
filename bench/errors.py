"""The one error every benchmark stops with when it cannot measure, or its figures are unusable."""


class BenchmarkError(Exception):
    """The benchmark could not run or its run is unusable; the message says why."""
