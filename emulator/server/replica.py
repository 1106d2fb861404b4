"""The replica: routes validated envelopes to canister hosts and answers with certified results.

Envelope parsing, authentication, hash trees and signatures are pure functions of `emulator.protocol`;
canister execution is `emulator.runtime`. This module is the glue: it owns the keys, the hosts, the
one worker thread per canister on which that canister's messages run one at a time, and the decode
pool that decodes their Candid arguments before they get there (`decoding`), and turns each HTTP
body (already bounded by the ingress limit when it was read) into `(status, content type, body)`
without knowing about aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from emulator.candid import OverBudget
from emulator.canisters.management import (
    MANAGEMENT_CANISTER_ID,
    EffectiveCanisterMismatch,
    ManagementCanister,
    ManagementMessage,
    decode_message,
)
from emulator.principal import Principal, PrincipalError
from emulator.protocol.auth import authenticate, check_delegation_targets, check_ingress_expiry
from emulator.protocol.cbor_codec import encode_response
from emulator.protocol.certificate import RootKey
from emulator.protocol.envelope import (
    CallEnvelope,
    CanisterEnvelope,
    Envelope,
    QueryEnvelope,
    ReadStateEnvelope,
    parse_envelope,
)
from emulator.protocol.errors import ProtocolError, Reject, RejectCode, canister_not_found, storage_full
from emulator.protocol.node_key import NodeKey, sign_query_response
from emulator.protocol.state_tree import (
    CanisterState,
    RequestStatus,
    authorize_read_state,
    call_reply_certificate,
    certificate_for_paths,
)
from emulator.runtime.host import CanisterHost, DecodedArguments, Replied
from emulator.runtime.stable_store import StorageFull
from emulator.server.decoding import DecodeScheduler
from emulator.server.faults import FaultInjector, FaultRule

log = logging.getLogger("emulator.calls")

# What the HTTP gateway in front of a local replica (PocketIC, `dfx start`, `icp network start`) answers
# for a canister id no subnet hosts; agents show it as "canister not found" instead of a certificate error.
UNROUTABLE_CANISTER = "error: canister_not_found\ndetails: The specified canister does not exist."
CBOR = "application/cbor"
T = TypeVar("T")

INLINE_DECODE_FUEL = 1_000
"""Budget of the first attempt at decoding an argument, made on the event loop where it arrived.

Ordinary arguments fit (no argument: 0 units; a presence query for 100 ids: ~250); within it a decode
holds the loop about as long as an envelope's own checks (a unit is 0.3-1 µs here), and skipping the
decode pool saves a thread hand-off per message. An argument that needs more stops there and goes to
the pool, whose caller lines and whole budget decide its answer exactly as before (see `run_decoded`).
"""


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    body: bytes = b""
    content_type: str = CBOR
    # Fault injection: the message executed but the connection is closed instead of answering.
    drop: bool = False


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What the structured call log and metrics see of each message."""

    endpoint: str
    canister_id: str
    method: str
    caller: str
    outcome: str
    duration_s: float


@functools.lru_cache(maxsize=1024)
def _principal_from_url(text: str) -> Principal:
    """Every request names its canister in the URL: parse each distinct text once (errors are not cached)."""
    return Principal.from_text(text)


@functools.lru_cache(maxsize=4096)
def _principal_text(principal: Principal) -> str:
    """The call record names sender and canister as text; a client sends many messages as one sender."""
    return principal.to_text()


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """On the loop: hand a canister thread's result to the coroutine awaiting it, if it still does."""
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


# What runs, where its outcome goes, and whether to skip it if that coroutine was cancelled first.
_Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, asyncio.Future[Any], bool]


class CanisterThread:
    """The one thread a canister's messages run on, one at a time, in the order they were handed over.

    What a `ThreadPoolExecutor(max_workers=1)` did, with less machinery per message: the executor
    built a concurrent future with its own lock, a work item, and an asyncio future chained to it
    through two callbacks, and every query paid for them on the event loop. Here the awaiting
    coroutine's future travels with the function and is settled on its loop directly (about half
    the CPU per hand-off, docs/performance.md). The rest is the executor's behaviour: a job whose
    awaiting coroutine was cancelled before the job started is skipped, an exception goes to the
    awaiting coroutine, and `close` runs what was handed over before the thread ends.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        # A daemon, so that a replica nobody closed (a test's) never holds the interpreter at exit;
        # the server closes its replica on shutdown, which runs every job handed over first.
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def post(
        self,
        run: Callable[[], Any],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        *,
        skip_if_cancelled: bool = True,
    ) -> None:
        """Queue `run`; its result or exception settles `future` on `loop`. Safe from any thread."""
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot hand a message to a closed canister thread")
            self._jobs.put((run, loop, future, skip_if_cancelled))

    async def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` on this thread and return what it returns (or raise what it raises)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self.post(fn, loop, future)
        return await future

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            run, loop, future, skip_if_cancelled = job
            del job
            if skip_if_cancelled and future.cancelled():
                continue
            result: Any = None
            error: BaseException | None = None
            try:
                result = run()
            except BaseException as exc:  # the awaiting coroutine gets it, as from an executor
                error = exc
            # The loop may close between the check and the call (shut-down): the thread must survive
            # that to run the jobs still queued, so the race is caught, not only checked.
            with contextlib.suppress(RuntimeError):
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_settle, future, result, error)
            # Nothing of a finished message (a reply of up to 3 MiB) stays alive until the next one.
            del run, future, result, error

    def close(self) -> None:
        """Run every job handed over so far, then end the thread (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._jobs.put(None)
        if self._thread is not threading.current_thread():
            self._thread.join()


class StateView:
    """The replica's state as the protocol core's read_state builder sees it (wall-clock time)."""

    def __init__(self, replica: Replica, host: CanisterHost | None) -> None:
        self._replica = replica
        self._host = host
        self.time_ns = time.time_ns()
        self.root_key = replica.root_key
        self.node = replica.node_key
        self.canister_ranges = replica.canister_ranges

    def canister(self, cid: Principal) -> CanisterState | None:
        host = self._replica.hosts.get(cid)
        return host.state() if host is not None else None

    def request_status(self, request_id: bytes) -> RequestStatus | None:
        return self._host.request_status(request_id) if self._host is not None else None


class Replica:
    def __init__(
        self,
        root_key: RootKey,
        node_key: NodeKey,
        hosts: Sequence[CanisterHost],
        canister_ranges: Sequence[tuple[Principal, Principal]],
        on_call: Callable[[CallRecord], None] | None = None,
        faults: FaultInjector | None = None,
        snapshot_root: Path | None = None,
    ) -> None:
        self.faults = faults or FaultInjector()
        self.root_key = root_key
        self.node_key = node_key
        self.canister_ranges = tuple(canister_ranges)
        self.hosts: dict[Principal, CanisterHost] = {h.canister_id: h for h in hosts}
        self._threads = {cid: CanisterThread(f"canister-{cid}") for cid in self.hosts}
        self._on_call = on_call
        self.management = ManagementCanister(snapshot_root)
        self.decoding = DecodeScheduler()

    async def run_on(self, cid: Principal, fn: Callable[[], T]) -> T:
        """Run `fn` on the canister's own worker thread: one message at a time per canister."""
        return await self._threads[cid].run(fn)

    async def run_decoded(
        self,
        ecid: Principal,
        sender: Principal,
        method: str,
        arg: bytes,
        execute: Callable[[DecodedArguments | None], T],
        *,
        decode: bool = True,
    ) -> T:
        """Decode `arg`, then run `execute(decoded)` on the canister's thread.

        A cheap argument is decoded here, on the event loop, with `INLINE_DECODE_FUEL`: the message
        then goes straight to the canister's thread. Its outcome (values, or the decoder's refusal of
        a malformed argument) is the one the pool would give, since a lowered budget changes nothing
        but where the decode stops (`emulator.candid.decode_args`). Any other argument is decoded on
        the decode pool, in its caller's line, with its whole budget; the decode thread hands the
        message to the canister's thread itself, so the event loop is not a third stop on the way
        (each stop waits for a GIL turn while costly decodes run). The cheap attempt costs such an
        argument at most the inline budget, the same bound for every caller.
        Without `decode` (a resubmission) or for a method the interface lacks, `execute(None)` runs
        at once: the host answers from the stored status or with its lookup's reject.
        """
        host = self.hosts[ecid]
        worker = self._threads[ecid]
        if not decode or method not in host.interface.service:
            return await worker.run(lambda: execute(None))
        try:
            cheap = host.decode_arguments(method, arg, fuel=INLINE_DECODE_FUEL)
        except OverBudget:
            pass
        else:
            return await worker.run(lambda: execute(cheap))

        loop = asyncio.get_running_loop()
        executed: asyncio.Future[T] = loop.create_future()

        def decode_and_dispatch() -> None:
            decoded = host.decode_arguments(method, arg)
            # Handed over even if the awaiting coroutine was cancelled during the decode (it then
            # runs unawaited, as when the executor's future was only chained after the decode).
            worker.post(lambda: execute(decoded), loop, executed, skip_if_cancelled=not executed.cancelled())

        await self.decoding.run(sender, decode_and_dispatch)
        return await executed

    def close(self) -> None:
        self.decoding.close()
        for thread in self._threads.values():
            thread.close()
        for host in self.hosts.values():
            host.store.close()

    # -- status ------------------------------------------------------------------------------------

    def status(self) -> HttpReply:
        return HttpReply(
            200,
            encode_response(
                {
                    "ic_api_version": "0.18.0",
                    "impl_version": "storeforever-emulator",
                    "root_key": self.root_key.der,
                    "replica_health_status": "healthy",
                    "certified_height": 1,
                }
            ),
        )

    # -- shared checks -----------------------------------------------------------------------------

    @staticmethod
    def _principal_in_url(text: str) -> Principal:
        try:
            return _principal_from_url(text)
        except PrincipalError as exc:
            raise ProtocolError(400, f"Invalid effective canister id in URL: {text}") from exc

    def _target(self, ecid_text: str) -> Principal:
        """The URL's effective canister id, refused with the gateway's answer if no range holds it."""
        ecid = self._principal_in_url(ecid_text)
        self._check_routable(ecid)
        return ecid

    @staticmethod
    def _authenticate(env: Envelope) -> None:
        now = time.time_ns()
        check_ingress_expiry(env, now)
        authenticate(env, now)

    def _validate_message(self, env: CanisterEnvelope, ecid: Principal) -> None:
        """A call or query names the URL's canister (or aaaaa-aa, routed by its argument in
        `_management`), is in time, signed, and delegated to that canister."""
        if env.canister_id != ecid and env.canister_id != MANAGEMENT_CANISTER_ID:
            raise ProtocolError(
                400,
                f"Specified CanisterId {env.canister_id} does not match effective canister id in URL {ecid}",
            )
        self._authenticate(env)
        check_delegation_targets(env, env.canister_id)

    def _check_routable(self, ecid: Principal) -> None:
        """A canister id outside every range this replica serves never reaches a replica on the IC."""
        if ecid in self.hosts:
            return
        if not any(
            low.raw <= ecid.raw <= high.raw and len(ecid.raw) == len(low.raw)
            for low, high in self.canister_ranges
        ):
            raise ProtocolError(400, UNROUTABLE_CANISTER)

    async def _management(
        self, env: CanisterEnvelope, ecid: Principal, *, query: bool
    ) -> ManagementMessage | Reject:
        """Decode a call to aaaaa-aa (off the event loop) and check its canister is the URL's one."""
        method, arg = env.method_name, env.arg
        message = await self.decoding.run(env.sender, lambda: decode_message(method, arg, query=query))
        if isinstance(message, Reject):
            return message
        try:
            ManagementCanister.effective_target(message, ecid)
        except EffectiveCanisterMismatch as exc:
            raise ProtocolError(400, str(exc)) from exc
        return message

    def _record(self, endpoint: str, env: CanisterEnvelope, outcome: str, started: float) -> None:
        """Measure the message now; log and count it as the event loop's next callback.

        The record (metrics, JSON log line, inspector events: 20-60 µs) used to delay every reply;
        scheduled, it runs once the handler has passed the reply on to aiohttp (which writes it to
        the socket without waiting, unless the socket is full). Records keep their order and their
        values, and each is written before the loop reads any later request: a client that got the
        reply and then asks `/metrics` sees the message counted.
        """
        if self._on_call is not None:
            asyncio.get_running_loop().call_soon(
                self._emit, endpoint, env, outcome, time.perf_counter() - started
            )

    def _emit(self, endpoint: str, env: CanisterEnvelope, outcome: str, duration_s: float) -> None:
        if self._on_call is not None:
            self._on_call(
                CallRecord(
                    endpoint=endpoint,
                    canister_id=_principal_text(env.canister_id),
                    method=env.method_name,
                    caller=_principal_text(env.sender),
                    outcome=outcome,
                    duration_s=duration_s,
                )
            )

    @staticmethod
    def _reject_fields(reject: Reject) -> dict[str, Any]:
        return {
            "reject_code": int(reject.code),
            "reject_message": reject.message,
            "error_code": reject.error_code,
        }

    # -- faults ------------------------------------------------------------------------------------

    async def _fault(self, endpoint: str, env: CanisterEnvelope) -> FaultRule | None:
        """The fault rule firing for this message, after applying its latency (latency rules proceed)."""
        rule = self.faults.pick(endpoint, env.method_name)
        if rule is not None and rule.latency_ms:
            await asyncio.sleep(rule.latency_ms / 1000)
        return None if rule is None or rule.action == "latency" else rule

    @staticmethod
    def _fault_status(rule: FaultRule) -> HttpReply:
        return HttpReply(rule.http_status, f"Fault injected: HTTP {rule.http_status}".encode(), "text/plain")

    @staticmethod
    def _fault_reject(rule: FaultRule) -> Reject:
        return Reject(RejectCode(rule.reject_code), rule.reject_message, rule.error_code or "")

    # -- query -------------------------------------------------------------------------------------

    async def query(self, body: bytes, ecid_text: str) -> HttpReply:
        started = time.perf_counter()
        ecid = self._target(ecid_text)
        env: QueryEnvelope = parse_envelope(body, "query")
        self._validate_message(env, ecid)
        host = self.hosts.get(ecid)
        response: dict[str, Any]
        fault = await self._fault("query", env)
        if fault is not None and fault.action == "http_status":
            return self._fault_status(fault)
        if fault is not None and fault.action == "reject":
            outcome: Replied | Reject = self._fault_reject(fault)
        elif host is None:
            outcome = canister_not_found(ecid)
        elif env.canister_id == MANAGEMENT_CANISTER_ID:
            message = await self._management(env, ecid, query=True)
            if isinstance(message, Reject):
                outcome = message
            else:
                management_message = message
                outcome = await self.run_on(
                    ecid, lambda: self.management.query(host, env.sender, management_message)
                )
        else:
            method, arg = env.method_name, env.arg
            outcome = await self.run_decoded(
                ecid,
                env.sender,
                method,
                arg,
                lambda decoded: host.query(sender=env.sender, method=method, arg=arg, decoded=decoded),
            )
        if isinstance(outcome, Replied):
            response = {"status": "replied", "reply": {"arg": outcome.arg}}
        else:
            response = {"status": "rejected", **self._reject_fields(outcome)}
        response["signatures"] = [
            sign_query_response(self.node_key, env.request_id, response, time.time_ns())
        ]
        self._record("query", env, response["status"], started)
        return HttpReply(200, encode_response(response))

    # -- call --------------------------------------------------------------------------------------

    async def _execute_call(self, env: CallEnvelope, ecid: Principal) -> RequestStatus | Reject:
        host = self.hosts.get(ecid)
        if host is None:
            return canister_not_found(ecid)
        if env.canister_id == MANAGEMENT_CANISTER_ID:
            return await self._execute_management_call(env, ecid, host)
        method, arg = env.method_name, env.arg
        try:
            return await self.run_decoded(
                ecid,
                env.sender,
                method,
                arg,
                lambda decoded: host.call(
                    request_id=env.request_id,
                    sender=env.sender,
                    method=method,
                    arg=arg,
                    ingress_expiry=env.ingress_expiry,
                    decoded=decoded,
                ),
                # A resubmission is answered from its stored status: no need to decode it again.
                decode=not host.has_recorded(env.request_id),
            )
        except StorageFull as exc:  # refused before anything was recorded: a retry executes afresh
            log.error("canister %s: update %s refused, store full: %s", ecid, method, exc)
            return storage_full(ecid, str(exc))

    async def _execute_management_call(
        self, env: CallEnvelope, ecid: Principal, host: CanisterHost
    ) -> RequestStatus | Reject:
        message = await self._management(env, ecid, query=False)
        if isinstance(message, Reject):
            return message
        return await self.run_on(
            ecid,
            lambda: self.management.call(
                host,
                request_id=env.request_id,
                sender=env.sender,
                message=message,
                ingress_expiry=env.ingress_expiry,
            ),
        )

    async def call(self, body: bytes, ecid_text: str, *, synchronous: bool) -> HttpReply:
        """v2 (`synchronous=False`): 202, then polling; v3/v4: 200 with the terminal status certified."""
        started = time.perf_counter()
        ecid = self._target(ecid_text)
        env: CallEnvelope = parse_envelope(body, "call")
        self._validate_message(env, ecid)
        fault = await self._fault("call", env)
        if fault is not None and fault.action == "http_status":
            return self._fault_status(fault)
        result = (
            self._fault_reject(fault)
            if fault is not None and fault.action == "reject"
            else (await self._execute_call(env, ecid))
        )
        if fault is not None and fault.action == "drop_reply":
            self._record("call", env, "reply_dropped", started)
            return HttpReply(503, drop=True)
        if isinstance(result, Reject):
            self._record("call", env, "non_replicated_rejection", started)
            return HttpReply(
                200, encode_response({"status": "non_replicated_rejection", **self._reject_fields(result)})
            )
        self._record("call", env, result.status, started)
        if not synchronous:
            return HttpReply(202, b"", "text/plain")
        host = self.hosts[ecid]
        certificate = call_reply_certificate(env.request_id, result, StateView(self, host))
        return HttpReply(200, encode_response({"status": "replied", "certificate": certificate}))

    # -- read_state --------------------------------------------------------------------------------

    async def read_state(self, body: bytes, ecid_text: str) -> HttpReply:
        ecid = self._target(ecid_text)
        env: ReadStateEnvelope = parse_envelope(body, "read_state")
        self._authenticate(env)
        host = self.hosts.get(ecid)
        paths = env.paths

        def build() -> bytes:
            view = StateView(self, host)
            authorize_read_state(env, ecid, view, subnet_endpoint=False)
            return certificate_for_paths(paths, view)

        certificate = await self.run_on(ecid, build) if host is not None else build()
        return HttpReply(200, encode_response({"certificate": certificate}))

    async def read_state_subnet(self, body: bytes, sid_text: str) -> HttpReply:
        sid = self._principal_in_url(sid_text)
        if sid != self.root_key.subnet_id:
            raise ProtocolError(404, f"Subnet {sid} not found.")
        env = parse_envelope(body, "read_state")
        self._authenticate(env)
        view = StateView(self, None)
        authorize_read_state(env, sid, view, subnet_endpoint=True)
        return HttpReply(200, encode_response({"certificate": certificate_for_paths(env.paths, view)}))
