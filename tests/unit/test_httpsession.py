"""The environment's CA bundle applies to servers on HTTPS only."""

from __future__ import annotations

from reconciler.httpsession import ConfiguredSession


def test_a_plain_http_server_gets_no_ca_bundle_to_stat_on_every_request(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert ConfiguredSession(True, "http://stash.lan:9999").verify is True
    assert ConfiguredSession(True, "https://plex.lan:32400").verify == str(bundle)
    assert ConfiguredSession(False, "https://plex.lan:32400").verify is False
