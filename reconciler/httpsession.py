"""The requests session both clients use."""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping
from http.client import HTTPException
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar
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
        adapter = self.get_adapter(url)
        if (
            self.proxies
            or self.hooks["response"]
            or type(adapter) is not HTTPAdapter
            or _NOT_ON_THE_WIRE.search(request.path_url)
        ):
            return self.send(request, timeout=timeout, proxies=dict(self.proxies))
        return self._send_pooled(adapter, request, timeout)

    def _send_pooled(
        self, adapter: HTTPAdapter, request: requests.PreparedRequest, timeout: float | None
    ) -> requests.Response:
        """One request on one of the adapter's pooled connections, its target as it is.

        urllib3's `urlopen` would check the target byte by byte once more. Errors come out
        as requests' own, as `HTTPAdapter.send` raises them: a timeout, a TLS failure, a
        connection that cannot be made or breaks."""
        pool = adapter.get_connection_with_tls_context(request, self.verify, cert=self.cert)
        try:
            conn = pool._get_conn()
        except urllib3.exceptions.HTTPError as exc:
            raise requests.exceptions.ConnectionError(exc, request=request) from exc
        try:
            raw = pool._make_request(
                conn,
                request.method,
                request.path_url,
                body=request.body,
                headers=request.headers,
                retries=adapter.max_retries,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                response_conn=conn,
                preload_content=False,
                decode_content=False,
            )
        except Exception as exc:
            conn.close()
            pool._put_conn(None)
            raise _as_requests_error(exc, request) from exc
        response = adapter.build_response(request, raw)
        if response.is_redirect:
            # redirects are rare enough to go the usual way, which follows them
            response.close()
            return self.send(request, timeout=timeout, proxies={})
        extract_cookies_to_jar(self.cookies, request, raw)
        _ = response.content  # read it all: the connection goes back to the pool
        return response


def _as_requests_error(exc: BaseException, request: requests.PreparedRequest) -> BaseException:
    """What `HTTPAdapter.send` would raise for `exc`."""
    errors = urllib3.exceptions
    if isinstance(exc, errors.ReadTimeoutError):
        return requests.exceptions.ReadTimeout(exc, request=request)
    if isinstance(exc, errors.NewConnectionError):
        return requests.exceptions.ConnectionError(exc, request=request)
    if isinstance(exc, errors.ConnectTimeoutError):
        return requests.exceptions.ConnectTimeout(exc, request=request)
    if isinstance(exc, errors.SSLError | ssl.SSLError | ssl.CertificateError):
        return requests.exceptions.SSLError(exc, request=request)
    if isinstance(exc, OSError | HTTPException | errors.ProtocolError):
        return requests.exceptions.ConnectionError(exc, request=request)
    if isinstance(exc, errors.HTTPError):
        return requests.exceptions.RequestException(exc, request=request)
    return exc  # not a transport error: as it was
