"""The one progress-bar policy: a terminal redraws freely, a log gets a line per 10 s."""

import io

from svgrl.progress import LOG_INTERVAL, bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_written_to_a_file_adds_few_lines():
    log = io.StringIO()
    b = bar(total=5000, file=log, desc="work")
    assert b.mininterval == LOG_INTERVAL
    for _ in range(5000):
        b.update()
    b.close()
    # the first and last states (and at most one more in a slow run), not thousands
    assert 2 <= log.getvalue().count("work") <= 4
    assert "5000/5000" in log.getvalue()


def test_a_bar_on_a_terminal_redraws_as_tqdm_likes():
    term = _Terminal()
    assert bar(total=10, file=term).mininterval < 1


def test_a_callers_interval_wins():
    assert bar(total=10, file=io.StringIO(), mininterval=0.5).mininterval == 0.5
