// The management canister (aaaaa-aa) through unmodified official agents: a controller's
// canister_status (update, certificate verified) must agree with what CanisterStatus reads from the
// certified state tree (read_state /canister/<id>/controllers and module_hash), before and after
// update_settings, and while the canister is stopped.
// MGMT_URL: emulator; MGMT_CANISTER_ID: hosted canister; MGMT_SEED: 32-byte hex seed of the Ed25519
// identity the emulator was started with as controller; MGMT_CONTROLLER: that identity's principal.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LINES, load } from './lines.mjs';

const URL = process.env.MGMT_URL;
const CANISTER = process.env.MGMT_CANISTER_ID;
const SEED = process.env.MGMT_SEED;
const CONTROLLER = process.env.MGMT_CONTROLLER;
if (!URL || !CANISTER || !SEED || !CONTROLLER) throw new Error('MGMT_URL, MGMT_CANISTER_ID, MGMT_SEED, MGMT_CONTROLLER');

// The subset of the management interface these tests read; Candid lets a reader ignore extra fields.
const managementIdl = ({ IDL }) => {
  const settings = IDL.Record({ controllers: IDL.Vec(IDL.Principal), freezing_threshold: IDL.Nat });
  const status = IDL.Record({
    status: IDL.Variant({ running: IDL.Null, stopping: IDL.Null, stopped: IDL.Null }),
    settings,
    module_hash: IDL.Opt(IDL.Vec(IDL.Nat8)),
    memory_size: IDL.Nat,
    cycles: IDL.Nat,
  });
  const id = IDL.Record({ canister_id: IDL.Principal });
  const update = IDL.Record({
    canister_id: IDL.Principal,
    settings: IDL.Record({ controllers: IDL.Opt(IDL.Vec(IDL.Principal)) }),
  });
  return IDL.Service({
    canister_status: IDL.Func([id], [status], []),
    update_settings: IDL.Func([update], [], []),
    stop_canister: IDL.Func([id], [], []),
    start_canister: IDL.Func([id], [], []),
  });
};

const hex = (bytes) => Buffer.from(bytes).toString('hex');

for (const line of LINES) {
  describe(line, async () => {
    const { agent: A, identity: I, Principal } = await load(line);
    const canisterId = Principal.fromText(CANISTER);
    const identity = I.Ed25519KeyIdentity.generate(Uint8Array.from(Buffer.from(SEED, 'hex')));

    async function connect() {
      const agent = await A.HttpAgent.create({ host: URL, identity, shouldFetchRootKey: true });
      const management = A.Actor.createActor(managementIdl, {
        agent,
        canisterId: Principal.fromText('aaaaa-aa'),
        effectiveCanisterId: canisterId,
      });
      return { agent, management };
    }

    async function agree(agent, management) {
      const status = await management.canister_status({ canister_id: canisterId });
      const tree = await A.CanisterStatus.request({ canisterId, agent, paths: ['controllers', 'module_hash'] });
      const certified = tree.get('controllers').map((p) => p.toText()).sort();
      assert.deepEqual(status.settings.controllers.map((p) => p.toText()).sort(), certified);
      assert.equal(hex(status.module_hash[0]), tree.get('module_hash'));
      return status;
    }

    test('the seeded identity is the controller the emulator was started with', () => {
      assert.equal(identity.getPrincipal().toText(), CONTROLLER);
    });

    test('canister_status agrees with CanisterStatus (read_state), before and after update_settings', async () => {
      const { agent, management } = await connect();
      const before = await agree(agent, management);
      assert.deepEqual(before.status, { running: null });
      assert.deepEqual(before.settings.controllers.map((p) => p.toText()), [CONTROLLER]);
      const other = I.Ed25519KeyIdentity.generate().getPrincipal();
      await management.update_settings({
        canister_id: canisterId,
        settings: { controllers: [[identity.getPrincipal(), other]] },
      });
      const after = await agree(agent, management);
      assert.deepEqual(after.settings.controllers.map((p) => p.toText()).sort(), [CONTROLLER, other.toText()].sort());
      await management.update_settings({ canister_id: canisterId, settings: { controllers: [[identity.getPrincipal()]] } });
      await agree(agent, management);
    });

    test('a stopped canister: status says so, read_state still answers, start resumes', async () => {
      const { agent, management } = await connect();
      await management.stop_canister({ canister_id: canisterId });
      try {
        assert.deepEqual((await agree(agent, management)).status, { stopped: null });
      } finally {
        await management.start_canister({ canister_id: canisterId });
      }
      assert.deepEqual((await agree(agent, management)).status, { running: null });
    });
  });
}
