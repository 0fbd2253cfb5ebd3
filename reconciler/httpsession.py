"""The requests session both clients use."""

from __future__ import annotations

import os
from typing import Any

import requests
import urllib3


class ConfiguredSession(requests.Session):
    """A session whose configured certificate check wins over the environment.

    requests lets `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` replace `Session.verify`; a
    `ca_bundle` or `verify_ssl: false` from stashplex's config must not be overridden.
    """

    def __init__(self, verify: bool | str = True, base_url: str | None = None) -> None:
        super().__init__()
        # a server on plain HTTP has no certificate to check: the environment's bundle would
        # only cost a stat() of its path on every request
        plain = base_url is not None and base_url.lower().startswith("http://")
        if verify is True and not plain:
            verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            )
        self.verify = verify
        if verify is False:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        if base_url is not None:
            # read the proxy settings once: requests would read the environment on every request
            self.proxies.update(requests.utils.get_environ_proxies(base_url))
            self.trust_env = False

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self.verify is not True and verify in (None, True):
            settings["verify"] = self.verify
        return settings
