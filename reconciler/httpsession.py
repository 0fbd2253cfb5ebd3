"""The requests session both clients use."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import requests
import urllib3
from requests.cookies import RequestsCookieJar
from requests.sessions import merge_setting
from requests.structures import CaseInsensitiveDict

# a character urllib3 would percent-encode in a request target, or a "%" it would re-encode
# (not followed by two upper-case hex digits): such a target is not yet as it goes on the wire
_NOT_ON_THE_WIRE = re.compile(r"[^A-Za-z0-9._~!$&'()*+,;=:@/?%-]|%(?![0-9A-F]{2})")


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

    def send_encoded(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """Send `url`, already percent-encoded, as it is, with the headers and body
        `Session.request` would send.

        `Session.request` parses and re-quotes every URL, character by character: for a
        long edit that is most of the request's cost. A session that reads no environment
        (built with a `base_url`), holds no cookies and has no auth has nothing else to add,
        so the request is prepared here; any other session goes the usual way.
        """
        netloc = url.split("/", 3)[2] if "://" in url else ""
        if (
            self.trust_env
            or self.auth is not None
            or self.params
            or len(self.cookies)
            or ("@" in netloc)
        ):
            return self.request(method, url, headers=headers, data=data, timeout=timeout)
        request = requests.PreparedRequest()
        request.method = method.upper()
        request.url = url
        request.headers = CaseInsensitiveDict(
            merge_setting(headers, self.headers, dict_class=CaseInsensitiveDict)
        )
        request.body = data
        if data is not None:
            request.headers["Content-Length"] = str(len(data))
        elif request.method not in ("GET", "HEAD"):
            request.headers["Content-Length"] = "0"
        request.prepare_cookies(RequestsCookieJar())
        request.prepare_hooks(self.hooks)
        if _NOT_ON_THE_WIRE.search(request.path_url):
            return self.request(method, url, headers=headers, data=data, timeout=timeout)
        return self.send(request, timeout=timeout, proxies=dict(self.proxies))

