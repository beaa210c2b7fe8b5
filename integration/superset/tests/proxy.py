"""A loopback TCP proxy that can freeze: while frozen it forwards nothing and holds
new connections, as a network partition would, without closing anything."""

import socket
import threading


class Proxy:
    def __init__(self, upstreams):
        """upstreams: "h:p,h:p,..."; each connection goes to the first that answers."""
        self.upstreams = [(h, int(p)) for h, p in (u.rsplit(":", 1) for u in upstreams.split(","))]
        self.ln = socket.socket()
        self.ln.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ln.bind(("127.0.0.1", 0))
        self.ln.listen(16)
        self.ln.settimeout(0.2)
        self.addr = "127.0.0.1:%d" % self.ln.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.closed = threading.Event()
        self.socks = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self):
        self.open.clear()

    def thaw(self):
        self.open.set()

    def _track(self, s):
        with self.lock:
            self.socks.append(s)

    def _accept(self):
        while not self.closed.is_set():
            try:
                c, _ = self.ln.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._track(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        while not self.open.wait(0.2):
            if self.closed.is_set():
                return
        u = None
        for up in self.upstreams:
            try:
                u = socket.create_connection(up, timeout=5)
                break
            except OSError:
                continue
        if u is None:
            c.close()
            return
        self._track(u)
        threading.Thread(target=self._pipe, args=(c, u), daemon=True).start()
        self._pipe(u, c)

    def _pipe(self, src, dst):
        src.settimeout(0.2)
        while not self.closed.is_set():
            if not self.open.is_set():
                self.open.wait(0.2)
                continue
            try:
                b = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not b:
                break
            try:
                dst.sendall(b)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closed.set()
        self.ln.close()
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass
