"""One request contract: every message expecting a reply is a Request; failures are siblings caught by type."""

from __future__ import annotations

import pydantic

from motcua import protocol as p
from motcua.protocol import messages as m
from motcua.protocol.topics import TOPIC_SPECS
from motcua.runtime import BrokerRefused, Offline, Refused, RequestFailed, RequestTimeout


def test_every_topic_with_a_reply_carries_a_request():
    for spec in TOPIC_SPECS:
        if spec.reply is not None:
            assert issubclass(spec.payload, p.Request), spec.name
            assert spec.expiry_s == spec.payload.expiry_s, spec.name  # one source for the expiry


def test_request_id_and_claimed_sender_without_guessing_field_names():
    cmd = m.CallNext(command_id="c" * 12, device_id="counter-3")
    assert (cmd.request_id, cmd.claimed_sender) == ("c" * 12, "counter-3")
    rating = m.Rating(rating_id="r" * 12, counter=3, level="satisfied", rated_at=m.utcnow())
    assert (rating.request_id, rating.claimed_sender) == ("r" * 12, None)


def test_failures_are_siblings_not_refinements():
    kinds = [Offline, RequestTimeout, BrokerRefused, Refused]
    for kind in kinds:
        assert issubclass(kind, RequestFailed)
        assert not any(issubclass(kind, other) for other in kinds if other is not kind), kind
    refused = Refused(m.Reply(command_id="x" * 12, ok=False, error=m.ErrorInfo(code="empty", message="nobody")))
    assert str(refused) == "empty: nobody" and refused.reply.error.code == "empty"


def test_the_wire_format_of_requests_is_unchanged():
    assert list(m.TicketRequest.model_fields) == ["schema_version", "command_id", "device_id", "area", "priority",
                                                  "dossier_code"]
    assert list(m.Rating.model_json_schema()["properties"])[:3] == ["schema_version", "rating_id", "device_id"]
    try:
        m.TicketRequest(command_id="c" * 12, area="TP", expiry_s=5)
    except pydantic.ValidationError:
        pass
    else:  # pragma: no cover
        raise AssertionError("expiry_s is the type's, not a body field")
