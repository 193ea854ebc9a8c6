"""The fake Discord's REST replies match Discord's own OpenAPI description (shared/reference)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from fakes.discord_server import FakeDiscord

SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "discord-openapi" / "openapi.json"
SPEC_URI = "urn:discord-openapi"

pytestmark = pytest.mark.skipif(not SPEC.exists(), reason=f"Discord OpenAPI description not found at {SPEC}")


@cache
def _spec() -> tuple[dict[str, Any], Registry]:
    spec = json.loads(SPEC.read_text())
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
    return spec, registry


def _validate(path: str, method: str, body: Any, status: str = "200") -> None:
    """Validate body against the response schema Discord documents for this path and method."""
    spec, registry = _spec()
    responses = spec["paths"][path][method]["responses"]
    assert status in responses, f"{method.upper()} {path} documents no {status} reply"
    reply = responses[status]
    if "$ref" in reply:  # a shared reply such as ClientErrorResponse
        where = reply["$ref"]
        reply = spec["components"]["responses"][where.rsplit("/", 1)[1]]
    else:
        where = f"#/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}/responses/{status}"
    assert "schema" in reply["content"]["application/json"]
    pointer = where + "/content/application~1json/schema"
    validator = Draft202012Validator({"$ref": SPEC_URI + pointer}, registry=registry)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture(scope="module")
def http(fake: FakeDiscord) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bot {fake.token}"
    return session


def _json(response: requests.Response) -> Any:
    assert response.headers["Content-Type"] == "application/json", "discord.py parses only this exact type"
    assert response.ok, response.text
    return response.json()


def test_current_user(fake: FakeDiscord, http: requests.Session) -> None:
    _validate("/users/@me", "get", _json(http.get(f"{fake.api_url}/users/@me")))


def test_other_user(fake: FakeDiscord, http: requests.Session) -> None:
    _validate("/users/{user_id}", "get", _json(http.get(f"{fake.api_url}/users/{fake.user('bob').id}")))


def test_gateway_bot(fake: FakeDiscord, http: requests.Session) -> None:
    body = _json(http.get(f"{fake.api_url}/gateway/bot"))
    _validate("/gateway/bot", "get", body)
    assert body["url"] == fake.gateway_url


def test_channel_and_dm_channel(fake: FakeDiscord, http: requests.Session) -> None:
    channel_id = fake.guild.channel("general").id
    _validate("/channels/{channel_id}", "get", _json(http.get(f"{fake.api_url}/channels/{channel_id}")))
    dm = _json(http.post(f"{fake.api_url}/users/@me/channels", json={"recipient_id": str(fake.user("bob").id)}))
    _validate("/users/@me/channels", "post", dm)


def test_channel_message_plain_and_with_file(fake: FakeDiscord, http: requests.Session) -> None:
    url = f"{fake.api_url}/channels/{fake.guild.channel('general').id}/messages"
    body = {"content": f"Now playing <@{fake.user('bob').id}>", "embeds": [{"title": "Song", "type": "rich"}]}
    plain = _json(http.post(url, json=body))
    _validate("/channels/{channel_id}/messages", "post", plain)
    assert [u["username"] for u in plain["mentions"]] == ["bob"]
    files = {"files[0]": ("export.json", b'{"a": 1}', "application/json")}
    payload = {"payload_json": json.dumps({"content": "your data", "attachments": [{"id": 0, "filename": "export.json"}]})}
    message = _json(http.post(url, data=payload, files=files))
    _validate("/channels/{channel_id}/messages", "post", message)
    assert message["attachments"][0]["size"] == 8
    assert [f.data for f in fake.files(message)] == [b'{"a": 1}']


def test_a_body_over_discords_limits_gets_discords_invalid_form_body(fake: FakeDiscord, http: requests.Session) -> None:
    url = f"{fake.api_url}/channels/{fake.guild.channel('general').id}/messages"
    before = len(fake.messages(fake.guild.channel("general")))
    response = http.post(url, json={"embeds": [{"title": "t" * 257, "fields": [{"name": "n", "value": "v" * 1025}]}]})
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == 50035 and body["message"] == "Invalid Form Body"
    embed = body["errors"]["embeds"]["0"]
    assert embed["title"]["_errors"][0] == {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 256 or fewer in length."}
    assert embed["fields"]["0"]["value"]["_errors"][0]["message"] == "Must be 1024 or fewer in length."
    # Discord's docs ("Error Messages") and its replies name a field error with a word such as BASE_TYPE_MAX_LENGTH;
    # the OpenAPI preview types Error.code as an integer. Everything else must match the description.
    _validate("/channels/{channel_id}/messages", "post", _numbered_codes(body), status="4XX")
    many = http.post(url, json={"embeds": [{"title": str(n)} for n in range(11)]})
    assert many.status_code == 400
    assert many.json()["errors"] == {"embeds": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                                                             "message": "Must be 10 or fewer in length."}]}}
    assert len(fake.messages(fake.guild.channel("general"))) == before, "neither was posted"


def _numbered_codes(details: Any) -> Any:
    """The same error body with each field error's word code as a number, as the OpenAPI preview types it."""
    if isinstance(details, dict):
        return {k: (0 if k == "code" and isinstance(v, str) else _numbered_codes(v)) for k, v in details.items()}
    if isinstance(details, list):
        return [_numbered_codes(v) for v in details]
    return details


def test_guild_member_and_member_list(fake: FakeDiscord, http: requests.Session) -> None:
    guild_id, bob = fake.guild.id, fake.user("bob").id
    _validate("/guilds/{guild_id}/members/{user_id}", "get", _json(http.get(f"{fake.api_url}/guilds/{guild_id}/members/{bob}")))
    members = _json(http.get(f"{fake.api_url}/guilds/{guild_id}/members", params={"limit": 1000}))
    _validate("/guilds/{guild_id}/members", "get", members)
    assert len(members) == 4  # alice, bob, carol and the bot


def test_application_command_list(fake: FakeDiscord, http: requests.Session) -> None:
    url = f"{fake.api_url}/applications/{fake.world.application_id}/guilds/{fake.guild.id}/commands"
    commands = [
        {"name": "recommend", "description": "Songs for you", "type": 1, "options": [
            {"name": "count", "description": "How many", "type": 4, "required": False},
        ]},
        {"name": "Profile", "description": "", "type": 2},
    ]
    stored = _json(http.put(url, json=commands))
    _validate("/applications/{application_id}/guilds/{guild_id}/commands", "put", stored)
    _validate("/applications/{application_id}/guilds/{guild_id}/commands", "get", _json(http.get(url)))
    again = _json(http.put(url, json=commands))
    assert [c["id"] for c in again] == [c["id"] for c in stored], "re-syncing keeps command ids, as Discord does"


def test_unknown_route_uses_discords_error_shape(fake: FakeDiscord, http: requests.Session) -> None:
    response = http.get(f"{fake.api_url}/guilds/{fake.guild.id}/bans")
    assert response.status_code == 404
    assert response.json() == {"message": "404: Not Found", "code": 0}
    missing = http.get(f"{fake.api_url}/users/1")
    _validate("/users/{user_id}", "get", missing.json(), status="4XX")


def test_application_info(fake: FakeDiscord, http: requests.Session) -> None:
    _validate("/oauth2/applications/@me", "get", _json(http.get(f"{fake.api_url}/oauth2/applications/@me")))
    _validate("/applications/@me", "get", _json(http.get(f"{fake.api_url}/applications/@me")))


async def test_interaction_callback_and_follow_up(fake: FakeDiscord) -> None:
    """Acting as a bot by hand: identify on the gateway, answer a slash command, send a follow-up."""
    headers = {"Authorization": f"Bot {fake.token}"}
    app, guild = fake.world.application_id, fake.guild
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.gateway_url + "?v=10&encoding=json") as ws:
        assert (await ws.receive_json())["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 1, "properties": {}}})
        assert (await ws.receive_json())["t"] == "READY"
        commands = [{"name": "hello", "description": "Say hi", "type": 1}]
        url = f"{fake.api_url}/applications/{app}/guilds/{guild.id}/commands"
        async with session.put(url, json=commands, headers=headers) as response:
            assert response.status == 200
        rec = await fake.slash(fake.user("bob"), guild, guild.channel("general"), "hello")
        while (event := await ws.receive_json())["t"] != "INTERACTION_CREATE":
            pass
        assert event["d"]["data"]["name"] == "hello" and event["d"]["member"]["user"]["id"] == str(fake.user("bob").id)

        callback = f"{fake.api_url}/interactions/{rec.id}/{rec.token}/callback?with_response=1"
        async with session.post(callback, json={"type": 4, "data": {"content": "Hi!"}}) as response:
            assert response.headers["Content-Type"] == "application/json"
            body = await response.json()
        _validate("/interactions/{interaction_id}/{interaction_token}/callback", "post", body)
        assert body["resource"]["message"]["content"] == "Hi!"
        async with session.post(callback, json={"type": 4, "data": {"content": "again"}}) as response:
            assert response.status == 400 and (await response.json())["code"] == 40060

        followup = f"{fake.api_url}/webhooks/{app}/{rec.token}?wait=true"
        async with session.post(followup, json={"content": "More", "flags": 64}) as response:
            message = await response.json()
        _validate("/webhooks/{webhook_id}/{webhook_token}", "post", message)
        assert message["flags"] & 64 and [m["content"] for m in rec.followups] == ["More"]
