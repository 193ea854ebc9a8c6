"""The private upload page for listening-history exports too big for Discord: GET/POST /import/<token>.

`/import` without a file gives the member a single-use link here (30 minutes, bound to them). The page
shows upload progress and the result in plain words; the link is used up only by a successful import,
so a member who picked the wrong file can simply try again.
"""

from __future__ import annotations

import json
import secrets
from html import escape
from typing import Any

from flask import Blueprint, Response, request

from utils.errors import BadImportFile, LinkExpired
from utils.logger import get_logger
from utils.sources.export_import import HistoryImporter
from web.pages import message_page, paragraph, render_page

log = get_logger("web.upload")

_FORM_SLACK_BYTES = 1024 * 1024  # multipart framing around the file itself
_KEEP_TEXT = ("We keep only when each song played, for how long, and the song, artist and album names. "
              "Everything else in the file, like your IP address, country and devices, is thrown away straight away.")


def create_upload_blueprint(ctx: Any) -> Blueprint:
    """Routes `GET/POST /import/<token>`. `ctx` is keep_alive.WebContext (.db .settings .importer .bridge)."""
    importer: HistoryImporter = ctx.importer or HistoryImporter(ctx.db, ctx.settings)
    max_bytes = importer.limits.max_upload_bytes
    blueprint = Blueprint("upload", __name__)

    @blueprint.get("/import/<token>")
    def upload_form(token: str) -> Response:
        try:
            link = importer.check_upload_link(token)
        except LinkExpired as exc:
            return _expired_page(exc)
        return _form_page(link.display_name, max_bytes)

    @blueprint.post("/import/<token>")
    def upload(token: str) -> Response:
        request.max_content_length = max_bytes + _FORM_SLACK_BYTES
        try:
            link = importer.check_upload_link(token)
        except LinkExpired as exc:
            return _answer(410, "This link has expired", exc.user_message, "Run /import in Discord to get a new link.")
        if request.content_length is not None and request.content_length > max_bytes + _FORM_SLACK_BYTES:
            return _answer(413, "That file is too big", f"The limit is {max_bytes // (1024 * 1024)} MB. Spotify's and "
                           "ListenBrainz's own zips are well under that, so please upload yours just as it came.", _TRY_AGAIN)
        file = request.files.get("file")
        if file is None or not file.filename:
            return _answer(400, "No file chosen", "Please choose your Spotify or ListenBrainz history file first.", _TRY_AGAIN)
        try:
            summary = importer.import_upload(token, file.stream, file.filename)
        except LinkExpired as exc:
            return _answer(410, "This link has expired", exc.user_message, "Run /import in Discord to get a new link.")
        except BadImportFile as exc:
            return _answer(400, "That file didn't work", exc.user_message, _TRY_AGAIN)
        except Exception:
            log.exception("History upload failed for a member")
            return _answer(500, "Something went wrong on our side", "Your history wasn't imported. Please try again "
                           "in a minute; if it keeps happening, tell the bot owner.", _TRY_AGAIN)
        finally:
            file.close()
        try:
            ctx.bridge.on_imported(link.discord_id, summary)
        except Exception:  # the plays are stored; the Discord message is a courtesy
            log.exception("Could not tell the bot about an import")
        return _answer(200, "Your history is in!", summary.message,
                       "Head back to Discord and try /profile or /whoknows. You can close this tab.",
                       extra={"plays_added": summary.plays_added, "plays_already_there": summary.plays_already_there})

    return blueprint


_TRY_AGAIN = "You can try again with another file: this link still works."


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _answer(status: int, title: str, message: str, next_step: str, extra: dict[str, Any] | None = None) -> Response:
    """The result as JSON for the page's script, or as a whole page when the browser posted the form itself."""
    ok = status == 200
    if _wants_json():
        body = {"ok": ok, "title": title, "message": message, "next": next_step, "retry": status in (400, 413, 500),
                **(extra or {})}
        return Response(json.dumps(body), status=status, mimetype="application/json")
    return Response(message_page(title, message, next_step, tone="ok" if ok else "error"), status=status,
                    mimetype="text/html")


def _expired_page(exc: LinkExpired) -> Response:
    page = message_page("This link has expired", exc.user_message, "Run /import in Discord to get a new link.",
                        tone="error")
    return Response(page, status=410, mimetype="text/html")


def _form_page(display_name: str | None, max_bytes: int) -> Response:
    nonce = secrets.token_urlsafe(16)
    greeting = f"Hi {display_name}! " if display_name else ""
    body = (
        paragraph(f"{greeting}Choose the zip file Spotify e-mailed you (usually my_spotify_data.zip), or one of the "
                  f".json files inside it, or your ListenBrainz export (its zip, or a .jsonl file). Files up to "
                  f"{max_bytes // (1024 * 1024)} MB are fine.")
        + '<form id="upload-form" method="post" enctype="multipart/form-data">'
        + '<label for="file">Your Spotify or ListenBrainz history file</label>'
        + '<input id="file" name="file" type="file" required accept=".zip,.json,.jsonl,application/zip,application/json">'
        + '<button id="send" type="submit">Upload my history</button></form>'
        + '<progress id="bar" max="100" value="0" hidden style="width:100%"></progress>'
        + '<p id="status" role="status" aria-live="polite"></p>'
        + '<div id="result" hidden><h2 id="result-title"></h2><p id="result-message"></p>'
        + '<p id="result-next" class="next"></p></div>'
        + paragraph(_KEEP_TEXT, "muted")
        + paragraph("This link is just for you. It works for 30 minutes, and once your history is in, it can't be "
                    "used again.", "muted")
        + f'<script nonce="{escape(nonce)}">{_SCRIPT.replace("__MAX__", str(max_bytes))}</script>'
    )
    response = Response(render_page("Bring in your listening history", body), mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; connect-src 'self'; "
        "img-src 'self' data:; form-action 'self'; base-uri 'none'")
    return response


# Uploads with XMLHttpRequest so the member sees progress; without scripts the form still posts normally.
_SCRIPT = """
(function () {
  var form = document.getElementById('upload-form'), bar = document.getElementById('bar');
  var status = document.getElementById('status'), send = document.getElementById('send');
  function show(body) {
    status.textContent = ''; bar.hidden = true;
    document.getElementById('result').hidden = false;
    document.getElementById('result-title').textContent = body.title;
    document.getElementById('result-message').textContent = body.message;
    document.getElementById('result-next').textContent = body.next || '';
    document.querySelector('main').className = body.ok ? 'ok' : 'error';
    form.hidden = !body.retry; send.disabled = false;
  }
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var file = form.elements.file.files[0];
    if (!file) { status.textContent = 'Please choose your Spotify or ListenBrainz history file first.'; return; }
    if (file.size > __MAX__) {
      show({ok: false, retry: true, title: 'That file is too big',
            message: 'Spotify\\'s own zip is well under the limit, so please upload it just as it came.'});
      return;
    }
    document.getElementById('result').hidden = true;
    send.disabled = true; bar.hidden = false; bar.value = 0;
    status.textContent = 'Uploading\\u2026 0%';
    var xhr = new XMLHttpRequest();
    xhr.open('POST', window.location.pathname);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        var percent = Math.round(e.loaded / e.total * 100);
        bar.value = percent; status.textContent = 'Uploading\\u2026 ' + percent + '%';
      }
    };
    xhr.upload.onload = function () {
      bar.removeAttribute('value');
      status.textContent = 'Upload done. Reading your history\\u2026 this can take a few seconds.';
    };
    xhr.onload = function () {
      var body;
      try { body = JSON.parse(xhr.responseText); } catch (err) {
        body = {ok: false, retry: true, title: 'Something went wrong',
                message: 'The upload didn\\'t finish properly. Please try again.'};
      }
      show(body);
    };
    xhr.onerror = function () {
      show({ok: false, retry: true, title: 'The upload didn\\'t get through',
            message: 'Check your internet connection and try again. This link still works.'});
    };
    xhr.send(new FormData(form));
  });
})();
"""
