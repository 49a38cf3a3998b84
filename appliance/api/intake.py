"""Intake API: mail from other channels into the same pipeline as IMAP mail (scope ``intake``).

``POST /api/v1/mails`` takes one raw RFC 822 message; ``POST /api/v1/messages`` a
channel-neutral JSON message (``appliance.mail.channel``), built into an RFC 822 message first.
Both then take the one intake path: the raw bytes into the blob store
(``mail.intake.ingest``), then ``jobs.actors.record`` in this process (the DB owner): the mail
recorded once per idempotency key and once per content, its extraction queued. So the same
upload twice, or the same JSON message (same client key, or same content) twice, is one mail.

Keys: ``<intake.account>/rfc822/0/<sha256>`` for uploads, ``<intake.account>/<channel>/0/key:<k>``
for a JSON message with ``idempotency_key`` and ``…/<channel>/0/json:<sha256 of the message>``
without one. Checking the key, building the message and recording it run under one lock, so a
retried request never leaves a second blob behind.

Errors (the API's usual body ``{"code", "message"}``): 413 ``payload_too_large`` over
``intake.max_bytes`` (the message names the limit), 400 ``invalid_request`` with the reason for
a body that is not a mail, not JSON, broken base64 or a message without text; 401/403 from the
access guard before the body is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from litestar import Request, Response, post
from litestar.datastructures import State
from pydantic import ValidationError

from appliance import logs
from appliance.api.app import AppContext, _ctx
from appliance.errors import InvalidRequest, PayloadTooLarge, TransientError
from appliance.mail.blobstore import BlobStore
from appliance.mail.channel import ChannelMessage, build_message, decode_attachment
from appliance.mail.intake import check_rfc822, ingest
from appliance.store import repo

RFC822_FOLDER = "rfc822"
# A JSON body may be this much larger than ``intake.max_bytes``: base64 grows files by a third.
JSON_FACTOR = 1.5
_LOCK = threading.Lock()


@dataclass
class IntakeResult:
    """The mail a request was recorded as. ``duplicate``: it was known already (same key or
    same content), nothing new was queued. Its progress: ``GET /api/v1/mails/{mail_id}``
    (scope ``read``)."""

    mail_id: int
    sha256: str
    key: str
    state: str
    duplicate: bool


def _too_large(limit: int, what: str, max_bytes: int) -> PayloadTooLarge:
    how = (
        f"{JSON_FACTOR} × intake.max_bytes {max_bytes}"
        if limit != max_bytes
        else "intake.max_bytes"
    )
    return PayloadTooLarge(f"{what} is larger than the limit of {limit} bytes ({how})")


async def _read_body(
    request: Request[Any, Any, Any], limit: int, what: str, max_bytes: int
) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, what, max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, what, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _accept(
    ctx: AppContext, folder: str, uid: str, build: Callable[[], bytes]
) -> tuple[IntakeResult, bool]:
    """Record the mail ``build()`` returns under ``<account>/<folder>/0/<uid>`` unless that key
    is known; returns the result and whether a new mail was recorded."""
    s = ctx.settings.intake
    if ctx.intake is None:
        raise TransientError("mail intake needs the broker, which this process does not have")
    key = f"{s.account}/{folder}/0/{uid}"
    with _LOCK:
        known = repo.mail_by_key(ctx.db, key)
        if known is not None:
            return IntakeResult(known.mail_id, known.sha256, key, known.state, True), False
        raw = build()
        if len(raw) > s.max_bytes:
            raise _too_large(s.max_bytes, "the mail built from this message", s.max_bytes)
        msg = ingest(
            raw, BlobStore(ctx.settings.paths.blob_dir), account=s.account, folder=folder,
            uidvalidity=0, uid=uid,
        )  # fmt: skip
        with logs.log_context():
            rec = ctx.intake(msg)
        now = repo.mail_by_key(ctx.db, key)
    state = now.state if now is not None else repo.RECEIVED
    return IntakeResult(rec.mail_id, msg.sha256, key, state, not rec.new_mail), rec.new_mail


def _respond(result: IntakeResult, new: bool) -> Response[IntakeResult]:
    return Response(result, status_code=202 if new else 200)


@post(
    "/api/v1/mails", status_code=202, opt={"scope": "intake"}, request_max_body_size=None,
)  # fmt: skip
async def post_mail(request: Request[Any, Any, Any], state: State) -> Response[IntakeResult]:
    """Take one raw RFC 822 message (the body as is, e.g. ``Content-Type: message/rfc822``)
    into the pipeline, like a mail fetched over IMAP. 202 with the new mail's id; 200 with
    ``duplicate: true`` when the same message was taken before (keyed by its content). 413 over
    ``intake.max_bytes``; 400 when the body is not a mail (empty, no header fields, no From)."""
    ctx = _ctx(state)
    limit = ctx.settings.intake.max_bytes
    raw = await _read_body(request, limit, "the mail", limit)
    check_rfc822(raw)
    uid = hashlib.sha256(raw).hexdigest()
    result, new = await anyio.to_thread.run_sync(
        lambda: _accept(ctx, RFC822_FOLDER, uid, lambda: raw)
    )
    return _respond(result, new)


def parse_message(body: bytes) -> ChannelMessage:
    """The JSON body as a :class:`ChannelMessage`; 400 with every reason when it is not one."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object (a message), not a list or a value")
    try:
        message = ChannelMessage.model_validate(data)
    except ValidationError as exc:
        reasons = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"])
            text = str(err["msg"]).removeprefix("Value error, ")
            reasons.append(f"{where}: {text}" if where else text)
        raise InvalidRequest("invalid message: " + "; ".join(reasons)) from exc
    for i, att in enumerate(message.attachments):
        decode_attachment(att, i)  # 400 for broken base64 before anything is recorded
    return message


@post(
    "/api/v1/messages", status_code=202, opt={"scope": "intake"}, request_max_body_size=None,
)  # fmt: skip
async def post_message(request: Request[Any, Any, Any], state: State) -> Response[IntakeResult]:
    """Take a channel-neutral message (a web form, a messenger bridge) into the pipeline.

    Body (JSON): ``channel`` (``webform``, ``telegram`` …: lower-case letters, digits, ``._-``),
    ``sender`` (``email``, ``name``, ``id``; all optional), ``subject``, ``text`` and/or ``html``
    (one required), ``attachments`` (``[{"filename", "content_base64", "content_type"?}]``),
    ``idempotency_key`` (optional). It becomes an RFC 822 message (``From`` the sender, header
    ``X-Appliance-Channel``) and then a mail like any other. Replies (questions, the
    acknowledgement) go out by e-mail to ``sender.email``; without one, an offer that needs an
    answer goes to review with that reason. 202 with the new mail's id; 200 with
    ``duplicate: true`` for the same ``idempotency_key`` (per channel) or, without a key, the
    same content again. 413 over ``intake.max_bytes`` (the JSON body: 1.5 times that); 400 for
    bad JSON, a missing text, broken base64 or a bad field, with the reason."""
    ctx = _ctx(state)
    max_bytes = ctx.settings.intake.max_bytes
    limit = int(max_bytes * JSON_FACTOR)
    message = parse_message(await _read_body(request, limit, "the JSON body", max_bytes))
    if message.idempotency_key:
        uid = f"key:{message.idempotency_key}"
    else:
        uid = "json:" + hashlib.sha256(message.model_dump_json().encode()).hexdigest()
    received_at = dt.datetime.now(dt.UTC)
    result, new = await anyio.to_thread.run_sync(
        lambda: _accept(
            ctx, message.channel, uid, lambda: build_message(message, received_at=received_at)
        )
    )
    return _respond(result, new)


ROUTES: list[Any] = [post_mail, post_message]
