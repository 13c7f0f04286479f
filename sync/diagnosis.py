"""Why the uploader is not delivering, in words a technician can act on.

One failed request is mapped to a `Cause`: a stable code (the state file, `--json`, the
heartbeat's `last_error`, `anju doctor`), a sentence saying what is wrong and the advice that
fits that cause. The codes are what tell "the network is away, it will come back by itself"
from "the server refuses this terminal: a person must act":

    unreachable         no answer: network, DNS, server down (retried, nothing is lost)
    tls                 the TLS handshake failed: certificate, host name or CA bundle
    busy                the server shed the request (429/503; retried after Retry-After)
    server_failing      the server answered 5xx (retried; a poison event is held back)
    credential_refused  401/403: the credential is wrong, revoked or for another site
    clock_rejected      401 clock_skew even after correcting the offset once
    refused             any other 4xx: a client bug or a size limit

The heartbeat carries the *delivery state* (`delivery_state`): one of the codes above while
the last batch failed, else

    events_rejected     the server answered but refused events: they wait for a person
    backlog_stuck       events waiting and none acknowledged for `stuck_after_s`
    ok                  delivering, or nothing to deliver

A heartbeat that arrives disproves the connection causes (`CONNECTION`): the uploader clears
them when it is answered, so the server never shows "unreachable" in a heartbeat it received.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync import errors

UNREACHABLE = "unreachable"
TLS = "tls"
BUSY = "busy"
SERVER_FAILING = "server_failing"
CREDENTIAL_REFUSED = "credential_refused"
CLOCK_REJECTED = "clock_rejected"
REFUSED = "refused"
EVENTS_REJECTED = "events_rejected"
BACKLOG_STUCK = "backlog_stuck"
OK = "ok"
# Causes about the connection itself: an answered heartbeat proves them gone.
CONNECTION = frozenset({UNREACHABLE, TLS, CREDENTIAL_REFUSED, CLOCK_REJECTED})
STUCK_AFTER_S = 15 * 60.0  # as `anju doctor`'s backlog.moving check
# Causes that retrying cannot cure: a person must act (the page says so, doctor fails).
NEEDS_A_PERSON = frozenset({TLS, CREDENTIAL_REFUSED, CLOCK_REJECTED, REFUSED})
PROVISION_COMMAND = (
    "sudo anju provision --server URL --token TOKEN --config /etc/anju/terminal.toml"
)


@dataclass(frozen=True, slots=True)
class Cause:
    code: str
    text: str
    advice: str

    @property
    def retried(self) -> bool:
        return self.code not in NEEDS_A_PERSON


def classify(err: BaseException) -> Cause:
    """The cause of one failed request (RetryBudgetExhausted: pass its `.last`)."""
    if isinstance(err, errors.TLSError):
        return _tls(str(err))
    if isinstance(err, errors.ClockSkewError):
        return Cause(
            CLOCK_REJECTED,
            "the server rejected this terminal's clock",
            "set the clock (timedatectl status; check NTP on the network); events "
            "stay queued and are sent once the clock is accepted",
        )
    if isinstance(err, errors.AuthenticationError | errors.ForbiddenError):
        return Cause(
            CREDENTIAL_REFUSED,
            f"the server refused this terminal's credential ({err.code or err.status})",
            f"re-provision with a new token from the central server: "
            f"{PROVISION_COMMAND}; events stay queued",
        )
    if isinstance(err, errors.ServerBusyError):
        return Cause(
            BUSY,
            "the server is busy and asked to wait",
            "nothing to do: sending resumes by itself; events stay queued",
        )
    if isinstance(err, errors.ServerFailureError):
        return Cause(
            SERVER_FAILING,
            f"the server answers with an error ({err.status})",
            "will retry; if it lasts, tell the central server's operator",
        )
    if isinstance(err, errors.RefusedError):
        return Cause(
            REFUSED,
            f"the server refused the request ({err.status} {err.code or ''})".rstrip(),
            "a technician must look at the uploader's log; events stay queued",
        )
    return Cause(
        UNREACHABLE,
        "server unreachable",
        "will retry by itself; check the network cable, the router and that "
        "sync.server_url is right; events stay queued, nothing is lost",
    )


# What OpenSSL says (through Python's ssl) -> what is wrong, in words, and what to do first.
_TLS_REASONS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("certificate has expired",),
     "the server's certificate has expired",
     "renew the server's certificate; if it is not expired, this terminal's clock is ahead "
     "(timedatectl status)"),
    (("not yet valid",),
     "the server's certificate is not valid yet: this terminal's clock is probably behind",
     "set the clock (timedatectl status; check NTP on the network), or check the "
     "certificate's start date"),
    (("mismatch", "doesn't match", "does not match"),
     "the server's certificate is for another name than sync.server_url's host",
     "use the name the certificate was issued for in sync.server_url, or have the "
     "certificate reissued for this name"),
    (("self-signed", "self signed", "unable to get local issuer", "unknown ca",
      "certificate verify failed"),
     "the server's certificate is not signed by a CA this terminal trusts",
     "set sync.ca_file to the police CA bundle (the CA that signed the server's "
     "certificate), or fix the server's certificate chain"),
)


def _tls(message: str) -> Cause:
    lowered = message.lower()
    for needles, text, first in _TLS_REASONS:
        if any(n in lowered for n in needles):
            return Cause(TLS, f"TLS handshake with the server failed: {text}",
                         f"{first}; events stay queued")
    return Cause(
        TLS,
        "TLS handshake with the server failed",
        "check the server's certificate and host name against sync.server_url "
        "and the CA bundle (sync.ca_file / the system CAs); events stay queued",
    )


def by_code(code: str | None) -> Cause | None:
    """The cause for a stored code (state file), with its advice; None for no error."""
    if not code:
        return None
    samples: dict[str, errors.RequestError] = {
        TLS: errors.TLSError(""),
        CLOCK_REJECTED: errors.ClockSkewError("", server_time=0.0),
        CREDENTIAL_REFUSED: errors.AuthenticationError(""),
        BUSY: errors.ServerBusyError(""),
        SERVER_FAILING: errors.ServerFailureError(""),
        REFUSED: errors.BadRequestError(""),
    }
    cause = classify(samples.get(code, errors.ConnectError("")))
    return Cause(code if code in samples else UNREACHABLE, cause.text, cause.advice)


def delivery_state(cause: Cause | None, *, backlog: int, rejected: int,
                   stalled_s: float | None, stuck_after_s: float = STUCK_AFTER_S) -> str:
    """The heartbeat's `sync_state`: the failing cause first (the most specific), then events
    waiting for a person, then a backlog that has not moved for `stuck_after_s`.

    `stalled_s`: seconds since events were last acknowledged (or since the backlog began)."""
    if cause is not None:
        return cause.code
    if rejected > 0:
        return EVENTS_REJECTED
    if backlog > 0 and stalled_s is not None and stalled_s >= stuck_after_s:
        return BACKLOG_STUCK
    return OK


def delivery_text(code: str) -> str:
    """The delivery state in words (`anju sync status`; the fleet page has its own)."""
    if code == OK:
        return "delivering (or nothing to deliver)"
    if code == EVENTS_REJECTED:
        return "the server refused events: they wait for a person (see rejected below)"
    if code == BACKLOG_STUCK:
        return "events waiting and none delivered for a long time"
    cause = by_code(code)
    return f"not delivering: {cause.text}" if cause else code
