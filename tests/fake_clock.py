"""A stopped clock for timing tests: it moves only when a fake model says its work took time, so a
latency measured on it is exact whatever the machine's load."""


class StoppedClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def spend(self, seconds: float) -> None:
        self.now += seconds
