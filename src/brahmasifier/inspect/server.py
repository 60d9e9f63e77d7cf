"""The grading web app: a Flask application served on 127.0.0.1 by Werkzeug's threaded server.

Why Flask: the app is a handful of synchronous routes (the page, the list, one PNG per panel,
one POST per grade) for one local user; Flask is small, long maintained, and its server
(Werkzeug, already installed with TensorBoard) gives :func:`werkzeug.serving.make_server`, a
server object a test can start on a free port and stop. An async stack (Starlette + uvicorn)
would add two dependencies for no gain here. The page (``static/app.html``, package data) holds
its JavaScript and CSS inline: nothing is fetched from elsewhere, it works offline.

Routes: ``GET /`` the page; ``GET /api/state`` the list (IDs, scores unless calibration objects
are mixed in, grades, notes, where to start); ``GET /api/panel/<position>/<panel>.png`` one
panel (:mod:`brahmasifier.evaluation.panels`, computed on first request and cached);
``POST /api/grade`` ``{position, grade, note}``, saved to the grade file before the answer
(:class:`~brahmasifier.inspect.grades.GradeBook`), with the truth of a calibration object in the
answer when instant feedback is on. Requests naming another host than 127.0.0.1 / localhost are
refused (DNS rebinding), and a grade is only read from a JSON body (a cross-site form post cannot
send one without a CORS preflight, which this app does not answer).
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from importlib.resources import files
from typing import Any

import numpy as np
from flask import Flask, Response, abort, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

from brahmasifier.errors import ConfigError
from brahmasifier.evaluation.panels import PANEL_TITLES, PANELS, candidate_panels, panel_png, scale_bar_pixels
from brahmasifier.inspect.grades import GRADES, GradeBook

__all__ = ["create_app", "start_server"]

HOST = "127.0.0.1"


def create_app(book: GradeBook, images: dict[int, np.ndarray], *, feedback: bool = False) -> Flask:
    """The app over ``book`` (the list and its grade file) and the cutouts by list position."""
    app = Flask("brahmasifier.inspect")
    page = files("brahmasifier.inspect").joinpath("static/app.html").read_text(encoding="utf-8")
    cache: dict[int, dict[str, bytes]] = {}
    lock = threading.Lock()
    show_scores = bool((book.table["calibration"].astype(str) == "").all())

    def panels(position: int) -> dict[str, bytes]:
        with lock:
            if position not in cache:
                if len(cache) > 512:
                    cache.pop(next(iter(cache)))
                cache[position] = {k: panel_png(v) for k, v in candidate_panels(images[position]).items()}
            return cache[position]

    @app.before_request
    def local_only() -> Any:
        # DNS rebinding: a page of another site resolving its name to 127.0.0.1 still sends its own Host.
        if request.host.rsplit(":", 1)[0] not in ("127.0.0.1", "localhost"):
            return jsonify({"error": "this server answers requests for 127.0.0.1 only"}), 403
        return None

    @app.get("/")
    def index() -> Response:
        return Response(page, mimetype="text/html")

    @app.get("/api/state")
    def state() -> Response:
        t = book.table
        items = [{"position": int(r.position), "id": r.id, "stem": r.stem,
                  "prob": (None if not show_scores or not np.isfinite(float(r.prob)) else float(r.prob)),
                  "grade": r.grade, "note": r.note} for r in t.itertuples()]
        return jsonify({"inspector": book.inspector, "file": str(book.path), "items": items,
                        "start": min(book.first_ungraded(), max(len(book) - 1, 0)), "grades": list(GRADES),
                        "panels": [{"name": p, "title": PANEL_TITLES[p]} for p in PANELS],
                        "scale_bar_fraction": scale_bar_pixels() / next(iter(images.values())).shape[-1] if images else 0,
                        "feedback": feedback, "show_scores": show_scores})

    @app.get("/api/panel/<int:position>/<name>.png")
    def panel(position: int, name: str) -> Response:
        if position not in images or name not in PANELS:
            abort(404)
        response = Response(panels(position)[name], mimetype="image/png")
        response.headers["Cache-Control"] = "max-age=3600"
        return response

    @app.post("/api/grade")
    def grade() -> Any:
        body = request.get_json(silent=True) or {}
        try:
            position = int(body["position"])
            row = book.set(position, str(body.get("grade", "")), str(body.get("note", "")))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            return jsonify({"error": str(exc)}), 400
        answer: dict[str, Any] = {"ok": True, "grade": row["grade"], "n_graded": book.n_graded()}
        if feedback and row["calibration"] and row["grade"]:
            answer["feedback"] = f"known {row['calibration']}"
            answer["correct"] = (row["grade"] in ("A", "B")) == (row["calibration"] == "lens")
        return jsonify(answer)

    return app


def start_server(app: Flask, port: int) -> BaseWSGIServer:
    """A threaded server for ``app`` bound to 127.0.0.1:``port`` (0: a free port); call ``serve_forever``.

    A port in use is a :class:`~brahmasifier.errors.ConfigError` (Werkzeug would print its own
    lines and exit): the port is probed first with the same socket options.
    """
    if port:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError as exc:
                reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
                raise ConfigError(f"--port {port}: {reason} on {HOST}; pick another port (or 0 for any free one)") from exc
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per panel request would drown the terminal
    return make_server(HOST, port, app, threaded=True)
