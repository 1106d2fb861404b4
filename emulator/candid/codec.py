"""The codec entry points other modules call: decode untrusted arguments, encode typed replies."""

from emulator.candid.decoder import decode_args
from emulator.candid.encoder import encode_args

__all__ = ["decode_args", "encode_args"]
