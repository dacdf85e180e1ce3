"""AES-256-GCM payload codec with key ids, and the one data converter every client uses.

Every payload is encrypted whole (its metadata too), so nothing a workflow carries - cost rates,
salaries, bank details, names - reaches Temporal's history in clear. The key id travels in the
payload's metadata: encrypt with `[codec] current`, decrypt with any key `[codec] keys` lists.
Payloads without the encryption marker pass through decode unchanged, so histories recorded
before encryption was turned on still replay and their runs go on.
"""

import base64
import binascii
import contextlib
import dataclasses
import ipaddress
import json
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from config import CodecSettings, ConfigError, Settings

ENCODING = b"binary/encrypted"
CIPHER = b"AES-256-GCM"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
TAG_BYTES = 16
PAYLOAD_TYPE = Payload.DESCRIPTOR.full_name
KEY_HINT = "generate one with `openssl rand -base64 32`"


class CodecError(ValueError):
    """A payload this codec cannot decrypt: an unknown key id, or the wrong key under an id."""


def parse_keys(codec: CodecSettings) -> dict[str, bytes]:
    """The configured keys as bytes, checked; {} when encryption is off. Bad config: one line."""
    keys: dict[str, bytes] = {}
    for key_id, secret in codec.keys.items():
        try:
            raw = base64.b64decode(secret.get_secret_value().strip(), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ConfigError(f'[codec] keys."{key_id}" is not 32 bytes of base64: {KEY_HINT}')
        keys[key_id] = raw
    if keys and codec.current is None:
        raise ConfigError(f"[codec] current is not set: name one of the keys ({', '.join(keys)})")
    if codec.current is not None and codec.current not in keys:
        listed = ", ".join(keys) or "none"
        raise ConfigError(
            f'[codec] current = "{codec.current}" is not among [codec] keys ({listed}): '
            f"add that key or name a listed one"
        )
    return keys


class EncryptionCodec(PayloadCodec):
    """Encrypts with the current key; decrypts with whichever key id a payload names."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        self.ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current = current

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.current.encode()
        sealed = self.ciphers[self.current].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(
            metadata={"encoding": ENCODING, "encryption-cipher": CIPHER, KEY_ID: key_id},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        """The payload in clear; one without the marker is returned as it is."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self.ciphers.get(key_id)
        if cipher is None:
            raise CodecError(
                f'payload encrypted with key id "{key_id}", which [codec] keys does not list: '
                "add that key back to decrypt it"
            )
        if len(payload.data) < NONCE_BYTES + TAG_BYTES:
            raise CodecError(
                f'payload under key id "{key_id}" is too short to be one this codec sealed'
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise CodecError(
                f'payload under key id "{key_id}" does not decrypt with the key listed under '
                "that id: was the key changed without a new id?"
            ) from None
        return Payload.FromString(plain)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]


def codec_from(codec: CodecSettings) -> EncryptionCodec | None:
    """The codec `[codec]` configures, or None while no keys are listed."""
    keys = parse_keys(codec)
    if not keys or codec.current is None:
        return None
    return EncryptionCodec(keys, codec.current)


def plaintext_problem(settings: Settings) -> str | None:
    """Why a worker must not run unencrypted here: its Temporal is on another machine, where
    the history (cost rates, salaries, bank details) would be stored in clear."""
    if codec_from(settings.codec) is not None or settings.codec.plaintext:
        return None
    address = settings.temporal.address
    host = address.rpartition(":")[0].strip("[]") or address
    with contextlib.suppress(ValueError):
        if host == "localhost" or ipaddress.ip_address(host).is_loopback:
            return None
    return (
        f"[codec] keys is empty and Temporal at {address} is not on this machine: its history "
        "would hold cost rates and salaries in clear. Set [codec] keys and current (README, "
        "Payload encryption), or [codec] plaintext = true (PSFLOW_CODEC_PLAINTEXT) to accept that"
    )


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads, encrypted when `[codec] keys` are set (failure messages too)."""
    codec = codec_from(settings.codec)
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def reveal(message: Message, codec: PayloadCodec | None) -> int:
    """Decrypt, in place, every payload in a history event, description or any other message.

    Failures whose message and stack trace were encrypted get them back. Payloads that do not
    decrypt (a key no longer listed) are left as they are; returns how many.
    """
    if not isinstance(codec, EncryptionCodec):
        return 0
    left = 0
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        is_map = field.message_type.GetOptions().map_entry
        if is_map:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is None:
                continue
            items = [value[key] for key in value]
            is_payload = value_field.message_type.full_name == PAYLOAD_TYPE
        else:
            items = [value] if isinstance(value, Message) else list(value)
            is_payload = field.message_type.full_name == PAYLOAD_TYPE
        for item in items:
            if not is_payload:
                left += reveal(item, codec)
                continue
            try:
                item.CopyFrom(codec.decrypt(item))
            except CodecError:
                left += 1
    if isinstance(message, Failure):
        restore_failure_text(message)
    return left


def restore_failure_text(failure: Failure) -> None:
    """Put an encoded failure's message and stack trace back where readers look for them."""
    if not failure.HasField("encoded_attributes"):
        return
    attributes = failure.encoded_attributes
    if attributes.metadata.get("encoding") != b"json/plain":
        return
    try:
        text = json.loads(attributes.data)
    except ValueError:
        return
    if isinstance(text, dict):
        failure.message = str(text.get("message", failure.message))
        failure.stack_trace = str(text.get("stack_trace", failure.stack_trace))
        failure.ClearField("encoded_attributes")
