"""The one error tree of the appliance.

``TransientError`` means "try again later" (a server down, a timeout): actors let Dramatiq retry
it with backoff. ``PermanentError`` means the input itself is bad (a malformed mail, output that
fails the schema): it is recorded on the mail and shown, never retried automatically.
``http_status`` is the one mapping of errors to HTTP used by the API.
"""

from __future__ import annotations


class ApplianceError(Exception):
    """Base of every error the appliance raises on purpose."""

    code = "error"
    http_status = 500

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def as_dict(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.detail:
            out["detail"] = self.detail
        return out


class ConfigError(ApplianceError):
    code = "config"


class TransientError(ApplianceError):
    """Retry later: the cause is outside the input (service down, timeout, overload)."""

    code = "transient"
    http_status = 503


class PermanentError(ApplianceError):
    """The input cannot be processed as it is; record it and show it."""

    code = "permanent"
    http_status = 422


class LLMUnavailable(TransientError):
    code = "llm_unavailable"


class LLMTimeout(TransientError):
    code = "llm_timeout"


class BrokerUnavailable(TransientError):
    code = "broker_unavailable"


class MailServerError(TransientError):
    code = "mail_server"


class MailTooLarge(PermanentError):
    code = "mail_too_large"


class MalformedMail(PermanentError):
    code = "malformed_mail"


class EmptyMail(PermanentError):
    code = "empty_mail"


class ExtractionInvalid(PermanentError):
    """The model's output failed the schema or the sanity checks."""

    code = "extraction_invalid"


class ExtractionTruncated(ExtractionInvalid):
    """The model hit ``max_tokens`` (``finish_reason == "length"``): never stored as data."""

    code = "extraction_truncated"


class ModelMissing(ApplianceError):
    code = "model_missing"


class NotFound(ApplianceError):
    code = "not_found"
    http_status = 404


class InvalidRequest(ApplianceError):
    """The request names something that does not exist or a value the contract refuses."""

    code = "invalid_request"
    http_status = 400


class PayloadTooLarge(InvalidRequest):
    """A request body (or the mail built from it) over the configured limit; the message names
    the limit."""

    code = "payload_too_large"
    http_status = 413


class Conflict(ApplianceError):
    """The request does not fit the resource's state (e.g. re-sending an e-mail already sent)."""

    code = "conflict"
    http_status = 409


class MailAuthError(PermanentError):
    """The mail server rejected the account's credentials: fix the configuration, no retry."""

    code = "mail_auth"


class MailRejected(PermanentError):
    """The SMTP server refused the e-mail for good (5xx): not retried, shown on the outbox row."""

    code = "mail_rejected"


class SendUncertain(PermanentError):
    """A send was interrupted after the message data went out: it may have been delivered.

    Never re-sent automatically (an e-mail twice is worse than a late one); an operator checks
    and re-sends from the API.
    """

    code = "send_uncertain"


class Unauthorized(ApplianceError):
    """No valid session or API token: log in, or send ``Authorization: Bearer <token>``."""

    code = "unauthorized"
    http_status = 401


class Forbidden(ApplianceError):
    """Authenticated, but without the scope the route needs (or without the CSRF token)."""

    code = "forbidden"
    http_status = 403


class TooManyRequests(ApplianceError):
    """Too many attempts (e.g. failed logins); ``retry_after`` seconds until the next one."""

    code = "too_many_requests"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int = 60, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after


class DatabaseLocked(ApplianceError):
    """The DuckDB file is held by another process (``appliance server``)."""

    code = "database_locked"
    http_status = 409
