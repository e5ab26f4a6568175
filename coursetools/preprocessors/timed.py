"""``Timed``: a preprocessor that adds up the seconds its work takes (for the bench)."""

import time


class Timed:
    """Mix in before an nbconvert preprocessor; it implements ``timed_preprocess``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seconds = 0.0

    def preprocess(self, nb, resources):
        started = time.perf_counter()
        try:
            return self.timed_preprocess(nb, resources)
        finally:
            self.seconds += time.perf_counter() - started
