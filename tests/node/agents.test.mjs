// Unmodified official agents, default settings (certificate and query-signature verification on),
// against a running emulator. EMULATOR_URL: normal emulator; EMULATOR_V2_URL: one whose v3/v4 call
// endpoints answer 404 ("not supported"), so agents fall back to v2 call + read_state polling.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LINES, load, exampleIdl, wrongIdl, rejectOf } from './lines.mjs';

const URL = process.env.EMULATOR_URL;
const V2_URL = process.env.EMULATOR_V2_URL;
const CANISTER = process.env.EXAMPLE_CANISTER_ID;
const CONTROLLER = process.env.EXPECTED_CONTROLLER;
if (!URL || !CANISTER) throw new Error('EMULATOR_URL and EXAMPLE_CANISTER_ID must be set');

for (const line of LINES) {
  describe(line, async () => {
    const lib = await load(line);
    const { agent: A, IDL, identity: I, secp, Principal } = lib;
    const canisterId = Principal.fromText(CANISTER);

    async function actorFor(identity, host = URL, idl = exampleIdl) {
      const agent = await A.HttpAgent.create({ host, identity, shouldFetchRootKey: true });
      return { agent, actor: A.Actor.createActor(idl, { agent, canisterId }) };
    }

    async function expectReject(promise, check) {
      let caught;
      try { await promise; } catch (err) { caught = err; }
      assert.ok(caught, 'expected a rejection');
      const r = rejectOf(caught);
      check(r, caught);
    }

    test('signed query with signature verification (Ed25519)', async () => {
      const id = I.Ed25519KeyIdentity.generate();
      const { actor } = await actorFor(id);
      assert.equal(await actor.greet('world'), 'Hello, world!');
      assert.equal((await actor.whoami()).toText(), id.getPrincipal().toText());
    });

    test('update via synchronous call, certificate verified, state persists', async () => {
      const { actor } = await actorFor(I.Ed25519KeyIdentity.generate());
      const before = await actor.get();
      const after = await actor.inc();
      assert.equal(after, before + 1n);
      assert.equal(await actor.get(), after);
    });

    test('update via v2 call and read_state polling', { skip: !V2_URL && 'EMULATOR_V2_URL not set' }, async () => {
      const id = I.Ed25519KeyIdentity.generate();
      const { actor } = await actorFor(id, V2_URL);
      assert.equal((await actor.whoami_update()).toText(), id.getPrincipal().toText());
      const n = await actor.inc();
      assert.equal(typeof n, 'bigint');
    });

    test('certified reject from a trap rolls the write back', async () => {
      const { actor } = await actorFor(I.Ed25519KeyIdentity.generate());
      const before = await actor.get();
      await expectReject(actor.fail('boom'), (r) => {
        assert.equal(r.name, 'CertifiedRejectErrorCode');
        assert.equal(r.rejectCode, 5);
        assert.equal(r.errorCode, 'IC0503');
        assert.match(r.message, /Canister called `ic0.trap` with message: '?boom/);
      });
      assert.equal(await actor.get(), before);
    });

    test('unknown update method is a certified IC0536 reject', async () => {
      const { actor } = await actorFor(I.Ed25519KeyIdentity.generate(), URL, wrongIdl);
      await expectReject(actor.no_such_method(), (r) => {
        assert.equal(r.rejectCode, 5);
        assert.equal(r.errorCode, 'IC0536');
        assert.match(r.message, /has no update method 'no_such_method'/);
      });
    });

    test('unknown query method and update-as-query are IC0536 query rejects', async () => {
      const { actor } = await actorFor(I.Ed25519KeyIdentity.generate(), URL, wrongIdl);
      await expectReject(actor.no_such_query(), (r) => {
        assert.equal(r.name, 'UncertifiedRejectErrorCode');
        assert.equal(r.errorCode, 'IC0536');
        assert.match(r.message, /has no query method 'no_such_query'/);
      });
      await expectReject(actor.inc(), (r) => {
        assert.equal(r.errorCode, 'IC0536');
        assert.match(r.message, /has no query method 'inc'/);
      });
    });

    test('wrong Candid arguments are rejected (query and update)', async () => {
      const { actor } = await actorFor(I.Ed25519KeyIdentity.generate(), URL, wrongIdl);
      await expectReject(actor.greet(5n), (r) => {
        assert.equal(r.rejectCode, 5);
        assert.equal(r.errorCode, 'IC0503');
        assert.match(r.message, /failed to decode call arguments/);
      });
      await expectReject(actor.fail(5n), (r) => {
        assert.equal(r.name, 'CertifiedRejectErrorCode');
        assert.equal(r.errorCode, 'IC0503');
        assert.match(r.message, /failed to decode call arguments/);
      });
    });

    test('CanisterStatus paths: time, controllers, module_hash, candid', async () => {
      const { agent } = await actorFor(I.Ed25519KeyIdentity.generate());
      const status = await A.CanisterStatus.request({
        canisterId, agent, paths: ['time', 'controllers', 'module_hash', 'candid'],
      });
      const time = status.get('time');
      assert.ok(Math.abs(time.getTime() - Date.now()) < 60_000, 'certified time near wall clock');
      const controllers = status.get('controllers').map((p) => p.toText());
      if (CONTROLLER) assert.deepEqual(controllers, [CONTROLLER]);
      assert.match(status.get('module_hash'), /^[0-9a-f]{64}$/);
      assert.match(status.get('candid'), /greet : \(text\) -> \(text\) query/);
    });

    test('anonymous query and update', async () => {
      const { actor } = await actorFor(new A.AnonymousIdentity());
      assert.equal((await actor.whoami()).toText(), '2vxsx-fae');
      assert.equal((await actor.whoami_update()).toText(), '2vxsx-fae');
    });

    test('Secp256k1 identity: query and update', async () => {
      const id = secp.Secp256k1KeyIdentity.generate();
      const { actor } = await actorFor(id);
      assert.equal((await actor.whoami()).toText(), id.getPrincipal().toText());
      assert.equal((await actor.whoami_update()).toText(), id.getPrincipal().toText());
    });

    test('delegation identity with targets: query and update act as the root principal', async () => {
      const root = I.Ed25519KeyIdentity.generate();
      const session = I.Ed25519KeyIdentity.generate();
      const chain = await I.DelegationChain.create(root, session.getPublicKey(),
        new Date(Date.now() + 15 * 60 * 1000), { targets: [canisterId] });
      const id = I.DelegationIdentity.fromDelegation(session, chain);
      const { actor } = await actorFor(id);
      assert.equal((await actor.whoami()).toText(), root.getPrincipal().toText());
      assert.equal((await actor.whoami_update()).toText(), root.getPrincipal().toText());
    });

    test('blob echo near the ingress limit round-trips', async () => {
      const { actor } = await actorFor(I.Ed25519KeyIdentity.generate());
      const data = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
      const back = await actor.echo_blob(data);
      assert.equal(back.length, data.length);
      assert.deepEqual(Buffer.from(back), Buffer.from(data));
    });
  });
}
