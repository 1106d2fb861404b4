"""The codec entry points other modules call: decode untrusted arguments, encode typed replies."""

from emulator.candid.decoder import OverBudget, decode_args
from emulator.candid.encoder import ArgsEncoder, encode_args

__all__ = ["ArgsEncoder", "OverBudget", "decode_args", "encode_args"]
