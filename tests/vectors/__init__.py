"""Committed copies of the agent-generated vectors in `../shared/vectors/`, so a clone tests alone.

`test_vectors_match_shared.py` fails if a copy drifts from the shared originals when they are present.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
IC_HTTP_PATH = HERE / "ic-http-vectors.json"
CONTRACT_CANDID_PATH = HERE / "contract-candid-vectors.json"


def ic_http() -> dict[str, Any]:
    return dict(json.loads(IC_HTTP_PATH.read_text()))


def contract_candid() -> dict[str, Any]:
    return dict(json.loads(CONTRACT_CANDID_PATH.read_text()))
