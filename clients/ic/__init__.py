"""Connection layer to an IC target (this project's emulator or a dfx replica).

``Connection`` signs requests, verifies certificates and query signatures against the target's
root key, and decodes Candid with icp-py-core's codec. Module map: ``connection`` (the adapter),
``envelope`` (request contents, envelopes, tampering for negative tests), ``certificates`` and
``signatures`` (verification), ``bls`` (arkworks BLS), ``identity`` (keys and PEM), ``candid``
(typed calls and ``.did`` services), ``errors`` (the exception tree).
"""

from .candid import CanisterProxy, DidService, Method, decode_reply, encode_args
from .certificates import Certificate, verify_certificate
from .connection import Connection
from .envelope import (
    build_envelope,
    call_content,
    principal_bytes,
    query_content,
    read_state_content,
    request_id,
    sign_envelope,
)
from .errors import (
    CertificateError,
    HTTPStatusError,
    ICError,
    PollTimeout,
    ProtocolError,
    QuerySignatureError,
    Reject,
    TransportError,
    VerificationError,
)
from .identity import (
    Ed25519Identity,
    SigningIdentity,
    anonymous_identity,
    generate_ed25519,
    identity_to_pem,
    load_pem,
    load_pem_file,
    principal_of,
    save_pem,
)

__all__ = [
    "CanisterProxy",
    "Certificate",
    "CertificateError",
    "Connection",
    "DidService",
    "Ed25519Identity",
    "HTTPStatusError",
    "ICError",
    "Method",
    "PollTimeout",
    "ProtocolError",
    "QuerySignatureError",
    "Reject",
    "SigningIdentity",
    "TransportError",
    "VerificationError",
    "anonymous_identity",
    "build_envelope",
    "call_content",
    "decode_reply",
    "encode_args",
    "generate_ed25519",
    "identity_to_pem",
    "load_pem",
    "load_pem_file",
    "principal_bytes",
    "principal_of",
    "query_content",
    "read_state_content",
    "request_id",
    "save_pem",
    "sign_envelope",
    "verify_certificate",
]
