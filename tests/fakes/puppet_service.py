"""A fake Wechaty puppet service: the ``wechaty.Puppet`` gRPC service served with grpclib on loopback.

The real ``wechaty`` + ``wechaty-puppet-service`` client connects to it through its endpoint, exactly as it would
to a puppet service gateway in front of a WeChat account. Tests push events (log-in, room and private text
messages, log-out) into the event stream and read back what the bot sent with ``MessageSendText``.

Facts it follows (see ``../shared/notes/wechaty-puppet-service.md``): event payloads are JSON strings, text
messages have type 7 (the TypeScript puppet's enum), ``MessageSendTextResponse.id`` is answered and the sent
message's payload is served afterwards, message ids are unique within the process, and the event stream is
ended from this side (``end_stream``) to simulate a dropped connection. Routes the client calls that the tests
do not care about answer an empty response.

``start(ssl=...)`` serves over TLS; ``make_test_pki`` writes a throw-away CA and a server certificate for it
(with the ``cryptography`` package when it is installed, else the ``openssl`` command). Every call's
``authorization`` metadata, and whether it came over TLS, is recorded in ``requests_seen``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import importlib.util
import itertools
import json
import re
import shutil
import ssl as ssl_module
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grpclib.const import Cardinality, Handler
from grpclib.events import RecvRequest, listen
from grpclib.server import Server, Stream
from wechaty_grpc.wechaty import PuppetStub
from wechaty_grpc.wechaty import puppet as pb

TEXT_TYPE = 7  # MessageType.Text of the TypeScript puppet; the client maps it to MESSAGE_TYPE_TEXT
IMAGE_TYPE = 6  # MessageType.Image of the TypeScript puppet; the client maps it to MESSAGE_TYPE_IMAGE
MENTION_SPACE = "\u2005"  # WeChat puts a four-per-em space after an @mention
# How puppets render a quote-reply as text (e.g. wechaty-puppet-padlocal's refer-message parser).
QUOTE_SEPARATOR = "- - - - - - - - - - - - - - -"
ROUTE_PREFIX = "/wechaty.Puppet/"

_PROCESS_PREFIX = uuid.uuid4().hex[:8]
_message_numbers = itertools.count(1)


def new_message_id() -> str:
    """A message id unique within this process (the client silently drops repeated ids)."""
    return f"msg-{_PROCESS_PREFIX}-{next(_message_numbers)}"


@dataclass(frozen=True)
class SentText:
    """One ``MessageSendText`` call the bot made."""

    conversation_id: str
    text: str
    at: float  # time.monotonic() when the fake received it
    message_id: str


def _route_name(response_class: str) -> str:
    return response_class.removesuffix("Response").replace("QrCode", "QRCode")


class FakePuppetService:
    """An in-process puppet service gateway with helpers to drive it from tests."""

    def __init__(self) -> None:
        self.contacts: dict[str, pb.ContactPayloadResponse] = {}
        self.rooms: dict[str, pb.RoomPayloadResponse] = {}
        self.messages: dict[str, pb.MessagePayloadResponse] = {}
        self.sent: list[SentText] = []
        # Images of image messages (served by MessageImage as base64 file boxes), and files the bot sent.
        self.images: dict[str, bytes] = {}
        self.sent_files: list[tuple[str, str, bytes]] = []  # (conversation id, file name, contents)
        self.calls: list[str] = []
        self.self_id: str | None = None
        self.self_name: str = ""
        self.port: int = 0
        self.streams_opened = 0
        # (authorization metadata, over TLS?) of every call the client made
        self.requests_seen: list[tuple[str, bool]] = []
        self._events: asyncio.Queue[pb.EventResponse | None] = asyncio.Queue()
        self._stream_open = asyncio.Event()
        self._server: Server | None = None

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self, ssl: ssl_module.SSLContext | None = None) -> None:
        """Listen on 127.0.0.1 on an ephemeral port (``self.port``); over TLS with a server ``ssl`` context."""
        self._server = Server([self])

        async def record_request(event: RecvRequest) -> None:
            transport = event.peer._transport  # grpclib keeps it private; this is a test fake
            over_tls = transport.get_extra_info("ssl_object") is not None
            self.requests_seen.append((str(event.metadata.get("authorization", "")), over_tls))

        listen(self._server, RecvRequest, record_request)
        await self._server.start("127.0.0.1", 0, ssl=ssl)
        sockets = self._server._server.sockets  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1]

    @property
    def endpoint(self) -> str:
        """``host:port`` for ``WECHATY_PUPPET_SERVICE_ENDPOINT``."""
        return f"127.0.0.1:{self.port}"

    async def close(self) -> None:
        """Stop listening. End the event stream first (or let the client close it), or the client reconnects."""
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), timeout=5)
            self._server = None

    def end_stream(self) -> None:
        """End the open event stream from the server side, as a gateway restart or network drop would."""
        self._stream_open.clear()
        self._events.put_nowait(None)

    async def wait_stream_open(self, timeout: float = 10.0) -> None:
        """Wait until a client is listening on the event stream."""
        await asyncio.wait_for(self._stream_open.wait(), timeout)

    # --- what tests do ------------------------------------------------------------------------------

    def _event(self, event_type: pb.EventType, payload: dict[str, Any]) -> None:
        self._events.put_nowait(pb.EventResponse(type=event_type, payload=json.dumps(payload)))

    def add_contact(self, contact_id: str, name: str, *, official_account: bool = False) -> None:
        """Make a contact known (``ContactPayload`` answers for it)."""
        contact_type = (
            pb.ContactType.CONTACT_TYPE_OFFICIAL if official_account else pb.ContactType.CONTACT_TYPE_PERSONAL
        )
        self.contacts[contact_id] = pb.ContactPayloadResponse(
            id=contact_id, name=name, type=contact_type, friend=True
        )

    def add_room(self, room_id: str, topic: str, member_ids: list[str] | None = None) -> None:
        """Make a room known (``RoomPayload`` answers for it)."""
        members = list(member_ids or [])
        if self.self_id and self.self_id not in members:
            members.append(self.self_id)
        existing = self.rooms.get(room_id)
        if existing is not None:
            members = sorted(set(existing.member_ids) | set(members))
        self.rooms[room_id] = pb.RoomPayloadResponse(id=room_id, topic=topic, member_ids=members)

    async def login(self, self_id: str, name: str, *, timeout: float = 10.0) -> None:
        """Log the bot's account in (waits for the client's event stream first)."""
        await self.wait_stream_open(timeout)
        self.self_id, self.self_name = self_id, name
        self.add_contact(self_id, name)
        self._event(pb.EventType.EVENT_TYPE_LOGIN, {"contactId": self_id})

    def logout(self, reason: str = "logged out on the phone") -> None:
        """Log the bot's account out (the gateway keeps the stream open)."""
        assert self.self_id is not None, "login first"
        self._event(pb.EventType.EVENT_TYPE_LOGOUT, {"contactId": self.self_id, "data": reason})

    def push_message(
        self,
        *,
        from_id: str,
        text: str,
        room_id: str = "",
        to_id: str = "",
        message_type: int = TEXT_TYPE,
        mention_ids: list[str] | None = None,
    ) -> str:
        """Deliver any message; returns its id."""
        message_id = new_message_id()
        self.messages[message_id] = pb.MessagePayloadResponse(
            id=message_id,
            text=text,
            timestamp=int(time.time() * 1000),
            type=message_type,  # type: ignore[arg-type]
            from_id=from_id,
            room_id=room_id,
            to_id=to_id,
            mention_ids=list(mention_ids or []),
        )
        self._event(pb.EventType.EVENT_TYPE_MESSAGE, {"messageId": message_id})
        return message_id

    def push_room_text(
        self,
        room_id: str,
        topic: str,
        from_id: str,
        from_name: str,
        text: str,
        mention_self: bool = False,
        *,
        message_type: int = TEXT_TYPE,
    ) -> str:
        """A member writes in a room; with ``mention_self`` the text starts with ``@<bot name>`` + U+2005."""
        self.add_contact(from_id, from_name)
        self.add_room(room_id, topic, [from_id])
        mentions: list[str] = []
        if mention_self:
            assert self.self_id is not None, "login first"
            text = f"@{self.self_name}{MENTION_SPACE}{text}"
            mentions = [self.self_id]
        return self.push_message(
            from_id=from_id, text=text, room_id=room_id, message_type=message_type, mention_ids=mentions
        )

    def push_room_quote(
        self,
        room_id: str,
        topic: str,
        from_id: str,
        from_name: str,
        quoted_name: str,
        quoted_text: str,
        typed: str,
    ) -> str:
        """A member quotes a room message (shown as ``quoted_name``) and types ``typed``, as WeChat delivers it."""
        text = f"「{quoted_name}：{quoted_text}」\n{QUOTE_SEPARATOR}\n{typed}"
        return self.push_room_text(room_id, topic, from_id, from_name, text)

    def push_image(
        self, from_id: str, from_name: str, data: bytes, *, room_id: str = "", topic: str = ""
    ) -> str:
        """A contact sends an image, privately or (with ``room_id``) into a room; served by MessageImage."""
        self.add_contact(from_id, from_name)
        if room_id:
            self.add_room(room_id, topic, [from_id])
        message_id = self.push_message(
            from_id=from_id, text="", room_id=room_id, to_id="" if room_id else self.self_id or "",
            message_type=IMAGE_TYPE,
        )  # fmt: skip
        self.images[message_id] = data
        return message_id

    async def wait_for_files(self, n: int, timeout: float = 5.0) -> list[tuple[str, str, bytes]]:
        """Wait until at least ``n`` files were sent in total; returns all of them."""
        deadline = time.monotonic() + timeout
        while len(self.sent_files) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {n} sent files, got {len(self.sent_files)}")
            await asyncio.sleep(0.01)
        return list(self.sent_files)

    def push_private_text(self, from_id: str, from_name: str, text: str) -> str:
        """A contact writes to the bot in a private chat."""
        self.add_contact(from_id, from_name)
        return self.push_message(from_id=from_id, text=text, to_id=self.self_id or "")

    async def wait_for_sends(self, n: int, timeout: float = 5.0) -> list[SentText]:
        """Wait until at least ``n`` texts were sent in total; returns all of them."""
        deadline = time.monotonic() + timeout
        while len(self.sent) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {n} sent texts, got {len(self.sent)}: {self.sent}")
            await asyncio.sleep(0.01)
        return list(self.sent)

    def sent_to(self, conversation_id: str) -> list[str]:
        """The texts sent into one room or private chat, in order."""
        return [s.text for s in self.sent if s.conversation_id == conversation_id]

    # --- gRPC routes --------------------------------------------------------------------------------

    async def _start(self, stream: Stream[Any, Any]) -> None:
        await stream.recv_message()
        self.calls.append("Start")
        await stream.send_message(pb.StartResponse())

    async def _stop(self, stream: Stream[Any, Any]) -> None:
        await stream.recv_message()
        self.calls.append("Stop")
        await stream.send_message(pb.StopResponse())

    async def _event_stream(self, stream: Stream[Any, Any]) -> None:
        await stream.recv_message()
        self.calls.append("Event")
        self.streams_opened += 1
        self._stream_open.set()
        try:
            while True:
                event = await self._events.get()
                if event is None:
                    return
                await stream.send_message(event)
        finally:
            self._stream_open.clear()

    async def _contact_payload(self, stream: Stream[Any, Any]) -> None:
        request = await stream.recv_message()
        self.calls.append("ContactPayload")
        await stream.send_message(self.contacts.get(request.id) or pb.ContactPayloadResponse(id=request.id))

    async def _room_payload(self, stream: Stream[Any, Any]) -> None:
        request = await stream.recv_message()
        self.calls.append("RoomPayload")
        await stream.send_message(self.rooms.get(request.id) or pb.RoomPayloadResponse(id=request.id))

    async def _room_member_list(self, stream: Stream[Any, Any]) -> None:
        request = await stream.recv_message()
        self.calls.append("RoomMemberList")
        room = self.rooms.get(request.id)
        await stream.send_message(pb.RoomMemberListResponse(member_ids=list(room.member_ids) if room else []))

    async def _message_payload(self, stream: Stream[Any, Any]) -> None:
        request = await stream.recv_message()
        self.calls.append("MessagePayload")
        await stream.send_message(self.messages.get(request.id) or pb.MessagePayloadResponse(id=request.id))

    async def _message_send_text(self, stream: Stream[Any, Any]) -> None:
        request = await stream.recv_message()
        self.calls.append("MessageSendText")
        message_id = new_message_id()
        conversation = request.conversation_id
        in_room = conversation in self.rooms
        self.messages[message_id] = pb.MessagePayloadResponse(
            id=message_id,
            text=request.text,
            timestamp=int(time.time() * 1000),
            type=TEXT_TYPE,  # type: ignore[arg-type]
            from_id=self.self_id or "",
            room_id=conversation if in_room else "",
            to_id="" if in_room else conversation,
        )
        self.sent.append(SentText(conversation, request.text, time.monotonic(), message_id))
        await stream.send_message(pb.MessageSendTextResponse(id=message_id))

    async def _message_image(self, stream: Stream[Any, Any]) -> None:
        request = await stream.recv_message()
        self.calls.append("MessageImage")
        data = self.images.get(request.id, b"")
        box = {"boxType": 1, "base64": base64.b64encode(data).decode("ascii"), "name": f"{request.id}.jpg"}
        await stream.send_message(pb.MessageImageResponse(filebox=json.dumps(box)))

    async def _message_send_file(self, stream: Stream[Any, Any]) -> None:
        request = await stream.recv_message()
        self.calls.append("MessageSendFile")
        box = json.loads(request.filebox)
        data = base64.b64decode(box.get("base64", ""))
        self.sent_files.append((request.conversation_id, str(box.get("name", "")), data))
        message_id = new_message_id()
        await stream.send_message(pb.MessageSendFileResponse(id=message_id))

    def _empty(self, name: str, response_type: type) -> Callable[[Stream[Any, Any]], Awaitable[None]]:
        async def handler(stream: Stream[Any, Any]) -> None:
            await stream.recv_message()
            self.calls.append(name)
            await stream.send_message(response_type())

        return handler

    def __mapping__(self) -> dict[str, Handler]:
        """grpclib's routing table: every unary route of ``wechaty.Puppet``, plus the ``Event`` stream."""
        known = set(re.findall(r'"/wechaty\.Puppet/(\w+)"', _stub_source()))
        mapping: dict[str, Handler] = {}
        for attr in dir(pb):
            if not attr.endswith("Response") or attr.endswith("StreamResponse"):
                continue
            name = _route_name(attr)
            request_type = getattr(pb, attr.removesuffix("Response") + "Request", None)
            if name not in known or name == "Event" or request_type is None:
                continue
            response_type = getattr(pb, attr)
            mapping[ROUTE_PREFIX + name] = Handler(
                self._empty(name, response_type), Cardinality.UNARY_UNARY, request_type, response_type
            )
        handlers = {
            "Start": (self._start, pb.StartRequest, pb.StartResponse),
            "Stop": (self._stop, pb.StopRequest, pb.StopResponse),
            "ContactPayload": (self._contact_payload, pb.ContactPayloadRequest, pb.ContactPayloadResponse),
            "RoomPayload": (self._room_payload, pb.RoomPayloadRequest, pb.RoomPayloadResponse),
            "RoomMemberList": (self._room_member_list, pb.RoomMemberListRequest, pb.RoomMemberListResponse),
            "MessagePayload": (self._message_payload, pb.MessagePayloadRequest, pb.MessagePayloadResponse),
            "MessageSendText": (
                self._message_send_text,
                pb.MessageSendTextRequest,
                pb.MessageSendTextResponse,
            ),
            "MessageImage": (self._message_image, pb.MessageImageRequest, pb.MessageImageResponse),
            "MessageSendFile": (
                self._message_send_file,
                pb.MessageSendFileRequest,
                pb.MessageSendFileResponse,
            ),
        }
        for name, (func, request_type, response_type) in handlers.items():
            mapping[ROUTE_PREFIX + name] = Handler(func, Cardinality.UNARY_UNARY, request_type, response_type)
        mapping[ROUTE_PREFIX + "Event"] = Handler(
            self._event_stream, Cardinality.UNARY_STREAM, pb.EventRequest, pb.EventResponse
        )
        return mapping


def _stub_source() -> str:
    import inspect

    return inspect.getsource(PuppetStub)


# --- a throw-away PKI for TLS tests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GatewayPKI:
    """Files of a test CA and a server certificate it signed (for ``server_name`` and 127.0.0.1)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    server_name: str

    def server_context(self) -> ssl_module.SSLContext:
        """A TLS server context for grpclib: this certificate, TLS 1.2+, HTTP/2 by ALPN."""
        ctx = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.server_cert), str(self.server_key))
        ctx.minimum_version = ssl_module.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["h2"])
        return ctx


def make_test_pki(directory: Path, server_name: str = "wechaty-gateway.test", prefix: str = "") -> GatewayPKI:
    """Write a self-signed CA and a server certificate for ``server_name`` into ``directory``.

    The server certificate names only ``server_name`` (not the loopback IP), so that connecting to 127.0.0.1
    works only with the TLS server name set. Uses ``cryptography`` when installed, else the ``openssl`` command.
    """
    directory.mkdir(parents=True, exist_ok=True)
    pki = GatewayPKI(
        ca_cert=directory / f"{prefix}ca.pem",
        server_cert=directory / f"{prefix}server.pem",
        server_key=directory / f"{prefix}server.key",
        server_name=server_name,
    )
    if importlib.util.find_spec("cryptography") is not None:
        _pki_with_cryptography(pki)
    elif shutil.which("openssl"):
        _pki_with_openssl(pki, directory / f"{prefix}ca.key")
    else:
        import pytest

        pytest.skip("neither the cryptography package nor the openssl command is available")
    return pki


def _pki_with_cryptography(pki: GatewayPKI) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anquan test gateway CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, pki.server_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(pki.server_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.server_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _pki_with_openssl(pki: GatewayPKI, ca_key: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    csr = pki.server_cert.with_suffix(".csr")
    ext = pki.server_cert.with_suffix(".ext")
    ext.write_text(
        f"subjectAltName=DNS:{pki.server_name}\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    run(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(ca_key), "-out", str(pki.ca_cert), "-days", "1", "-subj", "/CN=anquan test gateway CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    run(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(pki.server_key), "-out", str(csr), "-subj", f"/CN={pki.server_name}",
    )  # fmt: skip
    run(
        "x509", "-req", "-in", str(csr), "-CA", str(pki.ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(pki.server_cert), "-days", "1", "-sha256", "-extfile", str(ext),
    )  # fmt: skip
