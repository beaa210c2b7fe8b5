"""kazoo's test_invalid_sasl_auth (both DIGEST-MD5 variants) without the race in it.

kazoo's start() returns once the session is CONNECTED, which kazoo signals before it
runs the SASL exchange; the test then expects the first request (the chroot check)
to raise AuthFailedError. When the server rejects the credentials within the two
round trips before start()'s thread wakes, start() finds the client closed and
raises KazooTimeoutError instead: the outcome depends on thread scheduling, not on
the server. These tests wait for the outcome that matters — the session ends in
AUTH_FAILED and requests raise AuthFailedError — whichever way the race goes.
"""
import os
import time

import pytest

from kazoo.exceptions import AuthFailedError, ConnectionClosedError
from kazoo.protocol.states import KeeperState
from kazoo.testing import KazooTestHarness


class TestInvalidSASLDigest(KazooTestHarness):
    def setUp(self):
        os.environ["ZOOKEEPER_JAAS_AUTH"] = "digest"
        self.setup_zookeeper()

    def tearDown(self):
        self.teardown_zookeeper()

    def _assert_auth_failed(self, **client_options):
        client = self._get_client(**client_options)
        # kazoo passes AUTH_FAILED by on its way to CLOSED: record every state.
        states = []
        session_callback = client._session_callback

        def record(state):
            states.append(state)
            session_callback(state)

        client._session_callback = record
        try:
            client.start_async()
            deadline = time.monotonic() + 15
            while KeeperState.AUTH_FAILED not in states:
                assert time.monotonic() < deadline, "states %s, want AUTH_FAILED" % states
                time.sleep(0.01)
            assert not client.connected
            with pytest.raises((AuthFailedError, ConnectionClosedError)):
                client.exists("/")
        finally:
            client.stop()
            client.close()

    def test_invalid_sasl_options(self):
        self._assert_auth_failed(sasl_options={
            "mechanism": "DIGEST-MD5", "username": "baduser", "password": "badpassword"})

    def test_invalid_legacy_sasl_auth_data(self):
        self._assert_auth_failed(auth_data=[("sasl", "baduser:badpassword")])
