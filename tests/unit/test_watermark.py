import pytest

from reconciler.watermark import band_below, newest, poll_from


def test_the_lower_bound_keeps_the_watermarks_own_offset():
    assert poll_from("2026-06-01T14:00:10+10:00") == "2026-06-01T14:00:08+10:00"
    assert poll_from("2026-06-01T14:00:10Z") == "2026-06-01T14:00:08Z"


@pytest.mark.parametrize("mark, lower", [
    # Europe/Berlin falls back at 03:00 CEST: the hour before is re-read
    ("2026-10-25T02:59:50+02:00", "2026-10-25T01:59:48+02:00"),
    # America/New_York falls back at 02:00 EDT
    ("2026-11-01T01:30:00-04:00", "2026-11-01T00:29:58-04:00"),
    ("2026-10-24T23:10:00+02:00", "2026-10-24T22:09:58+02:00"),
])
def test_near_a_possible_fall_back_a_whole_hour_is_read_again(mark, lower):
    assert poll_from(mark) == lower


def test_an_edit_after_the_clocks_went_back_sorts_above_the_lower_bound():
    mark = "2026-10-25T02:59:50+02:00"
    edit_after_fall_back = "2026-10-25T02:10:00+01:00"
    assert edit_after_fall_back < mark  # what a plain "newer than the watermark" would miss
    assert edit_after_fall_back > poll_from(mark)


def test_utc_and_daytime_watermarks_reread_only_seconds():
    assert poll_from("2026-10-25T02:59:50Z") == "2026-10-25T02:59:48Z"
    assert poll_from("2026-07-01T15:00:00+02:00") == "2026-07-01T14:59:58+02:00"


def test_within_one_offset_newest_is_the_greatest_string_as_stash_orders_them():
    assert newest("2026-10-25T02:59:50+02:00", ["2026-10-25T02:59:49+02:00"]) == (
        "2026-10-25T02:59:50+02:00")
    assert newest(None, ["b", "a", ""]) == "b"
    assert newest(None, []) is None


def test_after_an_offset_change_the_watermark_is_in_the_offset_stash_writes_now():
    # 02:10+01:00 is 40 minutes after 02:59:50+02:00, though it sorts below it as text:
    # kept as the watermark, later edits in +01:00 compare against a +01:00 string
    assert newest("2026-10-25T02:59:50+02:00", ["2026-10-25T02:10:00+01:00"]) == (
        "2026-10-25T02:10:00+01:00")
    assert newest("2026-12-01T12:00:00Z", ["2026-12-01T07:05:00-05:00"]) == (
        "2026-12-01T07:05:00-05:00")


def test_the_band_below_the_watermark_spans_every_westward_offset_change():
    low, high = band_below("2026-12-01T12:00:00Z")
    assert (low, high) == ("2026-11-30T10:00:00Z", "2026-12-01T11:59:59Z")
    # a Stash restarted from UTC in the westernmost zone writes its next edit inside the band
    assert low <= "2026-12-01T00:00:01-12:00" <= high
    assert band_below("") == ("", "")
