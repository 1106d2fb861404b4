"""Alias module: the brief allowed the query signer under either name, so both import paths work."""

from emulator.protocol.node_key import IC_RESPONSE_DOMAIN, NodeKey, sign_query_response

__all__ = ["IC_RESPONSE_DOMAIN", "NodeKey", "sign_query_response"]
