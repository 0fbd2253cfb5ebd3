import io

from reconciler.progress import Progress, pace


def test_pace_shows_the_rate_and_the_time_left():
    assert pace(50, 200, 10.0) == "5.0/s, 0:30 left"
    assert pace(50, 20_000, 10.0) == "5.0/s, 1:06:30 left"
    assert pace(200, 200, 10.0) == "20.0/s"
    assert pace(0, 200, 10.0) == ""


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_each_stage_is_timed_from_the_end_of_the_one_before():
    now = [100.0]
    terminal = FakeTerminal()
    bar = Progress(terminal, clock=lambda: now[0])
    now[0] = 102.0
    bar("plex", 10, 10)
    now[0] = 103.0
    bar("stash", 25, 100)
    assert "reading Plex" in terminal.getvalue() and "5.0/s" in terminal.getvalue()
    assert terminal.getvalue().endswith("25/100  25.0/s, 0:03 left")
